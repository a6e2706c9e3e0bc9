/*
 * compliance: the operator's matrix of who reported what, and when.
 *
 * Input is envelope metadata only, as the hub's archive records it: no
 * decryption is needed, so the hub, an auditor or any member can build the
 * matrix. Records stream in one at a time (compliance_add); memory is
 * bounded by member states x report kinds, whatever the number of records.
 *
 * Rules:
 *   - the submission time is accepted_at, the hub's clock, never
 *     created_at, which is the sender's;
 *   - refused packages do not count;
 *   - when a state sent several packages of the same kind for the year
 *     (amendments, resubmissions), the earliest accepted one decides
 *     timeliness and whether it was a nil report; the others are counted
 *     in `submissions`;
 *   - records accepted after the evaluation time `now` are ignored, so a
 *     matrix "as of" a past date can be rebuilt from today's archive;
 *   - records from a sender that is not in the member list are ignored
 *     and reported (compliance_stats, compliance_non_member_at);
 *   - acquisition notices and the counted kinds belong to a year by the
 *     header's reporting year, like every other package.
 *
 * The header carries no document kind: the caller passes it in
 * compliance_record_t.document_kind when it knows it (0 otherwise), and
 * only DOCUMENT packages of kind CSBM_INVENTORY fill the CSBM inventory
 * column; every other DOCUMENT is counted under "documents".
 */
#ifndef CSBM_COMPLIANCE_H
#define CSBM_COMPLIANCE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/deadlines.h"
#include "proto/errbuf.h"
#include "proto/package.pb-c.h"

#define COMPLIANCE_MAX_STATES      4096
#define COMPLIANCE_STATE_MAX       15 /* as KEYS_OWNER_MAX: [A-Za-z0-9_-] */
#define COMPLIANCE_MAX_NON_MEMBERS 64 /* distinct non-member senders listed */

typedef struct compliance compliance_t;

/* The matrix columns, in rendering order. */
typedef enum {
    COMPLIANCE_MILEX = 0,           /* UN military expenditure report */
    COMPLIANCE_ARMS_REGISTER,       /* UN Register of Conventional Arms */
    COMPLIANCE_ACQUISITION_REPORT,  /* Convention annual report */
    COMPLIANCE_CSBM_INVENTORY,      /* annual inventory of CSBMs applied */
    COMPLIANCE_ACQUISITION_NOTICES, /* Convention 90-day notices: counted */
    COMPLIANCE_EXERCISES,           /* exercise notifications: counted */
    COMPLIANCE_DOCUMENTS,           /* other documents: counted */
    COMPLIANCE_KIND_COUNT
} compliance_kind_t;

typedef enum {
    COMPLIANCE_PENDING = 0, /* nothing yet, and not due at `now` */
    COMPLIANCE_ON_TIME,
    COMPLIANCE_LATE,        /* days_late says by how much */
    COMPLIANCE_NIL,         /* nil report, on time */
    COMPLIANCE_NIL_LATE,    /* nil report, late by days_late */
    COMPLIANCE_MISSING,     /* nothing, and due; days_late = days overdue */
    COMPLIANCE_COUNTED,     /* a kind with no annual deadline: see count */
} compliance_status_t;

typedef enum {
    COMPLIANCE_ACCEPTED = 1,
    COMPLIANCE_REFUSED = 2,
} compliance_outcome_t;

/* One archived package, as its signed header and the hub's log tell it.
 * The strings are only read during compliance_add. */
typedef struct {
    const char          *state;         /* sender state code */
    Csbm__PackageType    package_type;
    int                  document_kind; /* Csbm__DocumentKind, 0 if unknown */
    uint32_t             year;          /* reporting period */
    int                  nil_report;
    int64_t              created_at;    /* sender's clock, Unix seconds */
    int64_t              accepted_at;   /* hub's clock, Unix seconds */
    const char          *subject_date;  /* YYYY-MM-DD or NULL */
    compliance_outcome_t status;
} compliance_record_t;

typedef struct {
    compliance_status_t status;
    int64_t  days_late;   /* LATE, NIL_LATE: after the deadline; MISSING:
                           * overdue at `now`; 0 otherwise */
    int64_t  due;         /* last on-time second; 0 for counted kinds */
    int64_t  accepted_at; /* the deciding submission; 0 if none */
    int64_t  created_at;  /* its sender-side creation time */
    uint32_t submissions; /* accepted packages (amendments included) */
    uint32_t count;       /* counted kinds: packages, nil reports excluded */
    uint32_t late;        /* acquisition notices accepted after their due */
    uint32_t nil_reports; /* accepted nil reports of this kind */
} compliance_cell_t;

typedef struct {
    uint64_t records;       /* every call to compliance_add */
    uint64_t counted;       /* took part in the matrix */
    uint64_t refused;
    uint64_t other_year;
    uint64_t after_now;     /* accepted after the evaluation time */
    uint64_t non_member;    /* sender not in the member list */
    uint64_t invalid;       /* compliance_add returned -1 */
} compliance_stats_t;

/* A matrix for reporting year `year` evaluated at `now` (Unix seconds),
 * over the member states given (copied; any number from 1 to
 * COMPLIANCE_MAX_STATES, each a code of 1..COMPLIANCE_STATE_MAX characters
 * [A-Za-z0-9_-], no duplicates; rows keep this order). deadlines is
 * copied. Caller owns the result (compliance_destroy). NULL with err on a
 * bad argument or out of memory. */
compliance_t *compliance_new(uint32_t year, int64_t now,
    const deadlines_t *deadlines, const char *const *states, size_t n_states,
    errbuf_t *err) __attribute__((warn_unused_result));

void compliance_destroy(compliance_t **self_p);

/* Take one record into account. Refused, other-year, after-`now` and
 * non-member records are skipped and counted in the stats (0). Returns -1
 * with err naming the record (state, type, year) and the field for a
 * malformed record: a sender code that is not a state code, an unknown
 * status or package type, a negative accepted_at, an acquisition notice
 * without a valid subject date. A -1 leaves the matrix consistent (the
 * record is counted as invalid); the caller may log it and go on. */
int compliance_add(compliance_t *self, const compliance_record_t *rec,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The cell of a member state and a kind, as of `now`. -1 with err if the
 * state is not a member or the kind is out of range. */
int compliance_cell(const compliance_t *self, const char *state,
    compliance_kind_t kind, compliance_cell_t *out, errbuf_t *err)
    __attribute__((warn_unused_result));

void compliance_stats(const compliance_t *self, compliance_stats_t *out);

/* Non-member senders seen for the year, sorted, at most
 * COMPLIANCE_MAX_NON_MEMBERS of them (stats.non_member counts all their
 * records). Returns the code and sets *records, or NULL past the end. */
size_t      compliance_non_member_count(const compliance_t *self);
const char *compliance_non_member_at(const compliance_t *self, size_t i,
    uint64_t *records);

/* Stable names: "milex", ...; "ON_TIME", ... */
const char *compliance_kind_name(compliance_kind_t kind);
const char *compliance_status_name(compliance_status_t status);

/* A table for people: one line per member state, a legend and the record
 * counts. -1 with err on a write error. */
int compliance_render_table(const compliance_t *self, FILE *out,
    errbuf_t *err) __attribute__((warn_unused_result));

/* CSV (RFC 4180, LF line ends), one row per member state in member-list
 * order:
 *   state,milex,milex_days_late,arms_register,arms_register_days_late,
 *   acquisition_report,acquisition_report_days_late,csbm_inventory,
 *   csbm_inventory_days_late,acquisition_notices,acquisition_notices_late,
 *   exercises,documents
 * Status columns hold compliance_status_name(); a days column is empty
 * unless the status is LATE, NIL_LATE or MISSING. -1 with err on a write
 * error. */
int compliance_render_csv(const compliance_t *self, FILE *out, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The matrix as a JSON document (year, as_of, deadlines, one object per
 * state, record counts, non-members). Caller owns the string (free()).
 * NULL if out of memory. */
char *compliance_render_json(const compliance_t *self)
    __attribute__((warn_unused_result));

#endif
