/*
 * cmd_log: `csbm log` — what this node knows of the hub's tamper-evident
 * log: the newest signed tree head it verified, and any evidence that the
 * hub's log is not append-only (heads that contradict each other).
 *
 * Exit status: 0 no evidence, 1 evidence of an inconsistent log is
 * stored, 2 usage or system error.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/treehead.h"
#include "node/cli.h"
#include "node/mailbox.h"
#include "node/member.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm log [--data FILE.db] [--json]\n"
        "\n"
        "Show the newest signed tree head of the hub's log that this node\n"
        "verified, and every piece of evidence it kept that the hub's log is\n"
        "not append-only: the head verified before, the head that contradicts\n"
        "it, and why (a failed consistency proof, a shrunk log, a head that\n"
        "another member cosigned). 'csbm pull' checks the log on every contact.\n"
        "\n"
        "Options:\n"
        "  --data FILE.db        this node's store (default $CSBM_DATA or\n"
        "                        ./" MEMBER_DEFAULT_DATA ")\n"
        "  --json                machine-readable output\n"
        "\n"
        "Exit status: 0 no evidence, 1 evidence of an inconsistent log, 2 usage\n"
        "or system error.\n");
}

static int
s_head_desc(const uint8_t *b, size_t len, char *out, size_t cap)
{
    Csbm__Signed *s = b != NULL ? csbm__signed__unpack(NULL, len, b) : NULL;
    treehead_t    th;
    errbuf_t      err = {{0}};
    int           rc = -1;

    snprintf(out, cap, "none");
    if (s != NULL
        && treehead_decode(s->statement.data, s->statement.len, &th, &err)
            == 0) {
        treehead_describe(&th, out, cap);
        rc = 0;
    }
    if (s != NULL)
        csbm__signed__free_unpacked(s, NULL);
    return rc;
}

typedef struct {
    json_t *list;
    size_t  n;
} s_ctx_t;

static int
s_evidence(const mailbox_evidence_t *e, void *ctx)
{
    s_ctx_t *c = ctx;
    char     at[32], a[160], b[160];

    cli_format_time(e->found_at, at);
    s_head_desc(e->old_head, e->old_len, a, sizeof a);
    s_head_desc(e->new_head, e->new_len, b, sizeof b);
    if (c->list != NULL)
        json_array_append_new(c->list, json_pack("{s:I,s:s,s:s,s:s,s:s}",
            "id", (json_int_t)e->id, "found_at", at, "what", e->what,
            "old_head", a, "new_head", b));
    else
        printf("EVIDENCE %lld, found %s: %s\n  head verified before: %s\n"
            "  contradicting head:   %s\n", (long long)e->id, at, e->what, a,
            b);
    c->n++;
    return 0;
}

int
cmd_log(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'D'},
        {"keys", required_argument, NULL, 'K'},
        {"keyring", required_argument, NULL, 'R'},
        {"as", required_argument, NULL, 'a'},
        {"federation", required_argument, NULL, 'F'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    member_config_t cfg;
    mailbox_t      *mb = NULL;
    errbuf_t        err = {{0}};
    uint8_t        *head = NULL;
    size_t          len = 0;
    char            desc[160];
    s_ctx_t         c = {NULL, 0};
    int             opt, json = 0, found, rc = CLI_ERROR;

    member_config_init(&cfg);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'D': cfg.data_path = optarg; break;
        case 'j': json = 1; break;
        case 'K': case 'R': case 'a': case 'F': break; /* not needed */
        case 'h': s_usage(stdout); return CLI_OK;
        default: s_usage(stderr); return CLI_ERROR;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return CLI_ERROR;
    }
    if ((mb = mailbox_open(cfg.data_path, NULL, NULL, &err)) == NULL
        || (found = mailbox_head_latest(mb, &head, &len, &err)) < 0) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (found)
        s_head_desc(head, len, desc, sizeof desc);
    else
        snprintf(desc, sizeof desc, "none yet (no contact with the hub)");
    if (json)
        c.list = json_array();
    else
        printf("newest verified tree head: %s\n", desc);
    if (mailbox_evidence_foreach(mb, s_evidence, &c, &err) != 0) {
        cli_error("%s", err.msg);
        json_decref(c.list);
        goto done;
    }
    if (json) {
        json_t *o = json_pack("{s:s,s:b,s:o}", "newest_head", desc,
            "consistent", c.n == 0, "evidence", c.list);
        json_dumpf(o, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(o);
    } else if (c.n == 0) {
        printf("no evidence: every head verified so far extends the one "
            "before\n");
    } else {
        printf("THE HUB'S LOG IS NOT CONSISTENT: %zu piece%s of evidence\n",
            c.n, c.n == 1 ? "" : "s");
    }
    rc = c.n == 0 ? CLI_OK : CLI_REJECTED;
done:
    free(head);
    mailbox_destroy(&mb);
    return rc;
}
