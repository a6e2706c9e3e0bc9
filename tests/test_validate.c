/*
 * test_validate: the domain rules of every package type.
 *
 * Valid packages are the samples in examples/ (read with the JSON codec,
 * as a ministry's file would be); each negative case breaks one rule of a
 * valid sample in C and checks the exact JSON path and a word of the
 * message. The MILEX sums are also checked on matrices built in C with
 * known figures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/json_codec.h"
#include "proto/validate.h"

static validate_report_t s_rep;

/* ------------------------------------------------------------ helpers --- */

static char *
s_read(const char *rel, size_t *len)
{
    const char *root = getenv("CSBM_SOURCE_DIR");
    char        path[1024];
    FILE       *f;
    char       *buf;
    long        n;

    snprintf(path, sizeof path, "%s/%s", root != NULL ? root : ".", rel);
    f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("%s: cannot open (is CSBM_SOURCE_DIR set?)", path);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0 && n < 1024 * 1024);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* An example package, decoded as the CLI would. */
static Csbm__Package *
s_load(const char *name)
{
    char              rel[256];
    size_t            len;
    char             *text;
    errbuf_t          err = {{0}};
    ProtobufCMessage *m;

    snprintf(rel, sizeof rel, "examples/%s", name);
    text = s_read(rel, &len);
    m = json_codec_decode(&csbm__package__descriptor, text, len, &err);
    free(text);
    if (m == NULL)
        fail_msg("%s: %s", rel, err.msg);
    return (Csbm__Package *)m;
}

static void
s_free(Csbm__Package *pkg)
{
    protobuf_c_message_free_unpacked(&pkg->base, NULL);
}

static char *
s_dup(const char *s)
{
    char *d = strdup(s);

    assert_non_null(d);
    return d;
}

/* Replace a string field of a decoded message. */
static void
s_set(char **field, const char *v)
{
    if (*field != NULL && *field != protobuf_c_empty_string)
        free(*field);
    *field = s_dup(v);
}

/* Append to a repeated string field. */
static void
s_append(char ***arr, size_t *n, const char *v)
{
    char **grown = realloc(*arr, (*n + 1) * sizeof **arr);

    assert_non_null(grown);
    grown[*n] = s_dup(v);
    *arr = grown;
    (*n)++;
}

static void
s_print_report(void)
{
    size_t i;

    for (i = 0; i < s_rep.count; i++)
        print_message("  %s: %s\n", s_rep.problems[i].path,
            s_rep.problems[i].message);
}

static void
s_expect_valid(const Csbm__Package *pkg)
{
    size_t n = validate_package(pkg, &s_rep);

    if (n != 0) {
        s_print_report();
        fail_msg("expected a valid package, got %zu problem(s)", n);
    }
    assert_int_equal(s_rep.count, 0);
    assert_int_equal(s_rep.total, 0);
}

/* The package has a problem at exactly path whose message contains
 * keyword; and, unless total is 0, exactly total problems. Returns the
 * problem's message. */
static const char *
s_expect(const Csbm__Package *pkg, size_t total, const char *path,
    const char *keyword)
{
    size_t n = validate_package(pkg, &s_rep), i;

    assert_int_equal(n, s_rep.total);
    for (i = 0; i < s_rep.count; i++)
        if (strcmp(s_rep.problems[i].path, path) == 0
            && strstr(s_rep.problems[i].message, keyword) != NULL)
            break;
    if (i == s_rep.count || (total != 0 && n != total)) {
        s_print_report();
        fail_msg("expected %zu problem(s) with one at %s mentioning \"%s\"; "
            "got %zu", total, path, keyword, n);
    }
    return s_rep.problems[i].message;
}

/* Load an example, let mutate break it, and check the one problem. */
#define EXPECT_ONE(file, path, keyword, ...)                                  \
    do {                                                                      \
        Csbm__Package *pkg = s_load(file);                                    \
        s_expect_valid(pkg);                                                  \
        __VA_ARGS__;                                                          \
        s_expect(pkg, 1, path, keyword);                                      \
        s_free(pkg);                                                          \
    } while (0)

#define MILEX_ARG  "milex-standardized-ARG-2025.json"
#define MILEX_CHL  "milex-simplified-CHL-2025.json"
#define MILEX_PER  "milex-single-figure-PER-2025.json"
#define MILEX_URY  "milex-nil-URY-2025.json"
#define ARMS_BRA   "arms-register-BRA-2025.json"
#define ARMS_CRI   "arms-register-nil-CRI-2025.json"
#define ACQREP_COL "acquisition-report-COL-2025.json"
#define ACQ_CHL    "acquisition-notification-CHL.json"
#define EX_ARG     "exercise-notification-ARG.json"
#define EX_CANCEL  "exercise-cancellation-ARG.json"
#define EX_RESP    "exercise-observer-response-CHL.json"
#define DOC_MEX    "document-white-paper-MEX.json"
#define DOC_PER    "document-points-of-contact-PER.json"
#define DOC_GTM    "document-csbm-inventory-GTM.json"

/* ---------------------------------------------------------- positives --- */

static const struct {
    const char       *file;
    Csbm__PackageType type;
} s_samples[] = {
    {MILEX_ARG, CSBM__PACKAGE_TYPE__MILEX_REPORT},
    {MILEX_CHL, CSBM__PACKAGE_TYPE__MILEX_REPORT},
    {MILEX_PER, CSBM__PACKAGE_TYPE__MILEX_REPORT},
    {MILEX_URY, CSBM__PACKAGE_TYPE__MILEX_REPORT},
    {ARMS_BRA, CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN},
    {ARMS_CRI, CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN},
    {ACQREP_COL, CSBM__PACKAGE_TYPE__ACQUISITION_REPORT},
    {ACQ_CHL, CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION},
    {EX_ARG, CSBM__PACKAGE_TYPE__EXERCISE_NOTIFICATION},
    {EX_CANCEL, CSBM__PACKAGE_TYPE__EXERCISE_NOTIFICATION},
    {EX_RESP, CSBM__PACKAGE_TYPE__EXERCISE_NOTIFICATION},
    {DOC_MEX, CSBM__PACKAGE_TYPE__DOCUMENT},
    {DOC_PER, CSBM__PACKAGE_TYPE__DOCUMENT},
    {DOC_GTM, CSBM__PACKAGE_TYPE__DOCUMENT},
};

static void
s_accepts_sample(const char *file)
{
    Csbm__Package *pkg = s_load(file);
    size_t         i;

    s_expect_valid(pkg);
    assert_int_equal(validate_package(pkg, NULL), 0);
    for (i = 0; i < sizeof s_samples / sizeof s_samples[0]; i++)
        if (strcmp(s_samples[i].file, file) == 0)
            assert_int_equal(validate_package_type(pkg), s_samples[i].type);
    s_free(pkg);
}

static void
test_validate_accepts_milex_standardized(void **state)
{
    (void)state;
    s_accepts_sample(MILEX_ARG);
}

static void
test_validate_accepts_milex_simplified(void **state)
{
    (void)state;
    s_accepts_sample(MILEX_CHL);
}

static void
test_validate_accepts_milex_single_figure(void **state)
{
    (void)state;
    s_accepts_sample(MILEX_PER);
}

static void
test_validate_accepts_milex_nil(void **state)
{
    (void)state;
    s_accepts_sample(MILEX_URY);
}

static void
test_validate_accepts_arms_register(void **state)
{
    (void)state;
    s_accepts_sample(ARMS_BRA);
    s_accepts_sample(ARMS_CRI);
}

static void
test_validate_accepts_acquisition_report(void **state)
{
    (void)state;
    s_accepts_sample(ACQREP_COL);
}

static void
test_validate_accepts_acquisition_notification(void **state)
{
    (void)state;
    s_accepts_sample(ACQ_CHL);
}

static void
test_validate_accepts_exercise_messages(void **state)
{
    (void)state;
    s_accepts_sample(EX_ARG);
    s_accepts_sample(EX_CANCEL);
    s_accepts_sample(EX_RESP);
}

static void
test_validate_accepts_documents(void **state)
{
    (void)state;
    s_accepts_sample(DOC_MEX);
    s_accepts_sample(DOC_PER);
    s_accepts_sample(DOC_GTM);
}

static void
test_validate_package_type_of_each_body(void **state)
{
    Csbm__Package pkg;
    size_t        i;

    (void)state;
    csbm__package__init(&pkg);
    assert_int_equal(validate_package_type(NULL),
        CSBM__PACKAGE_TYPE__PACKAGE_TYPE_UNSPECIFIED);
    assert_int_equal(validate_package_type(&pkg),
        CSBM__PACKAGE_TYPE__PACKAGE_TYPE_UNSPECIFIED);
    for (i = 0; i < sizeof s_samples / sizeof s_samples[0]; i++) {
        Csbm__Package *p = s_load(s_samples[i].file);
        assert_int_equal(validate_package_type(p), s_samples[i].type);
        s_free(p);
    }
}

/* The files of examples/invalid/ fail for the reason examples/README.md
 * gives. */
static void
test_validate_refuses_invalid_examples(void **state)
{
    static const struct {
        const char *file, *path, *keyword;
        size_t      total;
    } v[] = {
        {"invalid/milex-matrix-mismatch.json",
            "$.milex.matrix.personnel.land",
            "column total 927000 differs from sum of cells 927050", 2},
        {"invalid/arms-register-negative-quantity.json",
            "$.arms_register.exports[0].quantity", "negative", 1},
        {"invalid/exercise-cancellation-without-reference.json",
            "$.references", "a cancellation must refer to the package it "
            "cancels", 1},
        {"invalid/acquisition-unknown-country.json",
            "$.acquisition.exporter_state", "unknown state code \"GER\"", 1},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        Csbm__Package *pkg = s_load(v[i].file);
        s_expect(pkg, v[i].total, v[i].path, v[i].keyword);
        s_free(pkg);
    }
}

/* ------------------------------------------------------------- common --- */

static void
test_validate_rejects_unknown_state(void **state)
{
    (void)state;
    EXPECT_ONE(MILEX_PER, "$.state", "unknown state code \"XYZ\"",
        s_set(&pkg->state, "XYZ"));
    EXPECT_ONE(MILEX_PER, "$.state", "unknown state code \"per\"",
        s_set(&pkg->state, "per"));
    EXPECT_ONE(MILEX_PER, "$.state", "missing", s_set(&pkg->state, ""));
}

static void
test_validate_rejects_year_out_of_range(void **state)
{
    (void)state;
    EXPECT_ONE(MILEX_PER, "$.year", "year 1989 is outside 1990..2100",
        pkg->year = 1989);
    EXPECT_ONE(MILEX_PER, "$.year", "year 2101 is outside", pkg->year = 2101);
    EXPECT_ONE(MILEX_PER, "$.year", "missing", pkg->year = 0);
    {
        Csbm__Package *pkg = s_load(MILEX_PER);
        pkg->year = 1990;
        s_expect_valid(pkg);
        pkg->year = 2100;
        s_expect_valid(pkg);
        s_free(pkg);
    }
}

static void
test_validate_rejects_bad_language(void **state)
{
    (void)state;
    EXPECT_ONE(MILEX_PER, "$.language", "missing",
        s_set(&pkg->language, ""));
    EXPECT_ONE(MILEX_PER, "$.language", "BCP 47",
        s_set(&pkg->language, "es_PE"));
    EXPECT_ONE(MILEX_PER, "$.language", "BCP 47",
        s_set(&pkg->language, "spanish"));
}

static void
test_validate_rejects_bad_prepared_at(void **state)
{
    (void)state;
    EXPECT_ONE(MILEX_PER, "$.prepared_at", "missing",
        s_set(&pkg->prepared_at, ""));
    EXPECT_ONE(MILEX_PER, "$.prepared_at", "ISO 8601",
        s_set(&pkg->prepared_at, "2026-04-29 10:00:00"));
    EXPECT_ONE(MILEX_PER, "$.prepared_at", "ISO 8601",
        s_set(&pkg->prepared_at, "2026-02-29T10:00:00Z"));
}

static void
test_validate_rejects_missing_body(void **state)
{
    Csbm__Package *pkg = s_load(MILEX_PER);

    (void)state;
    protobuf_c_message_free_unpacked(&pkg->milex->base, NULL);
    pkg->milex = NULL;
    pkg->body_case = CSBM__PACKAGE__BODY__NOT_SET;
    assert_string_equal(s_expect(pkg, 1, "$", "no body"),
        "missing: no body; set exactly one of milex, arms_register, "
        "acquisition_report, acquisition, exercise, document");
    assert_int_equal(validate_package_type(pkg),
        CSBM__PACKAGE_TYPE__PACKAGE_TYPE_UNSPECIFIED);
    s_free(pkg);
}

static void
test_validate_rejects_null_package(void **state)
{
    (void)state;
    assert_int_equal(validate_package(NULL, &s_rep), 1);
    assert_string_equal(s_rep.problems[0].path, "$");
    assert_int_equal(validate_package(NULL, NULL), 1);
}

/* A body case with a NULL body (built in C) is an empty body, not a
 * crash. */
static void
test_validate_checks_null_body_as_empty(void **state)
{
    Csbm__Package *pkg = s_load(DOC_MEX);

    (void)state;
    protobuf_c_message_free_unpacked(&pkg->document->base, NULL);
    pkg->document = NULL;
    s_expect(pkg, 2, "$.document.kind", "missing");
    s_expect(pkg, 2, "$.document.title", "missing");
    s_free(pkg);
}

static void
test_validate_rejects_bad_references(void **state)
{
    (void)state;
    EXPECT_ONE(EX_CANCEL, "$.references[0]", "package id",
        s_set(&pkg->references[0], "3f9c1e7a5b2d4f608a1c9e3b7d5f2a4"));
    EXPECT_ONE(EX_CANCEL, "$.references[0]", "package id",
        s_set(&pkg->references[0], "3f9c1e7a5b2d4f608a1c9e3b7d5f2a4z"));
    EXPECT_ONE(EX_CANCEL, "$.references[1]", "duplicate",
        s_append(&pkg->references, &pkg->n_references,
            "3F9C1E7A5B2D4F608A1C9E3B7D5F2A41"));
    EXPECT_ONE(EX_CANCEL, "$.references", "33 entries, more than the limit "
        "of 32", {
            size_t i;
            char   id[33];
            for (i = 1; i < 33; i++) {
                snprintf(id, sizeof id, "%032zx", i);
                s_append(&pkg->references, &pkg->n_references, id);
            }
        });
    {
        /* 32 distinct references are fine */
        Csbm__Package *pkg = s_load(EX_CANCEL);
        size_t         i;
        char           id[33];

        for (i = 1; i < 32; i++) {
            snprintf(id, sizeof id, "%032zx", i);
            s_append(&pkg->references, &pkg->n_references, id);
        }
        s_expect_valid(pkg);
        s_free(pkg);
    }
}

static void
test_validate_rejects_long_or_broken_text(void **state)
{
    char *big = malloc(VALIDATE_MAX_LONG_TEXT + 2);

    (void)state;
    assert_non_null(big);
    memset(big, 'a', VALIDATE_MAX_LONG_TEXT + 1);
    big[VALIDATE_MAX_LONG_TEXT + 1] = '\0';
    EXPECT_ONE(MILEX_PER, "$.remarks", "longer than the limit",
        s_set(&pkg->remarks, big));
    big[VALIDATE_MAX_LONG_TEXT] = '\0';
    {
        Csbm__Package *pkg = s_load(MILEX_PER);
        s_set(&pkg->remarks, big);
        s_expect_valid(pkg);
        s_free(pkg);
    }
    free(big);
    EXPECT_ONE(MILEX_PER, "$.remarks", "UTF-8",
        s_set(&pkg->remarks, "bad \xc3\x28 byte"));
    EXPECT_ONE(MILEX_PER, "$.remarks", "UTF-8",
        s_set(&pkg->remarks, "overlong \xc0\xaf slash"));
    EXPECT_ONE(MILEX_PER, "$.remarks", "UTF-8",
        s_set(&pkg->remarks, "surrogate \xed\xa0\x80"));
}

/* A hostile value is quoted short and escaped in the message. */
static void
test_validate_quotes_values_safely(void **state)
{
    Csbm__Package *pkg = s_load(MILEX_PER);
    const char    *msg;

    (void)state;
    s_set(&pkg->language, "\x1b[31mred\"\\ and a long tail of text that "
        "goes on and on and on");
    msg = s_expect(pkg, 1, "$.language", "BCP 47");
    assert_non_null(strstr(msg, "\"\\x1b[31mred\\\"\\\\ and a long tail"));
    assert_non_null(strstr(msg, "...\""));
    assert_null(strchr(msg, '\x1b'));
    s_free(pkg);
}

static void
test_validate_report_keeps_first_problems_and_counts_all(void **state)
{
    Csbm__Package                    *pkg = s_load(MILEX_ARG);
    size_t                            n, n2;

    (void)state;
    const ProtobufCMessageDescriptor *md = &csbm__milex_matrix__descriptor;
    const ProtobufCMessageDescriptor *rd = &csbm__force_groups__descriptor;
    size_t                            r, j;

    /* every cell of every row negative: far more than the report holds */
    for (r = 0; r < md->n_fields; r++) {
        char *row = *(char **)((char *)pkg->milex->matrix
            + md->fields[r].offset);
        if (row == NULL)
            continue;
        for (j = 0; j < rd->n_fields; j++)
            *(int64_t *)(row + rd->fields[j].offset) = -1;
    }
    n = validate_package(pkg, &s_rep);
    assert_true(n > VALIDATE_MAX_PROBLEMS);
    assert_int_equal(s_rep.count, VALIDATE_MAX_PROBLEMS);
    assert_int_equal(s_rep.total, n);
    /* document order: the first problem is the first negative cell */
    assert_string_equal(s_rep.problems[0].path,
        "$.milex.matrix.personnel.strategic");
    /* without a report the count is the same */
    n2 = validate_package(pkg, NULL);
    assert_int_equal(n2, n);
    s_free(pkg);
}

/* -------------------------------------------------------------- MILEX --- */

static Csbm__ForceGroups *
s_fg(int64_t land, int64_t naval, int64_t total)
{
    Csbm__ForceGroups *g = malloc(sizeof *g);

    assert_non_null(g);
    csbm__force_groups__init(g);
    g->land = land;
    g->naval = naval;
    g->total = total;
    return g;
}

/* A standardized MILEX package built in C around matrix m. */
static Csbm__Package *
s_milex_pkg(Csbm__MilexMatrix **m_out)
{
    Csbm__Package     *pkg = malloc(sizeof *pkg);
    Csbm__MilexReport *r = malloc(sizeof *r);
    Csbm__MilexMatrix *m = malloc(sizeof *m);

    assert_non_null(pkg);
    assert_non_null(r);
    assert_non_null(m);
    csbm__package__init(pkg);
    csbm__milex_report__init(r);
    csbm__milex_matrix__init(m);
    pkg->state = s_dup("ARG");
    pkg->year = 2025;
    pkg->language = s_dup("es");
    pkg->prepared_at = s_dup("2026-04-22T14:30:00Z");
    pkg->body_case = CSBM__PACKAGE__BODY_MILEX;
    pkg->milex = r;
    r->currency = s_dup("ARS");
    r->unit = CSBM__UNIT_OF_MEASURE__THOUSANDS;
    r->form = CSBM__MILEX_FORM__MILEX_STANDARDIZED;
    r->matrix = m;
    *m_out = m;
    return pkg;
}

/* The example of validate.h, with its figures: personnel.land says 1200,
 * its sub-rows add up to 1150. */
static void
test_validate_matrix_column_mismatch_names_figures(void **state)
{
    Csbm__MilexMatrix *m;
    Csbm__Package     *pkg = s_milex_pkg(&m);

    (void)state;
    m->active_military = s_fg(1000, 0, 1000);
    m->civilian = s_fg(150, 0, 150);
    m->personnel = s_fg(1200, 0, 1200);
    m->total = s_fg(1200, 0, 1200);
    assert_string_equal(s_expect(pkg, 2, "$.milex.matrix.personnel.land",
                            "column total"),
        "column total 1200 differs from sum of cells 1150 (conscripts + "
        "active_military + reserves + civilian + military_pensions)");
    /* the total column of the same row says the same */
    assert_string_equal(s_expect(pkg, 2, "$.milex.matrix.personnel.total",
                            "column total"),
        "column total 1200 differs from sum of cells 1150 (conscripts + "
        "active_military + reserves + civilian + military_pensions)");
    /* corrected, the matrix is valid */
    m->personnel->land = m->personnel->total = 1150;
    m->total->land = m->total->total = 1150;
    s_expect_valid(pkg);
    s_free(pkg);
}

static void
test_validate_matrix_row_mismatch_names_figures(void **state)
{
    Csbm__MilexMatrix *m;
    Csbm__Package     *pkg = s_milex_pkg(&m);

    (void)state;
    m->active_military = s_fg(1000, 500, 1600);
    m->personnel = s_fg(1000, 500, 1500);
    m->total = s_fg(1000, 500, 1500);
    assert_string_equal(s_expect(pkg, 2,
                            "$.milex.matrix.active_military.total",
                            "row total"),
        "row total 1600 differs from sum of cells 1500 (strategic + land + "
        "naval + air + other_military + central_support + peacekeeping + "
        "military_assistance + emergency_aid + undistributed)");
    s_expect(pkg, 2, "$.milex.matrix.personnel.total",
        "column total 1500 differs from sum of cells 1600");
    m->active_military->total = 1500;
    s_expect_valid(pkg);
    s_free(pkg);
}

/* Every heading rule of the matrix, one at a time. */
static void
test_validate_matrix_checks_every_heading(void **state)
{
    static const struct {
        const char *heading, *part;
    } v[] = {
        {"personnel", "military_pensions"},
        {"operations_maintenance", "om_other"},
        {"procurement", "nuclear_warheads"},
        {"construction", "training_facilities"},
        {"procurement_construction", "procurement"},
        {"research_development", "development_testing"},
        {"total", "research_development"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        Csbm__MilexMatrix              *m;
        Csbm__Package                  *pkg = s_milex_pkg(&m);
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field_by_name(
                &csbm__milex_matrix__descriptor, v[i].part);
        char path[128];

        assert_non_null(f);
        /* a part row with 7 in the naval column, and nothing above it */
        *(Csbm__ForceGroups **)((char *)m + f->offset) = s_fg(0, 7, 7);
        snprintf(path, sizeof path, "$.milex.matrix.%s.naval", v[i].heading);
        s_expect(pkg, 0, path, "column total 0 differs from sum of cells 7");
        s_expect(pkg, 0, path, "the row is absent and counts as zeros");
        s_free(pkg);
    }
}

/* A heading filled without its sub-rows does not add up: absent rows are
 * zeros. */
static void
test_validate_matrix_absent_rows_count_as_zero(void **state)
{
    Csbm__MilexMatrix *m;
    Csbm__Package     *pkg = s_milex_pkg(&m);

    (void)state;
    m->research_development = s_fg(0, 40, 40);
    m->total = s_fg(0, 40, 40);
    s_expect(pkg, 2, "$.milex.matrix.research_development.naval",
        "column total 40 differs from sum of cells 0 "
        "(basic_applied_research + development_testing)");
    s_expect(pkg, 2, "$.milex.matrix.research_development.total",
        "column total 40 differs from sum of cells 0");
    m->development_testing = s_fg(0, 40, 40);
    s_expect_valid(pkg);
    s_free(pkg);
}

static void
test_validate_matrix_rejects_negative_cell(void **state)
{
    Csbm__MilexMatrix *m;
    Csbm__Package     *pkg = s_milex_pkg(&m);

    (void)state;
    /* consistent sums, but an amount below zero */
    m->materials = s_fg(-5, 5, 0);
    m->operations_maintenance = s_fg(-5, 5, 0);
    m->total = s_fg(-5, 5, 0);
    s_expect(pkg, 3, "$.milex.matrix.materials.land",
        "negative amount -5");
    s_expect(pkg, 3, "$.milex.matrix.operations_maintenance.land",
        "negative");
    s_expect(pkg, 3, "$.milex.matrix.total.land", "negative");
    s_free(pkg);
}

static void
test_validate_matrix_reports_overflow(void **state)
{
    Csbm__MilexMatrix *m;
    Csbm__Package     *pkg = s_milex_pkg(&m);

    (void)state;
    m->ammunition = s_fg(INT64_MAX, INT64_MAX, INT64_MAX);
    s_expect(pkg, 0, "$.milex.matrix.ammunition.total", "overflows");
    s_free(pkg);
    pkg = s_milex_pkg(&m);
    /* rows add up, but two parts of a column overflow together */
    m->materials = s_fg(INT64_MAX, 0, INT64_MAX);
    m->om_other = s_fg(INT64_MAX, 0, INT64_MAX);
    s_expect(pkg, 0, "$.milex.matrix.operations_maintenance.land",
        "overflows");
    s_free(pkg);
}

static void
test_validate_milex_rejects_bad_header(void **state)
{
    (void)state;
    EXPECT_ONE(MILEX_PER, "$.milex.currency", "ISO 4217",
        s_set(&pkg->milex->currency, "SOL"));
    EXPECT_ONE(MILEX_PER, "$.milex.currency", "missing",
        s_set(&pkg->milex->currency, ""));
    EXPECT_ONE(MILEX_PER, "$.milex.unit", "missing: set unit to one of "
        "UNITS, THOUSANDS, MILLIONS", pkg->milex->unit = 0);
    EXPECT_ONE(MILEX_PER, "$.milex.unit", "unknown value 9",
        pkg->milex->unit = 9);
    EXPECT_ONE(MILEX_URY, "$.milex.form", "unknown value 99",
        pkg->milex->form = 99);
}

static void
test_validate_milex_form_matches_content(void **state)
{
    (void)state;
    /* form missing: the single figure then belongs to no form */
    {
        Csbm__Package *pkg = s_load(MILEX_PER);
        pkg->milex->form = 0;
        s_expect(pkg, 2, "$.milex.form", "missing");
        s_expect(pkg, 2, "$.milex.single_figure", "belongs to form "
            "MILEX_SINGLE_FIGURE");
        s_free(pkg);
    }
    {
        Csbm__Package *pkg = s_load(MILEX_ARG);
        pkg->milex->form = CSBM__MILEX_FORM__MILEX_SIMPLIFIED;
        s_expect(pkg, 2, "$.milex.matrix", "belongs to form "
            "MILEX_STANDARDIZED, not MILEX_SIMPLIFIED");
        s_expect(pkg, 2, "$.milex.simplified", "missing");
        s_free(pkg);
    }
    {
        Csbm__Package *pkg = s_load(MILEX_CHL);
        pkg->milex->form = CSBM__MILEX_FORM__MILEX_STANDARDIZED;
        s_expect(pkg, 2, "$.milex.simplified", "belongs to form "
            "MILEX_SIMPLIFIED");
        s_expect(pkg, 2, "$.milex.matrix", "missing");
        s_free(pkg);
    }
    EXPECT_ONE(MILEX_PER, "$.milex.single_figure", "greater than 0",
        pkg->milex->single_figure = 0);
    EXPECT_ONE(MILEX_PER, "$.milex.single_figure", "-3",
        pkg->milex->single_figure = -3);
    EXPECT_ONE(MILEX_CHL, "$.milex.single_figure", "belongs to form",
        pkg->milex->single_figure = 12);
}

static void
test_validate_milex_nil_consistency(void **state)
{
    (void)state;
    {
        /* not nil any more: MILEX_NIL contradicts, and the header is due */
        Csbm__Package *pkg = s_load(MILEX_URY);
        pkg->nil_report = 0;
        s_expect(pkg, 3, "$.nil_report", "MILEX_NIL requires nil_report");
        s_expect(pkg, 3, "$.milex.currency", "missing");
        s_expect(pkg, 3, "$.milex.unit", "missing");
        s_free(pkg);
    }
    EXPECT_ONE(MILEX_URY, "$.milex.single_figure", "nil report",
        pkg->milex->single_figure = 10);
    {
        Csbm__Package *pkg = s_load(MILEX_PER);
        pkg->nil_report = 1;
        s_expect(pkg, 1, "$.milex.form", "uses form MILEX_NIL, not "
            "MILEX_SINGLE_FIGURE");
        s_free(pkg);
    }
    {
        Csbm__Package *pkg = s_load(MILEX_ARG);
        pkg->nil_report = 1;
        pkg->milex->form = CSBM__MILEX_FORM__MILEX_NIL;
        s_expect(pkg, 1, "$.milex.matrix", "nil report carries no figures");
        s_free(pkg);
    }
    /* a nil report may still name its currency, which must then be valid */
    EXPECT_ONE(MILEX_URY, "$.milex.currency", "ISO 4217",
        s_set(&pkg->milex->currency, "URU"));
}

static void
test_validate_simplified_sums(void **state)
{
    Csbm__Package *pkg;

    (void)state;
    /* a wrong row total also breaks the total column */
    pkg = s_load(MILEX_CHL);
    pkg->milex->simplified->personnel->total += 1;
    s_expect(pkg, 2, "$.milex.simplified.personnel.total",
        "row total 2640001 differs from sum of cells 2640000 (land + naval "
        "+ air + other)");
    s_expect(pkg, 2, "$.milex.simplified.total.total",
        "column total 5146000 differs from sum of cells 5146001");
    s_free(pkg);

    /* a cell and its row total move together: only the columns break */
    pkg = s_load(MILEX_CHL);
    pkg->milex->simplified->research_development->air += 5;
    pkg->milex->simplified->research_development->total += 5;
    s_expect(pkg, 2, "$.milex.simplified.total.air",
        "column total 1262000 differs from sum of cells 1262005 "
        "(personnel + operations_maintenance + procurement_construction "
        "+ research_development)");
    s_expect(pkg, 2, "$.milex.simplified.total.total", "column total");
    s_free(pkg);

    pkg = s_load(MILEX_CHL);
    pkg->milex->simplified->research_development->other = -9000;
    s_expect(pkg, 0, "$.milex.simplified.research_development.other",
        "negative amount -9000");
    s_free(pkg);
}

/* ------------------------------------------------------ arms register --- */

static void
test_validate_arms_nil_flags(void **state)
{
    (void)state;
    EXPECT_ONE(ARMS_BRA, "$.arms_register.nil_exports", "remove the lines "
        "or the flag", pkg->arms_register->nil_exports = 1);
    EXPECT_ONE(ARMS_BRA, "$.arms_register.nil_salw_exports", "remove",
        pkg->arms_register->nil_salw_exports = 1);
    {
        /* no import lines and no nil_imports: the table was forgotten */
        Csbm__Package            *pkg = s_load(ARMS_BRA);
        Csbm__ArmsRegisterReturn *a = pkg->arms_register;
        size_t                    i;
        for (i = 0; i < a->n_imports; i++)
            protobuf_c_message_free_unpacked(&a->imports[i]->base, NULL);
        a->n_imports = 0;
        s_expect(pkg, 1, "$.arms_register.imports", "missing: list the "
            "imports or set nil_imports true");
        a->nil_imports = 1;
        s_expect_valid(pkg);
        s_free(pkg);
    }
    {
        /* a nil report lists nothing */
        Csbm__Package *pkg = s_load(ARMS_BRA);
        pkg->nil_report = 1;
        s_expect(pkg, 0, "$.arms_register.exports", "nil report");
        s_expect(pkg, 0, "$.arms_register.holdings", "nil report");
        s_free(pkg);
    }
    {
        /* a nil return need not answer each table */
        Csbm__Package *pkg = s_load(ARMS_CRI);
        pkg->arms_register->nil_exports = 0;
        pkg->arms_register->nil_imports = 0;
        s_expect_valid(pkg);
        s_free(pkg);
    }
}

static void
test_validate_arms_transfer_line_rules(void **state)
{
    (void)state;
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[0].category", "missing",
        pkg->arms_register->exports[0]->category = 0);
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[1].counterpart_state",
        "unknown state code \"PAR\"",
        s_set(&pkg->arms_register->exports[1]->counterpart_state, "PAR"));
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[1].counterpart_state",
        "missing",
        s_set(&pkg->arms_register->exports[1]->counterpart_state, ""));
    EXPECT_ONE(ARMS_BRA, "$.arms_register.imports[0].counterpart_state",
        "BRA is the sender",
        s_set(&pkg->arms_register->imports[0]->counterpart_state, "BRA"));
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[0].quantity",
        "negative quantity -28",
        pkg->arms_register->exports[0]->quantity = -28);
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[0].quantity",
        "greater than 0", pkg->arms_register->exports[0]->quantity = 0);
    /* a withheld line may leave quantity out, but not make it negative */
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[3].quantity", "negative",
        pkg->arms_register->exports[3]->quantity = -1);
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[3].counterpart_state",
        "unknown state code",
        s_set(&pkg->arms_register->exports[3]->counterpart_state, "ZZZ"));
    {
        /* without withheld, the same line lacks counterpart and quantity */
        Csbm__Package *pkg = s_load(ARMS_BRA);
        pkg->arms_register->exports[3]->withheld = 0;
        s_expect(pkg, 2, "$.arms_register.exports[3].counterpart_state",
            "missing");
        s_expect(pkg, 2, "$.arms_register.exports[3].quantity",
            "greater than 0");
        s_free(pkg);
    }
}

static void
test_validate_arms_origin_and_locations(void **state)
{
    (void)state;
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[2].origin_state",
        "BRA is the exporter",
        s_set(&pkg->arms_register->exports[2]->origin_state, "BRA"));
    EXPECT_ONE(ARMS_BRA, "$.arms_register.imports[0].origin_state",
        "SWE is the exporter",
        s_set(&pkg->arms_register->imports[0]->origin_state, "SWE"));
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[2].origin_state",
        "unknown state code",
        s_set(&pkg->arms_register->exports[2]->origin_state, "US"));
    EXPECT_ONE(ARMS_BRA,
        "$.arms_register.exports[0].intermediate_locations[0]",
        "unknown state code \"SNG\"",
        s_set(&pkg->arms_register->exports[0]->intermediate_locations[0],
            "SNG"));
    EXPECT_ONE(ARMS_BRA,
        "$.arms_register.exports[0].intermediate_locations[0]", "missing",
        s_set(&pkg->arms_register->exports[0]->intermediate_locations[0],
            ""));
    EXPECT_ONE(ARMS_BRA,
        "$.arms_register.exports[0].intermediate_locations[0]",
        "control characters",
        s_set(&pkg->arms_register->exports[0]->intermediate_locations[0],
            "Port\tof Singapore"));
    {
        Csbm__Package *pkg = s_load(ARMS_BRA);
        char           place[VALIDATE_MAX_PLACE + 2];
        memset(place, 'p', sizeof place - 1);
        place[sizeof place - 1] = '\0';
        s_set(&pkg->arms_register->exports[0]->intermediate_locations[0],
            place);
        s_expect(pkg, 1,
            "$.arms_register.exports[0].intermediate_locations[0]",
            "129 bytes is longer than the limit of 128");
        place[VALIDATE_MAX_PLACE] = '\0';
        s_set(&pkg->arms_register->exports[0]->intermediate_locations[0],
            place);
        s_expect_valid(pkg);
        /* free text that is not three capitals is a place name */
        s_set(&pkg->arms_register->exports[0]->intermediate_locations[0],
            "Sgp");
        s_expect_valid(pkg);
        s_free(pkg);
    }
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[0].intermediate_locations",
        "33 entries", {
            Csbm__TransferLine *l = pkg->arms_register->exports[0];
            while (l->n_intermediate_locations < 33)
                s_append(&l->intermediate_locations,
                    &l->n_intermediate_locations, "PAN");
        });
}

static void
test_validate_arms_text_limits(void **state)
{
    char *big = malloc(VALIDATE_MAX_LONG_TEXT + 2);

    (void)state;
    assert_non_null(big);
    memset(big, 'x', VALIDATE_MAX_LONG_TEXT + 1);
    big[VALIDATE_MAX_TEXT + 1] = '\0';
    EXPECT_ONE(ARMS_BRA, "$.arms_register.exports[0].description",
        "4097 bytes is longer than the limit of 4096",
        s_set(&pkg->arms_register->exports[0]->description, big));
    EXPECT_ONE(ARMS_BRA, "$.arms_register.holdings[0].comments",
        "longer than the limit",
        s_set(&pkg->arms_register->holdings[0]->comments, big));
    big[VALIDATE_MAX_TEXT + 1] = 'x';
    big[VALIDATE_MAX_LONG_TEXT + 1] = '\0';
    EXPECT_ONE(ARMS_BRA, "$.arms_register.national_policies",
        "65537 bytes is longer than the limit of 65536",
        s_set(&pkg->arms_register->national_policies, big));
    free(big);
}

static void
test_validate_arms_holdings_and_salw(void **state)
{
    (void)state;
    EXPECT_ONE(ARMS_BRA, "$.arms_register.holdings[1].category", "missing",
        pkg->arms_register->holdings[1]->category = 0);
    EXPECT_ONE(ARMS_BRA, "$.arms_register.holdings[0].quantity",
        "negative", pkg->arms_register->holdings[0]->quantity = -386);
    EXPECT_ONE(ARMS_BRA, "$.arms_register.national_production[1].quantity",
        "greater than 0",
        pkg->arms_register->national_production[1]->quantity = 0);
    EXPECT_ONE(ARMS_BRA, "$.arms_register.salw_exports[0].type",
        "missing: set type to one of REVOLVERS_PISTOLS",
        pkg->arms_register->salw_exports[0]->type = 0);
    EXPECT_ONE(ARMS_BRA, "$.arms_register.salw_exports[1].counterpart_state",
        "BRA is the sender",
        s_set(&pkg->arms_register->salw_exports[1]->counterpart_state,
            "BRA"));
    EXPECT_ONE(ARMS_BRA, "$.arms_register.salw_exports[0].quantity",
        "negative", pkg->arms_register->salw_exports[0]->quantity = -1500);
}

/* ------------------------------------------------- acquisition report --- */

static void
test_validate_acquisition_report_rules(void **state)
{
    (void)state;
    EXPECT_ONE(ACQREP_COL, "$.acquisition_report.imports[0].type",
        "missing", s_set(&pkg->acquisition_report->imports[0]->type, ""));
    EXPECT_ONE(ACQREP_COL, "$.acquisition_report.imports[1].category",
        "missing", pkg->acquisition_report->imports[1]->category = 0);
    EXPECT_ONE(ACQREP_COL, "$.acquisition_report.imports[0].quantity",
        "greater than 0", pkg->acquisition_report->imports[0]->quantity = 0);
    EXPECT_ONE(ACQREP_COL,
        "$.acquisition_report.imports[1].counterpart_state",
        "COL is the sender",
        s_set(&pkg->acquisition_report->imports[1]->counterpart_state,
            "COL"));
    EXPECT_ONE(ACQREP_COL,
        "$.acquisition_report.imports[1].counterpart_state", "missing",
        s_set(&pkg->acquisition_report->imports[1]->counterpart_state, ""));
    EXPECT_ONE(ACQREP_COL, "$.acquisition_report.nil_imports", "remove",
        pkg->acquisition_report->nil_imports = 1);
    EXPECT_ONE(ACQREP_COL, "$.acquisition_report.exports", "missing: list "
        "the exports or set nil_exports true",
        pkg->acquisition_report->nil_exports = 0);
    {
        Csbm__Package *pkg = s_load(ACQREP_COL);
        pkg->nil_report = 1;
        s_expect(pkg, 1, "$.acquisition_report.imports", "nil report");
        s_free(pkg);
    }
}

/* ------------------------------------------- acquisition notification --- */

static void
test_validate_acquisition_notification_rules(void **state)
{
    (void)state;
    EXPECT_ONE(ACQ_CHL, "$.acquisition.category", "missing",
        pkg->acquisition->category = 0);
    EXPECT_ONE(ACQ_CHL, "$.acquisition.type_model", "missing",
        s_set(&pkg->acquisition->type_model, ""));
    EXPECT_ONE(ACQ_CHL, "$.acquisition.quantity", "greater than 0",
        pkg->acquisition->quantity = 0);
    EXPECT_ONE(ACQ_CHL, "$.acquisition.quantity", "negative",
        pkg->acquisition->quantity = -12);
    EXPECT_ONE(ACQ_CHL, "$.acquisition.mode", "missing",
        pkg->acquisition->mode = 0);
    EXPECT_ONE(ACQ_CHL, "$.acquisition.exporter_state", "missing",
        s_set(&pkg->acquisition->exporter_state, ""));
    EXPECT_ONE(ACQ_CHL, "$.acquisition.exporter_state", "CHL is the sender",
        s_set(&pkg->acquisition->exporter_state, "CHL"));
    EXPECT_ONE(ACQ_CHL, "$.acquisition.exporter_state", "NATIONAL_PRODUCTION",
        pkg->acquisition->mode = CSBM__ACQUISITION_MODE__NATIONAL_PRODUCTION);
    {
        Csbm__Package *pkg = s_load(ACQ_CHL);
        pkg->acquisition->mode = CSBM__ACQUISITION_MODE__NATIONAL_PRODUCTION;
        s_set(&pkg->acquisition->exporter_state, "");
        s_expect_valid(pkg);
        s_free(pkg);
    }
    EXPECT_ONE(ACQ_CHL, "$.acquisition.incorporation_date", "real ISO 8601",
        s_set(&pkg->acquisition->incorporation_date, "2026-02-30"));
    EXPECT_ONE(ACQ_CHL, "$.acquisition.incorporation_date", "missing",
        s_set(&pkg->acquisition->incorporation_date, ""));
    EXPECT_ONE(ACQ_CHL, "$.acquisition.incorporation_date",
        "2026-10-21 is after the date the package was prepared (2026-10-20)",
        s_set(&pkg->acquisition->incorporation_date, "2026-10-21"));
    {
        /* prepared_at 22:00 at -03:00 is the next day in UTC */
        Csbm__Package *pkg = s_load(ACQ_CHL);
        s_set(&pkg->acquisition->incorporation_date, "2026-10-21");
        s_set(&pkg->prepared_at, "2026-10-20T22:00:00-03:00");
        s_expect_valid(pkg);
        s_set(&pkg->acquisition->incorporation_date, "2026-10-20");
        s_set(&pkg->prepared_at, "2026-10-20T00:00:00Z");
        s_expect_valid(pkg);
        s_free(pkg);
    }
    {
        Csbm__Package *pkg = s_load(ACQ_CHL);
        pkg->nil_report = 1;
        s_expect(pkg, 1, "$.acquisition", "nil report");
        s_free(pkg);
    }
}

/* ----------------------------------------------------------- exercises --- */

static void
test_validate_exercise_follow_ups_need_references(void **state)
{
    (void)state;
    EXPECT_ONE(EX_CANCEL, "$.references", "a cancellation must refer to the "
        "package it cancels", {
            free(pkg->references[0]);
            pkg->n_references = 0;
        });
    EXPECT_ONE(EX_RESP, "$.references", "an observer response must refer "
        "to the invitation it answers", {
            free(pkg->references[0]);
            pkg->n_references = 0;
        });
    EXPECT_ONE(EX_ARG, "$.references", "an amendment must refer to the "
        "package it amends",
        pkg->exercise->kind = CSBM__EXERCISE_MESSAGE_KIND__AMENDMENT);
    {
        Csbm__Package *pkg = s_load(EX_ARG);
        pkg->exercise->kind = CSBM__EXERCISE_MESSAGE_KIND__AMENDMENT;
        s_append(&pkg->references, &pkg->n_references,
            "3f9c1e7a5b2d4f608a1c9e3b7d5f2a41");
        s_expect_valid(pkg);
        s_free(pkg);
    }
}

static void
test_validate_exercise_notification_requires_content(void **state)
{
    (void)state;
    EXPECT_ONE(EX_ARG, "$.exercise.kind", "missing",
        pkg->exercise->kind = 0);
    EXPECT_ONE(EX_ARG, "$.exercise.name", "missing",
        s_set(&pkg->exercise->name, ""));
    EXPECT_ONE(EX_ARG, "$.exercise.exercise_type", "missing",
        pkg->exercise->exercise_type = 0);
    EXPECT_ONE(EX_ARG, "$.exercise.start_date", "missing",
        s_set(&pkg->exercise->start_date, ""));
    EXPECT_ONE(EX_ARG, "$.exercise.end_date", "real ISO 8601",
        s_set(&pkg->exercise->end_date, "2027-02-30"));
    EXPECT_ONE(EX_ARG, "$.exercise.end_date", "end_date 2027-03-07 is "
        "before start_date 2027-03-08",
        s_set(&pkg->exercise->end_date, "2027-03-07"));
    {
        Csbm__Package *pkg = s_load(EX_ARG);
        s_set(&pkg->exercise->end_date, "2027-03-08"); /* one-day exercise */
        s_expect_valid(pkg);
        s_free(pkg);
    }
    EXPECT_ONE(EX_ARG, "$.exercise.areas", "missing", {
        size_t i;
        for (i = 0; i < pkg->exercise->n_areas; i++)
            protobuf_c_message_free_unpacked(&pkg->exercise->areas[i]->base,
                NULL);
        pkg->exercise->n_areas = 0;
    });
}

static void
test_validate_exercise_checks_states_areas_troops(void **state)
{
    (void)state;
    EXPECT_ONE(EX_ARG, "$.exercise.participating_states[1]",
        "unknown state code \"CHI\"",
        s_set(&pkg->exercise->participating_states[1], "CHI"));
    EXPECT_ONE(EX_ARG, "$.exercise.participating_states[3]",
        "duplicate state \"CHL\" (also at participating_states[1])",
        s_append(&pkg->exercise->participating_states,
            &pkg->exercise->n_participating_states, "CHL"));
    EXPECT_ONE(EX_ARG, "$.exercise.troops", "negative troops -1",
        pkg->exercise->troops = -1);
    EXPECT_ONE(EX_ARG, "$.exercise.areas[0].latitude", "outside -90..90",
        pkg->exercise->areas[0]->latitude = 90.5);
    EXPECT_ONE(EX_ARG, "$.exercise.areas[1].longitude", "outside -180..180",
        pkg->exercise->areas[1]->longitude = -180.01);
    EXPECT_ONE(EX_ARG, "$.exercise.areas[1].latitude", "outside",
        pkg->exercise->areas[1]->latitude = NAN);
    EXPECT_ONE(EX_ARG, "$.exercise.areas[0].place", "missing",
        s_set(&pkg->exercise->areas[0]->place, ""));
    EXPECT_ONE(EX_ARG, "$.exercise.main_equipment[2]", "missing",
        s_set(&pkg->exercise->main_equipment[2], ""));
    {
        Csbm__Package *pkg = s_load(EX_ARG);
        pkg->exercise->areas[0]->latitude = -90;
        pkg->exercise->areas[0]->longitude = 180;
        s_expect_valid(pkg);
        s_free(pkg);
    }
}

static void
test_validate_exercise_observers(void **state)
{
    (void)state;
    EXPECT_ONE(EX_ARG, "$.exercise.observer_contact", "missing",
        s_set(&pkg->exercise->observer_contact, ""));
    {
        /* not inviting observers, no contact needed */
        Csbm__Package *pkg = s_load(EX_ARG);
        pkg->exercise->observers_invited = 0;
        s_set(&pkg->exercise->observer_contact, "");
        s_expect_valid(pkg);
        s_free(pkg);
    }
    EXPECT_ONE(EX_ARG, "$.exercise.response", "only in an "
        "OBSERVER_RESPONSE message, not in NOTIFICATION", {
            Csbm__ObserverResponse *r = malloc(sizeof *r);
            assert_non_null(r);
            csbm__observer_response__init(r);
            pkg->exercise->response = r;
        });
    EXPECT_ONE(EX_RESP, "$.exercise.response", "missing", {
        protobuf_c_message_free_unpacked(&pkg->exercise->response->base,
            NULL);
        pkg->exercise->response = NULL;
    });
    EXPECT_ONE(EX_RESP, "$.exercise.response.observers", "a declined "
        "invitation", pkg->exercise->response->accepted = 0);
    EXPECT_ONE(EX_RESP, "$.exercise.response.observers[1].name", "missing",
        s_set(&pkg->exercise->response->observers[1]->name, ""));
    {
        Csbm__Package          *pkg = s_load(EX_RESP);
        Csbm__ObserverResponse *r = pkg->exercise->response;
        size_t                  i;
        for (i = 0; i < r->n_observers; i++)
            protobuf_c_message_free_unpacked(&r->observers[i]->base, NULL);
        r->n_observers = 0;
        s_expect(pkg, 1, "$.exercise.response.observers", "an accepted "
            "invitation names at least one observer");
        r->accepted = 0; /* declining with no names is fine */
        s_expect_valid(pkg);
        s_free(pkg);
    }
    {
        Csbm__Package *pkg = s_load(EX_ARG);
        pkg->exercise->kind = CSBM__EXERCISE_MESSAGE_KIND__OBSERVER_INVITATION;
        s_expect_valid(pkg);
        pkg->exercise->observers_invited = 0;
        s_expect(pkg, 1, "$.exercise.observers_invited", "observers_invited "
            "true");
        s_free(pkg);
    }
}

static void
test_validate_exercise_nil(void **state)
{
    Csbm__Package *pkg = s_load(EX_CANCEL);

    (void)state;
    /* a nil exercise report: a NOTIFICATION carrying nothing */
    pkg->nil_report = 1;
    pkg->exercise->kind = CSBM__EXERCISE_MESSAGE_KIND__NOTIFICATION;
    s_set(&pkg->exercise->name, "");
    s_expect_valid(pkg);
    s_set(&pkg->exercise->name, "Ejercicio");
    s_expect(pkg, 1, "$.exercise", "nil report");
    s_set(&pkg->exercise->name, "");
    pkg->exercise->kind = CSBM__EXERCISE_MESSAGE_KIND__CANCELLATION;
    s_expect(pkg, 1, "$.exercise.kind", "nil report");
    s_free(pkg);
}

/* ----------------------------------------------------------- documents --- */

static void
test_validate_document_basics_and_metadata(void **state)
{
    (void)state;
    EXPECT_ONE(DOC_MEX, "$.document.kind", "missing",
        pkg->document->kind = 0);
    EXPECT_ONE(DOC_MEX, "$.document.title", "missing",
        s_set(&pkg->document->title, ""));
    EXPECT_ONE(DOC_MEX, "$.document.metadata[2].key", "missing",
        s_set(&pkg->document->metadata[2]->key, ""));
    EXPECT_ONE(DOC_MEX, "$.document.metadata[3].key",
        "duplicate key \"edition\" (also at metadata[0])",
        s_set(&pkg->document->metadata[3]->key, "edition"));
    EXPECT_ONE(DOC_MEX, "$.document.metadata[1].date", "real ISO 8601",
        s_set(&pkg->document->metadata[1]->date, "2025-11-31"));
    EXPECT_ONE(DOC_MEX, "$.document.metadata[0]", "exactly one value",
        pkg->document->metadata[0]->value_case =
            CSBM__METADATA_ENTRY__VALUE__NOT_SET);
    EXPECT_ONE(DOC_GTM, "$.document.metadata[0].key", "longer than the limit "
        "of 64", s_set(&pkg->document->metadata[0]->key,
                     "a_key_that_is_far_too_long_to_be_a_key_of_metadata_"
                     "in_any_sane_document"));
}

static void
test_validate_document_contacts(void **state)
{
    static const char *const good_emails[] = {"mfcs@mindef.gob.pe",
        "a.b+c@example.org", "x@xn--80ak6aa92e.com", "o'brien@ex-ample.co"};
    static const char *const bad_emails[] = {"mfcs", "mfcs@", "@mindef.gob.pe",
        "mfcs@mindef", "mfcs@@mindef.gob.pe", "a b@example.org",
        "a..b@example.org", ".a@example.org", "a@-example.org",
        "a@example..org", "a@example.o", "a@example.123", "a@exam_ple.org",
        "jos\xc3\xa9@example.org"};
    static const char *const bad_phones[] = {"12345", "+51 1 209-853x",
        "51+1 209 8530", "ext. 12", "+51 1 209-8530 ext 4",
        "123456789012345678901"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof good_emails / sizeof good_emails[0]; i++) {
        Csbm__Package *pkg = s_load(DOC_PER);
        s_set(&pkg->document->contacts[0]->email, good_emails[i]);
        s_expect_valid(pkg);
        s_free(pkg);
    }
    for (i = 0; i < sizeof bad_emails / sizeof bad_emails[0]; i++)
        EXPECT_ONE(DOC_PER, "$.document.contacts[0].email", "not an email",
            s_set(&pkg->document->contacts[0]->email, bad_emails[i]));
    for (i = 0; i < sizeof bad_phones / sizeof bad_phones[0]; i++)
        EXPECT_ONE(DOC_PER, "$.document.contacts[1].phone", "not a phone",
            s_set(&pkg->document->contacts[1]->phone, bad_phones[i]));
    EXPECT_ONE(DOC_PER, "$.document.contacts[2]", "an email or a phone",
        s_set(&pkg->document->contacts[2]->email, ""));
    EXPECT_ONE(DOC_PER, "$.document.contacts[4].name", "missing",
        s_set(&pkg->document->contacts[4]->name, ""));
    EXPECT_ONE(DOC_PER, "$.document.contacts[3].area", "missing",
        pkg->document->contacts[3]->area = 0);
    EXPECT_ONE(DOC_PER, "$.document.contacts", "missing: a "
        "POINTS_OF_CONTACT document lists at least one contact", {
            size_t k;
            for (k = 0; k < pkg->document->n_contacts; k++)
                protobuf_c_message_free_unpacked(
                    &pkg->document->contacts[k]->base, NULL);
            pkg->document->n_contacts = 0;
        });
    {
        /* outside a directory, a contact's area is optional */
        Csbm__Package *pkg = s_load(DOC_PER);
        pkg->document->kind = CSBM__DOCUMENT_KIND__OTHER_DOCUMENT;
        pkg->document->contacts[3]->area = 0;
        s_expect_valid(pkg);
        pkg->nil_report = 1;
        s_expect(pkg, 1, "$.document.contacts", "nil report");
        s_free(pkg);
    }
}

static void
test_validate_document_attachment(void **state)
{
    static const char *const bad_names[] = {"../etc/passwd", "a/b.txt",
        "a\\b.txt", "resumen..txt", "line\nbreak.txt"};
    static const char *const bad_types[] = {"textplain", "text/",
        "/plain", "text/plain; charset=utf-8", "text/pl ain", "text/plain/x",
        "-text/plain"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        EXPECT_ONE(DOC_MEX, "$.document.attachment.filename", "plain name",
            s_set(&pkg->document->attachment->filename, bad_names[i]));
    EXPECT_ONE(DOC_MEX, "$.document.attachment.filename", "missing",
        s_set(&pkg->document->attachment->filename, ""));
    for (i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++)
        EXPECT_ONE(DOC_MEX, "$.document.attachment.media_type",
            "type/subtype",
            s_set(&pkg->document->attachment->media_type, bad_types[i]));
    {
        Csbm__Package *pkg = s_load(DOC_MEX);
        s_set(&pkg->document->attachment->media_type,
            "application/vnd.oasis.opendocument.text");
        s_expect_valid(pkg);
        s_free(pkg);
    }
    EXPECT_ONE(DOC_MEX, "$.document.attachment.content", "empty", {
        free(pkg->document->attachment->content.data);
        pkg->document->attachment->content.data = NULL;
        pkg->document->attachment->content.len = 0;
    });
    {
        Csbm__Package *pkg = s_load(DOC_MEX);
        uint8_t       *big = calloc(1, VALIDATE_MAX_ATTACHMENT + 1);
        assert_non_null(big);
        free(pkg->document->attachment->content.data);
        pkg->document->attachment->content.data = big;
        pkg->document->attachment->content.len = VALIDATE_MAX_ATTACHMENT;
        s_expect_valid(pkg);
        pkg->document->attachment->content.len = VALIDATE_MAX_ATTACHMENT + 1;
        s_expect(pkg, 1, "$.document.attachment.content", "larger than the "
            "limit");
        s_free(pkg);
    }
    {
        Csbm__Package *pkg = s_load(DOC_MEX);
        pkg->nil_report = 1;
        s_expect(pkg, 1, "$.document.attachment", "no attachment");
        s_free(pkg);
    }
}

/* ------------------------------------------------------- robustness --- */

/* Whatever a peer's package holds once unpacked (flipped bytes, cut
 * short), validation reports problems and never crashes: run under ASan.
 * Unpacked strings may hold any bytes but UTF-8 is checked here, not by
 * the unpacker. */
static void
test_validate_survives_corrupted_packages(void **state)
{
    size_t i, k, validated = 0;

    (void)state;
    for (i = 0; i < sizeof s_samples / sizeof s_samples[0]; i++) {
        Csbm__Package *pkg = s_load(s_samples[i].file);
        size_t         len = protobuf_c_message_get_packed_size(&pkg->base);
        uint8_t       *buf = malloc(len), *mut = malloc(len);

        assert_non_null(buf);
        assert_non_null(mut);
        assert_int_equal(protobuf_c_message_pack(&pkg->base, buf), len);
        s_free(pkg);
        for (k = 0; k < 2 * len; k++) {
            Csbm__Package *p;
            size_t         n = len;

            memcpy(mut, buf, len);
            if (k < len)
                mut[k] ^= (uint8_t)(0x01u << (k % 8)) | 0x40u;
            else
                n = k - len; /* every truncation */
            p = csbm__package__unpack(NULL, n, mut);
            if (p == NULL)
                continue;
            (void)validate_package(p, &s_rep);
            assert_true(s_rep.count <= VALIDATE_MAX_PROBLEMS);
            assert_true(s_rep.count <= s_rep.total);
            validated++;
            csbm__package__free_unpacked(p, NULL);
        }
        free(buf);
        free(mut);
    }
    assert_true(validated > 1000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validate_accepts_milex_standardized),
        cmocka_unit_test(test_validate_accepts_milex_simplified),
        cmocka_unit_test(test_validate_accepts_milex_single_figure),
        cmocka_unit_test(test_validate_accepts_milex_nil),
        cmocka_unit_test(test_validate_accepts_arms_register),
        cmocka_unit_test(test_validate_accepts_acquisition_report),
        cmocka_unit_test(test_validate_accepts_acquisition_notification),
        cmocka_unit_test(test_validate_accepts_exercise_messages),
        cmocka_unit_test(test_validate_accepts_documents),
        cmocka_unit_test(test_validate_package_type_of_each_body),
        cmocka_unit_test(test_validate_refuses_invalid_examples),
        cmocka_unit_test(test_validate_rejects_unknown_state),
        cmocka_unit_test(test_validate_rejects_year_out_of_range),
        cmocka_unit_test(test_validate_rejects_bad_language),
        cmocka_unit_test(test_validate_rejects_bad_prepared_at),
        cmocka_unit_test(test_validate_rejects_missing_body),
        cmocka_unit_test(test_validate_rejects_null_package),
        cmocka_unit_test(test_validate_checks_null_body_as_empty),
        cmocka_unit_test(test_validate_rejects_bad_references),
        cmocka_unit_test(test_validate_rejects_long_or_broken_text),
        cmocka_unit_test(test_validate_quotes_values_safely),
        cmocka_unit_test(
            test_validate_report_keeps_first_problems_and_counts_all),
        cmocka_unit_test(test_validate_matrix_column_mismatch_names_figures),
        cmocka_unit_test(test_validate_matrix_row_mismatch_names_figures),
        cmocka_unit_test(test_validate_matrix_checks_every_heading),
        cmocka_unit_test(test_validate_matrix_absent_rows_count_as_zero),
        cmocka_unit_test(test_validate_matrix_rejects_negative_cell),
        cmocka_unit_test(test_validate_matrix_reports_overflow),
        cmocka_unit_test(test_validate_milex_rejects_bad_header),
        cmocka_unit_test(test_validate_milex_form_matches_content),
        cmocka_unit_test(test_validate_milex_nil_consistency),
        cmocka_unit_test(test_validate_simplified_sums),
        cmocka_unit_test(test_validate_arms_nil_flags),
        cmocka_unit_test(test_validate_arms_transfer_line_rules),
        cmocka_unit_test(test_validate_arms_origin_and_locations),
        cmocka_unit_test(test_validate_arms_text_limits),
        cmocka_unit_test(test_validate_arms_holdings_and_salw),
        cmocka_unit_test(test_validate_acquisition_report_rules),
        cmocka_unit_test(test_validate_acquisition_notification_rules),
        cmocka_unit_test(test_validate_exercise_follow_ups_need_references),
        cmocka_unit_test(
            test_validate_exercise_notification_requires_content),
        cmocka_unit_test(test_validate_exercise_checks_states_areas_troops),
        cmocka_unit_test(test_validate_exercise_observers),
        cmocka_unit_test(test_validate_exercise_nil),
        cmocka_unit_test(test_validate_document_basics_and_metadata),
        cmocka_unit_test(test_validate_document_contacts),
        cmocka_unit_test(test_validate_document_attachment),
        cmocka_unit_test(test_validate_survives_corrupted_packages),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
