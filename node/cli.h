/*
 * cli: what the csbm command's verbs share — exit codes, option defaults,
 * and loading keys and keyrings the way every verb does.
 *
 * Exit codes scripts can rely on: 0 success, 1 verification failed or
 * package rejected, 2 usage or system error.
 */
#ifndef CSBM_CLI_H
#define CSBM_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "config/keyring.h"
#include "crypto/keys.h"
#include "proto/errbuf.h"

#define CLI_OK       0
#define CLI_REJECTED 1
#define CLI_ERROR    2

#define CLI_DEFAULT_FEDERATION "OAS-CSBM"
#define CLI_MAX_PACKAGE_FILE   (64u * 1024 * 1024)

/* getopt_long values of the registry and configuration options, outside
 * the range of any short option letter so that no verb's own options
 * collide with them. */
#define CLI_OPT_REGISTRY       0x101
#define CLI_OPT_ROOT           0x102
#define CLI_OPT_REGISTRY_STATE 0x103
#define CLI_OPT_CONFIG         0x104

/* The long options every verb that checks signatures accepts, for its
 * struct option table, and their help lines. */
#define CLI_REGISTRY_LONGOPTS                                                 \
    {"registry", required_argument, NULL, CLI_OPT_REGISTRY},                  \
        {"root", required_argument, NULL, CLI_OPT_ROOT},                      \
        {"registry-state", required_argument, NULL, CLI_OPT_REGISTRY_STATE},  \
        {"config", required_argument, NULL, CLI_OPT_CONFIG}

#define CLI_REGISTRY_HELP                                                     \
    "  --registry FILE       the operator's signed member registry (default\n" \
    "                        $CSBM_REGISTRY); keys, validity, revocations\n"  \
    "                        and member status come from it, not --keyring\n" \
    "  --root CERT           the federation's root certificate that signs\n"   \
    "                        the registry (default $CSBM_ROOT)\n"             \
    "  --registry-state F    highest registry version seen, against roll-\n"  \
    "                        back (default KEYS/registry.state, else\n"       \
    "                        FILE.state, else if FILE's directory is not\n"  \
    "                        writable ~/.local/state/csbm/; or\n"           \
    "                        $CSBM_REGISTRY_STATE)\n"                        \
    "  --config FILE.ini     read settings from a node configuration file;\n" \
    "                        options on the command line override it\n"

/* Common options most verbs accept. */
typedef struct {
    const char *key_dir;         /* --keys DIR, $CSBM_KEYS, "keys" */
    const char *keyring_dir;     /* --keyring DIR, $CSBM_KEYRING, key_dir */
    const char *as;              /* --as ID, $CSBM_ID, the only identity */
    const char *passphrase_file; /* --passphrase-file F */
    const char *federation;      /* --federation NAME, $CSBM_FEDERATION */
    const char *registry;        /* --registry FILE, $CSBM_REGISTRY */
    const char *root;            /* --root CERT, $CSBM_ROOT */
    const char *registry_state;  /* --registry-state F, $CSBM_REGISTRY_STATE */
    int         federation_set;  /* federation given, not the default */
    int         json;            /* --json */
    char        federation_buf[X509_FEDERATION_MAX + 1];
} cli_common_t;

/* Fill defaults from the environment. */
void cli_common_init(cli_common_t *c);

/* If opt is one of the common long options (CLI_REGISTRY_LONGOPTS
 * included; --config is consumed and ignored here, see cli_config_apply),
 * consume it and return 1. */
int cli_common_option(cli_common_t *c, int opt, const char *arg);

/* After the options: a registry needs its root (and the reverse); when
 * they are given, the federation is the root certificate's O (a different
 * --federation is refused). Returns 0, or -1 with err saying what to pass. */
int cli_common_finish(cli_common_t *c, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The value of the --config option in argv ("--config F" or
 * "--config=F", before any "--"), or NULL. */
const char *cli_config_path(int argc, char **argv);

/* Read the configuration file at path (config_load) into storage that
 * lives until the program exits, and apply it to c under the command line:
 * federation name, root_cert, registry, key_dir, passphrase_file and id
 * (as --as). Returns the configuration for the caller's own keys
 * (endpoints, data_dir), or NULL with err "file:line: problem". */
const config_t *cli_config_apply(const char *path, cli_common_t *c,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Print "csbm: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The identity this command acts as: c->as, else the only *.sign.key or
 * *.box.key owner in the key directory. */
int cli_identity(const cli_common_t *c, char *owner, size_t cap, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Ask for the passphrase and load owner's secret key of the given kind. */
keys_secret_t *cli_load_secret(const cli_common_t *c, const char *owner,
    keys_kind_t kind, errbuf_t *err) __attribute__((warn_unused_result));

/* The keyring. With c->registry (and c->root): the registry verified
 * against the root with roll-back protection (registry_load; the state
 * file is c->registry_state, else registry.state in the key directory if
 * that exists, else the registry's path with ".state" appended), turned
 * into a keyring (registry_to_keyring). Otherwise every .pub file in the
 * keyring directory. Caller owns the result (keyring_destroy). */
keyring_t *cli_load_keyring(const cli_common_t *c, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The same from explicit paths, for verbs without a cli_common_t
 * (csbm hub): registry and root, or, if registry is NULL, the .pub files
 * of keyring_dir. key_dir anchors the default state file (may be NULL). */
keyring_t *cli_keyring_open(const char *registry, const char *root,
    const char *state_file, const char *key_dir, const char *keyring_dir,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The exit code for a keyring that cli_load_keyring could not build:
 * CLI_REJECTED when a registry and its root were there to be read (the
 * registry failed verification or was rolled back), else CLI_ERROR. */
int cli_keyring_exit(const cli_common_t *c);

/* Parse a time given on the command line: "now", RFC 3339
 * ("2026-03-01T00:00:00Z", "2026-03-01T02:00:00+02:00") or a date
 * ("2026-03-01", midnight UTC). Returns 0, or -1 with err. */
int cli_parse_time(const char *s, int64_t now, int64_t *out, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Check that every one of the n recipient ids names an owner of kr (or
 * is "all"): an unknown one is a usage error, "XYZ is not in the keyring
 * (DIR): known: ARG, CHL, hub", or the registry. Returns 0, or -1 with
 * err. */
int cli_recipients_known(const cli_common_t *c, const keyring_t *kr,
    const char *const *ids, size_t n, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Is code a member identity: an ISO 3166-1 alpha-3 state code, in
 * capitals (proto/codes.h), or "hub"? Returns 0, or -1 with err naming
 * the option ("--state arg: ...") and the fix ("did you mean ARG?"). */
int cli_state_code_check(const char *option, const char *code, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Split "CHL,PER,hub" into a new array of new strings. */
char **cli_split_list(const char *list, size_t *n);
void   cli_free_list(char **list, size_t n);

/* Format a Unix time as ISO 8601 UTC ("2026-11-22T20:17:00Z"). */
void cli_format_time(int64_t t, char out[32]);

/* Bytes as lower-case hex into out (2*len+1 bytes). */
void cli_hex(const uint8_t *b, size_t len, char *out);

/* The verbs. */
int cmd_keygen(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_seal(int argc, char **argv);
int cmd_open(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);

#endif
