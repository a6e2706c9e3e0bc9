/*
 * validate: the domain rules of every package type (see validate.h).
 *
 * The checks walk the message as a JSON document would be written, keeping
 * the JSON path of the node in hand, so each problem is reported where a
 * ministry's editor will find it. Problems are collected, not returned at
 * the first: a report with three wrong totals gets three messages.
 */
#include "proto/validate.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto/codes.h"

typedef struct {
    validate_report_t *rep;
    size_t             total;
    char               path[sizeof ((validate_problem_t *)0)->path];
    size_t             len;
    const char        *sender;       /* $.state, never NULL */
    int                have_prepared; /* $.prepared_at parsed */
    int32_t            prepared_day;  /* its date (UTC), days since 1970 */
} s_ctx_t;

/* ---------------------------------------------------------- problems --- */

static void __attribute__((format(printf, 2, 0)))
s_vproblem(s_ctx_t *c, const char *fmt, va_list ap)
{
    validate_problem_t *p;

    c->total++;
    if (c->rep == NULL || c->rep->count >= VALIDATE_MAX_PROBLEMS)
        return;
    p = &c->rep->problems[c->rep->count++];
    memcpy(p->path, c->path, c->len + 1);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
}

/* A problem at the current path. */
static void __attribute__((format(printf, 2, 3)))
s_problem(s_ctx_t *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    s_vproblem(c, fmt, ap);
    va_end(ap);
}

/* Append to the path; returns the length to give back to s_pop(). A path
 * too long for the report is cut, never overflowed. */
static size_t __attribute__((format(printf, 2, 3)))
s_push(s_ctx_t *c, const char *fmt, ...)
{
    size_t  old = c->len, room = sizeof c->path - c->len;
    va_list ap;
    int     n;

    va_start(ap, fmt);
    n = vsnprintf(c->path + c->len, room, fmt, ap);
    va_end(ap);
    if (n < 0)
        c->path[old] = '\0';
    else
        c->len += (size_t)n < room ? (size_t)n : room - 1;
    return old;
}

static void
s_pop(s_ctx_t *c, size_t old)
{
    c->len = old;
    c->path[old] = '\0';
}

/* A problem at the current path plus ".field". */
static void __attribute__((format(printf, 3, 4)))
s_problem_at(s_ctx_t *c, const char *field, const char *fmt, ...)
{
    size_t  old = s_push(c, ".%s", field);
    va_list ap;

    va_start(ap, fmt);
    s_vproblem(c, fmt, ap);
    va_end(ap);
    s_pop(c, old);
}

/* A problem at an absolute path such as "$.references". */
static void __attribute__((format(printf, 3, 4)))
s_problem_abs(s_ctx_t *c, const char *path, const char *fmt, ...)
{
    char    saved[sizeof c->path];
    size_t  saved_len = c->len;
    va_list ap;

    memcpy(saved, c->path, sizeof saved);
    c->len = 0;
    c->path[0] = '\0';
    s_push(c, "%s", path);
    va_start(ap, fmt);
    s_vproblem(c, fmt, ap);
    va_end(ap);
    memcpy(c->path, saved, sizeof saved);
    c->len = saved_len;
}

/* ------------------------------------------------------------- text --- */

static const char *
s_str(const char *s)
{
    return s != NULL ? s : "";
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left), or 0. */
static size_t
s_utf8_seq(const unsigned char *s, size_t n)
{
    size_t   len, i;
    uint32_t cp;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
        || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

static int
s_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t               i = 0, k;

    while (i < n) {
        if ((k = s_utf8_seq(p + i, n - i)) == 0)
            return 0;
        i += k;
    }
    return 1;
}

/* s as a short quoted excerpt, safe to print: control characters, quotes,
 * backslashes and broken UTF-8 escaped, cut after 40 bytes. */
typedef struct {
    char s[200];
} s_quoted_t;

static const char *
s_q(const char *s, s_quoted_t *out)
{
    const unsigned char *p = (const unsigned char *)s_str(s);
    size_t               n = strlen((const char *)p), i = 0, o = 0, k;

    out->s[o++] = '"';
    while (i < n && i < 40) {
        k = s_utf8_seq(p + i, n - i);
        if (k > 1) {
            memcpy(out->s + o, p + i, k);
            o += k;
            i += k;
            continue;
        }
        if (k == 1 && p[i] >= 0x20 && p[i] != 0x7f && p[i] != '"'
            && p[i] != '\\') {
            out->s[o++] = (char)p[i++];
            continue;
        }
        if (p[i] == '"' || p[i] == '\\') {
            out->s[o++] = '\\';
            out->s[o++] = (char)p[i++];
            continue;
        }
        o += (size_t)snprintf(out->s + o, sizeof out->s - o, "\\x%02x",
            p[i++]);
    }
    if (i < n) {
        memcpy(out->s + o, "...", 3);
        o += 3;
    }
    out->s[o++] = '"';
    out->s[o] = '\0';
    return out->s;
}

/* Free text at .field: at most max bytes, valid UTF-8, and non-empty when
 * required (what says what is missing). Returns 1 if it is non-empty. */
static int
s_text(s_ctx_t *c, const char *field, const char *s, size_t max,
    int required, const char *what)
{
    size_t n;

    s = s_str(s);
    n = strlen(s);
    if (n == 0) {
        if (required)
            s_problem_at(c, field, "missing: %s is required", what);
        return 0;
    }
    if (n > max)
        s_problem_at(c, field, "text of %zu bytes is longer than the limit "
            "of %zu bytes", n, max);
    else if (!s_utf8_valid(s, n))
        s_problem_at(c, field, "not valid UTF-8 text");
    return 1;
}

static int
s_has_control(const char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    return 0;
}

/* ------------------------------------------------------------ codes --- */

/* The names of an enum's values other than 0, "A, B, C", cut to fit. */
static const char *
s_enum_names(const ProtobufCEnumDescriptor *d, char *buf, size_t cap)
{
    size_t used = 0, i;
    int    n;

    buf[0] = '\0';
    for (i = 0; i < d->n_values; i++) {
        if (d->values[i].value == 0)
            continue;
        n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "",
            d->values[i].name);
        if (n < 0 || (size_t)n >= cap - used) {
            buf[used] = '\0';
            break;
        }
        used += (size_t)n;
    }
    return buf;
}

static const char *
s_enum_name(const ProtobufCEnumDescriptor *d, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d,
        value);

    return v != NULL ? v->name : "an unknown value";
}

/* An enum at .field: set (unless optional) and a value of the schema.
 * Returns 1 if it is set and known. */
static int
s_enum(s_ctx_t *c, const char *field, const ProtobufCEnumDescriptor *d,
    int value, int required)
{
    char names[240];

    if (value == 0) {
        if (required)
            s_problem_at(c, field, "missing: set %s to one of %s", field,
                s_enum_names(d, names, sizeof names));
        return 0;
    }
    if (protobuf_c_enum_descriptor_get_value(d, value) == NULL) {
        s_problem_at(c, field, "unknown value %d for %s (one of %s)", value,
            d->name, s_enum_names(d, names, sizeof names));
        return 0;
    }
    return 1;
}

/* A state code at the current path. Returns 1 if it is a known code. */
static int
s_state_here(s_ctx_t *c, const char *code, int required, const char *what)
{
    s_quoted_t q;

    code = s_str(code);
    if (code[0] == '\0') {
        if (required)
            s_problem(c, "missing: %s is required (an ISO 3166-1 alpha-3 "
                "code such as \"ARG\")", what);
        return 0;
    }
    if (!codes_country_known(code)) {
        s_problem(c, "unknown state code %s: %s is an ISO 3166-1 alpha-3 "
            "code in capitals, such as \"ARG\"", s_q(code, &q), what);
        return 0;
    }
    return 1;
}

/* A state code at .field. Returns 1 if it is a known code. */
static int
s_state(s_ctx_t *c, const char *field, const char *code, int required,
    const char *what)
{
    size_t old = s_push(c, ".%s", field);
    int    ok = s_state_here(c, code, required, what);

    s_pop(c, old);
    return ok;
}

/* A date at .field. Returns 1 and stores the day if it is valid. */
static int
s_date(s_ctx_t *c, const char *field, const char *s, int required,
    int32_t *day)
{
    s_quoted_t q;

    s = s_str(s);
    if (s[0] == '\0') {
        if (required)
            s_problem_at(c, field, "missing: %s is required (an ISO 8601 "
                "date, YYYY-MM-DD)", field);
        return 0;
    }
    if (codes_parse_date(s, day) != 0) {
        s_problem_at(c, field, "%s is not a real ISO 8601 calendar date "
            "YYYY-MM-DD between %d and %d", s_q(s, &q), CODES_MIN_YEAR,
            CODES_MAX_YEAR);
        return 0;
    }
    return 1;
}

/* A list at .field holds at most max entries. Returns 1 if it does. */
static int
s_count(s_ctx_t *c, const char *field, size_t n, size_t max)
{
    if (n <= max)
        return 1;
    s_problem_at(c, field, "%zu entries, more than the limit of %zu", n, max);
    return 0;
}

/* A quantity at .field: never negative, and positive when required. */
static void
s_quantity(s_ctx_t *c, const char *field, int64_t q, int positive,
    const char *hint)
{
    if (q < 0)
        s_problem_at(c, field, "negative %s %lld: counts are never negative",
            field, (long long)q);
    else if (q == 0 && positive)
        s_problem_at(c, field, "missing: %s must be greater than 0%s", field,
            hint);
}

/* ------------------------------------------------------------ MILEX --- */

/* The standardized matrix has 35 rows of 11 cells; the simplified form 5
 * of 5. The checker is generic over both: rows are the message fields of
 * the table, cells the int64 fields of a row, "total" the total column. */
#define S_GRID_ROWS 40
#define S_GRID_COLS 12

typedef struct {
    const char *heading;
    const char *parts[12]; /* NULL-terminated */
} s_sum_rule_t;

static const s_sum_rule_t s_matrix_rules[] = {
    {"personnel", {"conscripts", "active_military", "reserves", "civilian",
                      "military_pensions", NULL}},
    {"operations_maintenance", {"materials", "maintenance_repair",
                                   "purchased_services", "om_other", NULL}},
    {"procurement", {"aircraft_engines", "missiles", "nuclear_warheads",
                        "ships_boats", "armoured_vehicles", "artillery",
                        "other_ordnance", "ammunition",
                        "electronics_communications",
                        "non_armoured_vehicles", "procurement_other", NULL}},
    {"construction", {"air_bases", "naval_bases", "electronics_facilities",
                         "personnel_facilities", "training_facilities",
                         "construction_other", NULL}},
    {"procurement_construction", {"procurement", "construction", NULL}},
    {"research_development", {"basic_applied_research",
                                 "development_testing", NULL}},
    {"total", {"personnel", "operations_maintenance",
                  "procurement_construction", "research_development",
                  NULL}},
};

static const s_sum_rule_t s_simplified_rules[] = {
    {"total", {"personnel", "operations_maintenance",
                  "procurement_construction", "research_development",
                  NULL}},
};

typedef struct {
    const ProtobufCMessageDescriptor *tdesc, *rdesc;
    size_t                            rows, cols, total_col;
    int                               present[S_GRID_ROWS];
    int64_t                           cell[S_GRID_ROWS][S_GRID_COLS];
} s_grid_t;

static int
s_add(int64_t *acc, int64_t v)
{
    return __builtin_add_overflow(*acc, v, acc) ? -1 : 0;
}

static int
s_row_index(const s_grid_t *g, const char *name)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field_by_name(g->tdesc, name);

    return f != NULL ? (int)(f - g->tdesc->fields) : -1;
}

/* Read the table into g. -1 if the table does not have the expected
 * shape, which would be a schema change this file missed. */
static int
s_grid_load(s_grid_t *g, const void *table,
    const ProtobufCMessageDescriptor *desc)
{
    const ProtobufCFieldDescriptor *f, *tot;
    size_t                          r, j;

    memset(g, 0, sizeof *g);
    g->tdesc = desc;
    g->rows = g->tdesc->n_fields;
    if (g->rows == 0 || g->rows > S_GRID_ROWS
        || g->tdesc->fields[0].type != PROTOBUF_C_TYPE_MESSAGE)
        return -1;
    g->rdesc = g->tdesc->fields[0].descriptor;
    g->cols = g->rdesc->n_fields;
    tot = protobuf_c_message_descriptor_get_field_by_name(g->rdesc, "total");
    if (g->cols == 0 || g->cols > S_GRID_COLS || tot == NULL)
        return -1;
    g->total_col = (size_t)(tot - g->rdesc->fields);
    for (r = 0; r < g->rows; r++) {
        const ProtobufCMessage *row;

        f = &g->tdesc->fields[r];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE || f->descriptor != g->rdesc)
            return -1;
        row = *(const ProtobufCMessage *const *)((const char *)table
            + f->offset);
        if (row == NULL)
            continue;
        g->present[r] = 1;
        for (j = 0; j < g->cols; j++) {
            const ProtobufCFieldDescriptor *cf = &g->rdesc->fields[j];
            if (cf->type != PROTOBUF_C_TYPE_INT64
                || cf->label == PROTOBUF_C_LABEL_REPEATED)
                return -1;
            g->cell[r][j] = *(const int64_t *)((const char *)row
                + cf->offset);
        }
    }
    return 0;
}

static void
s_join_names(char *buf, size_t cap, const char *const *names, size_t n)
{
    size_t used = 0, i;
    int    w;

    buf[0] = '\0';
    for (i = 0; i < n && used < cap; i++) {
        w = snprintf(buf + used, cap - used, "%s%s", i ? " + " : "",
            names[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* At the current path (the table): negative cells, rows that do not add
 * up to their total column, and heading rows that are not the sum of their
 * parts in some column. */
static void
s_grid(s_ctx_t *c, const void *table, const ProtobufCMessageDescriptor *desc,
    const s_sum_rule_t *rules, size_t n_rules)
{
    s_grid_t    g;
    const char *names[S_GRID_COLS];
    char        list[256];
    size_t      r, j, k, n, old;

    if (s_grid_load(&g, table, desc) != 0) {
        s_problem(c, "internal: the table does not have the shape the "
            "validator knows; update proto/validate.c with the schema");
        return;
    }
    for (r = 0; r < g.rows; r++) {
        if (!g.present[r])
            continue;
        old = s_push(c, ".%s", g.tdesc->fields[r].name);
        for (j = 0; j < g.cols; j++)
            if (g.cell[r][j] < 0)
                s_problem_at(c, g.rdesc->fields[j].name, "negative amount "
                    "%lld: expenditure figures are never negative",
                    (long long)g.cell[r][j]);
        s_pop(c, old);
    }

    for (j = n = 0; j < g.cols; j++)
        if (j != g.total_col)
            names[n++] = g.rdesc->fields[j].name;
    s_join_names(list, sizeof list, names, n);
    for (r = 0; r < g.rows; r++) {
        int64_t sum = 0;
        int     overflow = 0;

        if (!g.present[r])
            continue;
        for (j = 0; j < g.cols; j++)
            if (j != g.total_col)
                overflow |= s_add(&sum, g.cell[r][j]);
        old = s_push(c, ".%s", g.tdesc->fields[r].name);
        if (overflow)
            s_problem_at(c, "total", "the sum of the cells (%s) overflows a "
                "64-bit integer", list);
        else if (sum != g.cell[r][g.total_col])
            s_problem_at(c, "total", "row total %lld differs from sum of "
                "cells %lld (%s)", (long long)g.cell[r][g.total_col],
                (long long)sum, list);
        s_pop(c, old);
    }

    for (k = 0; k < n_rules; k++) {
        int h = s_row_index(&g, rules[k].heading), idx[12];

        for (n = 0; rules[k].parts[n] != NULL; n++)
            idx[n] = s_row_index(&g, rules[k].parts[n]);
        for (r = 0; r < n; r++)
            if (idx[r] < 0)
                h = -1;
        if (h < 0) {
            s_problem(c, "internal: no row %s in the table; update "
                "proto/validate.c with the schema", rules[k].heading);
            continue;
        }
        s_join_names(list, sizeof list, rules[k].parts, n);
        old = s_push(c, ".%s", rules[k].heading);
        for (j = 0; j < g.cols; j++) {
            int64_t sum = 0;
            int     overflow = 0;

            for (r = 0; r < n; r++)
                overflow |= s_add(&sum, g.cell[idx[r]][j]);
            if (overflow)
                s_problem_at(c, g.rdesc->fields[j].name, "the sum of cells "
                    "(%s) overflows a 64-bit integer", list);
            else if (sum != g.cell[h][j])
                s_problem_at(c, g.rdesc->fields[j].name, "column total %lld "
                    "differs from sum of cells %lld (%s)%s",
                    (long long)g.cell[h][j], (long long)sum, list,
                    g.present[h] ? "" : "; the row is absent and counts as "
                    "zeros");
        }
        s_pop(c, old);
    }
}

static void
s_milex(s_ctx_t *c, const Csbm__MilexReport *m, int nil)
{
    const ProtobufCEnumDescriptor *fd = &csbm__milex_form__descriptor;
    int                            form = (int)m->form;
    s_quoted_t                     q;
    const char                    *cur = s_str(m->currency);

    if (s_enum(c, "form", fd, form, 1)) {
        if (nil && form != CSBM__MILEX_FORM__MILEX_NIL)
            s_problem_at(c, "form", "a nil report (nil_report true) uses "
                "form MILEX_NIL, not %s", s_enum_name(fd, form));
        if (!nil && form == CSBM__MILEX_FORM__MILEX_NIL)
            s_problem_abs(c, "$.nil_report", "form MILEX_NIL requires "
                "nil_report true");
    }
    if (cur[0] == '\0') {
        if (!nil)
            s_problem_at(c, "currency", "missing: the national currency is "
                "required (an ISO 4217 code such as \"ARS\")");
    } else if (!codes_currency_known(cur)) {
        s_problem_at(c, "currency", "unknown currency code %s: use an active "
            "ISO 4217 code in capitals, such as \"ARS\"", s_q(cur, &q));
    }
    s_enum(c, "unit", &csbm__unit_of_measure__descriptor, (int)m->unit, !nil);

    if (m->matrix != NULL && form != CSBM__MILEX_FORM__MILEX_STANDARDIZED) {
        if (nil)
            s_problem_at(c, "matrix", "a nil report carries no figures: "
                "remove matrix");
        else
            s_problem_at(c, "matrix", "matrix belongs to form "
                "MILEX_STANDARDIZED, not %s", s_enum_name(fd, form));
    }
    if (m->simplified != NULL && form != CSBM__MILEX_FORM__MILEX_SIMPLIFIED) {
        if (nil)
            s_problem_at(c, "simplified", "a nil report carries no figures: "
                "remove simplified");
        else
            s_problem_at(c, "simplified", "simplified belongs to form "
                "MILEX_SIMPLIFIED, not %s", s_enum_name(fd, form));
    }
    if (form == CSBM__MILEX_FORM__MILEX_SINGLE_FIGURE) {
        if (m->single_figure <= 0)
            s_problem_at(c, "single_figure", "single_figure %lld: form "
                "MILEX_SINGLE_FIGURE needs the total expenditure, greater "
                "than 0", (long long)m->single_figure);
    } else if (m->single_figure != 0) {
        if (nil)
            s_problem_at(c, "single_figure", "a nil report carries no "
                "figures: remove single_figure");
        else
            s_problem_at(c, "single_figure", "single_figure belongs to form "
                "MILEX_SINGLE_FIGURE, not %s", s_enum_name(fd, form));
    }
    if (form == CSBM__MILEX_FORM__MILEX_STANDARDIZED && m->matrix == NULL)
        s_problem_at(c, "matrix", "missing: form MILEX_STANDARDIZED "
            "requires matrix");
    if (form == CSBM__MILEX_FORM__MILEX_SIMPLIFIED && m->simplified == NULL)
        s_problem_at(c, "simplified", "missing: form MILEX_SIMPLIFIED "
            "requires simplified");

    if (m->matrix != NULL) {
        size_t old = s_push(c, ".matrix");
        s_grid(c, m->matrix, &csbm__milex_matrix__descriptor, s_matrix_rules,
            sizeof s_matrix_rules / sizeof s_matrix_rules[0]);
        s_pop(c, old);
    }
    if (m->simplified != NULL) {
        size_t old = s_push(c, ".simplified");
        s_grid(c, m->simplified, &csbm__milex_simplified__descriptor,
            s_simplified_rules,
            sizeof s_simplified_rules / sizeof s_simplified_rules[0]);
        s_pop(c, old);
    }
}

/* ---------------------------------------------------- arms transfers --- */

/* A table with its nil flag: the flag and lines contradict each other; a
 * nil report lists nothing; a required table is listed or declared nil. */
static void
s_nil_table(s_ctx_t *c, const char *flag_name, int flag, const char *table,
    size_t n, int answer_required, int nil)
{
    if (flag && n > 0)
        s_problem_at(c, flag_name, "%s is true but %s lists %zu line%s: "
            "remove the lines or the flag", flag_name, table, n,
            n == 1 ? "" : "s");
    if (nil && n > 0)
        s_problem_at(c, table, "a nil report (nil_report true) lists no "
            "lines, but %s has %zu", table, n);
    if (!nil && answer_required && !flag && n == 0)
        s_problem_at(c, table, "missing: list the %s or set %s true (or "
            "nil_report true when there is nothing at all to report)", table,
            flag_name);
}

/* An intermediate location at the current path: a state code or a place. */
static void
s_place(s_ctx_t *c, const char *s)
{
    s_quoted_t q;
    size_t     n;

    s = s_str(s);
    n = strlen(s);
    if (n == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
        && s[2] >= 'A' && s[2] <= 'Z') {
        if (!codes_country_known(s))
            s_problem(c, "unknown state code %s: three capitals are read as "
                "an ISO 3166-1 alpha-3 code; write a place name in full",
                s_q(s, &q));
        return;
    }
    if (n == 0)
        s_problem(c, "missing: an intermediate location is a state code or "
            "a place name, not empty");
    else if (n > VALIDATE_MAX_PLACE)
        s_problem(c, "place name of %zu bytes is longer than the limit of %d "
            "bytes", n, VALIDATE_MAX_PLACE);
    else if (s_has_control(s) || !s_utf8_valid(s, n))
        s_problem(c, "a place name is UTF-8 text without control "
            "characters");
}

typedef struct {
    const char                    *kind_field; /* "category" or "type" */
    const ProtobufCEnumDescriptor *kind_desc;
    int                            kind;
    const char                    *counterpart;
    int64_t                        quantity;
    const char                    *origin;
    char *const                   *locations;
    size_t                         n_locations;
    const char                    *description;
    const char                    *comments;
    int                            withheld;
} s_transfer_t;

static void
s_transfer(s_ctx_t *c, const s_transfer_t *t, int is_export)
{
    const char *cp = s_str(t->counterpart), *origin = s_str(t->origin);
    const char *exporter;
    size_t      i, old;

    s_enum(c, t->kind_field, t->kind_desc, t->kind, 1);
    if (s_state(c, "counterpart_state", cp, !t->withheld,
            is_export ? "the final importer state" : "the exporter state")
        && strcmp(cp, c->sender) == 0)
        s_problem_at(c, "counterpart_state", "counterpart_state %s is the "
            "sender: a state does not %s itself", cp,
            is_export ? "export to" : "import from");
    s_quantity(c, "quantity", t->quantity, !t->withheld,
        " (the number of items); mark the line withheld to leave it out");
    exporter = is_export ? c->sender : cp;
    if (s_state(c, "origin_state", origin, 0, "the state of origin")
        && strcmp(origin, exporter) == 0)
        s_problem_at(c, "origin_state", "origin_state %s is the exporter: "
            "give origin_state only when the items come from another state",
            origin);
    if (s_count(c, "intermediate_locations", t->n_locations,
            VALIDATE_MAX_LOCATIONS))
        for (i = 0; i < t->n_locations; i++) {
            old = s_push(c, ".intermediate_locations[%zu]", i);
            s_place(c, t->locations[i]);
            s_pop(c, old);
        }
    s_text(c, "description", t->description, VALIDATE_MAX_TEXT, 0, "");
    s_text(c, "comments", t->comments, VALIDATE_MAX_TEXT, 0, "");
}

static void
s_transfer_lines(s_ctx_t *c, const char *table, Csbm__TransferLine *const *l,
    size_t n, int is_export)
{
    size_t i, old;

    for (i = 0; i < n; i++) {
        const Csbm__TransferLine *x = l[i];
        s_transfer_t              t;

        if (x == NULL)
            continue;
        t.kind_field = "category";
        t.kind_desc = &csbm__arms_category__descriptor;
        t.kind = (int)x->category;
        t.counterpart = x->counterpart_state;
        t.quantity = x->quantity;
        t.origin = x->origin_state;
        t.locations = x->intermediate_locations;
        t.n_locations = x->n_intermediate_locations;
        t.description = x->description;
        t.comments = x->comments;
        t.withheld = x->withheld;
        old = s_push(c, ".%s[%zu]", table, i);
        s_transfer(c, &t, is_export);
        s_pop(c, old);
    }
}

static void
s_salw_lines(s_ctx_t *c, const char *table, Csbm__SalwLine *const *l,
    size_t n, int is_export)
{
    size_t i, old;

    for (i = 0; i < n; i++) {
        const Csbm__SalwLine *x = l[i];
        s_transfer_t          t;

        if (x == NULL)
            continue;
        t.kind_field = "type";
        t.kind_desc = &csbm__salw_type__descriptor;
        t.kind = (int)x->type;
        t.counterpart = x->counterpart_state;
        t.quantity = x->quantity;
        t.origin = x->origin_state;
        t.locations = x->intermediate_locations;
        t.n_locations = x->n_intermediate_locations;
        t.description = x->description;
        t.comments = x->comments;
        t.withheld = x->withheld;
        old = s_push(c, ".%s[%zu]", table, i);
        s_transfer(c, &t, is_export);
        s_pop(c, old);
    }
}

static void
s_holding_lines(s_ctx_t *c, const char *table, Csbm__HoldingLine *const *l,
    size_t n, int positive)
{
    size_t i, old;

    for (i = 0; i < n; i++) {
        const Csbm__HoldingLine *x = l[i];

        if (x == NULL)
            continue;
        old = s_push(c, ".%s[%zu]", table, i);
        s_enum(c, "category", &csbm__arms_category__descriptor,
            (int)x->category, 1);
        s_quantity(c, "quantity", x->quantity, positive && !x->withheld,
            " (the number of items); mark the line withheld to leave it out");
        s_text(c, "description", x->description, VALIDATE_MAX_TEXT, 0, "");
        s_text(c, "comments", x->comments, VALIDATE_MAX_TEXT, 0, "");
        s_pop(c, old);
    }
}

static void
s_arms_register(s_ctx_t *c, const Csbm__ArmsRegisterReturn *a, int nil)
{
    s_nil_table(c, "nil_exports", a->nil_exports, "exports", a->n_exports, 1,
        nil);
    s_nil_table(c, "nil_imports", a->nil_imports, "imports", a->n_imports, 1,
        nil);
    s_nil_table(c, "nil_salw_exports", a->nil_salw_exports, "salw_exports",
        a->n_salw_exports, 0, nil);
    s_nil_table(c, "nil_salw_imports", a->nil_salw_imports, "salw_imports",
        a->n_salw_imports, 0, nil);
    s_nil_table(c, "holdings", 0, "holdings", a->n_holdings, 0, nil);
    s_nil_table(c, "national_production", 0, "national_production",
        a->n_national_production, 0, nil);

    s_transfer_lines(c, "exports", a->exports, a->n_exports, 1);
    s_transfer_lines(c, "imports", a->imports, a->n_imports, 0);
    s_holding_lines(c, "holdings", a->holdings, a->n_holdings, 0);
    s_holding_lines(c, "national_production", a->national_production,
        a->n_national_production, 1);
    s_text(c, "national_policies", a->national_policies,
        VALIDATE_MAX_LONG_TEXT, 0, "");
    s_salw_lines(c, "salw_exports", a->salw_exports, a->n_salw_exports, 1);
    s_salw_lines(c, "salw_imports", a->salw_imports, a->n_salw_imports, 0);
}

/* ------------------------------------------------------ acquisitions --- */

static void
s_acquisition_lines(s_ctx_t *c, const char *table,
    Csbm__AcquisitionLine *const *l, size_t n, int is_export)
{
    size_t i, old;

    for (i = 0; i < n; i++) {
        const Csbm__AcquisitionLine *x = l[i];
        const char                  *cp;

        if (x == NULL)
            continue;
        cp = s_str(x->counterpart_state);
        old = s_push(c, ".%s[%zu]", table, i);
        s_enum(c, "category", &csbm__arms_category__descriptor,
            (int)x->category, 1);
        s_text(c, "type", x->type, VALIDATE_MAX_NAME, 1,
            "the type of the system");
        s_quantity(c, "quantity", x->quantity, 1, " (the number of items)");
        if (s_state(c, "counterpart_state", cp, 1,
                is_export ? "the importer state" : "the exporter state")
            && strcmp(cp, c->sender) == 0)
            s_problem_at(c, "counterpart_state", "counterpart_state %s is "
                "the sender: a state does not %s itself", cp,
                is_export ? "export to" : "import from");
        s_text(c, "designation", x->designation, VALIDATE_MAX_NAME, 0, "");
        s_text(c, "model", x->model, VALIDATE_MAX_NAME, 0, "");
        s_pop(c, old);
    }
}

static void
s_acquisition_report(s_ctx_t *c, const Csbm__AcquisitionReport *a, int nil)
{
    s_nil_table(c, "nil_imports", a->nil_imports, "imports", a->n_imports, 1,
        nil);
    s_nil_table(c, "nil_exports", a->nil_exports, "exports", a->n_exports, 1,
        nil);
    s_acquisition_lines(c, "imports", a->imports, a->n_imports, 0);
    s_acquisition_lines(c, "exports", a->exports, a->n_exports, 1);
}

static void
s_acquisition(s_ctx_t *c, const Csbm__AcquisitionNotification *a, int nil)
{
    const char *exporter = s_str(a->exporter_state);
    int32_t     day;
    char        d1[CODES_DATE_LEN + 1];
    int         mode = (int)a->mode;

    if (nil) {
        if (a->category != 0 || s_str(a->type_model)[0] != '\0'
            || a->quantity != 0 || mode != 0 || exporter[0] != '\0'
            || s_str(a->incorporation_date)[0] != '\0')
            s_problem(c, "a nil report (nil_report true) notifies no "
                "acquisition: leave category, type_model, quantity, mode, "
                "exporter_state and incorporation_date out");
        return;
    }
    s_enum(c, "category", &csbm__arms_category__descriptor, (int)a->category,
        1);
    s_text(c, "type_model", a->type_model, VALIDATE_MAX_NAME, 1,
        "the type and model of the system");
    s_quantity(c, "quantity", a->quantity, 1, " (the number of items)");
    if (s_enum(c, "mode", &csbm__acquisition_mode__descriptor, mode, 1)) {
        if (mode == CSBM__ACQUISITION_MODE__IMPORT) {
            if (s_state(c, "exporter_state", exporter, 1,
                    "the exporter state of an IMPORT")
                && strcmp(exporter, c->sender) == 0)
                s_problem_at(c, "exporter_state", "exporter_state %s is the "
                    "sender: a state does not import from itself", exporter);
        } else if (exporter[0] != '\0') {
            s_problem_at(c, "exporter_state", "NATIONAL_PRODUCTION has no "
                "exporter: leave exporter_state out");
        }
    }
    if (s_date(c, "incorporation_date", a->incorporation_date, 1, &day)
        && c->have_prepared && day > c->prepared_day
        && codes_format_date(c->prepared_day, d1) == 0)
        s_problem_at(c, "incorporation_date", "incorporation_date %s is "
            "after the date the package was prepared (%s): notify an "
            "acquisition once it is incorporated", a->incorporation_date, d1);
}

/* ------------------------------------------------------------ exercises --- */

static int
s_exercise_empty(const Csbm__ExerciseNotification *e)
{
    return s_str(e->name)[0] == '\0' && e->exercise_type == 0
        && s_str(e->start_date)[0] == '\0' && s_str(e->end_date)[0] == '\0'
        && e->n_areas == 0 && e->n_participating_states == 0
        && e->troops == 0 && e->n_main_equipment == 0
        && !e->observers_invited && s_str(e->observer_contact)[0] == '\0'
        && e->response == NULL;
}

static void
s_areas(s_ctx_t *c, const Csbm__ExerciseNotification *e, int required)
{
    size_t i, old;

    if (e->n_areas == 0 && required)
        s_problem_at(c, "areas", "missing: give at least one area (place, "
            "latitude, longitude)");
    if (!s_count(c, "areas", e->n_areas, VALIDATE_MAX_LIST))
        return;
    for (i = 0; i < e->n_areas; i++) {
        const Csbm__Area *a = e->areas[i];

        if (a == NULL)
            continue;
        old = s_push(c, ".areas[%zu]", i);
        s_text(c, "place", a->place, VALIDATE_MAX_PLACE, 1,
            "the place name of the area");
        /* written so that NaN fails too */
        if (!(a->latitude >= -90.0 && a->latitude <= 90.0))
            s_problem_at(c, "latitude", "latitude %g is outside -90..90 "
                "(WGS 84 degrees)", a->latitude);
        if (!(a->longitude >= -180.0 && a->longitude <= 180.0))
            s_problem_at(c, "longitude", "longitude %g is outside -180..180 "
                "(WGS 84 degrees)", a->longitude);
        s_pop(c, old);
    }
}

static void
s_participants(s_ctx_t *c, const Csbm__ExerciseNotification *e)
{
    size_t     i, j, old;
    s_quoted_t q;

    if (!s_count(c, "participating_states", e->n_participating_states,
            VALIDATE_MAX_LIST))
        return;
    for (i = 0; i < e->n_participating_states; i++) {
        const char *s = s_str(e->participating_states[i]);

        old = s_push(c, ".participating_states[%zu]", i);
        s_state_here(c, s, 1, "a participating state");
        for (j = 0; j < i && s[0] != '\0'; j++)
            if (strcmp(s, s_str(e->participating_states[j])) == 0) {
                s_problem(c, "duplicate state %s (also at "
                    "participating_states[%zu])", s_q(s, &q), j);
                break;
            }
        s_pop(c, old);
    }
}

static void
s_response(s_ctx_t *c, const Csbm__ObserverResponse *r)
{
    size_t i, old;

    if (r->accepted && r->n_observers == 0)
        s_problem_at(c, "observers", "missing: an accepted invitation names "
            "at least one observer");
    if (!r->accepted && r->n_observers > 0)
        s_problem_at(c, "observers", "a declined invitation (accepted false) "
            "names no observers, but %zu are listed", r->n_observers);
    if (!s_count(c, "observers", r->n_observers, VALIDATE_MAX_LIST))
        return;
    for (i = 0; i < r->n_observers; i++) {
        const Csbm__Observer *o = r->observers[i];

        if (o == NULL)
            continue;
        old = s_push(c, ".observers[%zu]", i);
        s_text(c, "name", o->name, VALIDATE_MAX_NAME, 1,
            "the observer's name");
        s_text(c, "rank", o->rank, VALIDATE_MAX_NAME, 0, "");
        s_text(c, "organization", o->organization, VALIDATE_MAX_NAME, 0, "");
        s_pop(c, old);
    }
}

static void
s_exercise(s_ctx_t *c, const Csbm__ExerciseNotification *e,
    const Csbm__Package *pkg)
{
    const ProtobufCEnumDescriptor *kd =
        &csbm__exercise_message_kind__descriptor;
    int     kind = (int)e->kind, full, invitation, have_start, have_end;
    int32_t start = 0, end = 0;
    size_t  i, old;

    if (!s_enum(c, "kind", kd, kind, 1))
        kind = 0;
    s_text(c, "message_number", e->message_number, VALIDATE_MAX_NAME, 0, "");
    if (pkg->nil_report) {
        if (kind != 0 && kind != CSBM__EXERCISE_MESSAGE_KIND__NOTIFICATION)
            s_problem_at(c, "kind", "a nil report (nil_report true) is a "
                "NOTIFICATION that there is nothing to notify, not %s",
                s_enum_name(kd, kind));
        if (!s_exercise_empty(e))
            s_problem(c, "a nil report (nil_report true) notifies no "
                "exercise: give only kind and message_number");
        return;
    }
    if (pkg->n_references == 0) {
        if (kind == CSBM__EXERCISE_MESSAGE_KIND__AMENDMENT)
            s_problem_abs(c, "$.references", "missing: an amendment must "
                "refer to the package it amends");
        else if (kind == CSBM__EXERCISE_MESSAGE_KIND__CANCELLATION)
            s_problem_abs(c, "$.references", "missing: a cancellation must "
                "refer to the package it cancels");
        else if (kind == CSBM__EXERCISE_MESSAGE_KIND__OBSERVER_RESPONSE)
            s_problem_abs(c, "$.references", "missing: an observer response "
                "must refer to the invitation it answers");
    }
    full = kind == CSBM__EXERCISE_MESSAGE_KIND__NOTIFICATION
        || kind == CSBM__EXERCISE_MESSAGE_KIND__AMENDMENT;

    s_text(c, "name", e->name, VALIDATE_MAX_NAME, full,
        "the name of the exercise");
    s_enum(c, "exercise_type", &csbm__exercise_type__descriptor,
        (int)e->exercise_type, full);
    have_start = s_date(c, "start_date", e->start_date, full, &start);
    have_end = s_date(c, "end_date", e->end_date, full, &end);
    if (have_start && have_end && start > end)
        s_problem_at(c, "end_date", "end_date %s is before start_date %s",
            e->end_date, e->start_date);
    s_areas(c, e, full);
    s_participants(c, e);
    if (e->troops < 0)
        s_problem_at(c, "troops", "negative troops %lld: counts are never "
            "negative", (long long)e->troops);
    if (s_count(c, "main_equipment", e->n_main_equipment, VALIDATE_MAX_LIST))
        for (i = 0; i < e->n_main_equipment; i++) {
            const char *eq = s_str(e->main_equipment[i]);
            size_t      n = strlen(eq);

            old = s_push(c, ".main_equipment[%zu]", i);
            if (n == 0)
                s_problem(c, "missing: an equipment entry is not empty");
            else if (n > VALIDATE_MAX_NAME)
                s_problem(c, "text of %zu bytes is longer than the limit of "
                    "%d bytes", n, VALIDATE_MAX_NAME);
            else if (!s_utf8_valid(eq, n))
                s_problem(c, "not valid UTF-8 text");
            s_pop(c, old);
        }
    invitation = kind == CSBM__EXERCISE_MESSAGE_KIND__OBSERVER_INVITATION;
    s_text(c, "observer_contact", e->observer_contact, VALIDATE_MAX_NAME,
        e->observers_invited || invitation,
        "the point of contact for observers (observers are invited)");
    if (invitation) {
        if (!e->observers_invited)
            s_problem_at(c, "observers_invited", "an OBSERVER_INVITATION "
                "has observers_invited true");
        if (s_str(e->name)[0] == '\0' && pkg->n_references == 0)
            s_problem_at(c, "name", "missing: an observer invitation names "
                "the exercise or refers to its notification in "
                "$.references");
    }
    if (kind == CSBM__EXERCISE_MESSAGE_KIND__OBSERVER_RESPONSE) {
        if (e->response == NULL) {
            s_problem_at(c, "response", "missing: an observer response says "
                "whether the invitation is accepted (response.accepted)");
        } else {
            old = s_push(c, ".response");
            s_response(c, e->response);
            s_pop(c, old);
        }
    } else if (e->response != NULL) {
        s_problem_at(c, "response", "response belongs only in an "
            "OBSERVER_RESPONSE message, not in %s", kind != 0
            ? s_enum_name(kd, kind) : "a message without kind");
    }
}

/* ------------------------------------------------------------ documents --- */

static int
s_email_local_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
        || (ch >= '0' && ch <= '9')
        || (ch != '\0' && strchr("!#$%&'*+/=?^_`{|}~.-", ch) != NULL);
}

/* local@domain.tld, ASCII, the shapes RFC 5321 allows without quoting. */
static int
s_email_valid(const char *s)
{
    const char *at = strchr(s, '@'), *p, *label;
    size_t      n = strlen(s), local, labels = 0, ln;
    int         tld_alpha = 0;

    if (n > 254 || at == NULL || strchr(at + 1, '@') != NULL)
        return 0;
    local = (size_t)(at - s);
    if (local == 0 || local > 64 || s[0] == '.' || at[-1] == '.')
        return 0;
    for (p = s; p < at; p++)
        if (!s_email_local_char(*p) || (p[0] == '.' && p[1] == '.'))
            return 0;
    for (label = at + 1;; label = p + 1) {
        for (p = label; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
             || (*p >= '0' && *p <= '9') || *p == '-';
             p++)
            ;
        ln = (size_t)(p - label);
        if (ln == 0 || ln > 63 || label[0] == '-' || p[-1] == '-')
            return 0;
        labels++;
        if (*p == '\0') {
            tld_alpha = ln >= 2;
            for (; label < p; label++)
                if (*label >= '0' && *label <= '9')
                    tld_alpha = 0;
            break;
        }
        if (*p != '.')
            return 0;
    }
    return labels >= 2 && tld_alpha;
}

/* +54 11 4346-8800: digits, an optional leading '+', and separators. */
static int
s_phone_valid(const char *s)
{
    size_t digits = 0, i, n = strlen(s);

    if (n > 32)
        return 0;
    for (i = 0; i < n; i++) {
        if (s[i] >= '0' && s[i] <= '9')
            digits++;
        else if (s[i] == '+' && i == 0)
            continue;
        else if (strchr(" -.()", s[i]) == NULL)
            return 0;
    }
    return digits >= 6 && digits <= 20;
}

/* An RFC 6838 restricted-name of n bytes at s. */
static int
s_mt_name(const char *s, size_t n)
{
    size_t i;

    if (n == 0 || n > 127)
        return 0;
    for (i = 0; i < n; i++) {
        int alnum = (s[i] >= 'a' && s[i] <= 'z')
            || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9');
        if (!alnum && (i == 0 || strchr("!#$&-^_.+", s[i]) == NULL))
            return 0;
    }
    return 1;
}

static void
s_attachment(s_ctx_t *c, const Csbm__Attachment *a)
{
    const char *fn = s_str(a->filename), *mt = s_str(a->media_type), *slash;
    s_quoted_t  q;

    if (s_text(c, "filename", fn, 255, 1, "the file name of the attachment")
        && (strchr(fn, '/') != NULL || strchr(fn, '\\') != NULL
            || strstr(fn, "..") != NULL || s_has_control(fn)))
        s_problem_at(c, "filename", "file name %s must be a plain name, "
            "without '/', '\\', \"..\" or control characters", s_q(fn, &q));
    slash = strchr(mt, '/');
    if (mt[0] == '\0')
        s_problem_at(c, "media_type", "missing: the media type is required "
            "(type/subtype such as \"application/pdf\")");
    else if (slash == NULL || !s_mt_name(mt, (size_t)(slash - mt))
             || !s_mt_name(slash + 1, strlen(slash + 1)))
        s_problem_at(c, "media_type", "media type %s is not of the form "
            "type/subtype (such as \"application/pdf\"; no parameters)",
            s_q(mt, &q));
    if (a->content.len == 0 || a->content.data == NULL)
        s_problem_at(c, "content", "missing: the attachment is empty");
    else if (a->content.len > VALIDATE_MAX_ATTACHMENT)
        s_problem_at(c, "content", "attachment of %zu bytes is larger than "
            "the limit of %u bytes", a->content.len,
            VALIDATE_MAX_ATTACHMENT);
}

static void
s_metadata(s_ctx_t *c, const Csbm__DocumentPackage *d)
{
    size_t  i, j, old;
    int32_t day;

    if (!s_count(c, "metadata", d->n_metadata, VALIDATE_MAX_LIST))
        return;
    for (i = 0; i < d->n_metadata; i++) {
        const Csbm__MetadataEntry *m = d->metadata[i];
        s_quoted_t                 q;

        if (m == NULL)
            continue;
        old = s_push(c, ".metadata[%zu]", i);
        if (s_text(c, "key", m->key, VALIDATE_MAX_KEY, 1, "the key"))
            for (j = 0; j < i; j++)
                if (d->metadata[j] != NULL
                    && strcmp(m->key, s_str(d->metadata[j]->key)) == 0) {
                    s_problem_at(c, "key", "duplicate key %s (also at "
                        "metadata[%zu])", s_q(m->key, &q), j);
                    break;
                }
        switch (m->value_case) {
        case CSBM__METADATA_ENTRY__VALUE_TEXT:
            s_text(c, "text", m->text, VALIDATE_MAX_TEXT, 0, "");
            break;
        case CSBM__METADATA_ENTRY__VALUE_DATE:
            s_date(c, "date", m->date, 1, &day);
            break;
        case CSBM__METADATA_ENTRY__VALUE_INTEGER:
        case CSBM__METADATA_ENTRY__VALUE_FLAG:
            break;
        case CSBM__METADATA_ENTRY__VALUE__NOT_SET:
        default:
            s_problem(c, "missing: set exactly one value: text, integer, "
                "date or flag");
            break;
        }
        s_pop(c, old);
    }
}

static void
s_contacts(s_ctx_t *c, const Csbm__DocumentPackage *d, int directory)
{
    size_t i, old;

    if (!s_count(c, "contacts", d->n_contacts, VALIDATE_MAX_LIST))
        return;
    for (i = 0; i < d->n_contacts; i++) {
        const Csbm__PointOfContact *p = d->contacts[i];
        const char                 *email, *phone;
        s_quoted_t                  q;

        if (p == NULL)
            continue;
        email = s_str(p->email);
        phone = s_str(p->phone);
        old = s_push(c, ".contacts[%zu]", i);
        s_enum(c, "area", &csbm__contact_area__descriptor, (int)p->area,
            directory);
        s_text(c, "name", p->name, VALIDATE_MAX_NAME, 1,
            "the name of the contact");
        s_text(c, "title", p->title, VALIDATE_MAX_NAME, 0, "");
        s_text(c, "organization", p->organization, VALIDATE_MAX_NAME, 0, "");
        if (email[0] == '\0' && phone[0] == '\0')
            s_problem(c, "missing: a contact needs an email or a phone");
        if (email[0] != '\0' && !s_email_valid(email))
            s_problem_at(c, "email", "%s is not an email address of the "
                "form name@example.org", s_q(email, &q));
        if (phone[0] != '\0' && !s_phone_valid(phone))
            s_problem_at(c, "phone", "%s is not a phone number: digits with "
                "an optional leading '+' and spaces, '-', '.', '(' or ')', "
                "6 to 20 digits", s_q(phone, &q));
        s_pop(c, old);
    }
}

static void
s_document(s_ctx_t *c, const Csbm__DocumentPackage *d, int nil)
{
    int kind = (int)d->kind;
    int directory = kind == CSBM__DOCUMENT_KIND__POINTS_OF_CONTACT;

    s_enum(c, "kind", &csbm__document_kind__descriptor, kind, 1);
    s_text(c, "title", d->title, VALIDATE_MAX_TEXT, 1,
        "the title of the document");
    s_metadata(c, d);
    if (nil && d->n_contacts > 0)
        s_problem_at(c, "contacts", "a nil report (nil_report true) lists "
            "no contacts, but contacts has %zu", d->n_contacts);
    else if (!nil && directory && d->n_contacts == 0)
        s_problem_at(c, "contacts", "missing: a POINTS_OF_CONTACT document "
            "lists at least one contact with a name and an email or phone");
    s_contacts(c, d, directory);
    if (d->attachment != NULL) {
        size_t old;

        if (nil)
            s_problem_at(c, "attachment", "a nil report (nil_report true) "
                "has no attachment");
        old = s_push(c, ".attachment");
        s_attachment(c, d->attachment);
        s_pop(c, old);
    }
}

/* ---------------------------------------------------------- package --- */

static void
s_references(s_ctx_t *c, const Csbm__Package *pkg)
{
    size_t     i, j, old;
    s_quoted_t q;

    if (!s_count(c, "references", pkg->n_references,
            VALIDATE_MAX_REFERENCES))
        return;
    for (i = 0; i < pkg->n_references; i++) {
        const char *r = s_str(pkg->references[i]);

        old = s_push(c, ".references[%zu]", i);
        if (!codes_package_id_valid(r)) {
            s_problem(c, "%s is not a package id (32 hexadecimal digits)",
                s_q(r, &q));
        } else {
            for (j = 0; j < i; j++)
                if (strcasecmp(r, s_str(pkg->references[j])) == 0) {
                    s_problem(c, "duplicate reference %s (also at "
                        "references[%zu])", r, j);
                    break;
                }
        }
        s_pop(c, old);
    }
}

static void
s_common(s_ctx_t *c, const Csbm__Package *pkg)
{
    const char *lang = s_str(pkg->language), *prep = s_str(pkg->prepared_at);
    s_quoted_t  q;
    int64_t     t;

    s_state(c, "state", pkg->state, 1, "the sender state");
    if (pkg->year == 0)
        s_problem_at(c, "year", "missing: the reporting year is required "
            "(%d..%d)", VALIDATE_MIN_YEAR, VALIDATE_MAX_YEAR);
    else if (pkg->year < VALIDATE_MIN_YEAR || pkg->year > VALIDATE_MAX_YEAR)
        s_problem_at(c, "year", "year %u is outside %d..%d", pkg->year,
            VALIDATE_MIN_YEAR, VALIDATE_MAX_YEAR);
    if (lang[0] == '\0')
        s_problem_at(c, "language", "missing: the language is required (a "
            "BCP 47 tag such as \"es\", \"pt-BR\", \"en\")");
    else if (!codes_language_valid(lang))
        s_problem_at(c, "language", "%s is not a BCP 47 language tag (such "
            "as \"es\", \"pt-BR\", \"es-419\")", s_q(lang, &q));
    s_text(c, "remarks", pkg->remarks, VALIDATE_MAX_LONG_TEXT, 0, "");
    if (prep[0] == '\0') {
        s_problem_at(c, "prepared_at", "missing: the time the package was "
            "prepared is required (ISO 8601, such as "
            "\"2026-04-28T15:30:00Z\")");
    } else if (codes_parse_datetime(prep, &t) != 0) {
        s_problem_at(c, "prepared_at", "%s is not an ISO 8601 date-time "
            "YYYY-MM-DDTHH:MM:SSZ (fractional seconds and a +HH:MM offset "
            "are allowed)", s_q(prep, &q));
    } else {
        c->have_prepared = 1;
        c->prepared_day = (int32_t)(t >= 0 ? t / 86400 : -((-t + 86399)
            / 86400));
    }
    s_references(c, pkg);
}

Csbm__PackageType
validate_package_type(const Csbm__Package *pkg)
{
    if (pkg == NULL)
        return CSBM__PACKAGE_TYPE__PACKAGE_TYPE_UNSPECIFIED;
    switch (pkg->body_case) {
    case CSBM__PACKAGE__BODY_MILEX:
        return CSBM__PACKAGE_TYPE__MILEX_REPORT;
    case CSBM__PACKAGE__BODY_ARMS_REGISTER:
        return CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN;
    case CSBM__PACKAGE__BODY_ACQUISITION_REPORT:
        return CSBM__PACKAGE_TYPE__ACQUISITION_REPORT;
    case CSBM__PACKAGE__BODY_ACQUISITION:
        return CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION;
    case CSBM__PACKAGE__BODY_EXERCISE:
        return CSBM__PACKAGE_TYPE__EXERCISE_NOTIFICATION;
    case CSBM__PACKAGE__BODY_DOCUMENT:
        return CSBM__PACKAGE_TYPE__DOCUMENT;
    case CSBM__PACKAGE__BODY__NOT_SET:
    default:
        return CSBM__PACKAGE_TYPE__PACKAGE_TYPE_UNSPECIFIED;
    }
}

size_t
validate_package(const Csbm__Package *pkg, validate_report_t *report)
{
    /* A body whose case is set but whose pointer is not (possible only
     * for messages built in C) is checked as an empty message. */
    static const Csbm__MilexReport             no_milex;
    static const Csbm__ArmsRegisterReturn      no_arms;
    static const Csbm__AcquisitionReport       no_report;
    static const Csbm__AcquisitionNotification no_acq;
    static const Csbm__ExerciseNotification    no_ex;
    static const Csbm__DocumentPackage         no_doc;
    s_ctx_t c;
    size_t  old = 0;
    int     nil;

    memset(&c, 0, sizeof c);
    c.rep = report;
    if (report != NULL)
        report->count = report->total = 0;
    s_push(&c, "$");
    if (pkg == NULL) {
        s_problem(&c, "no package");
        goto done;
    }
    c.sender = s_str(pkg->state);
    nil = pkg->nil_report != 0;
    s_common(&c, pkg);
    switch (pkg->body_case) {
    case CSBM__PACKAGE__BODY_MILEX:
        old = s_push(&c, ".milex");
        s_milex(&c, pkg->milex ? pkg->milex : &no_milex, nil);
        break;
    case CSBM__PACKAGE__BODY_ARMS_REGISTER:
        old = s_push(&c, ".arms_register");
        s_arms_register(&c, pkg->arms_register ? pkg->arms_register
                                               : &no_arms, nil);
        break;
    case CSBM__PACKAGE__BODY_ACQUISITION_REPORT:
        old = s_push(&c, ".acquisition_report");
        s_acquisition_report(&c, pkg->acquisition_report
            ? pkg->acquisition_report : &no_report, nil);
        break;
    case CSBM__PACKAGE__BODY_ACQUISITION:
        old = s_push(&c, ".acquisition");
        s_acquisition(&c, pkg->acquisition ? pkg->acquisition : &no_acq,
            nil);
        break;
    case CSBM__PACKAGE__BODY_EXERCISE:
        old = s_push(&c, ".exercise");
        s_exercise(&c, pkg->exercise ? pkg->exercise : &no_ex, pkg);
        break;
    case CSBM__PACKAGE__BODY_DOCUMENT:
        old = s_push(&c, ".document");
        s_document(&c, pkg->document ? pkg->document : &no_doc, nil);
        break;
    case CSBM__PACKAGE__BODY__NOT_SET:
    default:
        s_problem(&c, "missing: no body; set exactly one of milex, "
            "arms_register, acquisition_report, acquisition, exercise, "
            "document");
        goto done;
    }
    s_pop(&c, old);
done:
    if (report != NULL)
        report->total = c.total;
    return c.total;
}
