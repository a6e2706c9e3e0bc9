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
#include "tests/support/xfix.h"

static const char *const s_ids[] = {"ARG", "CHL", "PER", "URY", "hub"};

/* ------------------------------------------------------ setup / down --- */

static int
s_group_setup(void **state)
{
    (void)state;
    return xfix_group_setup("push-pull", s_ids, sizeof s_ids / sizeof s_ids[0]);
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
    xfix_hub_start();
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
    xfix_run_t *r = &xfix_run;
    char   pkg[ITEST_PATH_MAX], hex[33], exported[ITEST_PATH_MAX];
    char   db[ITEST_PATH_MAX];

    (void)state;
    xfix_milex(pkg, sizeof pkg, "ARG", 4200);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL,PER", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "delivered"));
    assert_non_null(strstr(r->out, "receipt verified"));
    xfix_outbox_id("ARG", 1, hex);
    assert_int_equal(xfix_archive_count(hex), 1);

    xfix_csbm(r, "ARG", "outbox", "--json", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "\"status\": \"delivered\""));
    assert_non_null(strstr(r->out, hex));
    xfix_db(db, sizeof db, "ARG");
    assert_int_equal(xfix_sql_int(db, "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered' AND receipt IS NOT NULL AND position > 0",
        NULL), 1);

    /* Each recipient pulls and opens it. */
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 1 new package"));
    xfix_csbm(r, "CHL", "inbox", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, hex));
    assert_non_null(strstr(r->out, "MILEX_REPORT"));
    assert_non_null(strstr(r->out, " no"));
    xfix_csbm(r, "CHL", "inbox", "--open", hex, NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "4200"));
    assert_non_null(strstr(r->out, "ARG"));
    xfix_csbm(r, "CHL", "inbox", "--json", NULL);
    assert_non_null(strstr(r->out, "\"opened\": true"));
    /* Pulling again brings nothing new. */
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 0 new packages"));
    assert_int_equal(xfix_node_int("CHL", "SELECT count(*) FROM inbox", NULL),
        1);

    /* The other recipient exports the sealed package and opens the file. */
    xfix_csbm(r, "PER", "pull", NULL);
    assert_int_equal(r->code, 0);
    xfix_fmt(exported, sizeof exported, "%s/exported.csbm", xfix_case);
    xfix_csbm(r, "PER", "inbox", "--export", hex, "-o", exported, NULL);
    assert_int_equal(r->code, 0);
    xfix_csbm(r, "PER", "open", exported, NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "4200"));

    /* A state that is not a recipient gets nothing. */
    xfix_csbm(r, "URY", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 0 new packages"));
    assert_non_null(strstr(r->out, "0 received"));
    xfix_csbm(r, "URY", "inbox", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "inbox is empty"));
    /* And it cannot open the exported copy either. */
    xfix_csbm(r, "URY", "open", exported, NULL);
    assert_int_equal(r->code, 1);
}

static void
test_push_pull_resend_gets_the_original_receipt(void **state)
{
    xfix_run_t  *r = &xfix_run;
    char    pkg[ITEST_PATH_MAX], hex[33], db[ITEST_PATH_MAX];
    int64_t pos;

    (void)state;
    xfix_milex(pkg, sizeof pkg, "ARG", 100);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    xfix_milex(pkg, sizeof pkg, "ARG", 200);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    xfix_outbox_id("ARG", 1, hex);
    xfix_db(db, sizeof db, "ARG");
    pos = xfix_sql_int(db, "SELECT position FROM outbox WHERE sequence = 1",
        NULL);
    assert_true(pos > 0);

    /* As if the receipt had been lost: the same sealed bytes go again. */
    xfix_sql_exec(db, "UPDATE outbox SET status = 'pending', receipt = NULL, "
        "position = NULL WHERE sequence = 1");
    xfix_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "the hub had it already"));
    assert_int_equal(xfix_sql_int(db, "SELECT position FROM outbox WHERE "
        "sequence = 1 AND status = 'delivered'", NULL), pos);
    assert_int_equal(xfix_archive_count(hex), 1);

    /* Nothing left: a second sync does nothing. */
    xfix_csbm(r, "ARG", "sync", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "nothing pending"));
    assert_int_equal(xfix_archive_count(hex), 1);
}

static void
test_push_pull_reused_sequence_is_rejected(void **state)
{
    xfix_run_t *r = &xfix_run;
    char   pkg[ITEST_PATH_MAX], first[33], second[33], db[ITEST_PATH_MAX];

    (void)state;
    xfix_milex(pkg, sizeof pkg, "ARG", 1);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    xfix_outbox_id("ARG", 1, first);

    /* A doctored (or restored from backup) store hands out sequence 1
     * again, for another package. */
    xfix_db(db, sizeof db, "ARG");
    xfix_sql_exec(db, "DELETE FROM outbox; UPDATE meta SET value = 0 "
        "WHERE key = 'last_sequence'");
    xfix_milex(pkg, sizeof pkg, "ARG", 2);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->err, "REASON_REPLAY"));
    xfix_outbox_id("ARG", 1, second);
    assert_string_not_equal(first, second);
    assert_int_equal(xfix_sql_int(db, "SELECT count(*) FROM outbox WHERE "
        "status = 'rejected' AND reason = 10 AND rejection IS NOT NULL",
        NULL), 1);
    xfix_csbm(r, "ARG", "outbox", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "rejected"));
    assert_non_null(strstr(r->out, "REASON_REPLAY"));
    assert_int_equal(xfix_archive_count(first), 1);
    assert_int_equal(xfix_archive_count(second), 0);

    /* The recipient sees only the first. */
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 1 new package"));
}

static void
test_push_pull_invalid_package_is_not_queued(void **state)
{
    xfix_run_t *r = &xfix_run;
    char   pkg[ITEST_PATH_MAX], db[ITEST_PATH_MAX];

    (void)state;
    xfix_fmt(pkg, sizeof pkg, "%s/bad.json", xfix_case);
    assert_int_equal(itest_write_file(pkg,
        "{\"state\": \"ARG\", \"year\": 2025, \"milex\": "
        "{\"currency\": \"ARS\", \"unit\": \"MILLIONS\", "
        "\"form\": \"MILEX_SINGLE_FIGURE\", \"single_figure\": -5}}", 0644),
        0);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->err, "not valid"));
    xfix_db(db, sizeof db, "ARG");
    assert_int_equal(access(db, F_OK), -1); /* no store, nothing queued */
    /* Unknown recipient: not sealed, not queued, not a sequence used. */
    xfix_milex(pkg, sizeof pkg, "ARG", 7);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "ZZZ", NULL);
    assert_int_equal(r->code, 2);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    assert_int_equal(xfix_node_int("ARG", "SELECT max(sequence) FROM outbox",
        NULL), 1);
}

static void
test_push_pull_repeated_to_lists_add_up(void **state)
{
    xfix_run_t *r = &xfix_run;
    char        pkg[ITEST_PATH_MAX], db[ITEST_PATH_MAX];

    (void)state;
    xfix_milex(pkg, sizeof pkg, "ARG", 9);
    xfix_db(db, sizeof db, "ARG");
    /* --to CHL --to PER addresses both. */
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", "--to", "PER", NULL);
    assert_int_equal(r->code, 0);
    assert_int_equal(xfix_node_int("ARG", "SELECT count(*) FROM outbox "
        "WHERE recipients = 'CHL,PER'", NULL), 1);
}

static void
test_push_pull_tampered_archive_is_refused(void **state)
{
    xfix_run_t *r = &xfix_run;
    char   pkg[ITEST_PATH_MAX], hub_db[ITEST_PATH_MAX];
    int    i;

    (void)state;
    for (i = 1; i <= 3; i++) {
        xfix_milex(pkg, sizeof pkg, "ARG", 900 + i);
        xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
        assert_int_equal(r->code, 0);
    }
    /* Someone with access to the hub's disk alters what it serves: a
     * byte of the first package, and the second one's receipt swapped
     * for the third's (genuine, in the hub's log, for another package:
     * its leaf is not the second one's). */
    xfix_fmt(hub_db, sizeof hub_db, "%s/hub.db", xfix_case);
    xfix_sql_exec(hub_db, "UPDATE archive SET envelope = "
        "substr(envelope, 1, length(envelope) - 1) || "
        "CASE WHEN substr(envelope, -1) = X'00' THEN X'01' ELSE X'00' END "
        "WHERE position = 1");
    xfix_sql_exec(hub_db, "UPDATE archive SET receipt = "
        "(SELECT receipt FROM archive WHERE position = 3) "
        "WHERE position = 2");
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->err, "position 1: not valid"));
    assert_non_null(strstr(r->err, "position 2: the hub's receipt is not "
        "shown in its signed log"));
    assert_non_null(strstr(r->out, "pulled 1 new package (3 received, 2 "
        "refused)"));
    assert_int_equal(xfix_node_int("CHL", "SELECT count(*) FROM inbox", NULL),
        1);
    assert_int_equal(xfix_node_int("CHL", "SELECT position FROM inbox", NULL),
        3);
    xfix_csbm(r, "CHL", "inbox", "--refused", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "       1 "));
    assert_non_null(strstr(r->out, "       2 "));
    xfix_csbm(r, "CHL", "inbox", NULL);
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
    xfix_fmt(path, sizeof path, "%s/keyring/URY.pub", xfix_root);
    (void)rename(s_hidden, path);
    s_hidden[0] = '\0';
}

static void
test_push_pull_unknown_sender_is_retried_after_keyring_update(void **state)
{
    xfix_run_t *r = &xfix_run;
    char   pkg[ITEST_PATH_MAX], path[ITEST_PATH_MAX];

    (void)state;
    xfix_milex(pkg, sizeof pkg, "URY", 12);
    xfix_csbm(r, "URY", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    /* CHL does not know URY yet. */
    xfix_fmt(path, sizeof path, "%s/keyring/URY.pub", xfix_root);
    xfix_fmt(s_hidden, sizeof s_hidden, "%s/URY.pub.hidden", xfix_case);
    assert_int_equal(rename(path, s_hidden), 0);
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->err, "URY"));
    assert_int_equal(xfix_node_int("CHL", "SELECT count(*) FROM refused", NULL),
        1);
    /* A plain pull does not fetch it again. */
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "0 received"));
    /* Once URY.pub is in the keyring, it can be fetched again. */
    s_restore_hidden();
    xfix_csbm(r, "CHL", "pull", "--retry-refused", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->err, "pulling again"));
    assert_non_null(strstr(r->out, "pulled 1 new package"));
    assert_int_equal(xfix_node_int("CHL", "SELECT count(*) FROM refused", NULL),
        0);
    assert_int_equal(xfix_node_int("CHL", "SELECT count(*) FROM inbox WHERE "
        "sender = 'URY'", NULL), 1);
    xfix_csbm(r, "CHL", "pull", "--retry-refused", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->err, "no refused packages"));
}

static void
test_push_pull_node_pulls_on_notification(void **state)
{
    xfix_run_t *r = &xfix_run;
    char   pkg[ITEST_PATH_MAX];
    pid_t  chl, arg;

    (void)state;
    /* CHL's node pulls once at start, then only when notified. */
    chl = xfix_start("CHL", "node", "--foreground", "--pull-every", "3600", "-v",
        NULL);
    assert_true(xfix_log_has("CHL", "node", "started", 60000));
    /* The subscription is asynchronous; give it a moment. */
    usleep(1500 * 1000);

    xfix_milex(pkg, sizeof pkg, "ARG", 31);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", NULL);
    assert_int_equal(r->code, 0);
    assert_true(xfix_wait_count("CHL", "SELECT count(*) FROM inbox", 1, 15000));

    /* ARG's own node sends what a push only queued. */
    arg = xfix_start("ARG", "node", "--foreground", "--pull-every", "3600", NULL);
    assert_true(xfix_log_has("ARG", "node", "started", 60000));
    xfix_milex(pkg, sizeof pkg, "ARG", 32);
    xfix_csbm(r, "ARG", "push", pkg, "--to", "CHL", "--no-send", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "queued"));
    assert_true(xfix_wait_count("ARG", "SELECT count(*) FROM outbox WHERE "
        "status = 'delivered'", 2, 15000));
    assert_true(xfix_wait_count("CHL", "SELECT count(*) FROM inbox", 2, 15000));

    /* Both stop cleanly on SIGTERM. */
    kill(chl, SIGTERM);
    kill(arg, SIGTERM);
    assert_int_equal(itest_wait(chl, 15000), 0);
    assert_int_equal(itest_wait(arg, 15000), 0);
    assert_true(xfix_log_has("CHL", "node", "notified", 0));
    assert_true(xfix_log_has("CHL", "node", "stopping", 0));
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
        T(test_push_pull_repeated_to_lists_add_up),
        T(test_push_pull_tampered_archive_is_refused),
        T(test_push_pull_unknown_sender_is_retried_after_keyring_update),
        T(test_push_pull_node_pulls_on_notification),
#undef T
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
