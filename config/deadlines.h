/*
 * deadlines: when each kind of report is due, as configuration.
 *
 * Two shapes of rule cover the exchanges we know of:
 *   - an annual report is due on a month-day of the year AFTER the
 *     reporting year ("04-30": the MILEX report for 2025 is due by
 *     30 April 2026);
 *   - an acquisition notice is due a number of days after its subject date
 *     (the incorporation date): "90" means by the 90th day after it.
 * Another federation changes the values, not the code: the operator's
 * configuration feeds deadlines_set() one key at a time.
 *
 * "By 30 April" includes 30 April: a deadline is the last second of its day,
 * UTC (hub time), and a submission is on time when accepted at or before it.
 *
 * The value type deadlines_t is public so it can live on the stack or be
 * copied; change it only through deadlines_default() and deadlines_set().
 */
#ifndef CSBM_DEADLINES_H
#define CSBM_DEADLINES_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errbuf.h"
#include "proto/package.pb-c.h"

/* Notice periods beyond ten years are a configuration mistake. */
#define DEADLINES_MAX_DAYS 3660
/* Reporting years we compute deadlines for (the deadline year is one
 * more, and must still print as four digits). */
#define DEADLINES_MIN_YEAR 1
#define DEADLINES_MAX_YEAR 9998

/* A month-day of the year after the reporting year. */
typedef struct {
    int month; /* 1..12 */
    int day;   /* 1..28/30/31; never 29 February, which most years lack */
} deadlines_annual_t;

typedef struct {
    deadlines_annual_t milex;              /* UN MILEX: 04-30 */
    deadlines_annual_t arms_register;      /* UN Register: 05-31 (verify) */
    deadlines_annual_t acquisition_report; /* Convention annual: 06-15 */
    deadlines_annual_t csbm_inventory;     /* CSBM inventory: 04-15 */
    uint32_t acquisition_notice_days;      /* after incorporation: 90 */
} deadlines_t;

/* The rules of DOMAIN.md. */
void deadlines_default(deadlines_t *self);

/* Set one rule from its configuration text. Keys: milex, arms_register,
 * acquisition_report, csbm_inventory ("MM-DD", a real day of every year)
 * and acquisition_notice_days (decimal 1..DEADLINES_MAX_DAYS). On error
 * self is unchanged and err names the key, the value and what is wrong. */
int deadlines_set(deadlines_t *self, const char *key, const char *value,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The configuration text of one key ("04-30", "90"), the inverse of
 * deadlines_set(). -1 with err for an unknown key or a buffer too small. */
int deadlines_get(const deadlines_t *self, const char *key, char *out,
    size_t cap, errbuf_t *err) __attribute__((warn_unused_result));

/* The enum name of a package type ("MILEX_REPORT"), or "UNKNOWN". The
 * same as package_type_name() of crypto/package, without pulling the
 * envelope code into a module of pure functions. */
const char *deadlines_type_name(Csbm__PackageType type);

/* Whether a package of this type (and, for DOCUMENT, this
 * Csbm__DocumentKind; 0 if unknown) is due by a deadline at all.
 * Exercise notifications and documents other than the CSBM inventory are
 * not. 1 or 0. */
int deadlines_applies(Csbm__PackageType type, int document_kind);

/* The deadline of a package: the last second (Unix time, UTC) at which it
 * is on time. Annual reports use year; acquisition notices use
 * subject_date ("YYYY-MM-DD", the incorporation date) and ignore year.
 * -1 with err when no deadline applies (see deadlines_applies), when year
 * is outside DEADLINES_MIN_YEAR..DEADLINES_MAX_YEAR, or when subject_date
 * is missing or not a real calendar date. */
int deadlines_due(const deadlines_t *self, Csbm__PackageType type,
    int document_kind, uint32_t year, const char *subject_date,
    int64_t *due_unix, errbuf_t *err) __attribute__((warn_unused_result));

/* Whole days after a deadline: 0 when t <= due, 1 for any time on the day
 * after the deadline day, and so on. */
int64_t deadlines_days_late(int64_t due_unix, int64_t t);

#endif
