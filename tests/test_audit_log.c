/*
 * test_audit_log: the exchange log of `csbm audit log` over a real archive
 * built with node/archive.h — pushes, a resubmission, pulls, refusals and
 * a refused handshake: every filter (node/archive_query.h), and through
 * the real program the table, JSON and CSV outputs (RFC 4180 quoting of a
 * message with a comma, quotes and a newline), and the errors for a
 * missing file, a file that is not SQLite and bad filter values (exit 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/archive.h"
#include "node/archive_query.h"
#include "node/cli.h"
#include "tests/support/itest.h"

#define FED "TEST-FED"
#define T0 1772323200 /* 2026-03-01T00:00:00Z */
#define DAY 86400

static char s_dir[ITEST_PATH_MAX];
static char s_db[ITEST_PATH_MAX + 32];
static char s_out[ITEST_PATH_MAX + 32];
static char s_err[ITEST_PATH_MAX + 32];

static const char s_forged[] = "signature, \"forged\"\nsecond line";

static void
s_id(uint8_t id[ENVELOPE_ID_BYTES], uint8_t tag)
{
    memset(id, tag, ENVELOPE_ID_BYTES);
}

static void
s_append(archive_t *a, uint8_t tag, const char *sender, uint64_t seq, int type,
         int64_t at, const char *const *rcpts, size_t n)
{
    archive_entry_t e;
    uint64_t        pos = 0;
    errbuf_t        err = {{0}};
    uint8_t         env[64];

    memset(&e, 0, sizeof e);
    memset(env, tag, sizeof env);
    s_id(e.package_id, tag);
    e.sender = sender;
    e.sequence = seq;
    e.package_type = type;
    e.year = 2025;
    e.created_at = at - 60;
    e.accepted_at = at;
    e.envelope = env;
    e.envelope_len = sizeof env;
    memset(e.envelope_hash, tag ^ 0xff, sizeof e.envelope_hash);
    e.recipients = rcpts;
    e.n_recipients = n;
    if (archive_append(a, &e, &pos, &err) != 0)
        fail_msg("append: %s", err.msg);
}

static void
s_event(archive_t *a, archive_event_kind_t kind, int64_t at, const char *state,
        int tag, int reason, const char *detail)
{
    archive_event_t ev;
    uint8_t         id[ENVELOPE_ID_BYTES];
    errbuf_t        err = {{0}};

    memset(&ev, 0, sizeof ev);
    ev.kind = kind;
    ev.at = at;
    ev.state = state;
    if (tag >= 0) {
        s_id(id, (uint8_t)tag);
        ev.package_id = id;
    }
    ev.reason = reason;
    ev.detail = detail;
    if (archive_log_event(a, &ev, &err) != 0)
        fail_msg("event: %s", err.msg);
}

/* The dataset every test reads; the comments give the rows it yields. */
static int
s_group_setup(void **state)
{
    static const char *const to1[] = {"CHL", "PER", "hub"};
    static const char *const to2[] = {"ARG", "hub"};
    static const char *const to3[] = {"ARG", "CHL", "hub"};
    archive_t               *a;
    errbuf_t                 err = {{0}};

    (void)state;
    if (itest_tmpdir("audit-log", s_dir, sizeof s_dir) != 0)
        return -1;
    snprintf(s_db, sizeof s_db, "%s/hub.db", s_dir);
    snprintf(s_out, sizeof s_out, "%s/out", s_dir);
    snprintf(s_err, sizeof s_err, "%s/err", s_dir);
    if ((a = archive_open(s_db, FED, &err)) == NULL) {
        fprintf(stderr, "archive_open: %s\n", err.msg);
        return -1;
    }
    if (archive_begin(a, &err) != 0)
        return -1;
    /* 1 push ARG MILEX -> CHL,PER,hub */
    s_append(a, 1, "ARG", 1, 1, T0 + 100, to1, 3);
    s_event(a, ARCHIVE_EVENT_PUSH, T0 + 100, "ARG", 1, 0,
            "accepted at position 1, sequence 1");
    /* 2 push CHL ARMS_REGISTER_RETURN -> ARG,hub */
    s_append(a, 2, "CHL", 1, 2, T0 + 200, to2, 2);
    s_event(a, ARCHIVE_EVENT_PUSH, T0 + 200, "CHL", 2, 0,
            "accepted at position 2, sequence 1");
    /* 3 resubmit ARG of package 1 */
    s_event(a, ARCHIVE_EVENT_PUSH, T0 + 300, "ARG", 1, 0,
            "resubmitted, already at position 1, sequence 1");
    /* 4 pull CHL of 1; 5 pull ARG of 2; an empty pull of CHL */
    s_event(a, ARCHIVE_EVENT_PULL, T0 + 400, "CHL", -1, 0,
            "after 0: 1 item at 1");
    s_event(a, ARCHIVE_EVENT_PULL, T0 + 500, "ARG", -1, 0,
            "after 0: 1 item at 2");
    s_event(a, ARCHIVE_EVENT_PULL, T0 + 600, "CHL", -1, 0, "after 1: 0 items");
    /* 6 refusal of a forged package from PER; 7 a refused pull */
    s_event(a, ARCHIVE_EVENT_REFUSE, T0 + 700, "PER", 9, 8, s_forged);
    s_event(a, ARCHIVE_EVENT_REFUSE, T0 + 800, "CHL", -1, 12,
            "position 2 is not addressed to CHL");
    /* 8 a refused handshake of an unknown key */
    s_event(a, ARCHIVE_EVENT_HANDSHAKE, T0 + 900, NULL, -1, 0,
            "refused handshake from tcp://10.0.0.9:4444: unknown key");
    /* 9 push PER DOCUMENT -> ARG,CHL,hub, two days later; 10, 11 pulls */
    s_append(a, 3, "PER", 1, 6, T0 + 2 * DAY, to3, 3);
    s_event(a, ARCHIVE_EVENT_PUSH, T0 + 2 * DAY, "PER", 3, 0,
            "accepted at position 3, sequence 1");
    s_event(a, ARCHIVE_EVENT_PULL, T0 + 2 * DAY + 10, "ARG", -1, 0,
            "after 1: 2 items at 2,3");
    s_event(a, ARCHIVE_EVENT_PULL, T0 + 2 * DAY + 20, "CHL", -1, 0,
            "after 1: 1 item at 3");
    if (archive_commit(a, &err) != 0) {
        fprintf(stderr, "commit: %s\n", err.msg);
        return -1;
    }
    archive_destroy(&a);
    return 0;
}

static int
s_group_teardown(void **state)
{
    (void)state;
    itest_rmtree(s_dir);
    return 0;
}

/* ------------------------------------------------------------ library --- */

typedef struct {
    long     n;
    char     kinds[32][16];
    char     states[32][16];
    char     rcpts[32][64];
    uint64_t positions[32];
} s_rows_t;

static int
s_collect(const archive_log_row_t *r, void *ctx, errbuf_t *err)
{
    s_rows_t *rows = ctx;

    (void)err;
    if (rows->n < 32) {
        snprintf(rows->kinds[rows->n], 16, "%s",
                 archive_log_kind_name(r->kind));
        snprintf(rows->states[rows->n], 16, "%s", r->state);
        snprintf(rows->rcpts[rows->n], 64, "%s", r->recipients);
        rows->positions[rows->n] = r->position;
    }
    rows->n++;
    return 0;
}

static long
s_count(const archive_log_filter_t *f, s_rows_t *rows)
{
    archive_query_t *q;
    errbuf_t         err = {{0}};
    long             n;

    q = archive_query_open(s_db, &err);
    if (q == NULL)
        fail_msg("open: %s", err.msg);
    memset(rows, 0, sizeof *rows);
    n = archive_query_log(q, f, s_collect, rows, &err);
    if (n < 0)
        fail_msg("log: %s", err.msg);
    assert_int_equal(n, rows->n);
    assert_string_equal(archive_query_federation(q), FED);
    archive_query_destroy(&q);
    assert_null(q);
    return n;
}

static void
test_audit_log_lists_every_exchange_in_time_order(void **state)
{
    archive_log_filter_t f;
    s_rows_t             r;
    static const char   *kinds[] = {"push", "push",   "resubmit", "pull",
                                    "pull", "refuse", "refuse",   "handshake",
                                    "push", "pull",   "pull",     "pull"};
    size_t               i;

    (void)state;
    archive_log_filter_init(&f);
    assert_int_equal(s_count(&f, &r), 12);
    for (i = 0; i < 12; i++)
        assert_string_equal(r.kinds[i], kinds[i]);
    assert_string_equal(r.states[0], "ARG");
    assert_string_equal(r.rcpts[0], "CHL,PER,hub");
    assert_string_equal(r.rcpts[1], "ARG,hub");
    assert_int_equal(r.positions[3], 1); /* CHL pulled package 1 */
    assert_string_equal(r.states[3], "CHL");
    assert_int_equal(r.positions[5], 0); /* forged: never archived */
    assert_string_equal(r.states[7], "");
    assert_int_equal(r.positions[9], 2); /* one pull of two packages */
    assert_int_equal(r.positions[10], 3);

    f.empty_pulls = 1;
    assert_int_equal(s_count(&f, &r), 13);
    assert_string_equal(r.kinds[5], "pull");
    assert_int_equal(r.positions[5], 0);
}

static void
test_audit_log_filters(void **state)
{
    archive_log_filter_t f;
    s_rows_t             r;

    (void)state;
    archive_log_filter_init(&f);
    f.state = "ARG";
    assert_int_equal(s_count(&f, &r), 5); /* push, resubmit, 3 pulls */

    archive_log_filter_init(&f);
    f.package_type = 1; /* MILEX_REPORT: push, resubmit, a pull */
    assert_int_equal(s_count(&f, &r), 3);

    archive_log_filter_init(&f);
    f.recipient = "CHL"; /* packages 1 and 3 */
    assert_int_equal(s_count(&f, &r), 6);
    archive_log_filter_init(&f);
    f.recipient = "URY";
    assert_int_equal(s_count(&f, &r), 0);

    archive_log_filter_init(&f);
    f.since = T0 + DAY;
    assert_int_equal(s_count(&f, &r), 4);
    archive_log_filter_init(&f);
    f.until = T0 + 400; /* inclusive */
    assert_int_equal(s_count(&f, &r), 4);
    f.since = T0 + 200;
    assert_int_equal(s_count(&f, &r), 3);

    archive_log_filter_init(&f);
    f.direction = ARCHIVE_DIR_PULL; /* 5 pulled packages, a refused pull */
    assert_int_equal(s_count(&f, &r), 6);
    f.direction = ARCHIVE_DIR_PUSH; /* 3 pushes, resubmit, forged */
    assert_int_equal(s_count(&f, &r), 5);

    archive_log_filter_init(&f);
    f.refused = 1;
    assert_int_equal(s_count(&f, &r), 3);
    f.refused = 0;
    assert_int_equal(s_count(&f, &r), 9);

    archive_log_filter_init(&f);
    f.reason = 8; /* BAD_SIGNATURE */
    assert_int_equal(s_count(&f, &r), 1);
    assert_string_equal(r.states[0], "PER");

    archive_log_filter_init(&f);
    f.limit = 2;
    assert_int_equal(s_count(&f, &r), 2);
    f.limit = 10; /* cuts a pull of two packages in the middle */
    f.state = "ARG";
    f.direction = ARCHIVE_DIR_PULL;
    assert_int_equal(s_count(&f, &r), 3);
    f.limit = 2;
    assert_int_equal(s_count(&f, &r), 2);
    assert_int_equal(r.positions[1], 2);

    archive_log_filter_init(&f); /* combined */
    f.state = "CHL";
    f.direction = ARCHIVE_DIR_PULL;
    f.refused = 0;
    assert_int_equal(s_count(&f, &r), 2);
}

/* ---------------------------------------------------------------- CLI --- */

/* Run csbm audit log with the args after "--data DB"; returns the exit
 * code and leaves the output in s_out, s_err. */
static int
s_run(const char *db, const char *a1, const char *a2, const char *a3,
      const char *a4)
{
    const char *argv[12];
    size_t      n = 0;

    remove(s_out);
    remove(s_err);
    argv[n++] = itest_csbm();
    argv[n++] = "audit";
    argv[n++] = "log";
    if (db != NULL) {
        argv[n++] = "--data";
        argv[n++] = db;
    }
    if (a1 != NULL)
        argv[n++] = a1;
    if (a2 != NULL)
        argv[n++] = a2;
    if (a3 != NULL)
        argv[n++] = a3;
    if (a4 != NULL)
        argv[n++] = a4;
    argv[n] = NULL;
    return itest_run(argv, NULL, s_out, s_err, 30000);
}

static void
test_audit_log_json_output(void **state)
{
    char        *text;
    json_t      *j, *o;
    json_error_t je;

    (void)state;
    assert_int_equal(s_run(s_db, "--json", NULL, NULL, NULL), CLI_OK);
    text = itest_read_file(s_out, NULL);
    assert_non_null(text);
    j = json_loads(text, 0, &je);
    if (j == NULL)
        fail_msg("not JSON (%s): %s", je.text, text);
    free(text);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 12);
    o = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(o, "time")),
                        "2026-03-01T00:01:40Z");
    assert_string_equal(json_string_value(json_object_get(o, "event")), "push");
    assert_string_equal(json_string_value(json_object_get(o, "status")),
                        "accepted");
    assert_string_equal(json_string_value(json_object_get(o, "sender")), "ARG");
    assert_string_equal(json_string_value(json_object_get(o, "package_type")),
                        "MILEX_REPORT");
    assert_string_equal(json_string_value(json_object_get(o, "package_id")),
                        "01010101010101010101010101010101");
    assert_int_equal(json_integer_value(json_object_get(o, "position")), 1);
    assert_int_equal(json_array_size(json_object_get(o, "recipients")), 3);
    o = json_array_get(j, 5);
    assert_string_equal(json_string_value(json_object_get(o, "reason")),
                        "REASON_BAD_SIGNATURE");
    assert_string_equal(json_string_value(json_object_get(o, "message")),
                        s_forged);
    assert_true(json_is_null(json_object_get(o, "position")));
    json_decref(j);

    /* No match: an empty array, still exit 0. */
    assert_int_equal(s_run(s_db, "--json", "--state", "URY", NULL), CLI_OK);
    text = itest_read_file(s_out, NULL);
    assert_string_equal(text, "[]\n");
    free(text);
}

static void
test_audit_log_csv_quotes_awkward_values(void **state)
{
    char *text;

    (void)state;
    assert_int_equal(s_run(s_db, "--csv", "--status", "refused", NULL), CLI_OK);
    text = itest_read_file(s_out, NULL);
    assert_non_null(text);
    assert_string_equal(
        text,
        "time,event,direction,status,state,package_id,position,package_type,"
        "year,sender,recipients,created_at,reason,message\n"
        "2026-03-01T00:11:40Z,refuse,push,refused,PER,"
        "09090909090909090909090909090909,,,,,,,REASON_BAD_SIGNATURE,"
        "\"signature, \"\"forged\"\"\nsecond line\"\n"
        "2026-03-01T00:13:20Z,refuse,pull,refused,CHL,,,,,,,,"
        "REASON_NOT_ENTITLED,position 2 is not addressed to CHL\n"
        "2026-03-01T00:15:00Z,handshake,,refused,,,,,,,,,,"
        "refused handshake from tcp://10.0.0.9:4444: unknown key\n");
    free(text);

    /* A recipient list is one quoted field. */
    assert_int_equal(s_run(s_db, "--csv", "--limit", "1", NULL), CLI_OK);
    assert_int_equal(
        itest_file_contains(s_out,
                            ",ARG,\"CHL,PER,hub\",2026-03-01T00:00:40Z,,\n", 0),
        1);
}

static void
test_audit_log_table_output(void **state)
{
    char *text;

    (void)state;
    assert_int_equal(s_run(s_db, "--type", "MILEX_REPORT", NULL, NULL), CLI_OK);
    text = itest_read_file(s_out, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "TIME"));
    assert_non_null(strstr(text, "to CHL,PER,hub"));
    assert_non_null(strstr(text, "(sent again)"));
    assert_non_null(strstr(text, "from ARG"));
    free(text);

    /* A newline in a message cannot break the table's lines. */
    assert_int_equal(s_run(s_db, "--reason", "bad_signature", NULL, NULL),
                     CLI_OK);
    text = itest_read_file(s_out, NULL);
    assert_non_null(strstr(text, "\"forged\"?second line\n"));
    free(text);

    assert_int_equal(
        s_run(s_db, "--since", "2026-03-02", "--until", "2026-03-03T23:59:59Z"),
        CLI_OK);
    text = itest_read_file(s_out, NULL);
    assert_null(strstr(text, "refuse"));
    assert_non_null(strstr(text, "DOCUMENT"));
    free(text);
}

static void
s_expect_error(const char *db, const char *a1, const char *a2,
               const char *needle)
{
    assert_int_equal(s_run(db, a1, a2, NULL, NULL), CLI_ERROR);
    if (itest_file_contains(s_err, needle, 0) != 1) {
        char *e = itest_read_file(s_err, NULL);
        fail_msg("stderr does not say '%s': %s", needle, e ? e : "(none)");
    }
}

static void
test_audit_log_errors_exit_2(void **state)
{
    char missing[ITEST_PATH_MAX + 32], junk[ITEST_PATH_MAX + 32];
    char empty[ITEST_PATH_MAX + 32];

    (void)state;
    snprintf(missing, sizeof missing, "%s/nothing-here.db", s_dir);
    snprintf(junk, sizeof junk, "%s/junk.db", s_dir);
    snprintf(empty, sizeof empty, "%s/empty.db", s_dir);
    assert_int_equal(
        itest_write_file(
            junk,
            "this is a text file, not an "
            "SQLite database, however long it gets........................\n"
            "................................................................"
            "\n",
            0600),
        0);
    assert_int_equal(itest_write_file(empty, "", 0600), 0);

    s_expect_error(missing, NULL, NULL, "no such file");
    s_expect_error(junk, NULL, NULL, "not an SQLite database");
    s_expect_error(empty, NULL, NULL, "not a csbm archive");
    s_expect_error(s_db, "--type", "MILEX", "unknown package type");
    s_expect_error(s_db, "--direction", "sideways", "use push or pull");
    s_expect_error(s_db, "--status", "ok", "use accepted or refused");
    s_expect_error(s_db, "--reason", "NOPE", "unknown reason code");
    s_expect_error(s_db, "--since", "2026-13-01", "not an ISO 8601 date");
    s_expect_error(s_db, "--limit", "ten", "whole number");
    s_expect_error(s_db, "--state", "A;B", "not a state code");
    s_expect_error(s_db, "--json", "--csv", "choose one");
    s_expect_error(s_db, "--bogus", NULL, "Usage:");

    /* The read-only open left the archive as it was. */
    assert_int_equal(s_run(s_db, "--help", NULL, NULL, NULL), CLI_OK);
    assert_int_equal(itest_file_contains(s_out, "Examples:", 0), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_log_lists_every_exchange_in_time_order),
        cmocka_unit_test(test_audit_log_filters),
        cmocka_unit_test(test_audit_log_json_output),
        cmocka_unit_test(test_audit_log_csv_quotes_awkward_values),
        cmocka_unit_test(test_audit_log_table_output),
        cmocka_unit_test(test_audit_log_errors_exit_2),
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
