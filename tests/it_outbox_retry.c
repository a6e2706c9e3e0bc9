/*
 * it_outbox_retry: nothing pushed is lost and nothing is archived twice —
 * real `csbm hub`, `csbm push/sync/outbox/node` processes, real keys and
 * SQLite files, loopback CurveZMQ.
 *
 * Stories: a push while the hub is down is queued (exit 2) and a later
 * sync delivers it exactly once; the hub is killed (SIGKILL) while a node
 * delivers a batch and restarted: every package with a receipt is in the
 * archive, the rest are delivered by the next sync, each exactly once; a
 * running node daemon delivers a queued package when the hub comes back;
 * a push sends the older pending packages first and waits behind one that
 * cannot be delivered.
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
#include "tests/support/xfix.h"
#include "node/member.h"

static const char *const s_ids[] = {"ARG", "CHL", "PER", "URY", "hub"};

/* ------------------------------------------------------ setup / down --- */

static int
s_group_setup(void **state)
{
    (void)state;
    return xfix_group_setup("outbox-retry", s_ids, sizeof s_ids / sizeof s_ids[0]);
}

static int
s_group_teardown(void **state)
{
    (void)state;
    xfix_group_teardown();
    return 0;
}

/* Each test: its own directory and stores, fresh ports for the hub. */
static int
s_setup(void **state)
{
    (void)state;
    xfix_case_setup();
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
test_outbox_push_while_hub_down_is_delivered_once_by_sync(void **state)
{
    xfix_run_t *r = &xfix_run;
    char   pkg[ITEST_PATH_MAX], hex[33], db[ITEST_PATH_MAX];

    (void)state;
    xfix_milex(pkg, sizeof pkg, "ARG", 555);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 2);
    assert_non_null(strstr(r->err, "did not answer"));
    assert_non_null(strstr(r->err, xfix_hub_ep));
    assert_non_null(strstr(r->err, "queued in the outbox"));
    xfix_outbox_id("ARG", 1, hex);
    xfix_db(db, sizeof db, "ARG");
    assert_int_equal(xfix_sql_int(db, "SELECT attempts FROM outbox WHERE "
        "status = 'pending' AND last_error LIKE '%did not answer%'", NULL), 1);
    xfix_csbm(r, "ARG", "outbox", "--json", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "\"status\": \"pending\""));
    assert_non_null(strstr(r->out, "\"attempts\": 1"));

    /* Sync with the hub still down: still pending, exit 2, no pull. */
    xfix_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 2);
    assert_non_null(strstr(r->err, "still pending"));
    assert_int_equal(xfix_sql_int(db, "SELECT attempts FROM outbox", NULL), 2);

    xfix_hub_start();
    xfix_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "delivered"));
    assert_null(strstr(r->out, "had it already"));
    assert_int_equal(xfix_sql_int(db, "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered' AND position > 0", NULL), 1);
    assert_int_equal(xfix_archive_count(hex), 1);
    xfix_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "nothing pending"));
    assert_int_equal(xfix_archive_count(hex), 1);

    /* And the recipient gets it once. */
    xfix_csbm(r, "CHL", "pull", NULL);
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

    xfix_keydir(keydir, sizeof keydir, "ARG");
    xfix_fmt(keyring_dir, sizeof keyring_dir, "%s/keyring", xfix_root);
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
    xfix_db(path, sizeof path, "ARG");
    cfg.data_path = path;
    m = member_new(&cfg, "ARG", XFIX_FED, &kr, NULL, &err);
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

    xfix_db(db, sizeof db, "ARG");
    h = xfix_sql_open(db);
    assert_int_equal(sqlite3_prepare_v2(h, "SELECT lower(hex(package_id)) "
        "FROM outbox WHERE status = 'delivered'", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *hex = (const char *)sqlite3_column_text(st, 0);
        if (xfix_archive_count(hex) != 1)
            fail_msg("package %s has a receipt but is in the archive %lld "
                "times", hex, (long long)xfix_archive_count(hex));
        n++;
    }
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

static void
test_outbox_hub_killed_during_batch_loses_nothing(void **state)
{
    xfix_run_t      *r = &xfix_run;
    pid_t       sync;
    int         code, i;
    int64_t     before, after;
    char        hex[33];

    (void)state;
    s_queue_batch(BATCH);
    xfix_hub_start();

    /* Deliver the batch in a real node process and kill the hub under it
     * once a few packages are through. */
    sync = xfix_start("ARG", "sync", NULL);
    assert_true(xfix_wait_count("ARG", "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered'", 4, 60000));
    xfix_hub_kill();
    if ((code = itest_wait(sync, XFIX_RUN_TIMEOUT)) < 0)
        code = itest_stop(sync, SIGKILL, 10000);
    before = s_check_delivered_archived();
    print_message("sync exited %d with %lld of %d delivered when the hub "
        "died\n", code, (long long)before, BATCH);
    assert_true(code == 2 || (code == 0 && before == BATCH));
    assert_true(before >= 4);

    /* Restart on the same archive; a sync delivers the rest. */
    xfix_hub_start();
    xfix_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 0);
    after = s_check_delivered_archived();
    assert_int_equal(after, BATCH);
    assert_int_equal(xfix_node_int("ARG", "SELECT count(*) FROM outbox WHERE "
        "status != 'delivered'", NULL), 0);
    for (i = 1; i <= BATCH; i++) {
        xfix_outbox_id("ARG", i, hex);
        assert_int_equal(xfix_archive_count(hex), 1);
    }
    /* Positions are distinct: nothing was archived twice. */
    assert_int_equal(xfix_node_int("ARG", "SELECT count(DISTINCT position) "
        "FROM outbox", NULL), BATCH);

    /* The recipient gets every one, once. */
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_int_equal(xfix_node_int("CHL", "SELECT count(*) FROM inbox", NULL),
        BATCH);
}

static void
test_outbox_node_delivers_when_hub_returns(void **state)
{
    xfix_run_t *r = &xfix_run;
    char   pkg[ITEST_PATH_MAX], hex[33];
    pid_t  node;

    (void)state;
    xfix_milex(pkg, sizeof pkg, "ARG", 77);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", "--no-send", NULL);
    assert_int_equal(r->code, 0);
    xfix_outbox_id("ARG", 1, hex);

    node = xfix_start("ARG", "node", "--foreground", "--timeout-ms", "1000", NULL);
    assert_true(xfix_log_has("ARG", "node", "unavailable", 60000));
    assert_int_equal(xfix_node_int("ARG", "SELECT count(*) FROM outbox WHERE "
        "status = 'pending' AND attempts >= 1", NULL), 1);
    xfix_hub_start();
    assert_true(xfix_wait_count("ARG", "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered'", 1, 60000));
    kill(node, SIGTERM);
    assert_int_equal(itest_wait(node, 15000), 0);
    assert_int_equal(xfix_archive_count(hex), 1);
}

/* A push sends the older pending packages first, in sequence order; while
 * an older one cannot be delivered, the new one waits behind it. */
static void
test_outbox_push_delivers_older_pending_first(void **state)
{
    xfix_run_t *r = &xfix_run;
    char   pkg[ITEST_PATH_MAX], hex1[33], hex2[33], hex3[33];
    char   want[128];

    (void)state;
    xfix_milex(pkg, sizeof pkg, "ARG", 101);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", "--no-send", NULL);
    assert_int_equal(r->code, 0);
    xfix_outbox_id("ARG", 1, hex1);

    /* Hub down: the older one is tried and stays pending; the new one is
     * not sent ahead of it. */
    xfix_milex(pkg, sizeof pkg, "ARG", 102);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 2);
    xfix_fmt(want, sizeof want, "older package %s (sequence 1) is still "
        "pending: ", hex1);
    assert_non_null(strstr(r->err, want));
    assert_non_null(strstr(r->err, "the new package is queued behind it"));
    assert_non_null(strstr(r->err, "did not answer"));
    xfix_outbox_id("ARG", 2, hex2);
    assert_int_equal(xfix_node_int("ARG", "SELECT attempts FROM outbox "
        "WHERE sequence = 1", NULL), 1);
    assert_int_equal(xfix_node_int("ARG", "SELECT attempts FROM outbox "
        "WHERE sequence = 2", NULL), 0);

    /* Hub up: a push delivers all three, in sequence order. */
    xfix_hub_start();
    xfix_milex(pkg, sizeof pkg, "ARG", 103);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    xfix_outbox_id("ARG", 3, hex3);
    assert_int_equal(xfix_node_int("ARG", "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered' AND position > 0", NULL), 3);
    assert_true(xfix_node_int("ARG", "SELECT position FROM outbox WHERE "
        "sequence = 1", NULL) < xfix_node_int("ARG", "SELECT position FROM "
        "outbox WHERE sequence = 2", NULL));
    assert_true(xfix_node_int("ARG", "SELECT position FROM outbox WHERE "
        "sequence = 2", NULL) < xfix_node_int("ARG", "SELECT position FROM "
        "outbox WHERE sequence = 3", NULL));
    assert_int_equal(xfix_archive_count(hex1), 1);
    assert_int_equal(xfix_archive_count(hex2), 1);
    assert_int_equal(xfix_archive_count(hex3), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, s_setup, s_teardown)
        T(test_outbox_push_while_hub_down_is_delivered_once_by_sync),
        T(test_outbox_hub_killed_during_batch_loses_nothing),
        T(test_outbox_node_delivers_when_hub_returns),
        T(test_outbox_push_delivers_older_pending_first),
#undef T
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
