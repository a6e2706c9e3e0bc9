/*
 * cmd_receipt: `csbm verify-receipt` — check a receipt file offline with
 * the hub's public key alone: the signed tree head and the inclusion
 * proof that puts the receipt's leaf in it (receipts are signed in batches,
 * through the head), and optionally that a package file is the one
 * receipted.
 *
 * Exit status: 0 valid, 1 not valid, 2 usage or system error.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/envelope.h"
#include "crypto/fileio.h"
#include "crypto/receipt.h"
#include "node/cli.h"
#include "node/member.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm verify-receipt RECEIPT --hub-key hub.pub\n"
        "                           [--package FILE.csbm] [--json]\n"
        "\n"
        "Verify a receipt file (from 'csbm outbox --export-receipt ID -o F')\n"
        "offline, with only the hub's public key: the hub's signature over\n"
        "the tree head of its log, and the inclusion proof that the receipt\n"
        "is a leaf of that tree (the hub signs receipts in batches, through\n"
        "the head; the leaf binds every byte of the receipt). With\n"
        "--package, also check that FILE.csbm is the package receipted (its\n"
        "SHA-256, id, sender and sequence).\n"
        "\n"
        "Options:\n"
        "  --hub-key FILE        the hub's public key file (hub.pub)\n"
        "  --package FILE.csbm   the sealed package the receipt is for\n"
        "  --json                machine-readable output\n"
        "\n"
        "Exit status: 0 valid, 1 not valid, 2 usage or system error.\n"
        "\n"
        "Example:\n"
        "  csbm verify-receipt milex.receipt --hub-key keyring/hub.pub \\\n"
        "      --package milex.csbm\n");
}

int
cmd_verify_receipt(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"hub-key", required_argument, NULL, 'k'},
        {"package", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char     *hub_key = NULL, *package = NULL;
    keys_public_t   pub;
    receipt_proof_t rp;
    errbuf_t        err = {{0}};
    uint8_t        *buf = NULL, *env = NULL;
    size_t          len = 0, env_len = 0;
    int             opt, json = 0, rc = CLI_ERROR;

    memset(&rp, 0, sizeof rp);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'k': hub_key = optarg; break;
        case 'p': package = optarg; break;
        case 'j': json = 1; break;
        case 'h': s_usage(stdout); return CLI_OK;
        default: s_usage(stderr); return CLI_ERROR;
        }
    }
    if (optind + 1 != argc || hub_key == NULL) {
        s_usage(stderr);
        return CLI_ERROR;
    }
    if (keys_public_load(hub_key, &pub, &err) != 0
        || fileio_read(argv[optind], RECEIPT_FILE_MAX, &buf, &len, &err) != 0
        || (package != NULL
            && fileio_read(package, CLI_MAX_PACKAGE_FILE + 1024 * 1024, &env,
                   &env_len, &err) != 0)) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (receipt_file_verify(buf, len, pub.sign_pk, env, env_len, &rp, &err)
        != 0) {
        if (json) {
            json_t *o = json_pack("{s:b,s:s}", "valid", 0, "error", err.msg);
            json_dumpf(o, stdout, JSON_INDENT(2));
            printf("\n");
            json_decref(o);
        }
        cli_error("%s: NOT VALID: %s", argv[optind], err.msg);
        rc = CLI_REJECTED;
        goto done;
    }
    {
        char id[33], root[2 * MERKLE_HASH_BYTES + 1], acc[32], at[32];
        cli_hex(rp.receipt->package_id.data, ENVELOPE_ID_BYTES, id);
        cli_hex(rp.head.root, MERKLE_HASH_BYTES, root);
        cli_format_time((int64_t)rp.receipt->accepted_at, acc);
        cli_format_time(rp.head.timestamp, at);
        if (json) {
            json_t *o = json_pack("{s:b,s:s,s:s,s:s,s:I,s:I,s:s,s:I,"
                "s:{s:s,s:I,s:s,s:s},s:b}", "valid", 1, "federation",
                rp.receipt->federation, "package_id", id, "sender",
                rp.receipt->sender, "sequence",
                (json_int_t)rp.receipt->sequence, "position",
                (json_int_t)rp.receipt->position, "accepted_at", acc,
                "log_index", (json_int_t)rp.receipt->log_index, "tree_head",
                "origin", rp.head.origin, "size", (json_int_t)rp.head.size,
                "root", root, "timestamp", at, "package_checked",
                rp.envelope_checked);
            json_dumpf(o, stdout, JSON_INDENT(2));
            printf("\n");
            json_decref(o);
        } else {
            printf("receipt valid: package %s from %s, sequence %llu, "
                "archived at position %llu on %s\n", id, rp.receipt->sender,
                (unsigned long long)rp.receipt->sequence,
                (unsigned long long)rp.receipt->position, acc);
            printf("in the log of %s: leaf %llu of the signed tree head of "
                "size %llu, root %s, %s\n", rp.head.origin,
                (unsigned long long)rp.receipt->log_index,
                (unsigned long long)rp.head.size, root, at);
            if (rp.envelope_checked)
                printf("package %s is the package receipted\n", package);
        }
    }
    rc = CLI_OK;
done:
    receipt_proof_clear(&rp);
    free(buf);
    free(env);
    return rc;
}
