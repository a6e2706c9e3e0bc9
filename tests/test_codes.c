/*
 * test_codes: the standards tables (ISO 3166-1, ISO 4217) and the strict
 * parsers for ISO 8601 dates and date-times, BCP 47 tags and package ids.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "proto/codes.h"

/* The 35 OAS member states of DOMAIN.md. */
static const char *const s_oas[] = {"ATG", "ARG", "BHS", "BRB", "BLZ", "BOL",
    "BRA", "CAN", "CHL", "COL", "CRI", "CUB", "DMA", "DOM", "ECU", "SLV",
    "GRD", "GTM", "GUY", "HTI", "HND", "JAM", "MEX", "NIC", "PAN", "PRY",
    "PER", "KNA", "LCA", "VCT", "SUR", "TTO", "USA", "URY", "VEN"};

/* ---------------------------------------------------------- countries --- */

static void
test_codes_country_names_known_codes(void **state)
{
    size_t i;

    (void)state;
    assert_string_equal(codes_country_name("ARG"), "Argentina");
    assert_string_equal(codes_country_name("USA"), "United States");
    assert_string_equal(codes_country_name("ABW"), "Aruba");
    assert_string_equal(codes_country_name("ZWE"), "Zimbabwe");
    assert_string_equal(codes_country_name("SSD"), "South Sudan");
    assert_string_equal(codes_country_name("BOL"),
        "Bolivia, Plurinational State of");
    assert_string_equal(codes_country_name("CIV"), "C\303\264te d'Ivoire");
    for (i = 0; i < sizeof s_oas / sizeof s_oas[0]; i++) {
        assert_non_null(codes_country_name(s_oas[i]));
        assert_int_equal(codes_country_known(s_oas[i]), 1);
    }
}

static void
test_codes_country_rejects_unknown_codes(void **state)
{
    static const char *const bad[] = {"arg", "Arg", "AR", "ARGX", "", "ZZZ",
        "XKX", "GER", "CHI", "UK", "A1G", "AR ", " AR", "AAA", "ARG\n"};
    size_t                   i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(codes_country_name(bad[i]));
        assert_int_equal(codes_country_known(bad[i]), 0);
    }
    assert_null(codes_country_name(NULL));
    assert_int_equal(codes_country_known(NULL), 0);
}

static void
test_codes_country_table_is_sorted_and_complete(void **state)
{
    size_t i, n = codes_country_count();

    (void)state;
    assert_int_equal(n, 249);
    for (i = 0; i < n; i++) {
        const char *code = codes_country_code_at(i);

        assert_non_null(code);
        assert_int_equal(strlen(code), 3);
        assert_true(strlen(codes_country_name_at(i)) > 0);
        /* the lookup finds every entry: the table is sorted for bsearch */
        assert_ptr_equal(codes_country_name(code), codes_country_name_at(i));
        if (i > 0)
            assert_true(strcmp(codes_country_code_at(i - 1), code) < 0);
    }
    assert_null(codes_country_code_at(n));
    assert_null(codes_country_name_at(n));
}

/* --------------------------------------------------------- currencies --- */

static void
test_codes_currency_known_and_unknown(void **state)
{
    static const char *const good[] = {"ARS", "USD", "EUR", "CLP", "PEN",
        "BRL", "MXN", "UYU", "XCD", "XCG", "ZWG", "CLF", "XDR", "AED", "ZMW"};
    static const char *const bad[] = {"ars", "US", "USDD", "", "HRK", "XTS",
        "XXX", "DEM", "ARG", "US$", "EU R"};
    size_t                   i;

    (void)state;
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(codes_currency_known(good[i]), 1);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(codes_currency_known(bad[i]), 0);
    assert_int_equal(codes_currency_known(NULL), 0);
}

/* -------------------------------------------------------------- dates --- */

static void
test_codes_date_parses_real_dates(void **state)
{
    static const struct {
        const char *s;
        int32_t     days;
    } v[] = {
        {"1970-01-01", 0},
        {"1969-12-31", -1},
        {"1900-01-01", -25567},
        {"2000-02-29", 11016}, /* divisible by 400: leap */
        {"2024-02-29", 19782},
        {"2025-04-30", 20208},
        {"2999-12-31", 376199},
    };
    size_t  i;
    int32_t d;

    (void)state;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        d = 12345678;
        assert_int_equal(codes_parse_date(v[i].s, &d), 0);
        assert_int_equal(d, v[i].days);
    }
}

static void
test_codes_date_rejects_bad_dates(void **state)
{
    static const char *const bad[] = {
        "2025-02-29", /* 2025 is not a leap year */
        "1900-02-29", /* divisible by 100, not by 400 */
        "2100-02-29",
        "2025-13-01", "2025-00-10", "2025-04-31", "2025-04-00",
        "2025-06-31", "2025-01-32",
        "2025-1-01", "2025-01-1", "25-01-01", "02025-01-01",
        "2025-01-01 ", " 2025-01-01", "2025-01-01x", "2025-01-01T00:00:00Z",
        "2025/01/01", "2025-01/01", "20250101", "2025-0a-01", "+2025-01-01",
        "-025-01-01", "1899-12-31", "3000-01-01", "", "2025-01-",
        "\xef\xbc\x92\xef\xbc\x90\xef\xbc\x92\xef\xbc\x95-01-01",
    };
    size_t  i;
    int32_t d;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        d = 777;
        if (codes_parse_date(bad[i], &d) == 0)
            fail_msg("accepted the date \"%s\"", bad[i]);
        assert_int_equal(d, 777); /* untouched on failure */
    }
    assert_int_equal(codes_parse_date(NULL, &d), -1);
}

/* Every day of the supported range formats and parses back, one day after
 * the other: leap years and month lengths all agree with each other. */
static void
test_codes_date_round_trips_every_day(void **state)
{
    char    s[CODES_DATE_LEN + 1], prev[CODES_DATE_LEN + 1] = "";
    int32_t first, last, d, back;

    (void)state;
    assert_int_equal(codes_parse_date("1900-01-01", &first), 0);
    assert_int_equal(codes_parse_date("2999-12-31", &last), 0);
    for (d = first; d <= last; d++) {
        assert_int_equal(codes_format_date(d, s), 0);
        assert_int_equal(codes_parse_date(s, &back), 0);
        assert_int_equal(back, d);
        assert_true(strcmp(prev, s) < 0);
        memcpy(prev, s, sizeof s);
    }
    assert_int_equal(last - first + 1, 401767); /* 1100 years */
}

static void
test_codes_format_date_refuses_out_of_range(void **state)
{
    char    s[CODES_DATE_LEN + 1];
    int32_t first, last;

    (void)state;
    assert_int_equal(codes_parse_date("1900-01-01", &first), 0);
    assert_int_equal(codes_parse_date("2999-12-31", &last), 0);
    memset(s, 'x', sizeof s);
    assert_int_equal(codes_format_date(first - 1, s), -1);
    assert_string_equal(s, "");
    assert_int_equal(codes_format_date(last + 1, s), -1);
    assert_int_equal(codes_format_date(INT32_MIN, s), -1);
    assert_int_equal(codes_format_date(INT32_MAX, s), -1);
    assert_int_equal(codes_format_date(20208, s), 0);
    assert_string_equal(s, "2025-04-30");
}

/* --------------------------------------------------------- date-times --- */

static void
test_codes_datetime_parses_utc_and_offsets(void **state)
{
    static const struct {
        const char *s;
        int64_t     t;
    } v[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2025-04-30T12:00:00Z", INT64_C(1746014400)},
        {"2025-04-30T12:00:00.5Z", INT64_C(1746014400)},
        {"2025-04-30T12:00:00.999999999Z", INT64_C(1746014400)},
        {"2025-04-30T14:00:00+02:00", INT64_C(1746014400)},
        {"2025-04-30T09:00:00-03:00", INT64_C(1746014400)},
        {"2025-04-30T09:00:00.25-03:00", INT64_C(1746014400)},
        {"2025-04-30T12:00:00-00:00", INT64_C(1746014400)},
        {"2025-04-30T17:30:00+05:30", INT64_C(1746014400)},
        {"2025-05-01T11:59:00+23:59", INT64_C(1746014400)},
        {"2025-04-29T21:00:00-15:00", INT64_C(1746014400)},
        {"2024-02-29T23:59:59Z", INT64_C(1709251199)},
        {"1900-01-01T00:00:00Z", INT64_C(-2208988800)},
        {"1969-12-31T23:59:59.9Z", -1}, /* truncated towards the past */
        {"2999-12-31T23:59:59Z", INT64_C(32503679999)},
    };
    size_t  i;
    int64_t t;

    (void)state;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        t = 42;
        if (codes_parse_datetime(v[i].s, &t) != 0)
            fail_msg("refused the date-time \"%s\"", v[i].s);
        assert_int_equal(t, v[i].t);
    }
}

static void
test_codes_datetime_rejects_bad_times(void **state)
{
    static const char *const bad[] = {
        "2025-04-30t12:00:00Z", "2025-04-30T12:00:00z",
        "2025-04-30T12:00:00", "2025-04-30 12:00:00Z",
        "2025-04-30T24:00:00Z", "2025-04-30T12:60:00Z",
        "2025-04-30T12:00:60Z", "2025-04-30T12:00Z", "2025-04-30T1:00:00Z",
        "2025-04-30T12:00:00.Z", "2025-04-30T12:00:00.1234567890Z",
        "2025-04-30T12:00:00,5Z", "2025-04-30T12:00:00+02",
        "2025-04-30T12:00:00+0200", "2025-04-30T12:00:00+24:00",
        "2025-04-30T12:00:00+02:60", "2025-04-30T12:00:00+02:00Z",
        "2025-04-30T12:00:00Z ", " 2025-04-30T12:00:00Z",
        "2025-04-30T12:00:00ZZ", "2025-02-29T12:00:00Z",
        "2025-04-30", "2025-04-30T", "1899-12-31T23:59:59Z",
        "3000-01-01T00:00:00Z", "", "2025-04-30T12:00:00 +02:00",
        "2025-04-30T12:00:00.5.5Z", "2025-04-30T12:00:00+2:00",
        "2025-04-30T12:00:00\xc2\xa0Z",
    };
    size_t  i;
    int64_t t;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        t = 42;
        if (codes_parse_datetime(bad[i], &t) == 0)
            fail_msg("accepted the date-time \"%s\"", bad[i]);
        assert_int_equal(t, 42);
    }
    assert_int_equal(codes_parse_datetime(NULL, &t), -1);
}

/* ---------------------------------------------------------- languages --- */

static void
test_codes_language_accepts_bcp47_shapes(void **state)
{
    static const char *const good[] = {"es", "en", "pt", "fr", "ES",
        "pt-BR", "es-419", "es-MX", "en-Latn-US", "zh-Hant-TW", "zh-yue-HK",
        "de-CH-1996", "sl-rozaj", "sl-rozaj-biske", "en-US-x-twain",
        "es-u-co-trad", "en-a-bbb-x-a-ccc", "qaa", "haw", "ast-ES"};
    size_t                   i;

    (void)state;
    for (i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!codes_language_valid(good[i]))
            fail_msg("refused the language tag \"%s\"", good[i]);
    /* a tag must start with a language: private-use-only tags are not one */
    assert_int_equal(codes_language_valid("x-private"), 0);
}

static void
test_codes_language_rejects_bad_tags(void **state)
{
    static const char *const bad[] = {"", "e", "english", "es_AR", "es-",
        "-es", "es--AR", "1es", "es-A", "es-AR-", "es-x", "es-a",
        "es-a-x-foo", "es-ARG1", "es-123456789", "es AR", "es-\xc3\x91",
        "en-Latn-Latn", "en-US-Latn", "en-1996-US", "es-AR-419", "i-klingon",
        "es-12", "es.AR", "es-AR\n"};
    char   long_tag[80];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (codes_language_valid(bad[i]))
            fail_msg("accepted the language tag \"%s\"", bad[i]);
    assert_int_equal(codes_language_valid(NULL), 0);
    /* a well-shaped tag over the length limit */
    snprintf(long_tag, sizeof long_tag, "en-x");
    while (strlen(long_tag) + 9 <= CODES_LANGUAGE_MAX)
        strcat(long_tag, "-abcdefgh");
    assert_int_equal(codes_language_valid(long_tag), 1);
    strcat(long_tag, "-abcdefgh");
    assert_int_equal(codes_language_valid(long_tag), 0);
}

/* -------------------------------------------------------- package ids --- */

static void
test_codes_package_id(void **state)
{
    (void)state;
    assert_int_equal(
        codes_package_id_valid("3f9c1e7a5b2d4f608a1c9e3b7d5f2a41"), 1);
    assert_int_equal(
        codes_package_id_valid("3F9C1E7A5B2D4F608A1C9E3B7D5F2A41"), 1);
    assert_int_equal(
        codes_package_id_valid("3f9c1e7a5b2d4f608a1c9e3b7d5f2a4"), 0);
    assert_int_equal(
        codes_package_id_valid("3f9c1e7a5b2d4f608a1c9e3b7d5f2a410"), 0);
    assert_int_equal(
        codes_package_id_valid("3f9c1e7a5b2d4f608a1c9e3b7d5f2a4g"), 0);
    assert_int_equal(
        codes_package_id_valid("3f9c1e7a-b2d4f608a1c9e3b7d5f2a41"), 0);
    assert_int_equal(
        codes_package_id_valid(" 3f9c1e7a5b2d4f608a1c9e3b7d5f2a4"), 0);
    assert_int_equal(codes_package_id_valid(""), 0);
    assert_int_equal(codes_package_id_valid(NULL), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_country_names_known_codes),
        cmocka_unit_test(test_codes_country_rejects_unknown_codes),
        cmocka_unit_test(test_codes_country_table_is_sorted_and_complete),
        cmocka_unit_test(test_codes_currency_known_and_unknown),
        cmocka_unit_test(test_codes_date_parses_real_dates),
        cmocka_unit_test(test_codes_date_rejects_bad_dates),
        cmocka_unit_test(test_codes_date_round_trips_every_day),
        cmocka_unit_test(test_codes_format_date_refuses_out_of_range),
        cmocka_unit_test(test_codes_datetime_parses_utc_and_offsets),
        cmocka_unit_test(test_codes_datetime_rejects_bad_times),
        cmocka_unit_test(test_codes_language_accepts_bcp47_shapes),
        cmocka_unit_test(test_codes_language_rejects_bad_tags),
        cmocka_unit_test(test_codes_package_id),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
