/*
 * deadlines: the due date of each kind of report, from configuration (see
 * deadlines.h).
 *
 * Calendar arithmetic is done on day numbers (days since 1970-01-01, the
 * proleptic Gregorian calendar) rather than with timegm(), which is not in
 * C11 or POSIX and depends on the time zone database.
 */
#include "config/deadlines.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_DAY 86400

static const char *const s_known_keys =
    "milex, arms_register, acquisition_report, csbm_inventory, "
    "acquisition_notice_days";

static int
s_is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
s_month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
        31};

    if (m == 2 && s_is_leap(y))
        return 29;
    return days[m - 1];
}

/* Days since 1970-01-01 of a valid date (H. Hinnant's days_from_civil). */
static int64_t
s_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int
s_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int
s_num(const char *s, size_t n)
{
    int    v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* A value quoted for an error message: at most 40 characters, anything
 * unprintable shown as '?', so hostile configuration cannot garble a
 * terminal or a log line. */
static void
s_quote(const char *in, char out[48])
{
    size_t i, o = 0;

    for (i = 0; in[i] != '\0' && o < 40; i++)
        out[o++] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
    if (in[i] != '\0') {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

/* The annual rules by key; offsets so one table serves const and mutable
 * access. */
static const struct {
    const char *key;
    size_t      offset;
} s_annual_keys[] = {
    {"milex", offsetof(deadlines_t, milex)},
    {"arms_register", offsetof(deadlines_t, arms_register)},
    {"acquisition_report", offsetof(deadlines_t, acquisition_report)},
    {"csbm_inventory", offsetof(deadlines_t, csbm_inventory)},
};

/* Offset of key's annual rule in deadlines_t, or -1. */
static long
s_annual_offset(const char *key)
{
    size_t i;

    for (i = 0; i < sizeof s_annual_keys / sizeof s_annual_keys[0]; i++)
        if (strcmp(key, s_annual_keys[i].key) == 0)
            return (long)s_annual_keys[i].offset;
    return -1;
}

void
deadlines_default(deadlines_t *self)
{
    memset(self, 0, sizeof *self);
    self->milex = (deadlines_annual_t){4, 30};
    /* UN Register of Conventional Arms: 31 May (verify). */
    self->arms_register = (deadlines_annual_t){5, 31};
    self->acquisition_report = (deadlines_annual_t){6, 15};
    self->csbm_inventory = (deadlines_annual_t){4, 15};
    self->acquisition_notice_days = 90;
}

static int
s_parse_annual(const char *key, const char *value, deadlines_annual_t *out,
    errbuf_t *err)
{
    char q[48];
    int  m, d;

    s_quote(value, q);
    if (strlen(value) != 5 || value[2] != '-' || !s_digits(value, 2)
        || !s_digits(value + 3, 2)) {
        errbuf_set(err, "deadline %s = '%s': expected MM-DD, the month and "
            "day of the year after the reporting year (e.g. 04-30)", key, q);
        return -1;
    }
    m = s_num(value, 2);
    d = s_num(value + 3, 2);
    if (m < 1 || m > 12) {
        errbuf_set(err, "deadline %s = '%s': month %02d is not 01..12", key,
            q, m);
        return -1;
    }
    if (m == 2 && d == 29) {
        errbuf_set(err, "deadline %s = '%s': 29 February exists only in "
            "leap years; use 02-28 or 03-01", key, q);
        return -1;
    }
    if (d < 1 || d > s_month_days(2001, m)) { /* any common year */
        errbuf_set(err, "deadline %s = '%s': day %02d does not exist in "
            "month %02d", key, q, d, m);
        return -1;
    }
    out->month = m;
    out->day = d;
    return 0;
}

static int
s_parse_days(const char *key, const char *value, uint32_t *out, errbuf_t *err)
{
    char  q[48];
    char *end;
    long  v;
    size_t n = strlen(value);

    s_quote(value, q);
    /* Digits only: strtol alone would take " 9", "+9" and "-5". */
    if (n == 0 || n > 9 || !s_digits(value, n)) {
        errbuf_set(err, "deadline %s = '%s': expected a whole number of "
            "days from 1 to %d", key, q, DEADLINES_MAX_DAYS);
        return -1;
    }
    errno = 0;
    v = strtol(value, &end, 10);
    if (errno != 0 || *end != '\0' || v < 1 || v > DEADLINES_MAX_DAYS) {
        errbuf_set(err, "deadline %s = '%s': %s; expected 1 to %d days", key,
            q, v < 1 ? "must be at least 1" : "too long", DEADLINES_MAX_DAYS);
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int
deadlines_set(deadlines_t *self, const char *key, const char *value,
    errbuf_t *err)
{
    long off;
    char qk[48];

    if (self == NULL || key == NULL || value == NULL) {
        errbuf_set(err, "deadline: a key and a value are required");
        return -1;
    }
    if ((off = s_annual_offset(key)) >= 0)
        return s_parse_annual(key, value,
            (deadlines_annual_t *)((char *)self + off), err);
    if (strcmp(key, "acquisition_notice_days") == 0)
        return s_parse_days(key, value, &self->acquisition_notice_days, err);
    s_quote(key, qk);
    errbuf_set(err, "unknown deadline '%s'; known: %s", qk, s_known_keys);
    return -1;
}

int
deadlines_get(const deadlines_t *self, const char *key, char *out, size_t cap,
    errbuf_t *err)
{
    const deadlines_annual_t *slot;
    long                      off;
    char                      qk[48];
    int                       n;

    if (self == NULL || key == NULL || out == NULL || cap == 0) {
        errbuf_set(err, "deadline: a key and an output buffer are required");
        return -1;
    }
    if ((off = s_annual_offset(key)) >= 0) {
        slot = (const deadlines_annual_t *)((const char *)self + off);
        n = snprintf(out, cap, "%02d-%02d", slot->month, slot->day);
    } else if (strcmp(key, "acquisition_notice_days") == 0)
        n = snprintf(out, cap, "%u", (unsigned)self->acquisition_notice_days);
    else {
        s_quote(key, qk);
        errbuf_set(err, "unknown deadline '%s'; known: %s", qk, s_known_keys);
        return -1;
    }
    if (n < 0 || (size_t)n >= cap) {
        errbuf_set(err, "deadline %s: output buffer of %zu bytes too small",
            key, cap);
        return -1;
    }
    return 0;
}

const char *
deadlines_type_name(Csbm__PackageType type)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &csbm__package_type__descriptor, (int)type);

    return v != NULL ? v->name : "UNKNOWN";
}

int
deadlines_applies(Csbm__PackageType type, int document_kind)
{
    switch (type) {
    case CSBM__PACKAGE_TYPE__MILEX_REPORT:
    case CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN:
    case CSBM__PACKAGE_TYPE__ACQUISITION_REPORT:
    case CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION:
        return 1;
    case CSBM__PACKAGE_TYPE__DOCUMENT:
        return document_kind == CSBM__DOCUMENT_KIND__CSBM_INVENTORY;
    default:
        return 0;
    }
}

/* Strict ISO 8601 calendar date "YYYY-MM-DD" to a day number. */
static int
s_parse_date(const char *s, int64_t *days)
{
    int y, m, d;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' || !s_digits(s, 4)
        || !s_digits(s + 5, 2) || !s_digits(s + 8, 2))
        return -1;
    y = s_num(s, 4);
    m = s_num(s + 5, 2);
    d = s_num(s + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > s_month_days(y, m))
        return -1;
    *days = s_days_from_civil(y, m, d);
    return 0;
}

int
deadlines_due(const deadlines_t *self, Csbm__PackageType type,
    int document_kind, uint32_t year, const char *subject_date,
    int64_t *due_unix, errbuf_t *err)
{
    const deadlines_annual_t *rule = NULL;
    int64_t                   day;
    char                      q[48];

    if (self == NULL || due_unix == NULL) {
        errbuf_set(err, "deadline: rules and an output are required");
        return -1;
    }
    switch (type) {
    case CSBM__PACKAGE_TYPE__MILEX_REPORT: rule = &self->milex; break;
    case CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN:
        rule = &self->arms_register;
        break;
    case CSBM__PACKAGE_TYPE__ACQUISITION_REPORT:
        rule = &self->acquisition_report;
        break;
    case CSBM__PACKAGE_TYPE__DOCUMENT:
        if (document_kind == CSBM__DOCUMENT_KIND__CSBM_INVENTORY)
            rule = &self->csbm_inventory;
        break;
    case CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION:
        if (subject_date == NULL || subject_date[0] == '\0') {
            errbuf_set(err, "acquisition notice without a subject date: the "
                "incorporation date (YYYY-MM-DD) starts its %u-day deadline",
                (unsigned)self->acquisition_notice_days);
            return -1;
        }
        if (s_parse_date(subject_date, &day) != 0) {
            s_quote(subject_date, q);
            errbuf_set(err, "acquisition notice: subject date '%s' is not a "
                "calendar date YYYY-MM-DD", q);
            return -1;
        }
        *due_unix = (day + (int64_t)self->acquisition_notice_days) * S_DAY
            + (S_DAY - 1);
        return 0;
    default: break;
    }
    if (rule == NULL) {
        errbuf_set(err, "no deadline applies to a package of type %s%s",
            deadlines_type_name(type), type == CSBM__PACKAGE_TYPE__DOCUMENT
                ? " (only the CSBM inventory among documents has one)"
                : "");
        return -1;
    }
    if (year < DEADLINES_MIN_YEAR || year > DEADLINES_MAX_YEAR) {
        errbuf_set(err, "reporting year %u is outside %d..%d", (unsigned)year,
            DEADLINES_MIN_YEAR, DEADLINES_MAX_YEAR);
        return -1;
    }
    day = s_days_from_civil((int64_t)year + 1, rule->month, rule->day);
    *due_unix = day * S_DAY + (S_DAY - 1);
    return 0;
}

int64_t
deadlines_days_late(int64_t due_unix, int64_t t)
{
    if (t <= due_unix)
        return 0;
    /* t - due_unix >= 1 cannot overflow for the times we produce, but a
     * hostile t near INT64_MIN/MAX could; saturate instead. */
    if (due_unix < 0 && t > INT64_MAX + due_unix)
        return INT64_MAX / S_DAY;
    return (t - due_unix - 1) / S_DAY + 1;
}
