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

#include "config/keyring.h"
#include "crypto/keys.h"
#include "proto/errbuf.h"

#define CLI_OK       0
#define CLI_REJECTED 1
#define CLI_ERROR    2

#define CLI_DEFAULT_FEDERATION "OAS-CSBM"
#define CLI_MAX_PACKAGE_FILE   (64u * 1024 * 1024)

/* Common options most verbs accept. */
typedef struct {
    const char *key_dir;         /* --keys DIR, $CSBM_KEYS, "keys" */
    const char *keyring_dir;     /* --keyring DIR, $CSBM_KEYRING, key_dir */
    const char *as;              /* --as ID, $CSBM_ID, the only identity */
    const char *passphrase_file; /* --passphrase-file F */
    const char *federation;      /* --federation NAME, $CSBM_FEDERATION */
    int         json;            /* --json */
} cli_common_t;

/* Fill defaults from the environment. */
void cli_common_init(cli_common_t *c);

/* If opt is one of the common long options, consume it and return 1. */
int cli_common_option(cli_common_t *c, int opt, const char *arg);

/* Print "csbm: <msg>" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The identity this command acts as: c->as, else the only *.sign.key or
 * *.box.key owner in the key directory. */
int cli_identity(const cli_common_t *c, char *owner, size_t cap, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Ask for the passphrase and load owner's secret key of the given kind. */
keys_secret_t *cli_load_secret(const cli_common_t *c, const char *owner,
    keys_kind_t kind, errbuf_t *err) __attribute__((warn_unused_result));

/* The keyring: every .pub file in the keyring directory. */
keyring_t *cli_load_keyring(const cli_common_t *c, errbuf_t *err)
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
