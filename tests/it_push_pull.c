/*
 * it_push_pull: a member pushes a package through a real hub and each
 * recipient pulls and opens it — real `csbm hub`, `csbm push/sync/pull/
 * outbox/inbox/open/node` processes, real keys, real SQLite files, loopback
 * CurveZMQ.
 *
 * Stories: delivery with a verified receipt; pull by each recipient, who
 * can open the package; nothing for a non-recipient; resending an archived
 * package gets the original receipt; a reused sequence number is rejected
 * with a signed reason; what a tampered archive serves is refused by the
 * recipient, and so is a package from a sender this node does not know
 * yet, until its key is added and the pull retried; the node daemon pulls
 * on the hub's notification and delivers what `csbm push --no-send` queued
 * while it runs.
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
#include <time.h>
#include <unistd.h>

#include "crypto/keys.h"
#include "tests/support/itest.h"

#define FED         "IT-FED"
#define RUN_TIMEOUT 120000 /* ms; generous for ASan on a slow machine */

static const char *const s_ids[] = {"ARG", "CHL", "PER", "URY", "hub"};

/* ---------------------------------------------------------- harness --- */

static char  s_root[ITEST_PATH_MAX]; /* the group's temp dir */
static char  s_case[ITEST_PATH_MAX]; /* this test's dir under it */
static char  s_hub_ep[64], s_notify_ep[64];
static int   s_hub_port, s_notify_port;
static pid_t s_hub_pid;
static int   s_run_no;

/* The last command's exit code and output (out and err are malloc'd). */
typedef struct {
    int   code;
    char *out;
    char *err;
} run_t;

static run_t s_run;

static void
s_fmt(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < cap);
}

static char *
s_slurp(const char *path)
{
    char *text = itest_read_file(path, NULL);

    return text != NULL ? text : strdup("");
}

static void
s_run_free(run_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

/* Run argv to completion, capturing its output. */
static void
s_exec(run_t *r, const char *const *argv)
{
    char out[ITEST_PATH_MAX], err[ITEST_PATH_MAX];
    int  n = ++s_run_no;

    s_fmt(out, sizeof out, "%s/run%03d.out", s_case, n);
    s_fmt(err, sizeof err, "%s/run%03d.err", s_case, n);
    s_run_free(r);
    r->code = itest_run(argv, NULL, out, err, RUN_TIMEOUT);
    r->out = s_slurp(out);
    r->err = s_slurp(err);
    assert_non_null(r->out);
    assert_non_null(r->err);
    print_message("$ csbm %s ... -> %d\n%s%s", argv[1], r->code, r->out,
        r->err);
}

static void
s_keydir(char *out, size_t cap, const char *id)
{
    s_fmt(out, cap, "%s/keys/%s", s_root, id);
}

static void
s_db(char *out, size_t cap, const char *id)
{
    s_fmt(out, cap, "%s/%s.db", s_case, id);
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
    s_keydir(bufs[0], ITEST_PATH_MAX, id);
    s_db(bufs[1], ITEST_PATH_MAX, id);
    s_fmt(bufs[2], ITEST_PATH_MAX, "%s/keyring", s_root);
    argv[n++] = "--keys";
    argv[n++] = bufs[0];
    argv[n++] = "--keyring";
    argv[n++] = bufs[2];
    if (s_exchange_verb(verb)) {
        argv[n++] = "--data";
        argv[n++] = bufs[1];
    }
    argv[n++] = "--federation";
    argv[n++] = FED;
    if (s_network_verb(verb)) {
        argv[n++] = "--hub";
        argv[n++] = s_hub_ep;
        argv[n++] = "--hub-notify";
        argv[n++] = s_notify_ep;
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
static void
s_csbm(run_t *r, const char *id, const char *verb, ...)
{
    const char *argv[40], *extra[25];
    char        bufs[3][ITEST_PATH_MAX];

    COLLECT(extra, verb);
    s_argv(argv, bufs, id, verb, extra);
    s_exec(r, argv);
}

/* Start `csbm VERB ...` for id in the background; its standard error goes
 * to VERB-ID.log in the test's directory. */
static pid_t
s_start(const char *id, const char *verb, ...)
{
    const char *argv[40], *extra[25];
    char        bufs[3][ITEST_PATH_MAX], out[ITEST_PATH_MAX];
    char        err[ITEST_PATH_MAX];
    pid_t       pid;

    COLLECT(extra, verb);
    s_argv(argv, bufs, id, verb, extra);
    s_fmt(out, sizeof out, "%s/%s-%s.out", s_case, verb, id);
    s_fmt(err, sizeof err, "%s/%s-%s.log", s_case, verb, id);
    pid = itest_spawn(argv, NULL, out, err);
    assert_true(pid > 0);
    return pid;
}

/* Does id's VERB log hold needle (waiting up to timeout_ms)? */
static int
s_log_has(const char *id, const char *verb, const char *needle,
    int timeout_ms)
{
    char path[ITEST_PATH_MAX];

    s_fmt(path, sizeof path, "%s/%s-%s.log", s_case, verb, id);
    return itest_file_contains(path, needle, timeout_ms);
}

static void
s_hub_start(void)
{
    char        keys[ITEST_PATH_MAX], keyring[ITEST_PATH_MAX];
    char        data[ITEST_PATH_MAX], out[ITEST_PATH_MAX], err[ITEST_PATH_MAX];
    const char *argv[] = {itest_csbm(), "hub", "--keys", keys, "--keyring",
        keyring, "--data", data, "--bind", s_hub_ep, "--notify", s_notify_ep,
        "--federation", FED, NULL};
    const int   ports[] = {s_hub_port, s_notify_port};

    s_keydir(keys, sizeof keys, "hub");
    s_fmt(keyring, sizeof keyring, "%s/keyring", s_root);
    s_fmt(data, sizeof data, "%s/hub.db", s_case);
    s_fmt(out, sizeof out, "%s/hub.out", s_case);
    s_fmt(err, sizeof err, "%s/hub.log", s_case);
    s_hub_pid = itest_start_listener(argv, NULL, out, err, ports, 2, 60000);
    if (s_hub_pid < 0)
        fail_msg("the hub did not start (its log is above)");
}

/* ------------------------------------------------------------ stores --- */

static sqlite3 *
s_sql_open(const char *path)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL),
        SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

static int64_t
s_sql_int(const char *path, const char *sql, const char *arg)
{
    sqlite3      *db = s_sql_open(path);
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

static void
s_sql_exec(const char *path, const char *sql)
{
    sqlite3 *db = s_sql_open(path);

    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
}

static int64_t
s_node_int(const char *id, const char *sql, const char *arg)
{
    char db[ITEST_PATH_MAX];

    s_db(db, sizeof db, id);
    return s_sql_int(db, sql, arg);
}

/* How many times the hub's archive holds this package id (hex). */
static int64_t
s_archive_count(const char *hex)
{
    char db[ITEST_PATH_MAX];

    s_fmt(db, sizeof db, "%s/hub.db", s_case);
    return s_sql_int(db, "SELECT count(*) FROM archive WHERE "
        "lower(hex(package_id)) = lower(?)", hex);
}

/* The package id of the outbox entry with this sequence (hex). */
static void
s_outbox_id(const char *id, int seq, char hex[33])
{
    char          db[ITEST_PATH_MAX];
    sqlite3      *h;
    sqlite3_stmt *st = NULL;

    s_db(db, sizeof db, id);
    h = s_sql_open(db);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT lower(hex(package_id)) "
        "FROM outbox WHERE sequence = ?", -1, &st, NULL), SQLITE_OK);
    sqlite3_bind_int(st, 1, seq);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    snprintf(hex, 33, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
}

/* Wait until the SQL count on id's store reaches want. */
static int
s_wait_count(const char *id, const char *sql, int64_t want, int timeout_ms)
{
    int waited;

    for (waited = 0; waited < timeout_ms; waited += 20) {
        if (s_node_int(id, sql, NULL) >= want)
            return 1;
        usleep(20 * 1000);
    }
    return 0;
}

/* ---------------------------------------------------------- packages --- */

/* A valid MILEX report of state (single-figure form) as a JSON file. */
static void
s_milex(char *path, size_t cap, const char *state, int figure)
{
    char text[1024];

    s_fmt(path, cap, "%s/milex-%s-%d.json", s_case, state, figure);
    s_fmt(text, sizeof text,
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

/* ------------------------------------------------------ setup / down --- */

static int
s_group_setup(void **state)
{
    char   dir[ITEST_PATH_MAX], keyring[ITEST_PATH_MAX];
    size_t i;

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (access(itest_csbm(), X_OK) != 0) {
        fprintf(stderr, "%s: not built (run through ctest)\n", itest_csbm());
        return -1;
    }
    if (itest_tmpdir("push-pull", s_root, sizeof s_root) != 0)
        return -1;
    setenv(KEYS_PASSPHRASE_ENV, ITEST_PASSPHRASE, 1);
    s_fmt(dir, sizeof dir, "%s/keys", s_root);
    s_fmt(keyring, sizeof keyring, "%s/keyring", s_root);
    if (mkdir(dir, 0700) != 0)
        return -1;
    /* One identity each: the only slow step, a key derivation each. */
    for (i = 0; i < sizeof s_ids / sizeof s_ids[0]; i++) {
        s_keydir(dir, sizeof dir, s_ids[i]);
        if (itest_identity(dir, s_ids[i]) != 0
            || itest_keyring_add(keyring, dir, s_ids[i]) != 0)
            return -1;
    }
    return 0;
}

static int
s_group_teardown(void **state)
{
    (void)state;
    itest_kill_all();
    s_run_free(&s_run);
    itest_rmtree(s_root);
    return 0;
}

/* Each test: its own directory and stores, fresh ports for the hub. */
static int
s_setup(void **state)
{
    static int n;

    (void)state;
    s_fmt(s_case, sizeof s_case, "%s/case%d", s_root, ++n);
    assert_int_equal(mkdir(s_case, 0700), 0);
    s_hub_port = itest_free_port();
    do
        s_notify_port = itest_free_port();
    while (s_notify_port == s_hub_port);
    assert_true(s_hub_port > 0 && s_notify_port > 0);
    itest_endpoint(s_hub_port, s_hub_ep, sizeof s_hub_ep);
    itest_endpoint(s_notify_port, s_notify_ep, sizeof s_notify_ep);
    s_hub_start();
    return 0;
}

static void s_restore_hidden(void);

static int
s_teardown(void **state)
{
    (void)state;
    itest_kill_all();
    s_restore_hidden();
    return 0;
}


/* ------------------------------------------------------------- tests --- */

static void
test_push_pull_delivers_to_each_recipient(void **state)
{
    run_t *r = &s_run;
    char   pkg[ITEST_PATH_MAX], hex[33], exported[ITEST_PATH_MAX];
    char   db[ITEST_PATH_MAX];

    (void)state;
    s_milex(pkg, sizeof pkg, "ARG", 4200);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL,PER", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "delivered"));
    assert_non_null(strstr(r->out, "receipt verified"));
    s_outbox_id("ARG", 1, hex);
    assert_int_equal(s_archive_count(hex), 1);

    s_csbm(r, "ARG", "outbox", "--json", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "\"status\": \"delivered\""));
    assert_non_null(strstr(r->out, hex));
    s_db(db, sizeof db, "ARG");
    assert_int_equal(s_sql_int(db, "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered' AND receipt IS NOT NULL AND position > 0",
        NULL), 1);

    /* Each recipient pulls and opens it. */
    s_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 1 new package"));
    s_csbm(r, "CHL", "inbox", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, hex));
    assert_non_null(strstr(r->out, "MILEX_REPORT"));
    assert_non_null(strstr(r->out, " no"));
    s_csbm(r, "CHL", "inbox", "--open", hex, NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "4200"));
    assert_non_null(strstr(r->out, "ARG"));
    s_csbm(r, "CHL", "inbox", "--json", NULL);
    assert_non_null(strstr(r->out, "\"opened\": true"));
    /* Pulling again brings nothing new. */
    s_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 0 new packages"));
    assert_int_equal(s_node_int("CHL", "SELECT count(*) FROM inbox", NULL),
        1);

    /* The other recipient exports the sealed package and opens the file. */
    s_csbm(r, "PER", "pull", NULL);
    assert_int_equal(r->code, 0);
    s_fmt(exported, sizeof exported, "%s/exported.csbm", s_case);
    s_csbm(r, "PER", "inbox", "--export", hex, "-o", exported, NULL);
    assert_int_equal(r->code, 0);
    s_csbm(r, "PER", "open", exported, NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "4200"));

    /* A state that is not a recipient gets nothing. */
    s_csbm(r, "URY", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 0 new packages"));
    assert_non_null(strstr(r->out, "0 received"));
    s_csbm(r, "URY", "inbox", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "inbox is empty"));
    /* And it cannot open the exported copy either. */
    s_csbm(r, "URY", "open", exported, NULL);
    assert_int_equal(r->code, 1);
}

static void
test_push_pull_resend_gets_the_original_receipt(void **state)
{
    run_t  *r = &s_run;
    char    pkg[ITEST_PATH_MAX], hex[33], db[ITEST_PATH_MAX];
    int64_t pos;

    (void)state;
    s_milex(pkg, sizeof pkg, "ARG", 100);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    s_milex(pkg, sizeof pkg, "ARG", 200);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    s_outbox_id("ARG", 1, hex);
    s_db(db, sizeof db, "ARG");
    pos = s_sql_int(db, "SELECT position FROM outbox WHERE sequence = 1",
        NULL);
    assert_true(pos > 0);

    /* As if the receipt had been lost: the same sealed bytes go again. */
    s_sql_exec(db, "UPDATE outbox SET status = 'pending', receipt = NULL, "
        "position = NULL WHERE sequence = 1");
    s_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "the hub had it already"));
    assert_int_equal(s_sql_int(db, "SELECT position FROM outbox WHERE "
        "sequence = 1 AND status = 'delivered'", NULL), pos);
    assert_int_equal(s_archive_count(hex), 1);

    /* Nothing left: a second sync does nothing. */
    s_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "nothing pending"));
    assert_int_equal(s_archive_count(hex), 1);
}

static void
test_push_pull_reused_sequence_is_rejected(void **state)
{
    run_t *r = &s_run;
    char   pkg[ITEST_PATH_MAX], first[33], second[33], db[ITEST_PATH_MAX];

    (void)state;
    s_milex(pkg, sizeof pkg, "ARG", 1);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    s_outbox_id("ARG", 1, first);

    /* A doctored (or restored from backup) store hands out sequence 1
     * again, for another package. */
    s_db(db, sizeof db, "ARG");
    s_sql_exec(db, "DELETE FROM outbox; UPDATE meta SET value = 0 "
        "WHERE key = 'last_sequence'");
    s_milex(pkg, sizeof pkg, "ARG", 2);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->err, "REASON_REPLAY"));
    s_outbox_id("ARG", 1, second);
    assert_string_not_equal(first, second);
    assert_int_equal(s_sql_int(db, "SELECT count(*) FROM outbox WHERE "
        "status = 'rejected' AND reason = 10 AND rejection IS NOT NULL",
        NULL), 1);
    s_csbm(r, "ARG", "outbox", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "rejected"));
    assert_non_null(strstr(r->out, "REASON_REPLAY"));
    assert_int_equal(s_archive_count(first), 1);
    assert_int_equal(s_archive_count(second), 0);

    /* The recipient sees only the first. */
    s_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 1 new package"));
}

static void
test_push_pull_invalid_package_is_not_queued(void **state)
{
    run_t *r = &s_run;
    char   pkg[ITEST_PATH_MAX], db[ITEST_PATH_MAX];

    (void)state;
    s_fmt(pkg, sizeof pkg, "%s/bad.json", s_case);
    assert_int_equal(itest_write_file(pkg,
        "{\"state\": \"ARG\", \"year\": 2025, \"milex\": "
        "{\"currency\": \"ARS\", \"unit\": \"MILLIONS\", "
        "\"form\": \"MILEX_SINGLE_FIGURE\", \"single_figure\": -5}}", 0644),
        0);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->err, "not valid"));
    s_db(db, sizeof db, "ARG");
    assert_int_equal(access(db, F_OK), -1); /* no store, nothing queued */
    /* Unknown recipient: not sealed, not queued, not a sequence used. */
    s_milex(pkg, sizeof pkg, "ARG", 7);
    s_csbm(r, "ARG", "push", pkg, "--to", "ZZZ", NULL);
    assert_int_equal(r->code, 2);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    assert_int_equal(s_node_int("ARG", "SELECT max(sequence) FROM outbox",
        NULL), 1);
}

static void
test_push_pull_tampered_archive_is_refused(void **state)
{
    run_t *r = &s_run;
    char   pkg[ITEST_PATH_MAX], hub_db[ITEST_PATH_MAX];
    int    i;

    (void)state;
    for (i = 1; i <= 3; i++) {
        s_milex(pkg, sizeof pkg, "ARG", 900 + i);
        s_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
        assert_int_equal(r->code, 0);
    }
    /* Someone with access to the hub's disk alters what it serves: a
     * byte of the first package, and the second one's receipt swapped
     * for the third's (validly signed, for another package). */
    s_fmt(hub_db, sizeof hub_db, "%s/hub.db", s_case);
    s_sql_exec(hub_db, "UPDATE archive SET envelope = "
        "substr(envelope, 1, length(envelope) - 1) || "
        "CASE WHEN substr(envelope, -1) = X'00' THEN X'01' ELSE X'00' END "
        "WHERE position = 1");
    s_sql_exec(hub_db, "UPDATE archive SET receipt = "
        "(SELECT receipt FROM archive WHERE position = 3) "
        "WHERE position = 2");
    s_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->err, "position 1: not valid"));
    assert_non_null(strstr(r->err, "position 2: the hub's receipt names "
        "another package"));
    assert_non_null(strstr(r->out, "pulled 1 new package (3 received, 2 "
        "refused)"));
    assert_int_equal(s_node_int("CHL", "SELECT count(*) FROM inbox", NULL),
        1);
    assert_int_equal(s_node_int("CHL", "SELECT position FROM inbox", NULL),
        3);
    s_csbm(r, "CHL", "inbox", "--refused", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "       1 "));
    assert_non_null(strstr(r->out, "       2 "));
    s_csbm(r, "CHL", "inbox", NULL);
    assert_non_null(strstr(r->err, "2 pulled packages were refused"));
}

/* Where URY.pub is kept while a test hides it from the keyring. */
static char s_hidden[ITEST_PATH_MAX];

static void
s_restore_hidden(void)
{
    char path[ITEST_PATH_MAX];

    if (s_hidden[0] == '\0')
        return;
    s_fmt(path, sizeof path, "%s/keyring/URY.pub", s_root);
    (void)rename(s_hidden, path);
    s_hidden[0] = '\0';
}

static void
test_push_pull_unknown_sender_is_retried_after_keyring_update(void **state)
{
    run_t *r = &s_run;
    char   pkg[ITEST_PATH_MAX], path[ITEST_PATH_MAX];

    (void)state;
    s_milex(pkg, sizeof pkg, "URY", 12);
    s_csbm(r, "URY", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    /* CHL does not know URY yet. */
    s_fmt(path, sizeof path, "%s/keyring/URY.pub", s_root);
    s_fmt(s_hidden, sizeof s_hidden, "%s/URY.pub.hidden", s_case);
    assert_int_equal(rename(path, s_hidden), 0);
    s_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->err, "URY"));
    assert_int_equal(s_node_int("CHL", "SELECT count(*) FROM refused", NULL),
        1);
    /* A plain pull does not fetch it again. */
    s_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "0 received"));
    /* Once URY.pub is in the keyring, it can be fetched again. */
    s_restore_hidden();
    s_csbm(r, "CHL", "pull", "--retry-refused", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->err, "pulling again"));
    assert_non_null(strstr(r->out, "pulled 1 new package"));
    assert_int_equal(s_node_int("CHL", "SELECT count(*) FROM refused", NULL),
        0);
    assert_int_equal(s_node_int("CHL", "SELECT count(*) FROM inbox WHERE "
        "sender = 'URY'", NULL), 1);
    s_csbm(r, "CHL", "pull", "--retry-refused", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->err, "no refused packages"));
}

static void
test_push_pull_node_pulls_on_notification(void **state)
{
    run_t *r = &s_run;
    char   pkg[ITEST_PATH_MAX];
    pid_t  chl, arg;

    (void)state;
    /* CHL's node pulls once at start, then only when notified. */
    chl = s_start("CHL", "node", "--foreground", "--pull-every", "3600", "-v",
        NULL);
    assert_true(s_log_has("CHL", "node", "started", 60000));
    /* The subscription is asynchronous; give it a moment. */
    usleep(1500 * 1000);

    s_milex(pkg, sizeof pkg, "ARG", 31);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    assert_true(s_wait_count("CHL", "SELECT count(*) FROM inbox", 1, 15000));

    /* ARG's own node sends what a push only queued. */
    arg = s_start("ARG", "node", "--foreground", "--pull-every", "3600", NULL);
    assert_true(s_log_has("ARG", "node", "started", 60000));
    s_milex(pkg, sizeof pkg, "ARG", 32);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL", "--no-send", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "queued"));
    assert_true(s_wait_count("ARG", "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered'", 2, 15000));
    assert_true(s_wait_count("CHL", "SELECT count(*) FROM inbox", 2, 15000));

    /* Both stop cleanly on SIGTERM. */
    kill(chl, SIGTERM);
    kill(arg, SIGTERM);
    assert_int_equal(itest_wait(chl, 15000), 0);
    assert_int_equal(itest_wait(arg, 15000), 0);
    assert_true(s_log_has("CHL", "node", "notified", 0));
    assert_true(s_log_has("CHL", "node", "stopping", 0));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)
        T(test_push_pull_delivers_to_each_recipient),
        T(test_push_pull_resend_gets_the_original_receipt),
        T(test_push_pull_reused_sequence_is_rejected),
        T(test_push_pull_invalid_package_is_not_queued),
        T(test_push_pull_tampered_archive_is_refused),
        T(test_push_pull_unknown_sender_is_retried_after_keyring_update),
        T(test_push_pull_node_pulls_on_notification),
#undef T
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
