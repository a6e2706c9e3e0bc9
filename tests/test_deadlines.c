/*
 * test_deadlines: deadline rules from configuration text, due dates of
 * annual reports and acquisition notices, days late.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "config/deadlines.h"

/* Last seconds of deadline days, from Python calendar.timegm. */
#define T_MILEX_2024  INT64_C(1746057599) /* 2025-04-30T23:59:59Z */
#define T_REG_2024    INT64_C(1748735999) /* 2025-05-31T23:59:59Z */
#define T_CONV_2024   INT64_C(1750031999) /* 2025-06-15T23:59:59Z */
#define T_CSBM_2024   INT64_C(1744761599) /* 2025-04-15T23:59:59Z */
#define T_LEAP_NOTICE INT64_C(1717027199) /* 2024-05-29T23:59:59Z */
#define T_JAN_NOTICE  INT64_C(1713139199) /* 2024-04-14T23:59:59Z */
#define T_YEAR_1      INT64_C(-62093692801) /* 0002-04-30T23:59:59Z */
#define T_YEAR_9998   INT64_C(253381132799) /* 9999-04-30T23:59:59Z */

static int64_t
s_due(const deadlines_t *d, Csbm__PackageType type, int kind, uint32_t year,
    const char *subject)
{
    int64_t  due = 0;
    errbuf_t err = {{0}};

    if (deadlines_due(d, type, kind, year, subject, &due, &err) != 0)
        fail_msg("deadlines_due: %s", err.msg);
    return due;
}

static void
s_expect_set_fails(const char *key, const char *value, const char *needle)
{
    deadlines_t d, before;
    errbuf_t    err = {{0}};

    deadlines_default(&d);
    before = d;
    if (deadlines_set(&d, key, value, &err) == 0)
        fail_msg("deadlines_set(%s, %s) accepted", key ? key : "(null)",
            value ? value : "(null)");
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error for %s = %s lacks '%s': %s", key ? key : "(null)",
            value ? value : "(null)", needle, err.msg);
    assert_memory_equal(&d, &before, sizeof d);
}

/* ------------------------------------------------------------------ */

static void
test_deadlines_defaults_follow_the_domain(void **state)
{
    static const char *const keys[] = {"milex", "arms_register",
        "acquisition_report", "csbm_inventory", "acquisition_notice_days"};
    static const char *const want[] = {"04-30", "05-31", "06-15", "04-15",
        "90"};
    deadlines_t d;
    errbuf_t    err = {{0}};
    char        buf[16];
    size_t      i;

    (void)state;
    deadlines_default(&d);
    for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        assert_int_equal(deadlines_get(&d, keys[i], buf, sizeof buf, &err), 0);
        assert_string_equal(buf, want[i]);
    }
}

static void
test_deadlines_due_known_answers(void **state)
{
    deadlines_t d;

    (void)state;
    deadlines_default(&d);
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__MILEX_REPORT, 0, 2024, NULL)
        == T_MILEX_2024);
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN, 0, 2024,
                    NULL) == T_REG_2024);
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__ACQUISITION_REPORT, 0, 2024,
                    NULL) == T_CONV_2024);
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__DOCUMENT,
                    CSBM__DOCUMENT_KIND__CSBM_INVENTORY, 2024, NULL)
        == T_CSBM_2024);
    /* A subject date does not move an annual deadline. */
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__MILEX_REPORT, 0, 2024,
                    "2020-01-01") == T_MILEX_2024);
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__MILEX_REPORT, 0, 1, NULL)
        == T_YEAR_1);
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__MILEX_REPORT, 0, 9998, NULL)
        == T_YEAR_9998);
}

static void
test_deadlines_notice_counts_from_incorporation_across_leap_day(void **state)
{
    deadlines_t d;
    errbuf_t    err = {{0}};

    (void)state;
    deadlines_default(&d);
    /* 29 February 2024 + 90 days = 29 May; 15 January + 90 = 14 April
     * (a day earlier than in a common year). The year is not used. */
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION, 0, 0,
                    "2024-02-29") == T_LEAP_NOTICE);
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION, 0,
                    2024, "2024-01-15") == T_JAN_NOTICE);
    assert_int_equal(deadlines_days_late(T_JAN_NOTICE, T_JAN_NOTICE + 1), 1);

    assert_int_equal(deadlines_set(&d, "acquisition_notice_days", "1", &err),
        0);
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION, 0, 0,
                    "2024-02-28") == INT64_C(1709251199)); /* 02-29 23:59:59 */
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION, 0, 0,
                    "2023-02-28") == INT64_C(1677715199)); /* 03-01 23:59:59 */
}

static void
test_deadlines_set_changes_the_rule(void **state)
{
    deadlines_t d;
    errbuf_t    err = {{0}};
    char        buf[16];

    (void)state;
    deadlines_default(&d);
    assert_int_equal(deadlines_set(&d, "milex", "05-31", &err), 0);
    assert_true(s_due(&d, CSBM__PACKAGE_TYPE__MILEX_REPORT, 0, 2024, NULL)
        == T_REG_2024);
    assert_int_equal(deadlines_set(&d, "csbm_inventory", "12-31", &err), 0);
    assert_int_equal(deadlines_get(&d, "csbm_inventory", buf, sizeof buf,
                         &err), 0);
    assert_string_equal(buf, "12-31");
    assert_int_equal(deadlines_set(&d, "acquisition_notice_days", "3660",
                         &err), 0);
    assert_int_equal(d.acquisition_notice_days, 3660);
    assert_int_equal(deadlines_set(&d, "arms_register", "02-28", &err), 0);
    assert_int_equal(deadlines_set(&d, "acquisition_report", "01-01", &err),
        0);
    assert_int_equal(d.acquisition_report.month, 1);
    assert_int_equal(d.acquisition_report.day, 1);
}

static void
test_deadlines_set_rejects_bad_values(void **state)
{
    (void)state;
    s_expect_set_fails("milex", "02-30", "'02-30': day 30 does not exist");
    s_expect_set_fails("milex", "02-29", "leap years");
    s_expect_set_fails("milex", "04-31", "day 31");
    s_expect_set_fails("arms_register", "13-01", "month 13 is not 01..12");
    s_expect_set_fails("arms_register", "00-10", "month 00");
    s_expect_set_fails("csbm_inventory", "04-00", "day 00");
    s_expect_set_fails("acquisition_report", "abc", "expected MM-DD");
    s_expect_set_fails("milex", "4-30", "expected MM-DD");
    s_expect_set_fails("milex", "04-30 ", "expected MM-DD");
    s_expect_set_fails("milex", "04/30", "expected MM-DD");
    s_expect_set_fails("milex", "", "expected MM-DD");
    s_expect_set_fails("milex", "+4-30", "expected MM-DD");
    s_expect_set_fails("acquisition_notice_days", "-5", "deadline "
        "acquisition_notice_days = '-5'");
    s_expect_set_fails("acquisition_notice_days", "100000", "too long");
    s_expect_set_fails("acquisition_notice_days", "3661", "too long");
    s_expect_set_fails("acquisition_notice_days", "0", "at least 1");
    s_expect_set_fails("acquisition_notice_days", "", "whole number");
    s_expect_set_fails("acquisition_notice_days", " 90", "whole number");
    s_expect_set_fails("acquisition_notice_days", "+90", "whole number");
    s_expect_set_fails("acquisition_notice_days", "90d", "whole number");
    s_expect_set_fails("acquisition_notice_days", "99999999999999999999",
        "whole number");
    s_expect_set_fails("acquisition_notice_days", "04-30", "whole number");
    s_expect_set_fails("milex", "90", "expected MM-DD");
    s_expect_set_fails("un_register", "05-31", "unknown deadline "
        "'un_register'; known: milex, arms_register");
    s_expect_set_fails("MILEX", "04-30", "unknown deadline");
    s_expect_set_fails("milex", NULL, "required");
    s_expect_set_fails(NULL, "04-30", "required");
}

static void
test_deadlines_error_quotes_hostile_values_safely(void **state)
{
    deadlines_t d;
    errbuf_t    err = {{0}};
    char        big[4096];
    size_t      i;

    (void)state;
    deadlines_default(&d);
    assert_int_equal(deadlines_set(&d, "milex", "\x1b[31m\n", &err), -1);
    for (i = 0; err.msg[i] != '\0'; i++)
        assert_true(err.msg[i] >= 0x20 && err.msg[i] < 0x7f);
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(deadlines_set(&d, big, "1", &err), -1);
    assert_non_null(strstr(err.msg, "..."));
    assert_true(strlen(err.msg) < 300);
}

static void
test_deadlines_due_rejects_what_has_no_deadline(void **state)
{
    deadlines_t d;
    errbuf_t    err = {{0}};
    int64_t     due = 42;

    (void)state;
    deadlines_default(&d);
    assert_int_equal(deadlines_due(&d, CSBM__PACKAGE_TYPE__EXERCISE_NOTIFICATION,
                         0, 2024, "2024-05-01", &due, &err), -1);
    assert_non_null(strstr(err.msg, "EXERCISE_NOTIFICATION"));
    assert_int_equal(deadlines_due(&d, CSBM__PACKAGE_TYPE__DOCUMENT, 0, 2024,
                         NULL, &due, &err), -1);
    assert_non_null(strstr(err.msg, "CSBM inventory"));
    assert_int_equal(deadlines_due(&d, CSBM__PACKAGE_TYPE__DOCUMENT,
                         CSBM__DOCUMENT_KIND__WHITE_PAPER, 2024, NULL, &due,
                         &err), -1);
    assert_int_equal(deadlines_due(&d,
                         CSBM__PACKAGE_TYPE__PACKAGE_TYPE_UNSPECIFIED, 0,
                         2024, NULL, &due, &err), -1);
    assert_int_equal(deadlines_due(&d, (Csbm__PackageType)99, 0, 2024, NULL,
                         &due, &err), -1);
    assert_non_null(strstr(err.msg, "UNKNOWN"));
    assert_int_equal(due, 42);

    assert_int_equal(deadlines_applies(CSBM__PACKAGE_TYPE__MILEX_REPORT, 0), 1);
    assert_int_equal(deadlines_applies(
                         CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION, 0), 1);
    assert_int_equal(deadlines_applies(CSBM__PACKAGE_TYPE__DOCUMENT,
                         CSBM__DOCUMENT_KIND__CSBM_INVENTORY), 1);
    assert_int_equal(deadlines_applies(CSBM__PACKAGE_TYPE__DOCUMENT, 0), 0);
    assert_int_equal(deadlines_applies(
                         CSBM__PACKAGE_TYPE__EXERCISE_NOTIFICATION, 0), 0);
    assert_int_equal(deadlines_applies((Csbm__PackageType)99, 0), 0);
}

static void
test_deadlines_due_rejects_bad_years_and_dates(void **state)
{
    static const char *const bad_dates[] = {"", "2023-02-29", "2024-02-30",
        "2024-13-01", "2024-00-10", "2024-04-31", "2024-1-01", "20240101",
        "2024-01-01x", "2024-01-0", "0000-01-01", "2024/01/01", "2024-01-01 ",
        "+024-01-01", "2024-01-01T00:00:00Z"};
    deadlines_t d;
    errbuf_t    err = {{0}};
    int64_t     due = 42;
    size_t      i;

    (void)state;
    deadlines_default(&d);
    assert_int_equal(deadlines_due(&d, CSBM__PACKAGE_TYPE__MILEX_REPORT, 0, 0,
                         NULL, &due, &err), -1);
    assert_non_null(strstr(err.msg, "reporting year 0"));
    assert_int_equal(deadlines_due(&d, CSBM__PACKAGE_TYPE__MILEX_REPORT, 0,
                         9999, NULL, &due, &err), -1);
    assert_int_equal(deadlines_due(&d, CSBM__PACKAGE_TYPE__MILEX_REPORT, 0,
                         UINT32_MAX, NULL, &due, &err), -1);
    assert_int_equal(deadlines_due(&d,
                         CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION, 0,
                         2024, NULL, &due, &err), -1);
    assert_non_null(strstr(err.msg, "without a subject date"));
    for (i = 0; i < sizeof bad_dates / sizeof bad_dates[0]; i++) {
        if (deadlines_due(&d, CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION, 0,
                2024, bad_dates[i], &due, &err) == 0)
            fail_msg("subject date '%s' accepted", bad_dates[i]);
    }
    assert_non_null(strstr(err.msg, "not a calendar date"));
    assert_int_equal(due, 42);
    assert_int_equal(deadlines_due(NULL, CSBM__PACKAGE_TYPE__MILEX_REPORT, 0,
                         2024, NULL, &due, &err), -1);
    assert_int_equal(deadlines_due(&d, CSBM__PACKAGE_TYPE__MILEX_REPORT, 0,
                         2024, NULL, NULL, &err), -1);
}

static void
test_deadlines_days_late_counts_calendar_days(void **state)
{
    (void)state;
    assert_int_equal(deadlines_days_late(T_MILEX_2024, T_MILEX_2024), 0);
    assert_int_equal(deadlines_days_late(T_MILEX_2024, 0), 0);
    assert_int_equal(deadlines_days_late(T_MILEX_2024, T_MILEX_2024 + 1), 1);
    assert_int_equal(deadlines_days_late(T_MILEX_2024, T_MILEX_2024 + 86400),
        1);
    assert_int_equal(deadlines_days_late(T_MILEX_2024,
                         T_MILEX_2024 + 86401), 2);
    /* 2025-05-03T10:00:00Z: three days late. */
    assert_int_equal(deadlines_days_late(T_MILEX_2024, INT64_C(1746266400)),
        3);
    /* Hostile extremes saturate instead of overflowing. */
    assert_true(deadlines_days_late(INT64_MIN + 1, INT64_MAX) > 0);
    assert_int_equal(deadlines_days_late(INT64_MAX, INT64_MIN), 0);
}

static void
test_deadlines_get_rejects_unknown_key_and_small_buffer(void **state)
{
    deadlines_t d;
    errbuf_t    err = {{0}};
    char        buf[5];

    (void)state;
    deadlines_default(&d);
    assert_int_equal(deadlines_get(&d, "nope", buf, sizeof buf, &err), -1);
    assert_non_null(strstr(err.msg, "unknown deadline 'nope'"));
    assert_int_equal(deadlines_get(&d, "milex", buf, sizeof buf, &err), -1);
    assert_non_null(strstr(err.msg, "too small"));
    assert_int_equal(deadlines_get(&d, "acquisition_notice_days", buf,
                         sizeof buf, &err), 0);
    assert_string_equal(buf, "90");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadlines_defaults_follow_the_domain),
        cmocka_unit_test(test_deadlines_due_known_answers),
        cmocka_unit_test(
            test_deadlines_notice_counts_from_incorporation_across_leap_day),
        cmocka_unit_test(test_deadlines_set_changes_the_rule),
        cmocka_unit_test(test_deadlines_set_rejects_bad_values),
        cmocka_unit_test(test_deadlines_error_quotes_hostile_values_safely),
        cmocka_unit_test(test_deadlines_due_rejects_what_has_no_deadline),
        cmocka_unit_test(test_deadlines_due_rejects_bad_years_and_dates),
        cmocka_unit_test(test_deadlines_days_late_counts_calendar_days),
        cmocka_unit_test(
            test_deadlines_get_rejects_unknown_key_and_small_buffer),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
