/*
 * xfix: the fixture of the exchange's integration tests — one group
 * directory with an identity (key directory) per participant and a shared
 * keyring, one directory per test case with its own stores, a real
 * `csbm hub` on fresh loopback ports, and `csbm VERB` runs as any
 * participant with their output captured.
 *
 * Layout: <root>/keys/<ID>/ (identities), <root>/keyring/ (their .pub
 * files), <case>/<ID>.db (node stores), <case>/hub.db, <case>/hub.log,
 * <case>/VERB-ID.log (background processes), <case>/runNNN.{out,err}.
 *
 * Helpers assert (cmocka) on failures of the harness itself, so a test
 * reads as its story.
 */
#ifndef CSBM_XFIX_H
#define CSBM_XFIX_H

#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>
#include <sys/types.h>

#include "tests/support/itest.h"

#define XFIX_FED         "IT-FED"
#define XFIX_RUN_TIMEOUT 120000 /* ms; generous for ASan on a slow machine */

/* The last command's exit code and output (out and err are malloc'd). */
typedef struct {
    int   code;
    char *out;
    char *err;
} xfix_run_t;

extern char       xfix_root[ITEST_PATH_MAX]; /* the group's directory */
extern char       xfix_case[ITEST_PATH_MAX]; /* this test's, under it */
extern char       xfix_hub_ep[64], xfix_notify_ep[64];
extern int        xfix_hub_port, xfix_notify_port;
extern pid_t      xfix_hub_pid;
extern xfix_run_t xfix_run;

/* snprintf that asserts the result fits. */
void xfix_fmt(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A file's text, or "" if unreadable; caller frees. */
char *xfix_slurp(const char *path);

/* Group: a directory named after tag, identities ids[0..n) (one Argon2id
 * derivation each: the slow step) and the keyring of all of them. 0 or
 * -1, as cmocka's group setup wants. */
int  xfix_group_setup(const char *tag, const char *const *ids, size_t n);
void xfix_group_teardown(void);

/* Case: a new directory and two fresh ports (not yet bound). */
void xfix_case_setup(void);

/* Paths: id's key directory and node store in this case. */
void xfix_keydir(char *out, size_t cap, const char *id);
void xfix_db(char *out, size_t cap, const char *id);

/* Run argv to completion into r, capturing and echoing its output. */
void xfix_exec(xfix_run_t *r, const char *const *argv);

/* `csbm VERB EXTRA...` as id (NULL ends EXTRA, at most 24 entries), with
 * --keys, --keyring, --federation and, as the verb needs them, --data,
 * --hub, --hub-notify and --timeout-ms 3000. */
void xfix_csbm(xfix_run_t *r, const char *id, const char *verb, ...);

/* The same in the background; standard error to <case>/VERB-ID.log. */
pid_t xfix_start(const char *id, const char *verb, ...);

/* Does id's VERB log hold needle (waiting up to timeout_ms)? */
int xfix_log_has(const char *id, const char *verb, const char *needle,
    int timeout_ms);

/* Start the hub of this case on its ports (retrying a lost port race),
 * or kill it with SIGKILL. */
void xfix_hub_start(void);
void xfix_hub_kill(void);

/* SQLite on the stores. */
sqlite3 *xfix_sql_open(const char *path);
int64_t  xfix_sql_int(const char *path, const char *sql, const char *arg);
void     xfix_sql_exec(const char *path, const char *sql);
int64_t  xfix_node_int(const char *id, const char *sql, const char *arg);
/* How many times the case's hub archive holds this package id (hex). */
int64_t  xfix_archive_count(const char *hex);
/* The package id (hex) of id's outbox entry with this sequence. */
void     xfix_outbox_id(const char *id, int seq, char hex[33]);
/* Wait until the count sql on id's store reaches want. 1 if it did. */
int      xfix_wait_count(const char *id, const char *sql, int64_t want,
    int timeout_ms);

/* A valid single-figure MILEX report of state, written as JSON into the
 * case directory; its path into path. */
void xfix_milex(char *path, size_t cap, const char *state, int figure);

#endif
