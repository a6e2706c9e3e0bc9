/*
 * it_outbox_retry: nothing pushed is lost and nothing is archived twice —
 * real `csbm hub`, `csbm push/sync/outbox/node` processes, real keys and
 * SQLite files, loopback CurveZMQ.
 *
 * Stories: a push while the hub is down is queued (exit 2) and a later
 * sync delivers it exactly once; the hub is killed (SIGKILL) while a node
 * delivers a batch and restarted: every package with a receipt is in the
 * archive, the rest are delivered by the next sync, each exactly once; a
 * running node daemon delivers a queued package when the hub comes back.
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
#include "node/member.h"

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
    if (itest_tmpdir("outbox-retry", s_root, sizeof s_root) != 0)
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
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    itest_kill_all();
    return 0;
}


/* ------------------------------------------------------------- tests --- */

static void
s_hub_kill(void)
{
    assert_true(s_hub_pid > 0);
    assert_int_equal(itest_stop(s_hub_pid, SIGKILL, 10000), 128 + SIGKILL);
    s_hub_pid = 0;
}

static void
test_outbox_push_while_hub_down_is_delivered_once_by_sync(void **state)
{
    run_t *r = &s_run;
    char   pkg[ITEST_PATH_MAX], hex[33], db[ITEST_PATH_MAX];

    (void)state;
    s_milex(pkg, sizeof pkg, "ARG", 555);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 2);
    assert_non_null(strstr(r->err, "did not answer"));
    assert_non_null(strstr(r->err, s_hub_ep));
    assert_non_null(strstr(r->err, "queued in the outbox"));
    s_outbox_id("ARG", 1, hex);
    s_db(db, sizeof db, "ARG");
    assert_int_equal(s_sql_int(db, "SELECT attempts FROM outbox WHERE "
        "status = 'pending' AND last_error LIKE '%did not answer%'", NULL), 1);
    s_csbm(r, "ARG", "outbox", "--json", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "\"status\": \"pending\""));
    assert_non_null(strstr(r->out, "\"attempts\": 1"));

    /* Sync with the hub still down: still pending, exit 2, no pull. */
    s_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 2);
    assert_non_null(strstr(r->err, "still pending"));
    assert_int_equal(s_sql_int(db, "SELECT attempts FROM outbox", NULL), 2);

    s_hub_start();
    s_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "delivered"));
    assert_null(strstr(r->out, "had it already"));
    assert_int_equal(s_sql_int(db, "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered' AND position > 0", NULL), 1);
    assert_int_equal(s_archive_count(hex), 1);
    s_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "nothing pending"));
    assert_int_equal(s_archive_count(hex), 1);

    /* And the recipient gets it once. */
    s_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 1 new package"));
}

#define BATCH 24

/* Queue n packages for ARG without sending, loading the signing key once
 * (a CLI call per package would cost a key derivation each). */
static void
s_queue_batch(int n)
{
    static char         state_s[] = "ARG", lang[] = "es",
                        prepared[] = "2026-01-15T12:00:00Z", cur[] = "ARS";
    static const char  *to[] = {"CHL"};
    char                keydir[ITEST_PATH_MAX], keyring_dir[ITEST_PATH_MAX];
    char                path[ITEST_PATH_MAX];
    errbuf_t            err = {{0}};
    keyring_t          *kr = keyring_new();
    keys_secret_t      *sk;
    member_t           *m;
    member_config_t     cfg;
    member_delivery_t   d;
    Csbm__Package       pkg;
    Csbm__MilexReport   mx;
    int                 i;

    s_keydir(keydir, sizeof keydir, "ARG");
    s_fmt(keyring_dir, sizeof keyring_dir, "%s/keyring", s_root);
    assert_non_null(kr);
    if (keyring_load_dir(kr, keyring_dir, &err) != 0)
        fail_msg("keyring: %s", err.msg);
    assert_int_equal(keys_path(path, sizeof path, keydir, "ARG", KEYS_SIGN),
        0);
    sk = keys_secret_load(path, KEYS_SIGN, ITEST_PASSPHRASE,
        strlen(ITEST_PASSPHRASE), &err);
    if (sk == NULL)
        fail_msg("sign key: %s", err.msg);
    member_config_init(&cfg);
    s_db(path, sizeof path, "ARG");
    cfg.data_path = path;
    m = member_new(&cfg, "ARG", FED, &kr, NULL, &err);
    if (m == NULL)
        fail_msg("member_new: %s", err.msg);
    csbm__package__init(&pkg);
    csbm__milex_report__init(&mx);
    pkg.state = state_s;
    pkg.year = 2025;
    pkg.language = lang;
    pkg.prepared_at = prepared;
    pkg.body_case = CSBM__PACKAGE__BODY_MILEX;
    pkg.milex = &mx;
    mx.currency = cur;
    mx.unit = CSBM__UNIT_OF_MEASURE__MILLIONS;
    mx.form = CSBM__MILEX_FORM__MILEX_SINGLE_FIGURE;
    for (i = 0; i < n; i++) {
        mx.single_figure = 1000 + i;
        if (member_push(m, &pkg, to, 1, sk, 0, &d, &err) != 0)
            fail_msg("member_push: %s", err.msg);
        assert_int_equal(d.outcome, MEMBER_QUEUED);
        assert_int_equal(d.sequence, (uint64_t)i + 1);
    }
    member_destroy(&m);
    keys_secret_destroy(&sk);
}

/* Every delivered package of ARG's outbox is in the hub's archive once;
 * returns how many were delivered. */
static int64_t
s_check_delivered_archived(void)
{
    char          db[ITEST_PATH_MAX];
    sqlite3      *h;
    sqlite3_stmt *st = NULL;
    int64_t       n = 0;

    s_db(db, sizeof db, "ARG");
    h = s_sql_open(db);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT lower(hex(package_id)) "
        "FROM outbox WHERE status = 'delivered'", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *hex = (const char *)sqlite3_column_text(st, 0);
        if (s_archive_count(hex) != 1)
            fail_msg("package %s has a receipt but is in the archive %lld "
                "times", hex, (long long)s_archive_count(hex));
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static void
test_outbox_hub_killed_during_batch_loses_nothing(void **state)
{
    run_t      *r = &s_run;
    pid_t       sync;
    int         code, i;
    int64_t     before, after;
    char        hex[33];

    (void)state;
    s_queue_batch(BATCH);
    s_hub_start();

    /* Deliver the batch in a real node process and kill the hub under it
     * once a few packages are through. */
    sync = s_start("ARG", "sync", NULL);
    assert_true(s_wait_count("ARG", "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered'", 4, 60000));
    s_hub_kill();
    if ((code = itest_wait(sync, RUN_TIMEOUT)) < 0)
        code = itest_stop(sync, SIGKILL, 10000);
    before = s_check_delivered_archived();
    print_message("sync exited %d with %lld of %d delivered when the hub "
        "died\n", code, (long long)before, BATCH);
    assert_true(code == 2 || (code == 0 && before == BATCH));
    assert_true(before >= 4);

    /* Restart on the same archive; a sync delivers the rest. */
    s_hub_start();
    s_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 0);
    after = s_check_delivered_archived();
    assert_int_equal(after, BATCH);
    assert_int_equal(s_node_int("ARG", "SELECT count(*) FROM outbox WHERE "
        "status != 'delivered'", NULL), 0);
    for (i = 1; i <= BATCH; i++) {
        s_outbox_id("ARG", i, hex);
        assert_int_equal(s_archive_count(hex), 1);
    }
    /* Positions are distinct: nothing was archived twice. */
    assert_int_equal(s_node_int("ARG", "SELECT count(DISTINCT position) "
        "FROM outbox", NULL), BATCH);

    /* The recipient gets every one, once. */
    s_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_int_equal(s_node_int("CHL", "SELECT count(*) FROM inbox", NULL),
        BATCH);
}

static void
test_outbox_node_delivers_when_hub_returns(void **state)
{
    run_t *r = &s_run;
    char   pkg[ITEST_PATH_MAX], hex[33];
    pid_t  node;

    (void)state;
    s_milex(pkg, sizeof pkg, "ARG", 77);
    s_csbm(r, "ARG", "push", pkg, "--to", "CHL", "--no-send", NULL);
    assert_int_equal(r->code, 0);
    s_outbox_id("ARG", 1, hex);

    node = s_start("ARG", "node", "--foreground", "--timeout-ms", "1000", NULL);
    assert_true(s_log_has("ARG", "node", "unavailable", 60000));
    assert_int_equal(s_node_int("ARG", "SELECT count(*) FROM outbox WHERE "
        "status = 'pending' AND attempts >= 1", NULL), 1);
    s_hub_start();
    assert_true(s_wait_count("ARG", "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered'", 1, 60000));
    kill(node, SIGTERM);
    assert_int_equal(itest_wait(node, 15000), 0);
    assert_int_equal(s_archive_count(hex), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)
        T(test_outbox_push_while_hub_down_is_delivered_once_by_sync),
        T(test_outbox_hub_killed_during_batch_loses_nothing),
        T(test_outbox_node_delivers_when_hub_returns),
#undef T
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
