/*
 * it_witness: members as witnesses of the hub's log, end to end — a real
 * `csbm hub` (two of them for the split view) and real member processes
 * on loopback, real stores.
 *
 * Stories: three members pull and each cosigns the head it verified; the
 * hub stores their cosignatures; a head cosigned by the quorum (2) is
 * reported witnessed by `csbm log --hub` and by `csbm audit verify`, which
 * names the witnesses; `--no-witness` checks without cosigning. And a
 * split view: the hub shows ARG and CHL one log and BOL another (two hub
 * processes with the same key, started from copies of one archive that
 * diverge after a common prefix); when BOL meets the view that ARG and
 * CHL cosigned, its node detects that its own head is not a prefix of
 * it, keeps both heads as evidence, exits non-zero, and `csbm log` shows
 * the evidence. A cosignature the hub refuses is reported by the pull and
 * the daemon, and the pull still succeeds.
 */
/* clang-format off: cmocka.h needs the four headers before it */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "crypto/keys.h"
#include "tests/support/itest.h"
#include "tests/support/xfix.h"

static const char *const s_ids[] = {"ARG", "BOL", "CHL", "hub"};

static int
s_group_setup(void **state)
{
    (void)state;
    return xfix_group_setup("witness", s_ids, sizeof s_ids / sizeof s_ids[0]);
}

static int
s_group_teardown(void **state)
{
    (void)state;
    xfix_group_teardown();
    return 0;
}

static int
s_setup(void **state)
{
    (void)state;
    xfix_case_setup();
    xfix_hub_start();
    return 0;
}

static int
s_teardown(void **state)
{
    (void)state;
    itest_kill_all();
    return 0;
}

static void
s_hub_db(char *out, size_t cap)
{
    xfix_fmt(out, cap, "%s/hub.db", xfix_case);
}

/* ARG pushes one package to BOL and CHL. */
static void
s_push(int figure)
{
    char pkg[ITEST_PATH_MAX];

    xfix_milex(pkg, sizeof pkg, "ARG", figure);
    xfix_csbm(&xfix_run, "ARG", "push", pkg, "--to", "BOL,CHL", NULL);
    assert_int_equal(xfix_run.code, 0);
}

/* `csbm log --hub EP --json` as id; the parsed output (caller decrefs). */
static json_t *
s_log_json(const char *id, const char *ep, int want_code)
{
    json_error_t je;
    json_t      *o;
    char         data[ITEST_PATH_MAX];

    xfix_db(data, sizeof data, id);
    xfix_csbm(&xfix_run, id, "log", "--data", data, "--hub", ep, "--timeout-ms",
              "5000", "--json", NULL);
    assert_int_equal(xfix_run.code, want_code);
    o = json_loads(xfix_run.out, 0, &je);
    if (o == NULL)
        fail_msg("csbm log --json: %s", je.text);
    return o;
}

/* --------------------------------------------------------- the quorum --- */

static void
test_witness_cosignatures_reach_the_quorum(void **state)
{
    xfix_run_t *r = &xfix_run;
    char        db[ITEST_PATH_MAX], bol[ITEST_PATH_MAX];
    json_t     *o, *check, *head, *w;
    int64_t     size;

    (void)state;
    s_push(100);
    xfix_csbm(r, "ARG", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "verified and cosigned"));
    xfix_csbm(r, "BOL", "pull", NULL);
    assert_int_equal(r->code, 0);
    xfix_csbm(r, "CHL", "pull", "--json", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "\"cosigned\": true"));

    /* Each pull is a leaf, so each member cosigned another head. */
    s_hub_db(db, sizeof db);
    assert_int_equal(xfix_sql_int(db,
                                  "SELECT count(DISTINCT witness) FROM "
                                  "cosignatures",
                                  NULL),
                     3);
    size = xfix_sql_int(db, "SELECT max(size) FROM heads", NULL);
    assert_int_equal(xfix_sql_int(db,
                                  "SELECT count(*) FROM cosignatures "
                                  "WHERE size = (SELECT max(size) FROM heads)",
                                  NULL),
                     1);

    /* ARG checks the log without pulling: the newest head (CHL's) gets
     * its second cosignature and so the quorum. */
    o = s_log_json("ARG", xfix_hub_ep, 0);
    check = json_object_get(o, "check");
    assert_non_null(check);
    assert_true(json_is_true(json_object_get(check, "cosigned")));
    assert_int_equal(json_integer_value(json_object_get(check, "size")), size);
    assert_int_equal(json_integer_value(json_object_get(check, "witnesses")),
                     2);
    assert_true(json_is_true(json_object_get(check, "witnessed")));
    assert_true(json_is_true(json_object_get(o, "consistent")));
    json_decref(o);

    /* BOL checks only: no cosignature of its own. */
    xfix_db(bol, sizeof bol, "BOL");
    xfix_csbm(r, "BOL", "log", "--data", bol, "--hub", xfix_hub_ep,
              "--no-witness", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "not known"));
    assert_int_equal(xfix_sql_int(db,
                                  "SELECT count(*) FROM cosignatures "
                                  "WHERE size = (SELECT max(size) FROM heads)",
                                  NULL),
                     2);
    /* Then as a witness, in words. */
    xfix_csbm(r, "BOL", "log", "--data", bol, "--hub", xfix_hub_ep, NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "counts 3 cosignatures"));
    assert_non_null(strstr(r->out, "WITNESSED by its quorum"));

    /* The audit names the witnesses of the newest head. */
    xfix_csbm(r, "hub", "audit", "verify", "--data", db, "--json", NULL);
    assert_int_equal(r->code, 0);
    o = json_loads(r->out, 0, NULL);
    assert_non_null(o);
    head = json_object_get(o, "newest_head");
    assert_non_null(head);
    assert_int_equal(json_integer_value(json_object_get(head, "size")), size);
    w = json_object_get(head, "witnesses");
    assert_int_equal(json_array_size(w), 3);
    assert_string_equal(json_string_value(json_array_get(w, 0)), "ARG");
    assert_string_equal(json_string_value(json_array_get(w, 1)), "BOL");
    assert_string_equal(json_string_value(json_array_get(w, 2)), "CHL");
    assert_true(json_is_true(json_object_get(head, "witnessed")));
    assert_int_equal(
        json_integer_value(json_object_get(o, "cosignatures")),
        xfix_sql_int(db, "SELECT count(*) FROM cosignatures", NULL));
    json_decref(o);
    xfix_csbm(r, "hub", "audit", "verify", "--data", db, "--quiet", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "cosigned by ARG, BOL, CHL (3 of quorum "
                                   "2): WITNESSED"));
    /* A quorum the head does not reach. */
    xfix_csbm(r, "hub", "audit", "verify", "--data", db, "--quiet",
              "--witness-quorum", "4", "--threads", "1", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "(3 of quorum 4): not witnessed"));

    /* A pull with --no-witness verifies the new head but does not cosign. */
    xfix_csbm(r, "ARG", "pull", "--no-witness", NULL);
    assert_int_equal(r->code, 0);
    assert_int_equal(xfix_sql_int(db,
                                  "SELECT count(*) FROM cosignatures "
                                  "WHERE size = (SELECT max(size) FROM heads)",
                                  NULL),
                     0);
}

/* ------------------------------------------------ later heads vouch --- */

/* ARG and BOL each cosign another head (sizes s1 < s2): with the quorum
 * of 2, the head s1 and those before it are witnessed (both members
 * cosigned it or a later head of the one chain) and s2 (BOL alone) is
 * not. */
static void
test_witness_later_heads_count_for_earlier(void **state)
{
    xfix_run_t *r = &xfix_run;
    char        db[ITEST_PATH_MAX], want[128];
    json_t     *o, *head, *w;
    int64_t     s1, s2, upto, heads;

    (void)state;
    s_push(300);
    xfix_csbm(r, "ARG", "pull", NULL);
    assert_int_equal(r->code, 0);
    xfix_csbm(r, "BOL", "pull", NULL);
    assert_int_equal(r->code, 0);

    s_hub_db(db, sizeof db);
    s1 = xfix_sql_int(db, "SELECT max(size) FROM cosignatures "
                          "WHERE witness = 'ARG'", NULL);
    s2 = xfix_sql_int(db, "SELECT max(size) FROM cosignatures "
                          "WHERE witness = 'BOL'", NULL);
    assert_true(s1 > 0);
    assert_true(s1 < s2);
    assert_int_equal(xfix_sql_int(db, "SELECT max(size) FROM heads", NULL),
                     s2);
    /* No head carries two cosignatures of its own. */
    assert_int_equal(xfix_sql_int(db, "SELECT count(*) FROM (SELECT size "
                                      "FROM cosignatures GROUP BY size "
                                      "HAVING count(*) >= 2)", NULL),
                     0);
    upto = xfix_sql_int(db, "SELECT count(*) FROM heads WHERE size <= "
                            "(SELECT max(size) FROM cosignatures "
                            "WHERE witness = 'ARG')", NULL);
    heads = xfix_sql_int(db, "SELECT count(*) FROM heads", NULL);
    assert_true(upto >= 1);
    assert_true(upto < heads);

    xfix_csbm(r, "hub", "audit", "verify", "--data", db, "--json", NULL);
    assert_int_equal(r->code, 0);
    o = json_loads(r->out, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o,
                         "heads_witnessed")), upto);
    head = json_object_get(o, "newest_head");
    assert_non_null(head);
    assert_int_equal(json_integer_value(json_object_get(head, "size")), s2);
    w = json_object_get(head, "witnesses");
    assert_int_equal(json_array_size(w), 1);
    assert_string_equal(json_string_value(json_array_get(w, 0)), "BOL");
    assert_true(json_is_false(json_object_get(head, "witnessed")));
    json_decref(o);

    xfix_csbm(r, "hub", "audit", "verify", "--data", db, "--quiet", NULL);
    assert_int_equal(r->code, 0);
    xfix_fmt(want, sizeof want, "cosigned by BOL (1 of quorum 2): not "
             "witnessed; %lld of %lld heads witnessed", (long long)upto,
             (long long)heads);
    assert_non_null(strstr(r->out, want));
}

/* --------------------------------------------------------- split view --- */

static void
test_witness_split_view_is_caught(void **state)
{
    xfix_run_t *r = &xfix_run;
    char    db[ITEST_PATH_MAX], db2[ITEST_PATH_MAX], sql[ITEST_PATH_MAX + 32];
    char    keys[ITEST_PATH_MAX], keyring[ITEST_PATH_MAX];
    char    out[ITEST_PATH_MAX], err[ITEST_PATH_MAX];
    char    ep1[64], ep2[64], nep1[64], nep2[64];
    int     ports[2];
    pid_t   hub2;
    json_t *o, *ev;
    const char *argv[] = {itest_csbm(),   "hub",    "--keys",   keys,
                          "--keyring",    keyring,  "--data",   db2,
                          "--bind",       ep2,      "--notify", nep2,
                          "--federation", XFIX_FED, NULL};

    (void)state;
    /* The common prefix: everyone saw it. */
    s_push(200);
    xfix_csbm(r, "ARG", "pull", NULL);
    assert_int_equal(r->code, 0);
    xfix_csbm(r, "BOL", "pull", NULL);
    assert_int_equal(r->code, 0);
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);

    /* The hub forks its archive: a second process with the same keys on
     * a copy, serving BOL. */
    assert_int_equal(itest_stop(xfix_hub_pid, SIGTERM, 10000), 0);
    s_hub_db(db, sizeof db);
    xfix_fmt(db2, sizeof db2, "%s/hub2.db", xfix_case);
    xfix_fmt(sql, sizeof sql, "VACUUM INTO '%s'", db2);
    xfix_sql_exec(db, sql);
    xfix_hub_start();
    xfix_keydir(keys, sizeof keys, "hub");
    xfix_fmt(keyring, sizeof keyring, "%s/keyring", xfix_root);
    xfix_fmt(out, sizeof out, "%s/hub2.out", xfix_case);
    xfix_fmt(err, sizeof err, "%s/hub2.log", xfix_case);
    ports[0] = itest_free_port();
    do
        ports[1] = itest_free_port();
    while (ports[1] == ports[0]);
    itest_endpoint(ports[0], ep2, sizeof ep2);
    itest_endpoint(ports[1], nep2, sizeof nep2);
    hub2 = itest_start_listener(argv, NULL, out, err, ports, 2, 60000);
    if (hub2 < 0)
        fail_msg("the second hub did not start (its log is above)");

    /* ARG and CHL's view: a package BOL is never shown. Both cosign the
     * head after it, which reaches the quorum. */
    s_push(201);
    xfix_csbm(r, "ARG", "pull", NULL);
    assert_int_equal(r->code, 0);
    xfix_csbm(r, "CHL", "pull", NULL);
    assert_int_equal(r->code, 0);
    o = s_log_json("ARG", xfix_hub_ep, 0);
    assert_true(json_is_true(
        json_object_get(json_object_get(o, "check"), "witnessed")));
    json_decref(o);

    /* BOL's view, on the second hub: consistent with what BOL saw
     * before, so BOL verifies and cosigns it. */
    snprintf(ep1, sizeof ep1, "%s", xfix_hub_ep);
    snprintf(nep1, sizeof nep1, "%s", xfix_notify_ep);
    snprintf(xfix_hub_ep, sizeof xfix_hub_ep, "%s", ep2);
    snprintf(xfix_notify_ep, sizeof xfix_notify_ep, "%s", nep2);
    xfix_csbm(r, "BOL", "pull", NULL);
    snprintf(xfix_hub_ep, sizeof xfix_hub_ep, "%s", ep1);
    snprintf(xfix_notify_ep, sizeof xfix_notify_ep, "%s", nep1);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 0 new packages"));
    assert_non_null(strstr(r->out, "verified and cosigned"));
    assert_int_equal(
        xfix_sql_int(
            db2,
            "SELECT count(*) FROM cosignatures "
            "WHERE witness = 'BOL' AND size = (SELECT max(size) FROM heads)",
            NULL),
        1);
    assert_int_equal(
        xfix_node_int("BOL", "SELECT count(*) FROM log_evidence", NULL), 0);

    /* BOL fetches the heads ARG and CHL cosigned: its own head is not a
     * prefix of them. Evidence, both heads kept, exit 1. */
    o = s_log_json("BOL", ep1, 1);
    assert_true(json_is_false(json_object_get(o, "consistent")));
    assert_true(json_is_false(
        json_object_get(json_object_get(o, "check"), "consistent")));
    ev = json_object_get(o, "evidence");
    assert_int_equal(json_array_size(ev), 1);
    assert_string_not_equal(
        json_string_value(json_object_get(json_array_get(ev, 0), "old_head")),
        "none");
    assert_string_not_equal(
        json_string_value(json_object_get(json_array_get(ev, 0), "new_head")),
        "none");
    json_decref(o);
    assert_int_equal(
        xfix_node_int("BOL",
                      "SELECT count(*) FROM log_evidence "
                      "WHERE old_head IS NOT NULL AND new_head IS NOT NULL",
                      NULL),
        1);

    /* A pull from that view fails the same way, with exit 1... */
    xfix_csbm(r, "BOL", "pull", NULL);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->err, "the hub's log is NOT CONSISTENT"));
    /* ... and `csbm log` shows the evidence offline. */
    xfix_db(sql, sizeof sql, "BOL");
    xfix_csbm(r, "BOL", "log", "--data", sql, NULL);
    assert_int_equal(r->code, 1);
    assert_non_null(strstr(r->out, "EVIDENCE 1"));
    assert_non_null(strstr(r->out, "head verified before: size"));
    assert_non_null(strstr(r->out, "contradicting head:   size"));
    assert_non_null(strstr(r->out, "THE HUB'S LOG IS NOT CONSISTENT"));

    /* ARG and CHL's view itself is intact, and so is BOL's. */
    xfix_csbm(r, "hub", "audit", "verify", "--data", db, "--quiet", NULL);
    assert_int_equal(r->code, 0);
    xfix_csbm(r, "hub", "audit", "verify", "--data", db2, "--quiet", NULL);
    assert_int_equal(r->code, 0);
    assert_int_equal(itest_stop(hub2, SIGTERM, 10000), 0);
}

/* ---------------------------------------------- a refused cosignature --- */

/* Copy a key file, keeping it private. */
static void
s_copy_key(const char *from, const char *to)
{
    FILE  *in = fopen(from, "rb"), *out;
    char   buf[4096];
    size_t n;

    assert_non_null(in);
    assert_non_null(out = fopen(to, "wb"));
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
    assert_int_equal(chmod(to, 0600), 0);
}

/* CHL cosigns with a signing key the hub's keyring does not hold: the hub
 * refuses the cosignature. The pull and the daemon say so; the pull still
 * succeeds, since the head was verified all the same. */
static void
test_witness_refused_cosignature_is_reported(void **state)
{
    xfix_run_t *r = &xfix_run;
    char        dir[ITEST_PATH_MAX], from[ITEST_PATH_MAX], to[ITEST_PATH_MAX];
    char        want[160];
    pid_t       node;

    (void)state;
    s_push(300);
    /* "CHL2": CHL's transport key (so the hub lets it in) and a new
     * signing key of CHL's that no keyring knows. */
    xfix_keydir(dir, sizeof dir, "CHL2");
    assert_int_equal(itest_identity(dir, "CHL"), 0);
    /* With its own new transport key the hub refuses the handshake, and
     * the message names the hub. */
    xfix_csbm(r, "CHL2", "pull", NULL);
    assert_int_equal(r->code, 2);
    xfix_fmt(want, sizeof want, "the hub at %s refused this node's "
        "transport key at the handshake", xfix_hub_ep);
    assert_non_null(strstr(r->err, want));
    assert_int_equal(keys_path(to, sizeof to, dir, "CHL", KEYS_TRANSPORT), 0);
    xfix_keydir(dir, sizeof dir, "CHL");
    assert_int_equal(keys_path(from, sizeof from, dir, "CHL", KEYS_TRANSPORT),
        0);
    s_copy_key(from, to);

    xfix_csbm(r, "CHL2", "pull", NULL);
    assert_int_equal(r->code, 0);
    assert_non_null(strstr(r->out, "pulled 1 new package"));
    assert_non_null(strstr(r->out, "verified (not cosigned)"));
    assert_non_null(strstr(r->err, "warning: the hub refused this node's "
                                   "cosignature: "));
    assert_non_null(strstr(r->err, "cosignature of CHL"));

    node = xfix_start("CHL2", "node", "--foreground", NULL);
    assert_true(xfix_log_has("CHL2", "node", "the hub refused this node's "
                             "cosignature: ", 60000));
    kill(node, SIGTERM);
    assert_int_equal(itest_wait(node, 15000), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_witness_cosignatures_reach_the_quorum, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_witness_later_heads_count_for_earlier, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_witness_split_view_is_caught,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_witness_refused_cosignature_is_reported, s_setup, s_teardown),
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
