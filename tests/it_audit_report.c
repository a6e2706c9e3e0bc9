/*
 * it_audit_report: `csbm audit compliance` end to end — an archive built
 * with node/archive.h from really sealed envelopes (nil reports, subject
 * dates, an amendment, a late acquisition notice, a package accepted
 * after the evaluation time, another year's report, a non-member sender),
 * then the real program, whose CSV must be the matrix worked out by hand
 * below and whose JSON must say the same; the deadlines of a
 * configuration file, the member list from a keyring or from the senders,
 * --strict, and the errors (exit 2).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/envelope.h"
#include "node/archive.h"
#include "node/cli.h"
#include "tests/support/itest.h"

#define FED "TEST-FED"
#define AS_OF "2026-05-15T12:00:00Z"

static char s_dir[ITEST_PATH_MAX];
static char s_db[ITEST_PATH_MAX + 32];
static char s_keyring[ITEST_PATH_MAX + 32];
static char s_keyring_arg[ITEST_PATH_MAX + 32];
static char s_ini[ITEST_PATH_MAX + 32];
static char s_out[ITEST_PATH_MAX + 32];
static char s_err[ITEST_PATH_MAX + 32];

static itest_member_t s_hub;

typedef struct {
    const char *sender;
    int         type;
    uint32_t    year;
    int         nil;
    const char *subject_date;
    int64_t     created_at;
    int64_t     accepted_at;
    int         document_kind; /* DOCUMENT packages: Csbm__DocumentKind */
} s_pkg_t;

/* Reporting year 2025 as of 2026-05-15T12:00:00Z, default deadlines:
 * MILEX 2026-04-30, UN Register 2026-05-31, Convention report 2026-06-15,
 * CSBM inventory 2026-04-15, notices 90 days after incorporation. */
static const s_pkg_t s_pkgs[] = {
    /* ARG: MILEX in the last second of 30 April: on time */
    {"ARG", 1, 2025, 0, NULL, 1777579200, 1777593599, 0},
    /* ARG: notice of an incorporation on 2025-12-01, day 81: on time */
    {"ARG", 4, 2025, 0, "2025-12-01", 1771581000, 1771581600, 0},
    {"ARG", 5, 2025, 0, NULL, 1768003000, 1768003200, 0},
    /* ARG: last year's MILEX does not count for 2025 */
    {"ARG", 1, 2024, 0, NULL, 1743465000, 1743465600, 0},
    /* BRA: nil MILEX at 00:00:00 on 1 May: nil, late by one day */
    {"BRA", 1, 2025, 1, NULL, 1777593000, 1777593600, 0},
    /* BRA: nil UN Register return, on time */
    {"BRA", 2, 2025, 1, NULL, 1772323000, 1772323200, 0},
    /* CHL: MILEX on time, amended after the deadline: still on time */
    {"CHL", 1, 2025, 0, NULL, 1772366000, 1772366400, 0},
    {"CHL", 1, 2025, 0, NULL, 1778371000, 1778371200, 0},
    /* CHL: notice of 2025-10-01 accepted on 2026-01-15, day 106: late */
    {"CHL", 4, 2025, 0, "2025-10-01", 1768435000, 1768435200, 0},
    /* CHL: Convention report accepted after the evaluation time */
    {"CHL", 3, 2025, 0, NULL, 1780272000, 1780272000, 0},
    /* CHL: a white paper: a document, not an inventory */
    {"CHL", 6, 2025, 0, NULL, 1775001000, 1775001600, 1},
    /* ARG: CSBM inventory on 10 April: on time */
    {"ARG", 6, 2025, 0, NULL, 1775800000, 1775800800, 3},
    /* BRA: CSBM inventory accepted on 20 April: 5 days late */
    {"BRA", 6, 2025, 0, NULL, 1776670000, 1776672000, 3},
    /* PER: not a member of the keyring */
    {"PER", 1, 2025, 0, NULL, 1775001000, 1775001600, 0},
};

static const char s_header[] =
    "state,milex,milex_days_late,arms_register,arms_register_days_late,"
    "acquisition_report,acquisition_report_days_late,csbm_inventory,"
    "csbm_inventory_days_late,acquisition_notices,acquisition_notices_late,"
    "exercises,documents\n";

static const char s_expected[] =
    "ARG,ON_TIME,,PENDING,,PENDING,,ON_TIME,,1,0,1,0\n"
    "BOL,MISSING,15,PENDING,,PENDING,,MISSING,30,0,0,0,0\n"
    "BRA,NIL_LATE,1,NIL,,PENDING,,LATE,5,0,0,0,0\n"
    "CHL,ON_TIME,,PENDING,,PENDING,,MISSING,30,1,1,0,1\n";

static void
s_archive_pkg(archive_t *a, const s_pkg_t *p, uint64_t seq)
{
    itest_member_t              m;
    envelope_recipient_t        to = {"hub", s_hub.box_pk};
    envelope_seal_params_t      sp;
    envelope_t                 *env;
    const Csbm__EnvelopeHeader *h;
    archive_entry_t             e;
    const char                 *rcpts[] = {"hub"};
    uint8_t                    *buf = NULL, plain[32] = "a package body";
    size_t                      len = 0;
    uint64_t                    pos;
    errbuf_t                    err = {{0}};

    assert_int_equal(itest_member(&m, p->sender), 0);
    memset(&sp, 0, sizeof sp);
    sp.federation = FED;
    sp.sender = p->sender;
    sp.sign_sk = m.sign_sk;
    sp.package_type = (Csbm__PackageType)p->type;
    sp.distribution = CSBM__DISTRIBUTION__DIRECT;
    sp.recipients = &to;
    sp.n_recipients = 1;
    sp.created_at = (uint64_t)p->created_at;
    sp.sequence = seq;
    sp.year = p->year;
    sp.nil_report = p->nil;
    sp.subject_date = p->subject_date;
    sp.document_kind = (Csbm__DocumentKind)p->document_kind;
    if (envelope_seal(&sp, plain, sizeof plain, &buf, &len, &err) != 0)
        fail_msg("seal: %s", err.msg);
    env = envelope_parse(buf, len, &err);
    assert_non_null(env);
    h = envelope_header(env);

    memset(&e, 0, sizeof e);
    memcpy(e.package_id, h->package_id.data, ENVELOPE_ID_BYTES);
    e.sender = p->sender;
    e.sequence = seq;
    e.package_type = p->type;
    e.year = p->year;
    e.created_at = p->created_at;
    e.accepted_at = p->accepted_at;
    e.envelope = buf;
    e.envelope_len = len;
    crypto_hash_sha256(e.envelope_hash, buf, len);
    e.recipients = rcpts;
    e.n_recipients = 1;
    if (archive_append(a, &e, &pos, &err) != 0)
        fail_msg("append: %s", err.msg);
    envelope_destroy(&env);
    free(buf);
}

static int
s_group_setup(void **state)
{
    static const char *const members[] = {"ARG", "BOL", "BRA", "CHL"};
    archive_t               *a;
    errbuf_t                 err = {{0}};
    itest_member_t           m;
    size_t                   i;
    char                     ini[2048];

    (void)state;
    if (sodium_init() < 0 ||
        itest_tmpdir("audit-report", s_dir, sizeof s_dir) != 0)
        return -1;
    snprintf(s_db, sizeof s_db, "%s/hub.db", s_dir);
    snprintf(s_keyring, sizeof s_keyring, "%s/keyring", s_dir);
    snprintf(s_keyring_arg, sizeof s_keyring_arg, "%s/keyring-arg", s_dir);
    snprintf(s_ini, sizeof s_ini, "%s/hub.ini", s_dir);
    snprintf(s_out, sizeof s_out, "%s/out", s_dir);
    snprintf(s_err, sizeof s_err, "%s/err", s_dir);
    if (mkdir(s_keyring, 0700) != 0 || mkdir(s_keyring_arg, 0700) != 0)
        return -1;
    for (i = 0; i < 4; i++)
        if (itest_member(&m, members[i]) != 0 ||
            itest_member_pub(&m, s_keyring) != 0 ||
            (i == 0 && itest_member_pub(&m, s_keyring_arg) != 0))
            return -1;
    if (itest_member(&s_hub, "hub") != 0 ||
        itest_member_pub(&s_hub, s_keyring) != 0)
        return -1;
    snprintf(ini, sizeof ini,
             "[federation]\nname = " FED "\nroot_cert = root.pem\n"
             "[node]\nid = hub\nkey_dir = keys\ndata_dir = data\n"
             "[hub]\nbind = tcp://*:7701\n"
             "[deadlines]\nmilex = 05-15\n");
    if (itest_write_file(s_ini, ini, 0600) != 0)
        return -1;

    if ((a = archive_open(s_db, FED, &err)) == NULL ||
        archive_begin(a, &err) != 0) {
        fprintf(stderr, "archive: %s\n", err.msg);
        return -1;
    }
    for (i = 0; i < sizeof s_pkgs / sizeof s_pkgs[0]; i++)
        s_archive_pkg(a, &s_pkgs[i], i + 1);
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

/* csbm audit compliance --year 2025 --as-of AS_OF and up to 6 more. */
static int
s_run(const char *const *more)
{
    const char *argv[20];
    size_t      n = 0;

    remove(s_out);
    remove(s_err);
    argv[n++] = itest_csbm();
    argv[n++] = "audit";
    argv[n++] = "compliance";
    argv[n++] = "--year";
    argv[n++] = "2025";
    argv[n++] = "--as-of";
    argv[n++] = AS_OF;
    while (*more != NULL && n < 19)
        argv[n++] = *more++;
    argv[n] = NULL;
    return itest_run(argv, NULL, s_out, s_err, 60000);
}

static char *
s_output(void)
{
    char *text = itest_read_file(s_out, NULL);

    assert_non_null(text);
    return text;
}

static void
test_audit_compliance_csv_matches_the_worked_matrix(void **state)
{
    const char *args[] = {"--data",  s_db,    "--keyring",
                          s_keyring, "--csv", NULL};
    char        want[1024];
    char       *text;

    (void)state;
    assert_int_equal(s_run(args), CLI_OK);
    snprintf(want, sizeof want, "%s%s", s_header, s_expected);
    text = s_output();
    assert_string_equal(text, want);
    free(text);
}

static json_t *
s_cell(json_t *root, size_t row, const char *state, const char *kind)
{
    json_t *st = json_array_get(json_object_get(root, "states"), row);

    assert_non_null(st);
    assert_string_equal(json_string_value(json_object_get(st, "state")), state);
    return json_object_get(st, kind);
}

static const char *
s_status(json_t *cell)
{
    return json_string_value(json_object_get(cell, "status"));
}

static void
test_audit_compliance_json_says_the_same(void **state)
{
    const char  *args[] = {"--data",  s_db,     "--keyring",
                           s_keyring, "--json", NULL};
    json_error_t je;
    json_t      *root, *c, *nm;
    char        *text;

    (void)state;
    assert_int_equal(s_run(args), CLI_OK);
    text = s_output();
    root = json_loads(text, 0, &je);
    if (root == NULL)
        fail_msg("not JSON (%s): %s", je.text, text);
    free(text);
    assert_int_equal(json_integer_value(json_object_get(root, "year")), 2025);
    assert_int_equal(json_array_size(json_object_get(root, "states")), 4);
    assert_string_equal(s_status(s_cell(root, 0, "ARG", "milex")), "ON_TIME");
    c = s_cell(root, 1, "BOL", "milex");
    assert_string_equal(s_status(c), "MISSING");
    assert_int_equal(json_integer_value(json_object_get(c, "days_late")), 15);
    c = s_cell(root, 2, "BRA", "milex");
    assert_string_equal(s_status(c), "NIL_LATE");
    assert_int_equal(json_integer_value(json_object_get(c, "days_late")), 1);
    assert_string_equal(s_status(s_cell(root, 2, "BRA", "arms_register")),
                        "NIL");
    c = s_cell(root, 3, "CHL", "milex");
    assert_string_equal(s_status(c), "ON_TIME");
    assert_int_equal(json_integer_value(json_object_get(c, "submissions")), 2);
    assert_string_equal(json_string_value(json_object_get(c, "accepted_at")),
                        "2026-03-01T12:00:00Z");
    c = s_cell(root, 3, "CHL", "acquisition_notices");
    assert_int_equal(json_integer_value(json_object_get(c, "count")), 1);
    assert_int_equal(json_integer_value(json_object_get(c, "late")), 1);
    assert_string_equal(s_status(s_cell(root, 3, "CHL", "acquisition_report")),
                        "PENDING");
    nm = json_array_get(json_object_get(root, "non_members"), 0);
    assert_string_equal(json_string_value(json_object_get(nm, "state")), "PER");
    json_decref(root);
}

static void
test_audit_compliance_config_deadlines(void **state)
{
    const char *args[] = {"--data",   s_db,  "--keyring", s_keyring,
                          "--config", s_ini, "--csv",     NULL};
    char       *text;

    (void)state;
    /* MILEX due 15 May: BOL not yet overdue at noon, BRA's nil in time. */
    assert_int_equal(s_run(args), CLI_OK);
    text = s_output();
    assert_non_null(strstr(text, "\nBOL,PENDING,,"));
    assert_non_null(strstr(text, "\nBRA,NIL,,NIL,,"));
    free(text);
}

static void
test_audit_compliance_members_from_senders(void **state)
{
    const char *args[] = {"--data", s_db, "--states", "BOL,URY", "--csv", NULL};
    char       *text;

    (void)state;
    assert_int_equal(s_run(args), CLI_OK);
    text = s_output();
    assert_non_null(strstr(text, "\nARG,"));
    assert_non_null(strstr(text, "\nBOL,MISSING,15,"));
    assert_non_null(strstr(text, "\nPER,ON_TIME,,"));
    assert_non_null(strstr(text, "\nURY,MISSING,15,"));
    free(text);

    /* The table, for people; --strict fails on the missing reports. */
    args[4] = "--strict";
    assert_int_equal(s_run(args), CLI_REJECTED);
    assert_int_equal(itest_file_contains(s_out, "MISSING", 0), 1);
}

static void
test_audit_compliance_strict(void **state)
{
    const char *late[] = {"--data",  s_db,       "--keyring",
                          s_keyring, "--strict", NULL};
    const char *fine[] = {"--data",   s_db,      "--keyring",  s_keyring_arg,
                          "--strict", "--as-of", "2026-04-01", NULL};

    (void)state;
    assert_int_equal(s_run(late), CLI_REJECTED);
    /* ARG on 1 April 2026: nothing due yet, its notice was on time. */
    assert_int_equal(s_run(fine), CLI_OK);
}

static void
s_expect_error(const char *const *args, const char *needle)
{
    assert_int_equal(s_run(args), CLI_ERROR);
    if (itest_file_contains(s_err, needle, 0) != 1) {
        char *e = itest_read_file(s_err, NULL);
        fail_msg("stderr does not say '%s': %s", needle, e ? e : "(none)");
    }
}

static void
test_audit_compliance_errors_exit_2(void **state)
{
    char        missing[ITEST_PATH_MAX + 32], junk[ITEST_PATH_MAX + 32];
    const char *a1[] = {"--data", missing, NULL};
    const char *a2[] = {"--data", junk, NULL};
    const char *a3[] = {"--data", s_db, "--states", "ARG,B;L", NULL};
    const char *a4[] = {"--data", s_db, "--as-of", "yesterday", NULL};
    const char *a5[] = {"--data", s_db, "--keyring", missing, NULL};
    const char *a6[] = {"--data", s_db, "--registry", "r.bin", NULL};
    const char *a7[] = {"--data", s_db, "--config", missing, NULL};
    const char *a8[] = {"--data", s_db, "--json", "--csv", NULL};
    const char *argv[] = {itest_csbm(), "audit", "compliance",
                          "--data",     s_db,    NULL};

    (void)state;
    snprintf(missing, sizeof missing, "%s/nothing-here", s_dir);
    snprintf(junk, sizeof junk, "%s/junk.db", s_dir);
    assert_int_equal(
        itest_write_file(
            junk,
            "SQLite format 2? no: just "
            "text, long enough to be taken for a damaged database header....\n"
            "................................................................"
            "\n",
            0600),
        0);
    s_expect_error(a1, "no such file");
    s_expect_error(a2, "not an SQLite database");
    s_expect_error(a3, "not a state code");
    s_expect_error(a4, "not an ISO 8601");
    s_expect_error(a5, "--keyring");
    s_expect_error(a6, "go together");
    s_expect_error(a7, "nothing-here");
    s_expect_error(a8, "choose one");
    /* No --year. */
    assert_int_equal(itest_run(argv, NULL, s_out, s_err, 30000), CLI_ERROR);
    assert_int_equal(itest_file_contains(s_err, "needs --year", 0), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_compliance_csv_matches_the_worked_matrix),
        cmocka_unit_test(test_audit_compliance_json_says_the_same),
        cmocka_unit_test(test_audit_compliance_config_deadlines),
        cmocka_unit_test(test_audit_compliance_members_from_senders),
        cmocka_unit_test(test_audit_compliance_strict),
        cmocka_unit_test(test_audit_compliance_errors_exit_2),
    };

    return cmocka_run_group_tests(tests, s_group_setup, s_group_teardown);
}
