/*
 * compliance: the state x report-kind matrix of a reporting year (see
 * compliance.h).
 *
 * Each cell keeps only what the verdict needs (the earliest accepted
 * submission and a few counters), so any number of records fits in
 * states x kinds cells. Verdicts that depend on `now` (PENDING, MISSING)
 * are worked out when a cell is read, not when records arrive.
 */
#include "config/compliance.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_N_DUE 4 /* the kinds before COMPLIANCE_ACQUISITION_NOTICES */

typedef struct {
    char     code[COMPLIANCE_STATE_MAX + 1];
    size_t   row; /* index into the cells, in member-list order */
} s_member_t;

typedef struct {
    int64_t  first_accepted; /* valid when submissions > 0 */
    int64_t  first_created;
    int      first_nil;
    uint32_t submissions, count, late, nil_reports;
} s_cell_t;

typedef struct {
    char     code[COMPLIANCE_STATE_MAX + 1];
    uint64_t records;
} s_non_member_t;

struct compliance {
    uint32_t           year;
    int64_t            now;
    deadlines_t        deadlines;
    int64_t            due[S_N_DUE];
    size_t             n_states;
    s_member_t        *members; /* sorted by code, for lookups */
    s_member_t        *rows;    /* member-list order, for rendering */
    s_cell_t          *cells;   /* n_states x COMPLIANCE_KIND_COUNT */
    s_non_member_t     non_members[COMPLIANCE_MAX_NON_MEMBERS];
    size_t             n_non_members;
    int                non_members_truncated;
    compliance_stats_t stats;
};

static const char *const s_kind_names[COMPLIANCE_KIND_COUNT] = {
    "milex", "arms_register", "acquisition_report", "csbm_inventory",
    "acquisition_notices", "exercises", "documents",
};

/* Column headings of the table, as wide as the column. */
static const char *const s_kind_titles[COMPLIANCE_KIND_COUNT] = {
    "MILEX", "UN_REGISTER", "CONV_REPORT", "CSBM_INVENTORY",
    "ACQ_NOTICES", "EXERCISES", "DOCUMENTS",
};

/* The package type and document kind behind each deadline column. */
static const struct {
    Csbm__PackageType type;
    int               document_kind;
} s_due_kinds[S_N_DUE] = {
    {CSBM__PACKAGE_TYPE__MILEX_REPORT, 0},
    {CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN, 0},
    {CSBM__PACKAGE_TYPE__ACQUISITION_REPORT, 0},
    {CSBM__PACKAGE_TYPE__DOCUMENT, CSBM__DOCUMENT_KIND__CSBM_INVENTORY},
};

const char *
compliance_kind_name(compliance_kind_t kind)
{
    if ((int)kind < 0 || kind >= COMPLIANCE_KIND_COUNT)
        return "unknown";
    return s_kind_names[kind];
}

const char *
compliance_status_name(compliance_status_t status)
{
    switch (status) {
    case COMPLIANCE_PENDING: return "PENDING";
    case COMPLIANCE_ON_TIME: return "ON_TIME";
    case COMPLIANCE_LATE: return "LATE";
    case COMPLIANCE_NIL: return "NIL";
    case COMPLIANCE_NIL_LATE: return "NIL_LATE";
    case COMPLIANCE_MISSING: return "MISSING";
    case COMPLIANCE_COUNTED: return "COUNTED";
    default: return "UNKNOWN";
    }
}

/* A state code as the keyring knows owners: 1..15 of [A-Za-z0-9_-]. */
static int
s_code_ok(const char *s)
{
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 0; s[i] != '\0'; i++) {
        if (i >= COMPLIANCE_STATE_MAX)
            return 0;
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')
                || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'
                || s[i] == '-'))
            return 0;
    }
    return i > 0;
}

static int
s_member_cmp(const void *a, const void *b)
{
    return strcmp(((const s_member_t *)a)->code,
        ((const s_member_t *)b)->code);
}

static const s_member_t *
s_find(const compliance_t *self, const char *code)
{
    s_member_t key;

    memset(&key, 0, sizeof key);
    memcpy(key.code, code, strlen(code) + 1); /* code checked by s_code_ok */
    return bsearch(&key, self->members, self->n_states, sizeof key,
        s_member_cmp);
}

static s_cell_t *
s_cell(const compliance_t *self, size_t row, compliance_kind_t kind)
{
    return &self->cells[row * COMPLIANCE_KIND_COUNT + (size_t)kind];
}

compliance_t *
compliance_new(uint32_t year, int64_t now, const deadlines_t *deadlines,
    const char *const *states, size_t n_states, errbuf_t *err)
{
    compliance_t *self;
    size_t        i;

    if (deadlines == NULL || (states == NULL && n_states > 0)) {
        errbuf_set(err, "compliance: deadlines and a member list are "
            "required");
        return NULL;
    }
    if (n_states == 0 || n_states > COMPLIANCE_MAX_STATES) {
        errbuf_set(err, "compliance: %zu member states; the registry must "
            "list 1 to %d", n_states, COMPLIANCE_MAX_STATES);
        return NULL;
    }
    for (i = 0; i < n_states; i++) {
        if (!s_code_ok(states[i])) {
            errbuf_set(err, "compliance: member %zu is not a state code "
                "(1 to %d of A-Z a-z 0-9 _ -)", i + 1, COMPLIANCE_STATE_MAX);
            return NULL;
        }
    }
    if ((self = calloc(1, sizeof *self)) == NULL
        || (self->members = calloc(n_states, sizeof *self->members)) == NULL
        || (self->rows = calloc(n_states, sizeof *self->rows)) == NULL
        || (self->cells = calloc(n_states * COMPLIANCE_KIND_COUNT,
                sizeof *self->cells)) == NULL) {
        compliance_destroy(&self);
        errbuf_set(err, "compliance: out of memory");
        return NULL;
    }
    self->year = year;
    self->now = now;
    self->deadlines = *deadlines;
    self->n_states = n_states;
    for (i = 0; i < S_N_DUE; i++) {
        if (deadlines_due(deadlines, s_due_kinds[i].type,
                s_due_kinds[i].document_kind, year, NULL, &self->due[i], err)
            != 0) {
            errbuf_prefix(err, "compliance for %s", s_kind_names[i]);
            compliance_destroy(&self);
            return NULL;
        }
    }
    for (i = 0; i < n_states; i++) {
        memcpy(self->rows[i].code, states[i], strlen(states[i]) + 1);
        self->rows[i].row = i;
    }
    memcpy(self->members, self->rows, n_states * sizeof *self->members);
    qsort(self->members, n_states, sizeof *self->members, s_member_cmp);
    for (i = 1; i < n_states; i++) {
        if (strcmp(self->members[i - 1].code, self->members[i].code) == 0) {
            errbuf_set(err, "compliance: state %s is listed twice in the "
                "member list", self->members[i].code);
            compliance_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void
compliance_destroy(compliance_t **self_p)
{
    compliance_t *self;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    free(self->members);
    free(self->rows);
    free(self->cells);
    free(self);
    *self_p = NULL;
}

static void
s_inc(uint32_t *v)
{
    if (*v < UINT32_MAX)
        (*v)++;
}

/* Remember a non-member sender; the list stays sorted and bounded. */
static void
s_note_non_member(compliance_t *self, const char *code)
{
    size_t i, lo = 0, hi = self->n_non_members;
    int    c;

    while (lo < hi) {
        i = lo + (hi - lo) / 2;
        c = strcmp(code, self->non_members[i].code);
        if (c == 0) {
            self->non_members[i].records++;
            return;
        }
        if (c < 0)
            hi = i;
        else
            lo = i + 1;
    }
    if (self->n_non_members == COMPLIANCE_MAX_NON_MEMBERS) {
        self->non_members_truncated = 1;
        return;
    }
    memmove(&self->non_members[lo + 1], &self->non_members[lo],
        (self->n_non_members - lo) * sizeof self->non_members[0]);
    memset(&self->non_members[lo], 0, sizeof self->non_members[0]);
    memcpy(self->non_members[lo].code, code, strlen(code) + 1);
    self->non_members[lo].records = 1;
    self->n_non_members++;
}

/* The matrix column of an accepted package, or -1 for an unknown type. */
static int
s_kind_of(Csbm__PackageType type, int document_kind)
{
    switch (type) {
    case CSBM__PACKAGE_TYPE__MILEX_REPORT: return COMPLIANCE_MILEX;
    case CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN:
        return COMPLIANCE_ARMS_REGISTER;
    case CSBM__PACKAGE_TYPE__ACQUISITION_REPORT:
        return COMPLIANCE_ACQUISITION_REPORT;
    case CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION:
        return COMPLIANCE_ACQUISITION_NOTICES;
    case CSBM__PACKAGE_TYPE__EXERCISE_NOTIFICATION:
        return COMPLIANCE_EXERCISES;
    case CSBM__PACKAGE_TYPE__DOCUMENT:
        return document_kind == CSBM__DOCUMENT_KIND__CSBM_INVENTORY
            ? COMPLIANCE_CSBM_INVENTORY
            : COMPLIANCE_DOCUMENTS;
    default: return -1;
    }
}

/* A malformed record: counted, and -1 for the caller (err already set). */
static int
s_invalid(compliance_t *self)
{
    self->stats.invalid++;
    return -1;
}

int
compliance_add(compliance_t *self, const compliance_record_t *rec,
    errbuf_t *err)
{
    const s_member_t *m;
    s_cell_t         *cell;
    int               kind, nil;
    int64_t           due;

    if (self == NULL) {
        errbuf_set(err, "compliance: no matrix");
        return -1;
    }
    self->stats.records++;
    if (rec == NULL) {
        errbuf_set(err, "compliance: no record");
        return s_invalid(self);
    }
    if (rec->status != COMPLIANCE_ACCEPTED
        && rec->status != COMPLIANCE_REFUSED) {
        errbuf_set(err, "record %llu: status %d is neither accepted nor "
            "refused", (unsigned long long)self->stats.records,
            (int)rec->status);
        return s_invalid(self);
    }
    if (rec->status == COMPLIANCE_REFUSED) {
        self->stats.refused++;
        return 0;
    }
    if (!s_code_ok(rec->state)) {
        errbuf_set(err, "record %llu: the sender is not a state code (1 to "
            "%d of A-Z a-z 0-9 _ -)", (unsigned long long)self->stats.records,
            COMPLIANCE_STATE_MAX);
        return s_invalid(self);
    }
    if (rec->year != self->year) {
        self->stats.other_year++;
        return 0;
    }
    if ((m = s_find(self, rec->state)) == NULL) {
        self->stats.non_member++;
        s_note_non_member(self, rec->state);
        return 0;
    }
    if (rec->accepted_at < 0) {
        errbuf_set(err, "record from %s, %s %u: accepted_at %lld is before "
            "1970", rec->state, deadlines_type_name(rec->package_type),
            (unsigned)rec->year, (long long)rec->accepted_at);
        return s_invalid(self);
    }
    if (rec->accepted_at > self->now) {
        self->stats.after_now++;
        return 0;
    }
    if ((kind = s_kind_of(rec->package_type, rec->document_kind)) < 0) {
        errbuf_set(err, "record from %s, year %u: unknown package type %d",
            rec->state, (unsigned)rec->year, (int)rec->package_type);
        return s_invalid(self);
    }
    nil = rec->nil_report != 0;
    cell = s_cell(self, m->row, (compliance_kind_t)kind);
    if (kind == COMPLIANCE_ACQUISITION_NOTICES && !nil) {
        /* Each notice runs from its own incorporation date. */
        if (deadlines_due(&self->deadlines, rec->package_type, 0, rec->year,
                rec->subject_date, &due, err) != 0) {
            errbuf_prefix(err, "record from %s, %s %u", rec->state,
                deadlines_type_name(rec->package_type), (unsigned)rec->year);
            return s_invalid(self);
        }
        if (rec->accepted_at > due)
            s_inc(&cell->late);
    }
    /* The earliest accepted package decides; on a tie a full report wins
     * over a nil report, so the verdict does not depend on record order. */
    if (cell->submissions == 0 || rec->accepted_at < cell->first_accepted
        || (rec->accepted_at == cell->first_accepted && cell->first_nil
            && !nil)) {
        cell->first_accepted = rec->accepted_at;
        cell->first_created = rec->created_at;
        cell->first_nil = nil;
    }
    s_inc(&cell->submissions);
    s_inc(nil ? &cell->nil_reports : &cell->count);
    self->stats.counted++;
    return 0;
}

static void
s_verdict(const compliance_t *self, size_t row, compliance_kind_t kind,
    compliance_cell_t *out)
{
    const s_cell_t *c = s_cell(self, row, kind);

    memset(out, 0, sizeof *out);
    out->submissions = c->submissions;
    out->count = c->count;
    out->late = c->late;
    out->nil_reports = c->nil_reports;
    if (c->submissions > 0) {
        out->accepted_at = c->first_accepted;
        out->created_at = c->first_created;
    }
    if ((int)kind >= S_N_DUE) {
        out->status = COMPLIANCE_COUNTED;
        return;
    }
    out->due = self->due[kind];
    if (c->submissions > 0) {
        out->days_late = deadlines_days_late(out->due, c->first_accepted);
        if (c->first_nil)
            out->status = out->days_late > 0 ? COMPLIANCE_NIL_LATE
                                             : COMPLIANCE_NIL;
        else
            out->status = out->days_late > 0 ? COMPLIANCE_LATE
                                             : COMPLIANCE_ON_TIME;
    } else if (self->now > out->due) {
        out->status = COMPLIANCE_MISSING;
        out->days_late = deadlines_days_late(out->due, self->now);
    } else
        out->status = COMPLIANCE_PENDING;
}

int
compliance_cell(const compliance_t *self, const char *state,
    compliance_kind_t kind, compliance_cell_t *out, errbuf_t *err)
{
    const s_member_t *m;

    if (self == NULL || out == NULL) {
        errbuf_set(err, "compliance: no matrix or no output");
        return -1;
    }
    if ((int)kind < 0 || kind >= COMPLIANCE_KIND_COUNT) {
        errbuf_set(err, "compliance: report kind %d is not 0..%d", (int)kind,
            COMPLIANCE_KIND_COUNT - 1);
        return -1;
    }
    if (!s_code_ok(state) || (m = s_find(self, state)) == NULL) {
        errbuf_set(err, "compliance: %s is not in the member list",
            s_code_ok(state) ? state : "that sender");
        return -1;
    }
    s_verdict(self, m->row, kind, out);
    return 0;
}

void
compliance_stats(const compliance_t *self, compliance_stats_t *out)
{
    if (out == NULL)
        return;
    if (self == NULL)
        memset(out, 0, sizeof *out);
    else
        *out = self->stats;
}

size_t
compliance_non_member_count(const compliance_t *self)
{
    return self == NULL ? 0 : self->n_non_members;
}

const char *
compliance_non_member_at(const compliance_t *self, size_t i,
    uint64_t *records)
{
    if (self == NULL || i >= self->n_non_members)
        return NULL;
    if (records != NULL)
        *records = self->non_members[i].records;
    return self->non_members[i].code;
}

/* ------------------------------------------------------------ rendering */

/* RFC 3339 UTC, or "@<seconds>" for a time gmtime cannot show. */
static void
s_time(int64_t t, char out[32])
{
    time_t    tt = (time_t)t;
    struct tm tm;

    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL
        || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "@%lld", (long long)t);
}

/* The calendar day (UTC) of t: for a deadline, the last day on time. */
static void
s_date(int64_t t, char out[32])
{
    s_time(t, out);
    if (out[0] != '@')
        out[10] = '\0';
}

static int
s_has_days(compliance_status_t s)
{
    return s == COMPLIANCE_LATE || s == COMPLIANCE_NIL_LATE
        || s == COMPLIANCE_MISSING;
}

static int
s_write_failed(FILE *out, errbuf_t *err, const char *what)
{
    if (ferror(out)) {
        errbuf_set(err, "compliance %s: write failed", what);
        return -1;
    }
    return 0;
}

/* The text of a cell in the table: "LATE 3d*", "2 (1 late)". */
static void
s_cell_text(const compliance_cell_t *c, compliance_kind_t kind, char *buf,
    size_t cap)
{
    if (kind == COMPLIANCE_ACQUISITION_NOTICES && c->late > 0)
        snprintf(buf, cap, "%u (%u late)", (unsigned)c->count,
            (unsigned)c->late);
    else if (c->status == COMPLIANCE_COUNTED)
        snprintf(buf, cap, "%u", (unsigned)c->count);
    else if (s_has_days(c->status))
        snprintf(buf, cap, "%s %lldd%s", compliance_status_name(c->status),
            (long long)c->days_late, c->submissions > 1 ? "*" : "");
    else
        snprintf(buf, cap, "%s%s", compliance_status_name(c->status),
            c->submissions > 1 ? "*" : "");
}

int
compliance_render_table(const compliance_t *self, FILE *out, errbuf_t *err)
{
    compliance_cell_t  c;
    char               due[32], now[32], buf[64];
    size_t             i, width = 5;
    int                k, starred = 0;
    const s_member_t  *row;

    if (self == NULL || out == NULL) {
        errbuf_set(err, "compliance table: no matrix or no output");
        return -1;
    }
    for (i = 0; i < self->n_states; i++)
        if (strlen(self->rows[i].code) > width)
            width = strlen(self->rows[i].code);
    s_time(self->now, now);
    fprintf(out, "Compliance for reporting year %u, as of %s (hub time)\n",
        (unsigned)self->year, now);
    fprintf(out, "Due (last day, UTC):");
    for (k = 0; k < S_N_DUE; k++) {
        s_date(self->due[k], due);
        fprintf(out, " %s %s%s", s_kind_names[k], due,
            k + 1 < S_N_DUE ? "," : "\n");
    }
    fprintf(out, "Acquisition notices: due %u days after incorporation\n\n",
        (unsigned)self->deadlines.acquisition_notice_days);
    fprintf(out, "%-*s", (int)width, "STATE");
    for (k = 0; k < COMPLIANCE_KIND_COUNT; k++)
        fprintf(out, "  %-*s", k + 1 < COMPLIANCE_KIND_COUNT ? 15 : 0,
            s_kind_titles[k]);
    fprintf(out, "\n");
    for (i = 0; i < self->n_states; i++) {
        row = &self->rows[i];
        fprintf(out, "%-*s", (int)width, row->code);
        for (k = 0; k < COMPLIANCE_KIND_COUNT; k++) {
            s_verdict(self, row->row, (compliance_kind_t)k, &c);
            s_cell_text(&c, (compliance_kind_t)k, buf, sizeof buf);
            starred |= buf[0] != '\0' && buf[strlen(buf) - 1] == '*';
            /* No padding after the last column: no trailing blanks. */
            fprintf(out, "  %-*s", k + 1 < COMPLIANCE_KIND_COUNT ? 15 : 0,
                buf);
        }
        fprintf(out, "\n");
    }
    if (starred) /* the footnote explains a mark that is there */
        fprintf(out, "\n* several accepted packages (amendments): the "
            "earliest decided timeliness\n");
    else
        fprintf(out, "\n");
    fprintf(out, "Records: %llu read, %llu counted, %llu refused, %llu for "
        "another year, %llu accepted after the evaluation time, %llu from "
        "non-members, %llu invalid\n",
        (unsigned long long)self->stats.records,
        (unsigned long long)self->stats.counted,
        (unsigned long long)self->stats.refused,
        (unsigned long long)self->stats.other_year,
        (unsigned long long)self->stats.after_now,
        (unsigned long long)self->stats.non_member,
        (unsigned long long)self->stats.invalid);
    if (self->n_non_members > 0) {
        fprintf(out, "Ignored, not in the member list:");
        for (i = 0; i < self->n_non_members; i++)
            fprintf(out, " %s (%llu)", self->non_members[i].code,
                (unsigned long long)self->non_members[i].records);
        fprintf(out, "%s\n", self->non_members_truncated ? " and others" : "");
    }
    return s_write_failed(out, err, "table");
}

int
compliance_render_csv(const compliance_t *self, FILE *out, errbuf_t *err)
{
    compliance_cell_t c;
    size_t            i;
    int               k;

    if (self == NULL || out == NULL) {
        errbuf_set(err, "compliance CSV: no matrix or no output");
        return -1;
    }
    fprintf(out, "state");
    for (k = 0; k < S_N_DUE; k++)
        fprintf(out, ",%s,%s_days_late", s_kind_names[k], s_kind_names[k]);
    fprintf(out, ",acquisition_notices,acquisition_notices_late,exercises,"
        "documents\n");
    /* State codes are [A-Za-z0-9_-] and statuses fixed words: nothing to
     * quote. */
    for (i = 0; i < self->n_states; i++) {
        fprintf(out, "%s", self->rows[i].code);
        for (k = 0; k < COMPLIANCE_KIND_COUNT; k++) {
            s_verdict(self, self->rows[i].row, (compliance_kind_t)k, &c);
            if (k < S_N_DUE && s_has_days(c.status))
                fprintf(out, ",%s,%lld", compliance_status_name(c.status),
                    (long long)c.days_late);
            else if (k < S_N_DUE)
                fprintf(out, ",%s,", compliance_status_name(c.status));
            else if (k == COMPLIANCE_ACQUISITION_NOTICES)
                fprintf(out, ",%u,%u", (unsigned)c.count, (unsigned)c.late);
            else
                fprintf(out, ",%u", (unsigned)c.count);
        }
        fprintf(out, "\n");
    }
    return s_write_failed(out, err, "CSV");
}

/* Set key to a new value, taking the reference in every case; -1 if
 * either is NULL (out of memory), so callers can OR the results. */
static int
s_set(json_t *obj, const char *key, json_t *value)
{
    if (obj == NULL || value == NULL) {
        json_decref(value);
        return -1;
    }
    return json_object_set_new(obj, key, value);
}

/* Append, taking the reference in every case. */
static int
s_append(json_t *arr, json_t *value)
{
    if (arr == NULL || value == NULL) {
        json_decref(value);
        return -1;
    }
    return json_array_append_new(arr, value);
}

static int
s_set_time(json_t *obj, const char *key, int64_t t)
{
    char buf[32];

    s_time(t, buf);
    return s_set(obj, key, json_string(buf));
}

static json_t *
s_cell_json(const compliance_cell_t *c, compliance_kind_t kind)
{
    json_t *o = json_object();
    char    buf[32];
    int     rc = 0;

    if (c->status != COMPLIANCE_COUNTED) {
        s_date(c->due, buf);
        rc |= s_set(o, "status", json_string(compliance_status_name(
            c->status)));
        if (s_has_days(c->status))
            rc |= s_set(o, "days_late", json_integer(c->days_late));
        rc |= s_set(o, "due", json_string(buf));
        if (c->submissions > 0) {
            rc |= s_set_time(o, "accepted_at", c->accepted_at);
            rc |= s_set_time(o, "created_at", c->created_at);
        }
        rc |= s_set(o, "submissions", json_integer(c->submissions));
    } else {
        rc |= s_set(o, "count", json_integer(c->count));
        if (kind == COMPLIANCE_ACQUISITION_NOTICES)
            rc |= s_set(o, "late", json_integer(c->late));
    }
    rc |= s_set(o, "nil_reports", json_integer(c->nil_reports));
    if (rc != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *
compliance_render_json(const compliance_t *self)
{
    json_t           *root, *dl, *states, *st, *recs, *nm, *e;
    compliance_cell_t c;
    char             *text = NULL;
    char              buf[32];
    size_t            i;
    int               k, rc = 0;

    if (self == NULL)
        return NULL;
    root = json_object();
    rc |= s_set(root, "year", json_integer(self->year));
    rc |= s_set_time(root, "as_of", self->now);
    dl = json_object();
    for (k = 0; k < S_N_DUE; k++) {
        s_date(self->due[k], buf);
        rc |= s_set(dl, s_kind_names[k], json_string(buf));
    }
    rc |= s_set(dl, "acquisition_notice_days",
        json_integer(self->deadlines.acquisition_notice_days));
    rc |= s_set(root, "deadlines", dl);
    states = json_array();
    for (i = 0; i < self->n_states && rc == 0; i++) {
        st = json_object();
        rc |= s_set(st, "state", json_string(self->rows[i].code));
        for (k = 0; k < COMPLIANCE_KIND_COUNT; k++) {
            s_verdict(self, self->rows[i].row, (compliance_kind_t)k, &c);
            rc |= s_set(st, s_kind_names[k],
                s_cell_json(&c, (compliance_kind_t)k));
        }
        rc |= s_append(states, st);
    }
    rc |= s_set(root, "states", states);
    recs = json_object();
    rc |= s_set(recs, "read", json_integer((json_int_t)self->stats.records));
    rc |= s_set(recs, "counted", json_integer((json_int_t)self->stats.counted));
    rc |= s_set(recs, "refused", json_integer((json_int_t)self->stats.refused));
    rc |= s_set(recs, "other_year",
        json_integer((json_int_t)self->stats.other_year));
    rc |= s_set(recs, "after_now",
        json_integer((json_int_t)self->stats.after_now));
    rc |= s_set(recs, "non_member",
        json_integer((json_int_t)self->stats.non_member));
    rc |= s_set(recs, "invalid", json_integer((json_int_t)self->stats.invalid));
    rc |= s_set(root, "records", recs);
    nm = json_array();
    for (i = 0; i < self->n_non_members && rc == 0; i++) {
        e = json_object();
        rc |= s_set(e, "state", json_string(self->non_members[i].code));
        rc |= s_set(e, "records",
            json_integer((json_int_t)self->non_members[i].records));
        rc |= s_append(nm, e);
    }
    rc |= s_set(root, "non_members", nm);
    rc |= s_set(root, "non_members_truncated",
        json_boolean(self->non_members_truncated));
    if (rc == 0)
        text = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    return text;
}
