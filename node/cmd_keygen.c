/* cmd_keygen: `csbm keygen`, a new identity's keys. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "node/cli.h"

#define S_PASSPHRASE_MIN 8

/* Is there already a key file of owner in dir? Checked before the slow
 * Argon2id step; keys_generate refuses to overwrite in any case. */
static int
s_identity_exists(const char *dir, const char *owner, errbuf_t *err)
{
    static const char *const ext[] = {"sign.key", "box.key", "transport.key",
        "pub"};
    char        path[4096];
    struct stat st;
    size_t      i;

    for (i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        snprintf(path, sizeof path, "%s/%s.%s", dir, owner, ext[i]);
        if (lstat(path, &st) == 0) {
            errbuf_set(err, "%s already exists: %s has an identity in %s; "
                "use another --keys DIR for new keys (e.g. for a rotation)",
                path, owner, dir);
            return 1;
        }
    }
    return 0;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm keygen --state CODE [--keys DIR] [--passphrase-file F]\n"
        "\n"
        "Create an identity: an Ed25519 signing key, an X25519 encryption\n"
        "key and a CurveZMQ transport key, each in its own file encrypted\n"
        "under a passphrase (Argon2id), mode 0600, in DIR (mode 0700), plus\n"
        "CODE.pub, the public keys to give to the operator and to peers.\n"
        "\n"
        "The passphrase (at least 8 characters) comes from --passphrase-file,\n"
        "else $CSBM_PASSPHRASE, else it is asked for twice on the terminal.\n"
        "The state code is checked, and existing key files refused, before\n"
        "anything is asked or derived.\n"
        "\n"
        "Options:\n"
        "  --state CODE          ISO 3166-1 alpha-3 state code, or 'hub'\n"
        "  --keys DIR            key directory (default $CSBM_KEYS or ./keys)\n"
        "  --passphrase-file F   read the passphrase from the first line of F\n"
        "\n"
        "Exit status: 0 created, 2 usage or system error (a bad state code,\n"
        "existing keys, a short passphrase, a directory that cannot be used).\n"
        "\n"
        "Examples:\n"
        "  csbm keygen --state ARG\n"
        "  CSBM_PASSPHRASE=... csbm keygen --state hub --keys /etc/csbm/keys\n");
}

int
cmd_keygen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"keys", required_argument, NULL, 'K'},
        {"passphrase-file", required_argument, NULL, 'P'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    cli_common_t c;
    const char  *state = NULL;
    char        *pass;
    size_t       len = 0;
    errbuf_t     err = {{0}};
    int          opt, rc;

    cli_common_init(&c);
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 's')
            state = optarg;
        else if (opt == 'h') {
            s_usage(stdout);
            return CLI_OK;
        } else if (!cli_common_option(&c, opt, optarg)) {
            s_usage(stderr);
            return CLI_ERROR;
        }
    }
    if (state == NULL || optind != argc) {
        cli_error("keygen needs --state CODE and no other arguments");
        s_usage(stderr);
        return CLI_ERROR;
    }
    if (cli_state_code_check("--state", state, &err) != 0) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    if (s_identity_exists(c.key_dir, state, &err)) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    if ((pass = sodium_malloc(KEYS_PASSPHRASE_MAX + 1)) == NULL) {
        cli_error("out of memory");
        return CLI_ERROR;
    }
    rc = keys_passphrase_get(c.passphrase_file, 1, pass, &len, &err);
    if (rc == 0 && len < S_PASSPHRASE_MIN) {
        errbuf_set(&err, "the passphrase is %zu characters long; it protects "
            "the key files: give at least %d%s", len, S_PASSPHRASE_MIN,
            c.passphrase_file != NULL ? " (first line of the file)" : "");
        rc = -1;
    }
    if (rc == 0) {
        fprintf(stderr, "csbm: deriving the key-file key (Argon2id)...\n");
        rc = keys_generate(c.key_dir, state, pass, len, &err);
    }
    sodium_memzero(pass, KEYS_PASSPHRASE_MAX + 1);
    sodium_free(pass);
    if (rc != 0) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    printf("created identity %s in %s:\n"
           "  %s/%s.sign.key       signing key (secret)\n"
           "  %s/%s.box.key        encryption key (secret)\n"
           "  %s/%s.transport.key  transport key (secret)\n"
           "  %s/%s.pub            public keys: give this file to the operator\n",
        state, c.key_dir, c.key_dir, state, c.key_dir, state, c.key_dir, state,
        c.key_dir, state);
    return CLI_OK;
}
