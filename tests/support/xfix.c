/*
 * xfix: the exchange's integration-test fixture (see xfix.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/keys.h"
#include "tests/support/xfix.h"

char       xfix_root[ITEST_PATH_MAX];
char       xfix_case[ITEST_PATH_MAX];
char       xfix_hub_ep[64], xfix_notify_ep[64];
int        xfix_hub_port, xfix_notify_port;
pid_t      xfix_hub_pid;
xfix_run_t xfix_run;
static int s_run_no;

void
xfix_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < cap);
}

char *
xfix_slurp(const char *path)
{
    char *text = itest_read_file(path, NULL);

    return text != NULL ? text : strdup("");
}

static void
s_run_free(xfix_run_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Run argv to completion, capturing its output. */
void
xfix_exec(xfix_run_t *r, const char *const *argv)
{
    char out[ITEST_PATH_MAX], err[ITEST_PATH_MAX];
    int  n = ++s_run_no;

    xfix_fmt(out, sizeof out, "%s/run%03d.out", xfix_case, n);
    xfix_fmt(err, sizeof err, "%s/run%03d.err", xfix_case, n);
    s_run_free(r);
    r->code = itest_run(argv, NULL, out, err, XFIX_RUN_TIMEOUT);
    r->out = xfix_slurp(out);
    r->err = xfix_slurp(err);
    assert_non_null(r->out);
    assert_non_null(r->err);
    print_message("$ csbm %s ... -> %d\n%s%s", argv[1], r->code, r->out,
        r->err);
}

void
xfix_keydir(char *out, size_t cap, const char *id)
{
    xfix_fmt(out, cap, "%s/keys/%s", xfix_root, id);
}

void
xfix_db(char *out, size_t cap, const char *id)
{
    xfix_fmt(out, cap, "%s/%s.db", xfix_case, id);
}

static int
s_exchange_verb(const char *verb)
{
    return strcmp(verb, "outbox") == 0 || strcmp(verb, "inbox") == 0
        || strcmp(verb, "push") == 0 || strcmp(verb, "sync") == 0
        || strcmp(verb, "pull") == 0 || strcmp(verb, "node") == 0;
}

static int
s_network_verb(const char *verb)
{
    return strcmp(verb, "push") == 0 || strcmp(verb, "sync") == 0
        || strcmp(verb, "pull") == 0 || strcmp(verb, "node") == 0;
}

/* Build "csbm VERB EXTRA... --keys .. --keyring .. --data .. [--hub ..]"
 * for identity id into argv (at most 40 entries; extra is NULL-ended and
 * holds at most 24), with the strings it needs in bufs. */
static void
s_argv(const char **argv, char bufs[][ITEST_PATH_MAX], const char *id,
    const char *verb, const char *const *extra)
{
    size_t n = 0, i;

    argv[n++] = itest_csbm();
    argv[n++] = verb;
    for (i = 0; extra[i] != NULL && i < 24; i++)
        argv[n++] = extra[i];
    xfix_keydir(bufs[0], ITEST_PATH_MAX, id);
    xfix_db(bufs[1], ITEST_PATH_MAX, id);
    xfix_fmt(bufs[2], ITEST_PATH_MAX, "%s/keyring", xfix_root);
    argv[n++] = "--keys";
    argv[n++] = bufs[0];
    argv[n++] = "--keyring";
    argv[n++] = bufs[2];
    if (s_exchange_verb(verb)) {
        argv[n++] = "--data";
        argv[n++] = bufs[1];
    }
    argv[n++] = "--federation";
    argv[n++] = XFIX_FED;
    if (s_network_verb(verb)) {
        argv[n++] = "--hub";
        argv[n++] = xfix_hub_ep;
        argv[n++] = "--hub-notify";
        argv[n++] = xfix_notify_ep;
        if (strcmp(verb, "node") != 0) {
            argv[n++] = "--timeout-ms";
            argv[n++] = "3000";
        }
    }
    argv[n] = NULL;
}

/* Collect NULL-ended variadic arguments into extra (25 entries). */
#define COLLECT(extra, last)                                                  \
    do {                                                                      \
        va_list ap_;                                                          \
        size_t  k_ = 0;                                                       \
        va_start(ap_, last);                                                  \
        while (k_ < 24 && ((extra)[k_] = va_arg(ap_, const char *)) != NULL)  \
            k_++;                                                             \
        (extra)[k_] = NULL;                                                   \
        va_end(ap_);                                                          \
    } while (0)

/* csbm VERB ... as identity id; NULL ends the arguments. */
void
xfix_csbm(xfix_run_t *r, const char *id, const char *verb, ...)
{
    const char *argv[40], *extra[25];
    char        bufs[3][ITEST_PATH_MAX];

    COLLECT(extra, verb);
    s_argv(argv, bufs, id, verb, extra);
    xfix_exec(r, argv);
}

/* Start `csbm VERB ...` for id in the background; its standard error goes
 * to VERB-ID.log in the test's directory. */
pid_t
xfix_start(const char *id, const char *verb, ...)
{
    const char *argv[40], *extra[25];
    char        bufs[3][ITEST_PATH_MAX], out[ITEST_PATH_MAX];
    char        err[ITEST_PATH_MAX];
    pid_t       pid;

    COLLECT(extra, verb);
    s_argv(argv, bufs, id, verb, extra);
    xfix_fmt(out, sizeof out, "%s/%s-%s.out", xfix_case, verb, id);
    xfix_fmt(err, sizeof err, "%s/%s-%s.log", xfix_case, verb, id);
    pid = itest_spawn(argv, NULL, out, err);
    assert_true(pid > 0);
    return pid;
}

/* Does id's VERB log hold needle (waiting up to timeout_ms)? */
int
xfix_log_has(const char *id, const char *verb, const char *needle,
    int timeout_ms)
{
    char path[ITEST_PATH_MAX];

    xfix_fmt(path, sizeof path, "%s/%s-%s.log", xfix_case, verb, id);
    return itest_file_contains(path, needle, timeout_ms);
}

void
xfix_hub_start(void)
{
    char        keys[ITEST_PATH_MAX], keyring[ITEST_PATH_MAX];
    char        data[ITEST_PATH_MAX], out[ITEST_PATH_MAX], err[ITEST_PATH_MAX];
    const char *argv[] = {itest_csbm(), "hub", "--keys", keys, "--keyring",
        keyring, "--data", data, "--bind", xfix_hub_ep, "--notify", xfix_notify_ep,
        "--federation", XFIX_FED, NULL};
    const int   ports[] = {xfix_hub_port, xfix_notify_port};

    xfix_keydir(keys, sizeof keys, "hub");
    xfix_fmt(keyring, sizeof keyring, "%s/keyring", xfix_root);
    xfix_fmt(data, sizeof data, "%s/hub.db", xfix_case);
    xfix_fmt(out, sizeof out, "%s/hub.out", xfix_case);
    xfix_fmt(err, sizeof err, "%s/hub.log", xfix_case);
    xfix_hub_pid = itest_start_listener(argv, NULL, out, err, ports, 2, 60000);
    if (xfix_hub_pid < 0)
        fail_msg("the hub did not start (its log is above)");
}

/* ------------------------------------------------------------ stores --- */

sqlite3 *
xfix_sql_open(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
        SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

int64_t
xfix_sql_int(const char *path, const char *sql, const char *arg)
{
    sqlite3      *db = xfix_sql_open(path);
    sqlite3_stmt *st = NULL;
    int64_t       v = -1;

    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (arg != NULL)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

void
xfix_sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = xfix_sql_open(path);

    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

int64_t
xfix_node_int(const char *id, const char *sql, const char *arg)
{
    char db[ITEST_PATH_MAX];

    xfix_db(db, sizeof db, id);
    return xfix_sql_int(db, sql, arg);
}

/* How many times the hub's archive holds this package id (hex). */
int64_t
xfix_archive_count(const char *hex)
{
    char db[ITEST_PATH_MAX];

    xfix_fmt(db, sizeof db, "%s/hub.db", xfix_case);
    return xfix_sql_int(db, "SELECT count(*) FROM archive WHERE "
        "lower(hex(package_id)) = lower(?)", hex);
}

/* The package id of the outbox entry with this sequence (hex). */
void
xfix_outbox_id(const char *id, int seq, char hex[33])
{
    char          db[ITEST_PATH_MAX];
    sqlite3      *h;
    sqlite3_stmt *st = NULL;

    xfix_db(db, sizeof db, id);
    h = xfix_sql_open(db);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT lower(hex(package_id)) "
        "FROM outbox WHERE sequence = ?", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int(st, 1, seq);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(hex, 33, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
}

/* Wait until the SQL count on id's store reaches want. */
int
xfix_wait_count(const char *id, const char *sql, int64_t want, int timeout_ms)
{
    int waited;

    for (waited = 0; waited < timeout_ms; waited += 20) {
        if (xfix_node_int(id, sql, NULL) >= want)
            return 1;
        usleep(20 * 1000);
    }
    return 0;
}

/* ---------------------------------------------------------- packages --- */

/* A valid MILEX report of state (single-figure form) as a JSON file. */
void
xfix_milex(char *path, size_t cap, const char *state, int figure)
{
    char text[1024];

    xfix_fmt(path, cap, "%s/milex-%s-%d.json", xfix_case, state, figure);
    xfix_fmt(text, sizeof text,
        "{\n"
        "  \"state\": \"%s\",\n"
        "  \"year\": 2025,\n"
        "  \"language\": \"es\",\n"
        "  \"prepared_at\": \"2026-01-15T12:00:00Z\",\n"
        "  \"milex\": {\n"
        "    \"currency\": \"ARS\",\n"
        "    \"unit\": \"MILLIONS\",\n"
        "    \"form\": \"MILEX_SINGLE_FIGURE\",\n"
        "    \"single_figure\": %d\n"
        "  }\n"
        "}\n", state, figure);
    assert_int_equal(itest_write_file(path, text, 0644), 0);
}

int
xfix_group_setup(const char *tag, const char *const *ids, size_t n)
{
    char   dir[ITEST_PATH_MAX], keyring[ITEST_PATH_MAX];
    size_t i;

    signal(SIGPIPE, SIG_IGN);
    if (access(itest_csbm(), X_OK) != 0) {
        fprintf(stderr, "%s: not built (run through ctest)\n", itest_csbm());
        return -1;
    }
    if (itest_tmpdir(tag, xfix_root, sizeof xfix_root) != 0)
        return -1;
    setenv(KEYS_PASSPHRASE_ENV, ITEST_PASSPHRASE, 1);
    xfix_fmt(dir, sizeof dir, "%s/keys", xfix_root);
    xfix_fmt(keyring, sizeof keyring, "%s/keyring", xfix_root);
    if (mkdir(dir, 0700) != 0)
        return -1;
    for (i = 0; i < n; i++) {
        xfix_keydir(dir, sizeof dir, ids[i]);
        if (itest_identity(dir, ids[i]) != 0
            || itest_keyring_add(keyring, dir, ids[i]) != 0)
            return -1;
    }
    return 0;
}

void
xfix_group_teardown(void)
{
    itest_kill_all();
    s_run_free(&xfix_run);
    itest_rmtree(xfix_root);
}

void
xfix_case_setup(void)
{
    static int n;

    xfix_fmt(xfix_case, sizeof xfix_case, "%s/case%d", xfix_root, ++n);
    assert_int_equal(mkdir(xfix_case, 0700), 0);
    xfix_hub_port = itest_free_port();
    do
        xfix_notify_port = itest_free_port();
    while (xfix_notify_port == xfix_hub_port);
    assert_true(xfix_hub_port > 0 && xfix_notify_port > 0);
    itest_endpoint(xfix_hub_port, xfix_hub_ep, sizeof xfix_hub_ep);
    itest_endpoint(xfix_notify_port, xfix_notify_ep, sizeof xfix_notify_ep);
}

void
xfix_hub_kill(void)
{
    assert_true(xfix_hub_pid > 0);
    assert_int_equal(itest_stop(xfix_hub_pid, SIGKILL, 10000), 128 + SIGKILL);
    xfix_hub_pid = 0;
}
