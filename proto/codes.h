/*
 * codes: the standards tables and formats that package fields refer to.
 *
 * ISO 3166-1 alpha-3 country codes, ISO 4217 currency codes, ISO 8601
 * dates and date-times, BCP 47 language tags and package ids. These are
 * the world's codes, not the federation's: whether a state takes part is
 * the registry's business (config/), not this module's. Pure functions:
 * no I/O, no allocation, no global state; safe from any thread.
 *
 * Every function accepts NULL where a string is expected and treats it as
 * invalid (or unknown).
 */
#ifndef CSBM_CODES_H
#define CSBM_CODES_H

#include <stddef.h>
#include <stdint.h>

/* Dates and date-times are accepted for years CODES_MIN_YEAR..
 * CODES_MAX_YEAR only: earlier or later years in a report are typing
 * mistakes, and the bound keeps every day count well inside int32_t. */
#define CODES_MIN_YEAR 1900
#define CODES_MAX_YEAR 2999

#define CODES_DATE_LEN       10 /* "YYYY-MM-DD" */
#define CODES_PACKAGE_ID_LEN 32 /* hex digits of a package id */
#define CODES_LANGUAGE_MAX   63 /* longest language tag accepted, bytes */

/* The English short name of an officially assigned ISO 3166-1 alpha-3
 * code ("ARG" -> "Argentina"), or NULL if alpha3 is not one. Codes are
 * upper case; "arg" is unknown. The table holds the 249 officially
 * assigned codes; user-assigned codes (XKX, ...) and reserved ones are
 * unknown. The returned string is static (UTF-8). */
const char *codes_country_name(const char *alpha3);

/* 1 if alpha3 is an officially assigned ISO 3166-1 alpha-3 code, else 0. */
int codes_country_known(const char *alpha3);

/* The table in code order, for listings: count, and the code and name at
 * index i (NULL if i >= count). */
size_t      codes_country_count(void);
const char *codes_country_code_at(size_t i);
const char *codes_country_name_at(size_t i);

/* 1 if code is an active ISO 4217 alphabetic code ("ARS", "USD"), else 0.
 * Upper case only. Withdrawn codes (HRK) and the codes that are not a
 * currency (XTS for testing, XXX for "no currency") are refused; funds
 * codes (CLF, UYI, ...), precious metals and units of account (XDR) are
 * ISO 4217 codes and accepted. */
int codes_currency_known(const char *code);

/* Parse a strict ISO 8601 calendar date "YYYY-MM-DD" (exactly ten
 * characters, nothing before or after) of a real day of the Gregorian
 * calendar with the year in CODES_MIN_YEAR..CODES_MAX_YEAR. On success
 * stores the days since 1970-01-01 (negative before it) and returns 0;
 * returns -1 otherwise, leaving *days_since_epoch unchanged. */
int codes_parse_date(const char *s, int32_t *days_since_epoch)
    __attribute__((warn_unused_result));

/* Parse a strict ISO 8601 / RFC 3339 date-time:
 *   YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
 * 'T' and 'Z' upper case; fraction 1 to 9 digits, dropped (the result is
 * truncated to the second, towards the past); hour 00..23, minutes and
 * seconds 00..59 (no leap second 60); the offset at most 23:59. The date
 * follows codes_parse_date(). Stores the Unix time (UTC seconds) and
 * returns 0; -1 otherwise, leaving *unix_seconds unchanged. */
int codes_parse_datetime(const char *s, int64_t *unix_seconds)
    __attribute__((warn_unused_result));

/* Write the date days after 1970-01-01 as "YYYY-MM-DD" and a NUL into
 * out. Returns 0, or -1 with out set to "" if the day falls outside
 * CODES_MIN_YEAR..CODES_MAX_YEAR (so whatever is written parses back). */
int codes_format_date(int32_t days, char out[CODES_DATE_LEN + 1]);

/* 1 if tag has the shape of a BCP 47 (RFC 5646) language tag, else 0:
 *   language  2-3 letters, then up to three 3-letter extlang subtags
 *   script    4 letters                        ("Latn")
 *   region    2 letters or 3 digits            ("BR", "419")
 *   variant   5-8 alphanumerics, or a digit and 3 alphanumerics
 *   extension a singleton other than x, then subtags of 2-8 alphanumerics
 *   private   "x" then subtags of 1-8 alphanumerics
 * in that order, separated by '-', any letter case, at most
 * CODES_LANGUAGE_MAX bytes. Only the shape is checked, not the IANA
 * registry: "es", "pt-BR", "es-419", "en-Latn-US" pass; "", "e", "es_AR",
 * "es-", "1es" do not. Primary subtags of 4-8 letters and the grandfathered
 * irregular tags ("i-klingon") are refused. */
int codes_language_valid(const char *tag);

/* 1 if s is a package id: exactly CODES_PACKAGE_ID_LEN hexadecimal digits
 * (either case), else 0. */
int codes_package_id_valid(const char *s);

#endif
