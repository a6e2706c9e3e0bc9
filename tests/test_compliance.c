/*
 * test_compliance: the state x report-kind matrix against a fixed dataset
 * with known answers (tests/vectors/compliance), plus the edges: order of
 * records, amendments, evaluation time, member lists, malformed records,
 * non-members and the three renderings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/compliance.h"
#include "config/deadlines.h"

#define T_NOW        INT64_C(1747310400) /* 2025-05-15T12:00:00Z */
#define T_MILEX_DUE  INT64_C(1746057599) /* 2025-04-30T23:59:59Z */
#define T_REG_DUE    INT64_C(1748735999) /* 2025-05-31T23:59:59Z */
#define MAX_RECORDS  64

typedef struct {
    char                state[32];
    char                subject[32];
    compliance_record_t rec;
} s_row_t;

typedef struct {
    s_row_t rows[MAX_RECORDS];
    size_t  n_rows;
    char    states[32][16];
    const char *state_ptrs[32];
    size_t  n_states;
} s_dataset_t;

static s_dataset_t s_data;

/* ------------------------------------------------------------------ */

static void
s_vector_path(char *out, size_t cap, const char *name)
{
    const char *src = getenv("CSBM_SOURCE_DIR");
    int         n;

    assert_non_null(src);
    n = snprintf(out, cap, "%s/tests/vectors/compliance/%s", src, name);
    assert_true(n > 0 && (size_t)n < cap);
}

/* The whole of a vector file, NUL-terminated. Caller frees. */
static char *
s_slurp(const char *name)
{
    char   path[PATH_MAX];
    FILE  *f;
    char  *buf;
    long   len;

    s_vector_path(path, sizeof path, name);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    len = ftell(f);
    assert_true(len >= 0 && len < 1 << 20);
    rewind(f);
    buf = malloc((size_t)len + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
    buf[len] = '\0';
    fclose(f);
    return buf;
}

/* "2025-04-30T23:59:59Z" to Unix seconds. */
static int64_t
s_time(const char *s)
{
    struct tm tm;
    int       n = 0;

    memset(&tm, 0, sizeof tm);
    if (strlen(s) != 20
        || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
               &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6
        || n != 20)
        fail_msg("bad time in dataset: '%s'", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return (int64_t)timegm(&tm);
}

static int
s_enum(const ProtobufCEnumDescriptor *d, const char *name)
{
    const ProtobufCEnumValue *v;

    if (name[0] == '\0')
        return 0;
    v = protobuf_c_enum_descriptor_get_value_by_name(d, name);
    if (v == NULL)
        fail_msg("unknown enum name in dataset: '%s'", name);
    return v->value;
}

static void
s_copy(char *dst, size_t cap, const char *src)
{
    assert_true(strlen(src) < cap);
    memcpy(dst, src, strlen(src) + 1);
}

/* Split line at commas in place; exactly want fields. */
static void
s_split(char *line, char **fields, size_t want)
{
    size_t n = 0;
    char  *p = line;

    for (;;) {
        assert_true(n < want);
        fields[n++] = p;
        if ((p = strchr(p, ',')) == NULL)
            break;
        *p++ = '\0';
    }
    assert_int_equal(n, want);
}

static int
s_load(void **state)
{
    char   *text, *line, *save = NULL, *f[9];
    s_row_t *r;
    int     first = 1;

    (void)state;
    memset(&s_data, 0, sizeof s_data);
    text = s_slurp("dataset.csv");
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (first) {
            first = 0;
            assert_string_equal(line, "state,package_type,document_kind,year,"
                "nil_report,created_at,accepted_at,subject_date,status");
            continue;
        }
        assert_true(s_data.n_rows < MAX_RECORDS);
        r = &s_data.rows[s_data.n_rows++];
        s_split(line, f, 9);
        s_copy(r->state, sizeof r->state, f[0]);
        s_copy(r->subject, sizeof r->subject, f[7]);
        r->rec.state = r->state;
        r->rec.package_type = (Csbm__PackageType)s_enum(
            &csbm__package_type__descriptor, f[1]);
        r->rec.document_kind = s_enum(&csbm__document_kind__descriptor, f[2]);
        r->rec.year = (uint32_t)strtoul(f[3], NULL, 10);
        r->rec.nil_report = strcmp(f[4], "1") == 0;
        r->rec.created_at = s_time(f[5]);
        r->rec.accepted_at = s_time(f[6]);
        r->rec.subject_date = r->subject[0] != '\0' ? r->subject : NULL;
        if (strcmp(f[8], "accepted") == 0)
            r->rec.status = COMPLIANCE_ACCEPTED;
        else if (strcmp(f[8], "refused") == 0)
            r->rec.status = COMPLIANCE_REFUSED;
        else
            fail_msg("bad status '%s'", f[8]);
    }
    free(text);

    text = s_slurp("states.txt");
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        assert_true(s_data.n_states < 32);
        s_copy(s_data.states[s_data.n_states], 16, line);
        s_data.state_ptrs[s_data.n_states] = s_data.states[s_data.n_states];
        s_data.n_states++;
    }
    free(text);
    return 0;
}

static compliance_t *
s_matrix(int64_t now, const deadlines_t *dl)
{
    deadlines_t   d;
    errbuf_t      err = {{0}};
    compliance_t *c;

    if (dl == NULL)
        deadlines_default(&d);
    else
        d = *dl;
    c = compliance_new(2024, now, &d, s_data.state_ptrs, s_data.n_states,
        &err);
    if (c == NULL)
        fail_msg("compliance_new: %s", err.msg);
    return c;
}

/* Feed the dataset, forwards or backwards; returns the number of -1s. */
static int
s_feed(compliance_t *c, int backwards)
{
    errbuf_t err = {{0}};
    size_t   i, j;
    int      bad = 0;

    for (i = 0; i < s_data.n_rows; i++) {
        j = backwards ? s_data.n_rows - 1 - i : i;
        if (compliance_add(c, &s_data.rows[j].rec, &err) != 0) {
            bad++;
            /* Only these two records of the dataset are malformed. */
            if (strstr(err.msg, "BRA") == NULL
                && strstr(err.msg, "2023-02-29") == NULL)
                fail_msg("unexpected refusal of record %zu: %s", j, err.msg);
        }
    }
    return bad;
}

static char *
s_csv(const compliance_t *c)
{
    char    *buf = NULL;
    size_t   len = 0;
    FILE    *f = open_memstream(&buf, &len);
    errbuf_t err = {{0}};

    assert_non_null(f);
    if (compliance_render_csv(c, f, &err) != 0)
        fail_msg("render: %s", err.msg);
    assert_int_equal(fclose(f), 0);
    return buf;
}

static compliance_cell_t
s_get(const compliance_t *c, const char *state, compliance_kind_t kind)
{
    compliance_cell_t cell;
    errbuf_t          err = {{0}};

    if (compliance_cell(c, state, kind, &cell, &err) != 0)
        fail_msg("compliance_cell(%s): %s", state, err.msg);
    return cell;
}

static compliance_record_t
s_rec(const char *state, Csbm__PackageType type, int64_t accepted, int nil)
{
    compliance_record_t r;

    memset(&r, 0, sizeof r);
    r.state = state;
    r.package_type = type;
    r.year = 2024;
    r.nil_report = nil;
    r.created_at = accepted;
    r.accepted_at = accepted;
    r.status = COMPLIANCE_ACCEPTED;
    return r;
}

/* ------------------------------------------------------------------ */

static void
test_compliance_dataset_matches_expected_csv(void **state)
{
    compliance_t      *c = s_matrix(T_NOW, NULL);
    compliance_stats_t st;
    char              *got, *want = s_slurp("expected.csv");

    (void)state;
    assert_int_equal(s_feed(c, 0), 2);
    got = s_csv(c);
    assert_string_equal(got, want);
    compliance_stats(c, &st);
    assert_int_equal(st.records, 32);
    assert_int_equal(st.counted, 24);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.other_year, 1);
    assert_int_equal(st.after_now, 2);
    assert_int_equal(st.non_member, 2);
    assert_int_equal(st.invalid, 2);
    free(got);
    free(want);
    compliance_destroy(&c);
    assert_null(c);
    compliance_destroy(&c);
    compliance_destroy(NULL);
}

static void
test_compliance_dataset_spot_checks(void **state)
{
    compliance_t     *c = s_matrix(T_NOW, NULL);
    compliance_cell_t x;
    uint64_t          n = 0;

    (void)state;
    assert_int_equal(s_feed(c, 0), 2);

    /* ARG MILEX on time; the amendment is counted, the first decides. */
    x = s_get(c, "ARG", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_ON_TIME);
    assert_int_equal(x.days_late, 0);
    assert_int_equal(x.submissions, 2);
    assert_true(x.accepted_at == INT64_C(1744293600)); /* 04-10T14:00Z */
    assert_true(x.due == T_MILEX_DUE);

    /* CHL prepared it on 29 April but the hub took it on 3 May. */
    x = s_get(c, "CHL", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_LATE);
    assert_int_equal(x.days_late, 3);
    assert_true(x.created_at < x.due && x.accepted_at > x.due);

    /* CAN's clock said 2 May; the hub's said 30 April 23:59:59. */
    x = s_get(c, "CAN", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_ON_TIME);
    assert_true(x.accepted_at == T_MILEX_DUE && x.created_at > x.due);

    /* BRA: the first second of 1 May is a day late. */
    x = s_get(c, "BRA", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_LATE);
    assert_int_equal(x.days_late, 1);

    x = s_get(c, "URY", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_NIL);
    assert_int_equal(x.nil_reports, 1);

    /* MEX: a nil report on time, then a full one late: still NIL. */
    x = s_get(c, "MEX", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_NIL);
    assert_int_equal(x.submissions, 2);
    assert_int_equal(x.nil_reports, 1);
    assert_int_equal(x.count, 1);

    x = s_get(c, "CHL", COMPLIANCE_CSBM_INVENTORY);
    assert_int_equal(x.status, COMPLIANCE_NIL_LATE);
    assert_int_equal(x.days_late, 5);

    x = s_get(c, "PER", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_MISSING);
    assert_int_equal(x.days_late, 15);
    assert_int_equal(x.submissions, 0);
    assert_int_equal(x.accepted_at, 0);

    /* The UN Register is not due until 31 May. */
    x = s_get(c, "PER", COMPLIANCE_ARMS_REGISTER);
    assert_int_equal(x.status, COMPLIANCE_PENDING);
    assert_true(x.due == T_REG_DUE);
    /* URY's return came after `now`: ignored. */
    x = s_get(c, "URY", COMPLIANCE_ARMS_REGISTER);
    assert_int_equal(x.status, COMPLIANCE_PENDING);
    x = s_get(c, "BRA", COMPLIANCE_ARMS_REGISTER);
    assert_int_equal(x.status, COMPLIANCE_NIL);

    /* ARG: 2024-02-29 + 90 days on time, 2024-01-15 + 91 days late. */
    x = s_get(c, "ARG", COMPLIANCE_ACQUISITION_NOTICES);
    assert_int_equal(x.status, COMPLIANCE_COUNTED);
    assert_int_equal(x.count, 2);
    assert_int_equal(x.late, 1);
    /* A nil notice is not a notice. */
    x = s_get(c, "MEX", COMPLIANCE_ACQUISITION_NOTICES);
    assert_int_equal(x.count, 0);
    assert_int_equal(x.nil_reports, 1);
    /* The notice with an impossible date was not counted. */
    x = s_get(c, "USA", COMPLIANCE_ACQUISITION_NOTICES);
    assert_int_equal(x.submissions, 0);

    /* The refused MILEX does not count; COL's untyped document is not the
     * CSBM inventory. */
    x = s_get(c, "COL", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_MISSING);
    x = s_get(c, "COL", COMPLIANCE_CSBM_INVENTORY);
    assert_int_equal(x.status, COMPLIANCE_MISSING);
    x = s_get(c, "COL", COMPLIANCE_DOCUMENTS);
    assert_int_equal(x.count, 1);
    x = s_get(c, "ARG", COMPLIANCE_CSBM_INVENTORY);
    assert_int_equal(x.status, COMPLIANCE_ON_TIME);
    x = s_get(c, "ARG", COMPLIANCE_EXERCISES);
    assert_int_equal(x.count, 2);

    /* ECU: 2023 report and a report after `now` both ignored. */
    x = s_get(c, "ECU", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_MISSING);

    /* ESP is not a member: ignored, and reported. */
    assert_int_equal(compliance_non_member_count(c), 1);
    assert_string_equal(compliance_non_member_at(c, 0, &n), "ESP");
    assert_int_equal(n, 2);
    assert_null(compliance_non_member_at(c, 1, &n));
    compliance_destroy(&c);
}

static void
test_compliance_result_does_not_depend_on_record_order(void **state)
{
    compliance_t *a = s_matrix(T_NOW, NULL), *b = s_matrix(T_NOW, NULL);
    char         *ca, *cb;

    (void)state;
    assert_int_equal(s_feed(a, 0), 2);
    assert_int_equal(s_feed(b, 1), 2);
    ca = s_csv(a);
    cb = s_csv(b);
    assert_string_equal(ca, cb);
    free(ca);
    free(cb);
    compliance_destroy(&a);
    compliance_destroy(&b);
}

static void
test_compliance_evaluation_time_moves_pending_to_missing(void **state)
{
    compliance_t     *c;
    compliance_cell_t x;

    (void)state;
    /* The last second before the MILEX deadline passes: PENDING. */
    c = s_matrix(T_MILEX_DUE, NULL);
    (void)s_feed(c, 0);
    x = s_get(c, "PER", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_PENDING);
    assert_int_equal(x.days_late, 0);
    /* CHL's late report was not in yet either. */
    x = s_get(c, "CHL", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_PENDING);
    compliance_destroy(&c);

    c = s_matrix(T_MILEX_DUE + 1, NULL);
    (void)s_feed(c, 0);
    x = s_get(c, "PER", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_MISSING);
    assert_int_equal(x.days_late, 1);
    compliance_destroy(&c);

    /* A year later every annual column is decided. */
    c = s_matrix(T_NOW + INT64_C(365) * 86400, NULL);
    (void)s_feed(c, 0);
    x = s_get(c, "PER", COMPLIANCE_ACQUISITION_REPORT);
    assert_int_equal(x.status, COMPLIANCE_MISSING);
    x = s_get(c, "URY", COMPLIANCE_ARMS_REGISTER);
    assert_int_equal(x.status, COMPLIANCE_LATE);
    assert_int_equal(x.days_late, 1);
    x = s_get(c, "ECU", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_LATE);
    assert_int_equal(x.days_late, 20);
    compliance_destroy(&c);
}

static void
test_compliance_uses_configured_deadlines(void **state)
{
    deadlines_t       d;
    errbuf_t          err = {{0}};
    compliance_t     *c;
    compliance_cell_t x;

    (void)state;
    deadlines_default(&d);
    assert_int_equal(deadlines_set(&d, "milex", "05-31", &err), 0);
    assert_int_equal(deadlines_set(&d, "acquisition_notice_days", "91", &err),
        0);
    c = s_matrix(T_NOW, &d);
    (void)s_feed(c, 0);
    x = s_get(c, "CHL", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_ON_TIME);
    x = s_get(c, "PER", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_PENDING);
    x = s_get(c, "ARG", COMPLIANCE_ACQUISITION_NOTICES);
    assert_int_equal(x.late, 0);
    compliance_destroy(&c);
}

static void
test_compliance_earliest_submission_decides(void **state)
{
    static const char *const members[] = {"AAA"};
    deadlines_t         d;
    errbuf_t            err = {{0}};
    compliance_t       *c;
    compliance_cell_t   x;
    compliance_record_t r;

    (void)state;
    deadlines_default(&d);
    c = compliance_new(2024, T_NOW, &d, members, 1, &err);
    assert_non_null(c);
    /* A late full report, then an earlier late nil report arrives in the
     * stream (records need not be in time order). */
    r = s_rec("AAA", CSBM__PACKAGE_TYPE__MILEX_REPORT, T_MILEX_DUE + 86400 * 5,
        0);
    assert_int_equal(compliance_add(c, &r, &err), 0);
    r = s_rec("AAA", CSBM__PACKAGE_TYPE__MILEX_REPORT, T_MILEX_DUE + 86400, 1);
    assert_int_equal(compliance_add(c, &r, &err), 0);
    x = s_get(c, "AAA", COMPLIANCE_MILEX);
    assert_int_equal(x.status, COMPLIANCE_NIL_LATE);
    assert_int_equal(x.days_late, 1);
    assert_int_equal(x.submissions, 2);
    /* Same second, nil and full: the full report decides, either order. */
    r = s_rec("AAA", CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN, T_NOW - 10, 1);
    assert_int_equal(compliance_add(c, &r, &err), 0);
    r.nil_report = 0;
    assert_int_equal(compliance_add(c, &r, &err), 0);
    r.nil_report = 1;
    assert_int_equal(compliance_add(c, &r, &err), 0);
    x = s_get(c, "AAA", COMPLIANCE_ARMS_REGISTER);
    assert_int_equal(x.status, COMPLIANCE_ON_TIME);
    assert_int_equal(x.submissions, 3);
    compliance_destroy(&c);
}

static void
test_compliance_memory_does_not_grow_with_records(void **state)
{
    static const char *const members[] = {"AAA", "BBB"};
    deadlines_t         d;
    errbuf_t            err = {{0}};
    compliance_t       *c;
    compliance_cell_t   x;
    compliance_record_t r;
    char                code[16];
    uint32_t            i;

    (void)state;
    deadlines_default(&d);
    c = compliance_new(2024, T_NOW, &d, members, 2, &err);
    assert_non_null(c);
    for (i = 0; i < 200000; i++) {
        r = s_rec("BBB", CSBM__PACKAGE_TYPE__EXERCISE_NOTIFICATION,
            (int64_t)i, 0);
        assert_int_equal(compliance_add(c, &r, &err), 0);
    }
    /* Non-members: every one counted, at most 64 remembered by name. */
    for (i = 0; i < 1000; i++) {
        snprintf(code, sizeof code, "N%03u", (unsigned)(999 - i));
        r = s_rec(code, CSBM__PACKAGE_TYPE__MILEX_REPORT, 1, 0);
        assert_int_equal(compliance_add(c, &r, &err), 0);
    }
    x = s_get(c, "BBB", COMPLIANCE_EXERCISES);
    assert_int_equal(x.count, 200000);
    assert_int_equal(compliance_non_member_count(c),
        COMPLIANCE_MAX_NON_MEMBERS);
    /* The list keeps the first 64 seen (N999 down to N936), sorted. */
    assert_string_equal(compliance_non_member_at(c, 0, NULL), "N936");
    assert_string_equal(compliance_non_member_at(c, 63, NULL), "N999");
    {
        compliance_stats_t st;
        char              *json = compliance_render_json(c);
        json_t            *root;
        json_error_t       jerr;

        compliance_stats(c, &st);
        assert_int_equal(st.non_member, 1000);
        assert_non_null(json);
        root = json_loads(json, 0, &jerr);
        assert_non_null(root);
        assert_true(json_is_true(json_object_get(root,
            "non_members_truncated")));
        json_decref(root);
        free(json);
    }
    compliance_destroy(&c);
}

static void
test_compliance_rejects_bad_member_lists(void **state)
{
    static const char *const dup[] = {"ARG", "BRA", "ARG"};
    static const char *const bad[] = {"ARG", "B R"};
    static const char *const long_code[] = {"ABCDEFGHIJKLMNOP"};
    static const char *const empty[] = {""};
    static const char *const has_null[] = {"ARG", NULL};
    static const char *const ok[] = {"hub-x_1", "ABCDEFGHIJKLMNO"};
    deadlines_t   d;
    errbuf_t      err = {{0}};
    compliance_t *c;
    const char  **many;
    char        (*codes)[8];
    size_t        i;

    (void)state;
    deadlines_default(&d);
    assert_null(compliance_new(2024, T_NOW, &d, dup, 3, &err));
    assert_non_null(strstr(err.msg, "ARG is listed twice"));
    assert_null(compliance_new(2024, T_NOW, &d, bad, 2, &err));
    assert_non_null(strstr(err.msg, "member 2"));
    assert_null(compliance_new(2024, T_NOW, &d, long_code, 1, &err));
    assert_null(compliance_new(2024, T_NOW, &d, empty, 1, &err));
    assert_null(compliance_new(2024, T_NOW, &d, has_null, 2, &err));
    assert_null(compliance_new(2024, T_NOW, &d, ok, 0, &err));
    assert_non_null(strstr(err.msg, "0 member states"));
    assert_null(compliance_new(2024, T_NOW, &d, NULL, 1, &err));
    assert_null(compliance_new(2024, T_NOW, NULL, ok, 2, &err));
    assert_null(compliance_new(0, T_NOW, &d, ok, 2, &err));
    assert_non_null(strstr(err.msg, "reporting year 0"));
    c = compliance_new(2024, T_NOW, &d, ok, 2, &err);
    assert_non_null(c);
    compliance_destroy(&c);

    /* Any number of states up to the bound: the list is configuration. */
    many = calloc(COMPLIANCE_MAX_STATES + 1, sizeof *many);
    codes = calloc(COMPLIANCE_MAX_STATES + 1, sizeof *codes);
    assert_non_null(many);
    assert_non_null(codes);
    for (i = 0; i <= COMPLIANCE_MAX_STATES; i++) {
        snprintf(codes[i], sizeof codes[i], "S%05zu", i);
        many[i] = codes[i];
    }
    c = compliance_new(2024, T_NOW, &d, many, COMPLIANCE_MAX_STATES, &err);
    assert_non_null(c);
    compliance_destroy(&c);
    assert_null(compliance_new(2024, T_NOW, &d, many,
        COMPLIANCE_MAX_STATES + 1, &err));
    free(many);
    free(codes);
}

static void
test_compliance_rejects_malformed_records(void **state)
{
    static const char *const members[] = {"ARG"};
    deadlines_t         d;
    errbuf_t            err = {{0}};
    compliance_t       *c;
    compliance_record_t r;
    compliance_stats_t  st;
    compliance_cell_t   x;

    (void)state;
    deadlines_default(&d);
    c = compliance_new(2024, T_NOW, &d, members, 1, &err);
    assert_non_null(c);

    assert_int_equal(compliance_add(c, NULL, &err), -1);
    r = s_rec("ARG", CSBM__PACKAGE_TYPE__MILEX_REPORT, 100, 0);
    r.status = (compliance_outcome_t)0;
    assert_int_equal(compliance_add(c, &r, &err), -1);
    assert_non_null(strstr(err.msg, "neither accepted nor refused"));
    r = s_rec(NULL, CSBM__PACKAGE_TYPE__MILEX_REPORT, 100, 0);
    assert_int_equal(compliance_add(c, &r, &err), -1);
    r = s_rec("AR\nG", CSBM__PACKAGE_TYPE__MILEX_REPORT, 100, 0);
    assert_int_equal(compliance_add(c, &r, &err), -1);
    assert_null(strchr(err.msg, '\n'));
    r = s_rec("ARG", CSBM__PACKAGE_TYPE__MILEX_REPORT, -1, 0);
    assert_int_equal(compliance_add(c, &r, &err), -1);
    assert_non_null(strstr(err.msg, "accepted_at"));
    r = s_rec("ARG", (Csbm__PackageType)7, 100, 0);
    assert_int_equal(compliance_add(c, &r, &err), -1);
    assert_non_null(strstr(err.msg, "unknown package type 7"));
    r = s_rec("ARG", CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION, 100, 0);
    assert_int_equal(compliance_add(c, &r, &err), -1);
    assert_non_null(strstr(err.msg, "record from ARG, "
        "ACQUISITION_NOTIFICATION 2024"));
    assert_non_null(strstr(err.msg, "subject date"));
    r.subject_date = "2024-02-30";
    assert_int_equal(compliance_add(c, &r, &err), -1);
    assert_non_null(strstr(err.msg, "'2024-02-30'"));

    /* A refused record is not checked further: the hub refused it. */
    r.status = COMPLIANCE_REFUSED;
    assert_int_equal(compliance_add(c, &r, &err), 0);
    /* A nil notice needs no incorporation date. */
    r = s_rec("ARG", CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION, 100, 1);
    assert_int_equal(compliance_add(c, &r, &err), 0);

    compliance_stats(c, &st);
    assert_int_equal(st.records, 10);
    assert_int_equal(st.invalid, 8);
    assert_int_equal(st.refused, 1);
    assert_int_equal(st.counted, 1);
    x = s_get(c, "ARG", COMPLIANCE_MILEX);
    assert_int_equal(x.submissions, 0);
    assert_int_equal(compliance_add(NULL, &r, &err), -1);
    compliance_destroy(&c);
}

static void
test_compliance_cell_rejects_non_members_and_bad_kinds(void **state)
{
    compliance_t     *c = s_matrix(T_NOW, NULL);
    compliance_cell_t x;
    errbuf_t          err = {{0}};

    (void)state;
    (void)s_feed(c, 0);
    assert_int_equal(compliance_cell(c, "ESP", COMPLIANCE_MILEX, &x, &err),
        -1);
    assert_non_null(strstr(err.msg, "ESP is not in the member list"));
    assert_int_equal(compliance_cell(c, "ARG", COMPLIANCE_KIND_COUNT, &x,
                         &err), -1);
    assert_int_equal(compliance_cell(c, "ARG", (compliance_kind_t)-1, &x,
                         &err), -1);
    assert_int_equal(compliance_cell(c, NULL, COMPLIANCE_MILEX, &x, &err), -1);
    assert_int_equal(compliance_cell(c, "ARG", COMPLIANCE_MILEX, NULL, &err),
        -1);
    assert_string_equal(compliance_kind_name(COMPLIANCE_KIND_COUNT),
        "unknown");
    assert_string_equal(compliance_kind_name(COMPLIANCE_ARMS_REGISTER),
        "arms_register");
    assert_string_equal(compliance_status_name(COMPLIANCE_NIL_LATE),
        "NIL_LATE");
    assert_string_equal(compliance_status_name((compliance_status_t)99),
        "UNKNOWN");
    compliance_destroy(&c);
}

static void
test_compliance_renders_json(void **state)
{
    compliance_t *c = s_matrix(T_NOW, NULL);
    char         *text;
    json_t       *root, *states, *chl, *arg, *cell;
    json_error_t  jerr;

    (void)state;
    (void)s_feed(c, 0);
    text = compliance_render_json(c);
    assert_non_null(text);
    root = json_loads(text, 0, &jerr);
    if (root == NULL)
        fail_msg("JSON does not parse: %s", jerr.text);
    assert_int_equal(json_integer_value(json_object_get(root, "year")), 2024);
    assert_string_equal(json_string_value(json_object_get(root, "as_of")),
        "2025-05-15T12:00:00Z");
    assert_string_equal(json_string_value(json_object_get(
        json_object_get(root, "deadlines"), "arms_register")), "2025-05-31");
    assert_int_equal(json_integer_value(json_object_get(
        json_object_get(root, "deadlines"), "acquisition_notice_days")), 90);
    states = json_object_get(root, "states");
    assert_int_equal(json_array_size(states), 11);
    arg = json_array_get(states, 0);
    chl = json_array_get(states, 4);
    assert_string_equal(json_string_value(json_object_get(chl, "state")),
        "CHL");
    cell = json_object_get(chl, "milex");
    assert_string_equal(json_string_value(json_object_get(cell, "status")),
        "LATE");
    assert_int_equal(json_integer_value(json_object_get(cell, "days_late")), 3);
    assert_string_equal(json_string_value(json_object_get(cell, "due")),
        "2025-04-30");
    assert_string_equal(json_string_value(json_object_get(cell,
        "accepted_at")), "2025-05-03T10:00:00Z");
    assert_string_equal(json_string_value(json_object_get(cell,
        "created_at")), "2025-04-29T15:00:00Z");
    cell = json_object_get(arg, "milex");
    assert_null(json_object_get(cell, "days_late"));
    assert_int_equal(json_integer_value(json_object_get(cell, "submissions")),
        2);
    cell = json_object_get(arg, "acquisition_notices");
    assert_int_equal(json_integer_value(json_object_get(cell, "count")), 2);
    assert_int_equal(json_integer_value(json_object_get(cell, "late")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(root,
        "records"), "invalid")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        json_object_get(root, "non_members"), 0), "state")), "ESP");
    assert_true(json_is_false(json_object_get(root, "non_members_truncated")));
    json_decref(root);
    free(text);
    assert_null(compliance_render_json(NULL));
    compliance_destroy(&c);
}

static void
test_compliance_renders_table(void **state)
{
    compliance_t *c = s_matrix(T_NOW, NULL);
    char         *buf = NULL;
    size_t        len = 0;
    FILE         *f = open_memstream(&buf, &len);
    errbuf_t      err = {{0}};

    (void)state;
    assert_non_null(f);
    (void)s_feed(c, 0);
    assert_int_equal(compliance_render_table(c, f, &err), 0);
    assert_int_equal(fclose(f), 0);
    assert_non_null(strstr(buf, "reporting year 2024, as of "
        "2025-05-15T12:00:00Z"));
    assert_non_null(strstr(buf, "milex 2025-04-30,"));
    assert_non_null(strstr(buf, "notices: due 90 days after incorporation\n"));
    assert_non_null(strstr(buf, "\nARG    ON_TIME*  "));
    assert_non_null(strstr(buf, "\nCHL    LATE 3d  "));
    assert_non_null(strstr(buf, "NIL_LATE 5d"));
    assert_non_null(strstr(buf, "2 (1 late)"));
    assert_non_null(strstr(buf, "MISSING 30d"));
    assert_non_null(strstr(buf, "32 read, 24 counted, 1 refused"));
    assert_non_null(strstr(buf, "not in the member list: ESP (2)\n"));
    assert_non_null(strstr(buf, "\n* several accepted packages"));
    assert_null(strstr(buf, " \n"));
    free(buf);
    compliance_destroy(&c);
}

static void
test_compliance_table_footnote_only_with_amendments(void **state)
{
    compliance_t *c = s_matrix(T_NOW, NULL);
    char         *buf = NULL;
    size_t        len = 0;
    FILE         *f = open_memstream(&buf, &len);
    errbuf_t      err = {{0}};

    (void)state;
    assert_non_null(f);
    assert_int_equal(compliance_render_table(c, f, &err), 0);
    assert_int_equal(fclose(f), 0);
    assert_null(strchr(buf, '*'));
    assert_null(strstr(buf, "amendments"));
    assert_non_null(strstr(buf, "\nRecords: "));
    free(buf);
    compliance_destroy(&c);
}

static void
test_compliance_render_reports_write_errors(void **state)
{
    compliance_t *c = s_matrix(T_NOW, NULL);
    FILE         *f = fopen("/dev/null", "r");
    errbuf_t      err = {{0}};

    (void)state;
    assert_non_null(f);
    assert_int_equal(compliance_render_csv(c, f, &err), -1);
    assert_non_null(strstr(err.msg, "write failed"));
    assert_int_equal(compliance_render_table(c, f, &err), -1);
    fclose(f);
    assert_int_equal(compliance_render_csv(NULL, stdout, &err), -1);
    assert_int_equal(compliance_render_table(c, NULL, &err), -1);
    compliance_destroy(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compliance_dataset_matches_expected_csv),
        cmocka_unit_test(test_compliance_dataset_spot_checks),
        cmocka_unit_test(test_compliance_result_does_not_depend_on_record_order),
        cmocka_unit_test(
            test_compliance_evaluation_time_moves_pending_to_missing),
        cmocka_unit_test(test_compliance_uses_configured_deadlines),
        cmocka_unit_test(test_compliance_earliest_submission_decides),
        cmocka_unit_test(test_compliance_memory_does_not_grow_with_records),
        cmocka_unit_test(test_compliance_rejects_bad_member_lists),
        cmocka_unit_test(test_compliance_rejects_malformed_records),
        cmocka_unit_test(
            test_compliance_cell_rejects_non_members_and_bad_kinds),
        cmocka_unit_test(test_compliance_renders_json),
        cmocka_unit_test(test_compliance_renders_table),
        cmocka_unit_test(test_compliance_table_footnote_only_with_amendments),
        cmocka_unit_test(test_compliance_render_reports_write_errors),
    };

    return cmocka_run_group_tests(tests, s_load, NULL);
}
