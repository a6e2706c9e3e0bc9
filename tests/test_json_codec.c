/*
 * test_json_codec: JSON <-> protobuf-c conversion, on the real package and
 * envelope schemas and on a hand-built descriptor that holds every scalar
 * type under every label.
 *
 * The known-answer vectors under tests/vectors/json/ pair a canonical JSON
 * text with the protobuf bytes of the same message, computed by an
 * independent encoder (tests/vectors/json/make_vectors.py).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/fileio.h"
#include "proto/envelope.pb-c.h"
#include "proto/json_codec.h"
#include "proto/package.pb-c.h"

#define VECTOR_MAX (1u << 20)

/* -------------------------------------------------------------- helpers --- */

static char *
s_read_vector(const char *name, size_t *len)
{
    const char *root = getenv("CSBM_SOURCE_DIR");
    char        path[4096];
    uint8_t    *buf = NULL;
    errbuf_t    err = { { 0 } };

    assert_non_null(root);
    snprintf(path, sizeof path, "%s/tests/vectors/json/%s", root, name);
    if (fileio_read(path, VECTOR_MAX, &buf, len, &err) != 0)
        fail_msg("%s", err.msg);
    return (char *)buf;
}

static uint8_t *
s_unhex(const char *hex, size_t *len)
{
    size_t   n = strcspn(hex, "\r\n"), i;
    uint8_t *out;

    assert_int_equal(n % 2, 0);
    out = malloc(n / 2 + 1);
    assert_non_null(out);
    for (i = 0; i < n / 2; i++) {
        unsigned v;

        assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return out;
}

static ProtobufCMessage *
s_decode(const ProtobufCMessageDescriptor *desc, const char *json,
    errbuf_t *err)
{
    ProtobufCMessage *m = json_codec_decode(desc, json, strlen(json), err);

    if (m == NULL)
        print_error("decode failed: %s\n", err->msg);
    return m;
}

/* Decode must fail with a message "<path>: ...<reason>..." (path NULL: a
 * message about the JSON text as a whole, which holds reason). */
static void
s_expect_error_len(const ProtobufCMessageDescriptor *desc, const char *json,
    size_t len, const char *path, const char *reason)
{
    errbuf_t          err = { { 0 } };
    ProtobufCMessage *m;
    char             *copy = malloc(len > 0 ? len : 1);

    /* an exact-size copy, so that a read past len is an ASan error */
    assert_non_null(copy);
    memcpy(copy, json, len);
    m = json_codec_decode(desc, copy, len, &err);
    free(copy);
    if (m != NULL) {
        protobuf_c_message_free_unpacked(m, NULL);
        fail_msg("accepted: %s", json);
    }
    if (path != NULL
        && (strncmp(err.msg, path, strlen(path)) != 0
            || strncmp(err.msg + strlen(path), ": ", 2) != 0))
        fail_msg("input %s\n  error \"%s\"\n  does not start with \"%s: \"",
            json, err.msg, path);
    if (strstr(err.msg, reason) == NULL)
        fail_msg("input %s\n  error \"%s\"\n  does not say \"%s\"", json,
            err.msg, reason);
}

static void
s_expect_error(const ProtobufCMessageDescriptor *desc, const char *json,
    const char *path, const char *reason)
{
    s_expect_error_len(desc, json, strlen(json), path, reason);
}

/* encode(decode(text)) == text, and the message survives protobuf-c's
 * pack and unpack unchanged. */
static void
s_round_trip(const ProtobufCMessageDescriptor *desc, const char *text)
{
    errbuf_t          err = { { 0 } };
    ProtobufCMessage *m, *back;
    uint8_t          *wire;
    size_t            n;
    char             *out, *out2;

    m = s_decode(desc, text, &err);
    assert_non_null(m);
    out = json_codec_encode(m, &err);
    if (out == NULL)
        fail_msg("encode failed: %s", err.msg);
    assert_string_equal(out, text);

    n = protobuf_c_message_get_packed_size(m);
    wire = malloc(n + 1);
    assert_non_null(wire);
    assert_int_equal(protobuf_c_message_pack(m, wire), n);
    back = protobuf_c_message_unpack(desc, NULL, n, wire);
    assert_non_null(back);
    out2 = json_codec_encode(back, &err);
    assert_non_null(out2);
    assert_string_equal(out2, text);

    free(out2);
    protobuf_c_message_free_unpacked(back, NULL);
    free(wire);
    free(out);
    protobuf_c_message_free_unpacked(m, NULL);
}

static char *
s_encode_ok(const ProtobufCMessage *m)
{
    errbuf_t err = { { 0 } };
    char    *out = json_codec_encode(m, &err);

    if (out == NULL)
        fail_msg("encode failed: %s", err.msg);
    return out;
}

static void
s_expect_encode_error(const ProtobufCMessage *m, const char *path,
    const char *reason)
{
    errbuf_t err = { { 0 } };
    char    *out = json_codec_encode(m, &err);

    if (out != NULL) {
        print_error("%s", out);
        free(out);
        fail_msg("encoded, expected an error at %s", path);
    }
    if (strncmp(err.msg, path, strlen(path)) != 0
        || strncmp(err.msg + strlen(path), ": ", 2) != 0
        || strstr(err.msg, reason) == NULL)
        fail_msg("error \"%s\" is not \"%s: ...%s...\"", err.msg, path, reason);
}

/* ------------------------------------------ a descriptor of every type --- */

/* What protoc-c would generate for this proto2 message:
 *   enum Color { COLOR_UNSPECIFIED = 0; RED = 1; GREEN = 2; }
 *   message AllTypes {
 *     required int32 req = 1;
 *     optional <type> <name> = 2..18;     one of each type
 *     repeated <type> r_<name> = 19..35;  one of each type
 *     oneof pick { int32 pick_int = 36; string pick_str = 37;
 *                  AllTypes pick_msg = 38; }
 *   }                                                                     */
typedef struct all_types all_types_t;
struct all_types {
    ProtobufCMessage    base;
    int32_t             req;
    protobuf_c_boolean  has_i32, has_s32, has_sf32, has_i64, has_s64,
        has_sf64, has_u32, has_f32, has_u64, has_f64, has_flt, has_dbl,
        has_bln, has_enm, has_byt;
    int32_t             i32, s32, sf32;
    int64_t             i64, s64, sf64;
    uint32_t            u32, f32;
    uint64_t            u64, f64;
    float               flt;
    double              dbl;
    protobuf_c_boolean  bln;
    int                 enm;
    char               *str;
    ProtobufCBinaryData byt;
    all_types_t        *child;
    size_t              n_r_i32, n_r_s32, n_r_sf32, n_r_i64, n_r_s64,
        n_r_sf64, n_r_u32, n_r_f32, n_r_u64, n_r_f64, n_r_flt, n_r_dbl,
        n_r_bln, n_r_enm, n_r_str, n_r_byt, n_r_msg;
    int32_t             *r_i32, *r_s32, *r_sf32;
    int64_t             *r_i64, *r_s64, *r_sf64;
    uint32_t            *r_u32, *r_f32;
    uint64_t            *r_u64, *r_f64;
    float               *r_flt;
    double              *r_dbl;
    protobuf_c_boolean  *r_bln;
    int                 *r_enm;
    char               **r_str;
    ProtobufCBinaryData *r_byt;
    all_types_t        **r_msg;
    uint32_t             pick_case;
    union {
        int32_t      pick_int;
        char        *pick_str;
        all_types_t *pick_msg;
    };
};

static const ProtobufCEnumValue s_color_values[] = {
    { "COLOR_UNSPECIFIED", "TEST__COLOR_UNSPECIFIED", 0 },
    { "RED", "TEST__RED", 1 },
    { "GREEN", "TEST__GREEN", 2 },
};
static const ProtobufCEnumValueIndex s_color_by_name[] = {
    { "COLOR_UNSPECIFIED", 0 }, { "GREEN", 2 }, { "RED", 1 },
};
static const ProtobufCIntRange s_color_ranges[] = { { 0, 0 }, { 0, 3 } };
static const ProtobufCEnumDescriptor s_color_desc = {
    PROTOBUF_C__ENUM_DESCRIPTOR_MAGIC, "test.Color", "Color", "Test__Color",
    "test", 3, s_color_values, 3, s_color_by_name, 1, s_color_ranges, NULL,
    NULL, NULL, NULL
};

static const ProtobufCMessageDescriptor s_at_desc;

#define AT_F(num, nm, lab, T, q, d, fl)                                      \
    { #nm, num, PROTOBUF_C_LABEL_##lab, PROTOBUF_C_TYPE_##T, q,              \
        offsetof(all_types_t, nm), d, NULL, fl, 0, NULL, NULL }
#define AT_OPT(num, nm, T, d) \
    AT_F(num, nm, OPTIONAL, T, offsetof(all_types_t, has_##nm), d, 0)
#define AT_PTR(num, nm, T, d) AT_F(num, nm, OPTIONAL, T, 0, d, 0)
#define AT_REP(num, nm, T, d) \
    AT_F(num, nm, REPEATED, T, offsetof(all_types_t, n_##nm), d, 0)
#define AT_ONE(num, nm, T, d)                                                \
    AT_F(num, nm, OPTIONAL, T, offsetof(all_types_t, pick_case), d,          \
        PROTOBUF_C_FIELD_FLAG_ONEOF)

static const ProtobufCFieldDescriptor s_at_fields[] = {
    AT_F(1, req, REQUIRED, INT32, 0, NULL, 0),
    AT_OPT(2, i32, INT32, NULL),
    AT_OPT(3, s32, SINT32, NULL),
    AT_OPT(4, sf32, SFIXED32, NULL),
    AT_OPT(5, i64, INT64, NULL),
    AT_OPT(6, s64, SINT64, NULL),
    AT_OPT(7, sf64, SFIXED64, NULL),
    AT_OPT(8, u32, UINT32, NULL),
    AT_OPT(9, f32, FIXED32, NULL),
    AT_OPT(10, u64, UINT64, NULL),
    AT_OPT(11, f64, FIXED64, NULL),
    AT_OPT(12, flt, FLOAT, NULL),
    AT_OPT(13, dbl, DOUBLE, NULL),
    AT_OPT(14, bln, BOOL, NULL),
    AT_OPT(15, enm, ENUM, &s_color_desc),
    AT_PTR(16, str, STRING, NULL),
    AT_OPT(17, byt, BYTES, NULL),
    AT_PTR(18, child, MESSAGE, &s_at_desc),
    AT_REP(19, r_i32, INT32, NULL),
    AT_REP(20, r_s32, SINT32, NULL),
    AT_REP(21, r_sf32, SFIXED32, NULL),
    AT_REP(22, r_i64, INT64, NULL),
    AT_REP(23, r_s64, SINT64, NULL),
    AT_REP(24, r_sf64, SFIXED64, NULL),
    AT_REP(25, r_u32, UINT32, NULL),
    AT_REP(26, r_f32, FIXED32, NULL),
    AT_REP(27, r_u64, UINT64, NULL),
    AT_REP(28, r_f64, FIXED64, NULL),
    AT_REP(29, r_flt, FLOAT, NULL),
    AT_REP(30, r_dbl, DOUBLE, NULL),
    AT_REP(31, r_bln, BOOL, NULL),
    AT_REP(32, r_enm, ENUM, &s_color_desc),
    AT_REP(33, r_str, STRING, NULL),
    AT_REP(34, r_byt, BYTES, NULL),
    AT_REP(35, r_msg, MESSAGE, &s_at_desc),
    AT_ONE(36, pick_int, INT32, NULL),
    AT_ONE(37, pick_str, STRING, NULL),
    AT_ONE(38, pick_msg, MESSAGE, &s_at_desc),
};
#define AT_N (sizeof s_at_fields / sizeof s_at_fields[0])

static unsigned              s_at_by_name[AT_N]; /* filled by s_setup */
static const ProtobufCIntRange s_at_ranges[] = { { 1, 0 }, { 0, AT_N } };

static void
s_at_init(ProtobufCMessage *m)
{
    memset(m, 0, sizeof(all_types_t));
    m->descriptor = &s_at_desc;
}

static const ProtobufCMessageDescriptor s_at_desc = {
    PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "test.AllTypes", "AllTypes",
    "Test__AllTypes", "test", sizeof(all_types_t), AT_N, s_at_fields,
    s_at_by_name, 1, s_at_ranges, s_at_init, NULL, NULL, NULL
};

static int
s_setup(void **state)
{
    unsigned i, j, t;

    (void)state;
    for (i = 0; i < AT_N; i++)
        s_at_by_name[i] = i;
    for (i = 1; i < AT_N; i++)
        for (j = i; j > 0 && strcmp(s_at_fields[s_at_by_name[j - 1]].name,
                       s_at_fields[s_at_by_name[j]].name) > 0; j--) {
            t = s_at_by_name[j];
            s_at_by_name[j] = s_at_by_name[j - 1];
            s_at_by_name[j - 1] = t;
        }
    return 0;
}

/* ----------------------------------------------- known-answer vectors --- */

static const struct {
    const char                       *name;
    const ProtobufCMessageDescriptor *desc;
} s_vectors[] = {
    { "package_milex", &csbm__package__descriptor },
    { "package_arms_register", &csbm__package__descriptor },
    { "package_exercise", &csbm__package__descriptor },
    { "package_document", &csbm__package__descriptor },
    { "envelope_header", &csbm__envelope_header__descriptor },
};

static void
test_json_codec_known_answer_vectors(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof s_vectors / sizeof s_vectors[0]; i++) {
        char              name[64];
        char             *text, *hex, *out;
        uint8_t          *want, *got;
        size_t            text_len, hex_len, want_len, got_len;
        errbuf_t          err = { { 0 } };
        ProtobufCMessage *m;

        snprintf(name, sizeof name, "%s.json", s_vectors[i].name);
        text = s_read_vector(name, &text_len);
        snprintf(name, sizeof name, "%s.pb.hex", s_vectors[i].name);
        hex = s_read_vector(name, &hex_len);
        want = s_unhex(hex, &want_len);

        /* JSON -> message -> protobuf bytes */
        m = json_codec_decode(s_vectors[i].desc, text, text_len, &err);
        if (m == NULL)
            fail_msg("%s: %s", s_vectors[i].name, err.msg);
        got_len = protobuf_c_message_get_packed_size(m);
        got = malloc(got_len + 1);
        assert_non_null(got);
        protobuf_c_message_pack(m, got);
        if (got_len != want_len || memcmp(got, want, want_len) != 0)
            fail_msg("%s: packed bytes differ from the vector",
                s_vectors[i].name);
        protobuf_c_message_free_unpacked(m, NULL);

        /* protobuf bytes -> message -> the same JSON text */
        m = protobuf_c_message_unpack(s_vectors[i].desc, NULL, want_len, want);
        assert_non_null(m);
        out = s_encode_ok(m);
        assert_string_equal(out, text);

        free(out);
        protobuf_c_message_free_unpacked(m, NULL);
        free(got);
        free(want);
        free(hex);
        free(text);
    }
}

/* -------------------------------------------------------- round trips --- */

static Csbm__Package *
s_load_package(const char *vector, char **text)
{
    errbuf_t          err = { { 0 } };
    size_t            len;
    ProtobufCMessage *m;

    *text = s_read_vector(vector, &len);
    s_round_trip(&csbm__package__descriptor, *text);
    m = json_codec_decode(&csbm__package__descriptor, *text, len, &err);
    assert_non_null(m);
    return (Csbm__Package *)m;
}

static void
test_json_codec_round_trips_milex_matrix(void **state)
{
    char               *text;
    Csbm__Package      *p = s_load_package("package_milex.json", &text);
    Csbm__MilexMatrix  *mx;

    (void)state;
    assert_string_equal(p->state, "ARG");
    assert_int_equal(p->year, 2024);
    assert_int_equal(p->body_case, CSBM__PACKAGE__BODY_MILEX);
    assert_string_equal(p->milex->currency, "ARS");
    assert_int_equal(p->milex->unit, CSBM__UNIT_OF_MEASURE__THOUSANDS);
    assert_int_equal(p->milex->form, CSBM__MILEX_FORM__MILEX_STANDARDIZED);
    mx = p->milex->matrix;
    assert_non_null(mx);
    assert_null(mx->conscripts);
    assert_int_equal(mx->personnel->land, 412530110 + 40210300);
    assert_int_equal(mx->military_pensions->undistributed, 3456789012LL);
    assert_int_equal(mx->military_pensions->total, 3456789012LL);
    assert_int_equal(mx->aircraft_engines->air, 98500000);
    assert_int_equal(mx->total->strategic, 0);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    free(text);
}

static void
test_json_codec_round_trips_arms_register(void **state)
{
    char                     *text;
    Csbm__Package            *p = s_load_package("package_arms_register.json",
        &text);
    Csbm__ArmsRegisterReturn *a;

    (void)state;
    assert_int_equal(p->body_case, CSBM__PACKAGE__BODY_ARMS_REGISTER);
    assert_int_equal(p->n_references, 1);
    a = p->arms_register;
    assert_int_equal(a->n_exports, 3);
    assert_int_equal(a->exports[0]->category,
        CSBM__ARMS_CATEGORY__ARMOURED_COMBAT_VEHICLES);
    assert_int_equal(a->exports[0]->quantity, 28);
    assert_int_equal(a->exports[1]->n_intermediate_locations, 2);
    assert_string_equal(a->exports[1]->intermediate_locations[1], "PRT");
    assert_true(a->exports[2]->withheld);
    assert_int_equal(a->n_imports, 1);
    assert_int_equal(a->n_holdings, 2);
    assert_int_equal(a->holdings[0]->quantity, 386);
    assert_int_equal(a->n_salw_exports, 1);
    assert_int_equal(a->salw_exports[0]->type,
        CSBM__SALW_TYPE__ASSAULT_RIFLES);
    assert_true(a->nil_salw_imports);
    assert_false(a->nil_salw_exports);
    assert_int_equal(a->n_salw_imports, 0);
    assert_null(a->salw_imports);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    free(text);
}

static void
test_json_codec_round_trips_exercise_coordinates(void **state)
{
    char                       *text;
    Csbm__Package              *p = s_load_package("package_exercise.json",
        &text);
    Csbm__ExerciseNotification *x;

    (void)state;
    x = p->exercise;
    assert_int_equal(p->body_case, CSBM__PACKAGE__BODY_EXERCISE);
    assert_int_equal(x->n_areas, 3);
    /* exact: the decimal text reads back to the nearest double */
    assert_true(x->areas[0]->latitude == -33.0472);
    assert_true(x->areas[0]->longitude == -71.6127);
    assert_true(x->areas[1]->longitude == -109.3497);
    assert_true(x->areas[2]->latitude == -23.65);
    assert_string_equal(x->areas[0]->place, "Valpara\xc3\xadso");
    assert_int_equal(x->troops, 1850);
    assert_int_equal(x->n_participating_states, 3);
    assert_non_null(x->response);
    assert_int_equal(x->response->n_observers, 2);
    assert_string_equal(x->response->observers[1]->organization, "");
    protobuf_c_message_free_unpacked(&p->base, NULL);
    free(text);
}

static void
test_json_codec_round_trips_document_oneofs_and_base64(void **state)
{
    char                   *text;
    Csbm__Package          *p = s_load_package("package_document.json",
        &text);
    Csbm__DocumentPackage  *d;
    Csbm__MetadataEntry   **md;
    size_t                  i;

    (void)state;
    d = p->document;
    md = d->metadata;
    assert_int_equal(d->n_metadata, 7);
    assert_int_equal(md[0]->value_case, CSBM__METADATA_ENTRY__VALUE_INTEGER);
    assert_int_equal(md[0]->integer, 2025);
    assert_int_equal(md[1]->value_case, CSBM__METADATA_ENTRY__VALUE_DATE);
    assert_string_equal(md[1]->date, "2025-03-14");
    assert_int_equal(md[2]->value_case, CSBM__METADATA_ENTRY__VALUE_TEXT);
    /* set members holding the default value stay set */
    assert_int_equal(md[3]->value_case, CSBM__METADATA_ENTRY__VALUE_FLAG);
    assert_false(md[3]->flag);
    assert_int_equal(md[4]->value_case, CSBM__METADATA_ENTRY__VALUE_INTEGER);
    assert_int_equal(md[4]->integer, 0);
    assert_int_equal(md[5]->value_case, CSBM__METADATA_ENTRY__VALUE_TEXT);
    assert_string_equal(md[5]->text, "");
    assert_int_equal(md[6]->integer, -1250000000000LL);
    assert_int_equal(d->attachment->content.len, 51 + 256);
    assert_memory_equal(d->attachment->content.data, "%PDF-1.7\n", 9);
    for (i = 0; i < 256; i++)
        assert_int_equal(d->attachment->content.data[51 + i], i);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    free(text);
}

static void
test_json_codec_round_trips_envelope_uint64(void **state)
{
    errbuf_t              err = { { 0 } };
    size_t                len;
    char                 *text = s_read_vector("envelope_header.json", &len);
    Csbm__EnvelopeHeader *h;

    (void)state;
    s_round_trip(&csbm__envelope_header__descriptor, text);
    h = (Csbm__EnvelopeHeader *)json_codec_decode(
        &csbm__envelope_header__descriptor, text, len, &err);
    assert_non_null(h);
    assert_true(h->sequence == UINT64_MAX);
    assert_true(h->body_size == (uint64_t)INT64_MAX);
    assert_int_equal(h->created_at, 1745856000);
    assert_int_equal(h->n_recipients, 2);
    assert_int_equal(h->recipients[0]->wrapped_key.len, 48);
    assert_int_equal(h->recipients[1]->key_id.data[15], 0xff);
    assert_int_equal(h->package_type, CSBM__PACKAGE_TYPE__DOCUMENT);
    assert_int_equal(h->n_references, 1);
    assert_int_equal(h->references[0].len, 16);
    protobuf_c_message_free_unpacked(&h->base, NULL);
    free(text);
}

static void
test_json_codec_accepts_64bit_decimal_strings(void **state)
{
    errbuf_t              err = { { 0 } };
    Csbm__EnvelopeHeader *h;
    Csbm__Package        *p;
    char                 *out;

    (void)state;
    h = (Csbm__EnvelopeHeader *)s_decode(&csbm__envelope_header__descriptor,
        "{\"created_at\":\"1745856000\",\"sequence\":\"00042\","
        "\"body_size\":\"9223372036854775808\"}", &err);
    assert_non_null(h);
    assert_int_equal(h->created_at, 1745856000);
    assert_int_equal(h->sequence, 42);
    assert_true(h->body_size == (uint64_t)INT64_MAX + 1);
    out = s_encode_ok(&h->base);
    assert_string_equal(out, "{\n  \"created_at\": 1745856000,\n"
        "  \"sequence\": 42,\n  \"body_size\": \"9223372036854775808\"\n}\n");
    free(out);
    protobuf_c_message_free_unpacked(&h->base, NULL);

    p = (Csbm__Package *)s_decode(&csbm__package__descriptor,
        "{\"exercise\":{\"troops\":\"-9223372036854775808\"}}", &err);
    assert_non_null(p);
    assert_true(p->exercise->troops == INT64_MIN);
    out = s_encode_ok(&p->base);
    assert_string_equal(out, "{\n  \"exercise\": {\n"
        "    \"troops\": -9223372036854775808\n  }\n}\n");
    free(out);
    protobuf_c_message_free_unpacked(&p->base, NULL);
}

/* --------------------------------------------------------- encoding --- */

static void
test_json_codec_encode_orders_keys_and_omits_defaults(void **state)
{
    errbuf_t          err = { { 0 } };
    ProtobufCMessage *m;
    char             *out;

    (void)state;
    m = s_decode(&csbm__package__descriptor,
        "{\"year\":2024,\"references\":[],\"state\":\"ARG\",\"remarks\":\"\","
        "\"nil_report\":false,\"language\":\"es\"}", &err);
    assert_non_null(m);
    out = s_encode_ok(m);
    assert_string_equal(out, "{\n  \"state\": \"ARG\",\n  \"year\": 2024,\n"
        "  \"language\": \"es\"\n}\n");
    free(out);
    protobuf_c_message_free_unpacked(m, NULL);

    /* all defaults: an empty object; a present empty message stays */
    m = s_decode(&csbm__package__descriptor,
        "{\"year\":0,\"state\":\"\",\"milex\":{\"unit\":\"UNIT_UNSPECIFIED\","
        "\"single_figure\":0,\"matrix\":{}}}", &err);
    assert_non_null(m);
    out = s_encode_ok(m);
    assert_string_equal(out, "{\n  \"milex\": {\n    \"matrix\": {}\n  }\n}\n");
    free(out);
    protobuf_c_message_free_unpacked(m, NULL);

    m = s_decode(&csbm__package__descriptor, " {} ", &err);
    assert_non_null(m);
    out = s_encode_ok(m);
    assert_string_equal(out, "{}\n");
    free(out);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void
test_json_codec_encode_writes_set_oneof_member_with_default(void **state)
{
    Csbm__MetadataEntry e;
    Csbm__Package       p;
    Csbm__MilexReport   mr;
    char                empty[] = "";
    char               *out;

    (void)state;
    csbm__metadata_entry__init(&e);
    csbm__package__init(&p);
    csbm__milex_report__init(&mr);
    e.value_case = CSBM__METADATA_ENTRY__VALUE_FLAG;
    e.flag = 0;
    out = s_encode_ok(&e.base);
    assert_string_equal(out, "{\n  \"flag\": false\n}\n");
    free(out);

    e.value_case = CSBM__METADATA_ENTRY__VALUE_TEXT;
    e.text = empty;
    out = s_encode_ok(&e.base);
    assert_string_equal(out, "{\n  \"text\": \"\"\n}\n");
    free(out);

    /* a set message member is written even when empty */
    p.body_case = CSBM__PACKAGE__BODY_MILEX;
    p.milex = &mr;
    out = s_encode_ok(&p.base);
    assert_string_equal(out, "{\n  \"milex\": {}\n}\n");
    free(out);
}

static void
test_json_codec_encode_writes_shortest_reals(void **state)
{
    errbuf_t     err = { { 0 } };
    all_types_t  m;
    all_types_t *back;
    char        *out;
    uint64_t     x = 0x243f6a8885a308d3u;
    int          i;

    (void)state;
    s_at_init(&m.base);
    m.has_flt = 1;
    m.flt = 0.1f;
    m.has_dbl = 1;
    m.dbl = -0.0;
    out = s_encode_ok(&m.base);
    assert_string_equal(out,
        "{\n  \"req\": 0,\n  \"flt\": 0.1,\n  \"dbl\": -0.0\n}\n");
    back = (all_types_t *)s_decode(&s_at_desc, out, &err);
    assert_non_null(back);
    assert_true(back->flt == 0.1f);
    assert_true(back->dbl == 0 && signbit(back->dbl));
    free(out);
    protobuf_c_message_free_unpacked(&back->base, NULL);

    /* a double that needs 17 digits, and extremes, read back exactly */
    m.dbl = 0.1 + 0.2;
    m.flt = 3.4028234663852886e38f;
    out = s_encode_ok(&m.base);
    back = (all_types_t *)s_decode(&s_at_desc, out, &err);
    assert_non_null(back);
    assert_true(back->dbl == 0.1 + 0.2);
    assert_true(back->flt == m.flt);
    free(out);
    protobuf_c_message_free_unpacked(&back->base, NULL);

    m.dbl = 5e-324;
    m.flt = 1e-45f;
    out = s_encode_ok(&m.base);
    back = (all_types_t *)s_decode(&s_at_desc, out, &err);
    assert_non_null(back);
    assert_true(back->dbl == 5e-324);
    assert_true(back->flt == 1e-45f);
    free(out);
    protobuf_c_message_free_unpacked(&back->base, NULL);

    /* random bit patterns of both widths read back bit for bit */
    for (i = 0; i < 20000; i++) {
        uint32_t fb;
        uint64_t db;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        fb = (uint32_t)x;
        db = x * 0x2545f4914f6cdd1du;
        memcpy(&m.flt, &fb, sizeof fb);
        memcpy(&m.dbl, &db, sizeof db);
        if (!isfinite(m.flt) || !isfinite(m.dbl))
            continue;
        out = s_encode_ok(&m.base);
        back = (all_types_t *)s_decode(&s_at_desc, out, &err);
        assert_non_null(back);
        if (memcmp(&back->flt, &fb, sizeof fb) != 0
            || memcmp(&back->dbl, &db, sizeof db) != 0)
            fail_msg("not read back exactly: %s", out);
        free(out);
        protobuf_c_message_free_unpacked(&back->base, NULL);
    }
}

static void
test_json_codec_decode_checks_float_range_by_rounding(void **state)
{
    errbuf_t     err = { { 0 } };
    all_types_t *m;

    (void)state;
    /* FLT_MAX is 2^128 - 2^104; from the midpoint 2^128 - 2^103
     * (3.4028235677973366e38) up, a value rounds to infinity */
    m = (all_types_t *)s_decode(&s_at_desc,
        "{\"req\":0,\"flt\":-3.40282356e38,"
        "\"r_flt\":[3.4028235677973362e38,1e-46]}", &err);
    assert_non_null(m);
    assert_true(m->flt == -FLT_MAX);
    assert_true(m->r_flt[0] == FLT_MAX);
    assert_true(m->r_flt[1] == 0);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    s_expect_error(&s_at_desc, "{\"req\":0,\"flt\":3.4028235677973366e38}",
        "$.flt", "out of range for float");
    s_expect_error(&s_at_desc, "{\"req\":0,\"flt\":-3.4028236e38}", "$.flt",
        "out of range for float");
    s_expect_error(&s_at_desc, "{\"req\":0,\"r_flt\":[0,-1e300]}",
        "$.r_flt[1]", "out of range for float");
}

static void
test_json_codec_encode_rejects_nan_and_infinity(void **state)
{
    Csbm__Package              p;
    Csbm__ExerciseNotification x;
    Csbm__Area                 a0, a1;
    Csbm__Area                *areas[2] = { &a0, &a1 };
    all_types_t                m;

    (void)state;
    csbm__package__init(&p);
    csbm__exercise_notification__init(&x);
    csbm__area__init(&a0);
    csbm__area__init(&a1);
    p.body_case = CSBM__PACKAGE__BODY_EXERCISE;
    p.exercise = &x;
    x.n_areas = 2;
    x.areas = areas;
    a0.latitude = 1.5;
    a1.longitude = NAN;
    s_expect_encode_error(&p.base, "$.exercise.areas[1].longitude", "NaN");
    a1.longitude = -INFINITY;
    s_expect_encode_error(&p.base, "$.exercise.areas[1].longitude",
        "infinity");

    s_at_init(&m.base);
    m.has_flt = 1;
    m.flt = INFINITY;
    s_expect_encode_error(&m.base, "$.flt", "infinity");
}

static void
test_json_codec_encode_rejects_unknown_enum_number(void **state)
{
    Csbm__Package     p;
    Csbm__MilexReport mr;

    (void)state;
    csbm__package__init(&p);
    csbm__milex_report__init(&mr);
    p.body_case = CSBM__PACKAGE__BODY_MILEX;
    p.milex = &mr;
    mr.unit = (Csbm__UnitOfMeasure)7;
    s_expect_encode_error(&p.base, "$.milex.unit",
        "7 is not a value of csbm.UnitOfMeasure");
}

static void
test_json_codec_encode_rejects_invalid_utf8(void **state)
{
    static char   bad[][8] = {
        "\xff", "caf\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
        "\xe2\x82", "\x80",
    };
    char          good[] = "Espa\xc3\xb1" "a \xe2\x82\xac \xf0\x9f\x8c\x8e";
    char          ok[] = "ok", fe[] = "\xfe";
    Csbm__Package p;
    char         *refs[2] = { ok, fe };
    char         *out;
    size_t        i;

    (void)state;
    csbm__package__init(&p);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        p.remarks = bad[i];
        s_expect_encode_error(&p.base, "$.remarks", "not valid UTF-8");
    }
    p.remarks = good;
    out = s_encode_ok(&p.base);
    assert_string_equal(out, "{\n  \"remarks\": \"Espa\xc3\xb1"
        "a \xe2\x82\xac \xf0\x9f\x8c\x8e\"\n}\n");
    free(out);
    p.n_references = 2;
    p.references = refs;
    s_expect_encode_error(&p.base, "$.references[1]", "not valid UTF-8");
}

static void
test_json_codec_encode_rejects_unset_parts_and_bad_arguments(void **state)
{
    errbuf_t    err = { { 0 } };
    all_types_t m, child, *msgs[2] = { &child, NULL };

    (void)state;
    s_at_init(&m.base);
    s_at_init(&child.base);
    m.n_r_msg = 2;
    m.r_msg = msgs;
    s_expect_encode_error(&m.base, "$.r_msg[1]", "not set");
    m.n_r_msg = 0;
    m.n_r_byt = 1;
    s_expect_encode_error(&m.base, "$.r_byt", "counted but no array");

    assert_null(json_codec_encode(NULL, &err));
    assert_non_null(strstr(err.msg, "no message"));
    assert_null(json_codec_decode(NULL, "{}", 2, &err));
    assert_non_null(strstr(err.msg, "no descriptor"));
    assert_null(json_codec_decode(&csbm__package__descriptor, NULL, 5, &err));
    assert_non_null(strstr(err.msg, "no text"));
    /* a NULL errbuf_t is allowed */
    assert_null(json_codec_decode(&csbm__package__descriptor, "[", 1, NULL));
}

/* ------------------------------------------------ all types, all labels --- */

static const char s_all_types_json[] =
    "{\n"
    "  \"req\": -7,\n"
    "  \"i32\": -2147483648,\n"
    "  \"s32\": 2147483647,\n"
    "  \"sf32\": -1,\n"
    "  \"i64\": -9223372036854775808,\n"
    "  \"s64\": 9223372036854775807,\n"
    "  \"sf64\": -42,\n"
    "  \"u32\": 4294967295,\n"
    "  \"f32\": 0,\n"
    "  \"u64\": \"18446744073709551615\",\n"
    "  \"f64\": 9223372036854775807,\n"
    "  \"flt\": 0.25,\n"
    "  \"dbl\": -1.5e-300,\n"
    "  \"bln\": false,\n"
    "  \"enm\": \"COLOR_UNSPECIFIED\",\n"
    "  \"str\": \"\",\n"
    "  \"byt\": \"\",\n"
    "  \"child\": {\n"
    "    \"req\": 1,\n"
    "    \"pick_str\": \"nested\"\n"
    "  },\n"
    "  \"r_i32\": [\n    -1,\n    0,\n    2147483647\n  ],\n"
    "  \"r_s32\": [\n    -2147483648\n  ],\n"
    "  \"r_sf32\": [\n    5,\n    -5\n  ],\n"
    "  \"r_i64\": [\n    1099511627776\n  ],\n"
    "  \"r_s64\": [\n    -1099511627776\n  ],\n"
    "  \"r_sf64\": [\n    0\n  ],\n"
    "  \"r_u32\": [\n    1,\n    4294967295\n  ],\n"
    "  \"r_f32\": [\n    305419896\n  ],\n"
    "  \"r_u64\": [\n    \"9223372036854775808\",\n    7\n  ],\n"
    "  \"r_f64\": [\n    \"18446744073709551614\"\n  ],\n"
    "  \"r_flt\": [\n    -0.5,\n    1024.0\n  ],\n"
    "  \"r_dbl\": [\n    3.25,\n    -1e200\n  ],\n"
    "  \"r_bln\": [\n    true,\n    false,\n    true\n  ],\n"
    "  \"r_enm\": [\n    \"GREEN\",\n    \"RED\"\n  ],\n"
    "  \"r_str\": [\n    \"a\",\n    \"\",\n    \"\\\"q\\\"\\n\"\n  ],\n"
    "  \"r_byt\": [\n    \"AA==\",\n    \"\",\n    \"/+8=\"\n  ],\n"
    "  \"r_msg\": [\n    {\n      \"req\": 0\n    },\n"
    "    {\n      \"req\": 2,\n      \"pick_int\": 0\n    }\n  ],\n"
    "  \"pick_msg\": {\n    \"req\": 3\n  }\n"
    "}\n";

static void
test_json_codec_round_trips_every_type_and_label(void **state)
{
    errbuf_t     err = { { 0 } };
    all_types_t *m;

    (void)state;
    s_round_trip(&s_at_desc, s_all_types_json);
    m = (all_types_t *)s_decode(&s_at_desc, s_all_types_json, &err);
    assert_non_null(m);
    assert_int_equal(m->req, -7);
    assert_true(m->has_i32 && m->i32 == INT32_MIN);
    assert_true(m->has_s32 && m->s32 == INT32_MAX);
    assert_true(m->has_i64 && m->i64 == INT64_MIN);
    assert_true(m->has_u32 && m->u32 == UINT32_MAX);
    /* proto2 presence: set to the default value is still set */
    assert_true(m->has_f32 && m->f32 == 0);
    assert_true(m->has_bln && !m->bln);
    assert_true(m->has_enm && m->enm == 0);
    assert_true(m->has_byt && m->byt.len == 0);
    assert_non_null(m->str);
    assert_true(m->has_u64 && m->u64 == UINT64_MAX);
    assert_true(m->flt == 0.25f);
    assert_true(m->dbl == -1.5e-300);
    assert_int_equal(m->child->pick_case, 37);
    assert_string_equal(m->child->pick_str, "nested");
    assert_int_equal(m->n_r_i32, 3);
    assert_int_equal(m->r_i32[2], INT32_MAX);
    assert_true(m->r_u64[0] == (uint64_t)INT64_MAX + 1);
    assert_true(m->r_f64[0] == UINT64_MAX - 1);
    assert_true(m->r_flt[1] == 1024.0f);
    assert_true(m->r_dbl[1] == -1e200);
    assert_int_equal(m->n_r_bln, 3);
    assert_true(m->r_bln[0] && !m->r_bln[1] && m->r_bln[2]);
    assert_int_equal(m->r_enm[0], 2);
    assert_string_equal(m->r_str[2], "\"q\"\n");
    assert_int_equal(m->r_byt[0].len, 1);
    assert_int_equal(m->r_byt[1].len, 0);
    assert_int_equal(m->r_byt[2].len, 2);
    assert_int_equal(m->r_byt[2].data[0], 0xff);
    assert_int_equal(m->r_msg[1]->pick_case, 36);
    assert_int_equal(m->pick_case, 38);
    assert_int_equal(m->pick_msg->req, 3);
    protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void
test_json_codec_rejects_bad_values_of_every_type(void **state)
{
    static const struct {
        const char *json, *path, *reason;
    } bad[] = {
        { "{\"req\":0,\"i32\":2147483648}", "$.i32",
            "2147483648 is out of range for int32 (-2147483648..2147483647)" },
        { "{\"req\":0,\"i32\":-2147483649}", "$.i32",
            "out of range for int32" },
        { "{\"req\":0,\"i32\":\"1\"}", "$.i32",
            "expected integer, got string" },
        { "{\"req\":0,\"s32\":2147483648}", "$.s32",
            "out of range for sint32" },
        { "{\"req\":0,\"sf32\":-2147483649}", "$.sf32",
            "out of range for sfixed32" },
        { "{\"req\":0,\"u32\":4294967296}", "$.u32",
            "4294967296 is out of range for uint32 (0..4294967295)" },
        { "{\"req\":0,\"u32\":-1}", "$.u32", "-1 is out of range for uint32" },
        { "{\"req\":0,\"f32\":4294967296}", "$.f32",
            "out of range for fixed32" },
        { "{\"req\":0,\"f32\":-1}", "$.f32", "out of range for fixed32" },
        { "{\"req\":0,\"i64\":1.0}", "$.i64", "expected integer, got real" },
        { "{\"req\":0,\"i64\":{}}", "$.i64",
            "expected integer or decimal string, got object" },
        { "{\"req\":0,\"s64\":\"9223372036854775808\"}", "$.s64",
            "out of range for sint64" },
        { "{\"req\":0,\"sf64\":\"-9223372036854775809\"}", "$.sf64",
            "out of range for sfixed64" },
        { "{\"req\":0,\"s64\":\"1e3\"}", "$.s64", "not a decimal integer" },
        { "{\"req\":0,\"u64\":\"18446744073709551616\"}", "$.u64",
            "out of range for uint64" },
        { "{\"req\":0,\"u64\":\"99999999999999999999999999999999\"}", "$.u64",
            "out of range for uint64" },
        { "{\"req\":0,\"f64\":\"-0\"}", "$.f64", "not a decimal integer" },
        { "{\"req\":0,\"f64\":-1}", "$.f64", "out of range for fixed64" },
        { "{\"req\":0,\"flt\":1e39}", "$.flt", "out of range for float" },
        { "{\"req\":0,\"flt\":-3.5e38}", "$.flt", "out of range for float" },
        { "{\"req\":0,\"flt\":\"1\"}", "$.flt", "expected number, got string" },
        { "{\"req\":0,\"dbl\":true}", "$.dbl", "expected number, got boolean" },
        { "{\"req\":0,\"bln\":0}", "$.bln", "expected true or false" },
        { "{\"req\":0,\"enm\":\"PURPLE\"}", "$.enm",
            "unknown enum value \"PURPLE\" for test.Color" },
        { "{\"req\":0,\"enm\":1}", "$.enm",
            "expected the name of a test.Color value" },
        { "{\"req\":0,\"str\":[]}", "$.str", "expected string, got array" },
        { "{\"req\":0,\"byt\":\"@@@@\"}", "$.byt", "invalid base64" },
        { "{\"req\":0,\"child\":{\"req\":1,\"i32\":1.5}}", "$.child.i32",
            "expected integer, got real number 1.5" },
        { "{\"req\":0,\"child\":{}}", "$.child",
            "missing required field \"req\" of test.AllTypes" },
        { "{\"i32\":1}", "$", "missing required field \"req\"" },
        { "{\"req\":0,\"r_flt\":[1,\"x\"]}", "$.r_flt[1]",
            "expected number, got string" },
        { "{\"req\":0,\"r_msg\":[{\"req\":1},{}]}", "$.r_msg[1]",
            "missing required field \"req\"" },
        { "{\"req\":0,\"r_u64\":[\"1\",-1]}", "$.r_u64[1]",
            "out of range for uint64" },
        { "{\"req\":0,\"r_str\":[\"a\",\"b\",7]}", "$.r_str[2]",
            "expected string" },
        { "{\"req\":0,\"r_byt\":[\"AA==\",\"A\"]}", "$.r_byt[1]",
            "invalid base64" },
        { "{\"req\":0,\"r_enm\":[\"RED\",\"BLUE\"]}", "$.r_enm[1]",
            "unknown enum value \"BLUE\"" },
        { "{\"req\":0,\"pick_str\":\"a\",\"pick_int\":1}", "$.pick_int",
            "\"pick_str\" and \"pick_int\" are members of the same oneof" },
        { "{\"req\":0,\"pick_msg\":{\"req\":\"x\"}}", "$.pick_msg.req",
            "expected integer, got string" },
        { "{\"req\":0,\"pick_msg\":{\"req\":1},\"pick_str\":\"\"}",
            "$.pick_str", "same oneof" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_expect_error(&s_at_desc, bad[i].json, bad[i].path, bad[i].reason);
}

/* ------------------------------------------------ decoding negatives --- */

static void
test_json_codec_rejects_bad_packages_with_path(void **state)
{
    static const struct {
        const char *json, *path, *reason;
    } bad[] = {
        { "{\"milex\":{\"colour\":\"red\"}}", "$.milex.colour",
            "unknown field for csbm.MilexReport" },
        { "{\"colour\":1}", "$.colour", "unknown field for csbm.Package" },
        { "{\"State\":\"ARG\"}", "$.State", "unknown field" },
        { "{\"milex\":{\"matrix\":{\"personnel\":{\"lands\":1}}}}",
            "$.milex.matrix.personnel.lands",
            "unknown field for csbm.ForceGroups" },
        { "{\"year\":\"2024\"}", "$.year", "expected integer, got string" },
        { "{\"year\":4294967296}", "$.year", "out of range for uint32" },
        { "{\"year\":-1}", "$.year", "out of range for uint32" },
        { "{\"year\":2024.5}", "$.year",
            "expected integer, got real number 2024.5" },
        { "{\"year\":2024.0}", "$.year",
            "expected integer, got real number 2024.0" },
        { "{\"year\":true}", "$.year", "expected integer, got boolean" },
        { "{\"milex\":{\"matrix\":{\"personnel\":{\"land\":\"12x\"}}}}",
            "$.milex.matrix.personnel.land",
            "\"12x\" is not a decimal integer" },
        { "{\"milex\":{\"matrix\":{\"personnel\":{\"land\":[1]}}}}",
            "$.milex.matrix.personnel.land",
            "expected integer or decimal string, got array" },
        { "{\"milex\":{\"single_figure\":\"9223372036854775808\"}}",
            "$.milex.single_figure", "out of range for int64" },
        { "{\"milex\":{\"single_figure\":\"-9223372036854775809\"}}",
            "$.milex.single_figure", "out of range for int64" },
        { "{\"milex\":{\"single_figure\":\"\"}}", "$.milex.single_figure",
            "not a decimal integer" },
        { "{\"milex\":{\"single_figure\":\" 1\"}}", "$.milex.single_figure",
            "not a decimal integer" },
        { "{\"milex\":{\"single_figure\":\"+1\"}}", "$.milex.single_figure",
            "not a decimal integer" },
        { "{\"milex\":{\"single_figure\":\"-\"}}", "$.milex.single_figure",
            "not a decimal integer" },
        { "{\"milex\":{\"single_figure\":\"1\\n\"}}", "$.milex.single_figure",
            "\"1?\" is not a decimal integer" },
        { "{\"arms_register\":{\"exports\":[{},{},{\"quantity\":2.5}]}}",
            "$.arms_register.exports[2].quantity",
            "expected integer, got real number 2.5" },
        { "{\"arms_register\":{\"exports\":[{\"category\":\"TANKS\"}]}}",
            "$.arms_register.exports[0].category",
            "unknown enum value \"TANKS\" for csbm.ArmsCategory" },
        { "{\"arms_register\":{\"exports\":[{\"category\":\"WARSHIPS\"},5]}}",
            "$.arms_register.exports[1]",
            "expected object for csbm.TransferLine, got integer" },
        { "{\"milex\":{\"unit\":\"KILO\"}}", "$.milex.unit",
            "unknown enum value \"KILO\" for csbm.UnitOfMeasure" },
        { "{\"milex\":{\"unit\":\"thousands\"}}", "$.milex.unit",
            "unknown enum value" },
        { "{\"milex\":{\"unit\":2}}", "$.milex.unit",
            "expected the name of a csbm.UnitOfMeasure value" },
        { "{\"document\":{\"attachment\":{\"content\":\"not base64!\"}}}",
            "$.document.attachment.content", "invalid base64" },
        { "{\"document\":{\"attachment\":{\"content\":\"QQ=\"}}}",
            "$.document.attachment.content", "invalid base64" },
        { "{\"document\":{\"attachment\":{\"content\":\"QQ\"}}}",
            "$.document.attachment.content", "invalid base64" },
        { "{\"document\":{\"attachment\":{\"content\":\"QR==\"}}}",
            "$.document.attachment.content", "invalid base64" },
        { "{\"document\":{\"attachment\":{\"content\":\"QQ==QQ==\"}}}",
            "$.document.attachment.content", "invalid base64" },
        { "{\"document\":{\"attachment\":{\"content\":\"QUJD\\nREVG\"}}}",
            "$.document.attachment.content", "invalid base64" },
        { "{\"document\":{\"attachment\":{\"content\":\"QUJD-_==\"}}}",
            "$.document.attachment.content", "invalid base64" },
        { "{\"document\":{\"attachment\":{\"content\":\"====\"}}}",
            "$.document.attachment.content", "invalid base64" },
        { "{\"document\":{\"attachment\":{\"content\":12}}}",
            "$.document.attachment.content",
            "expected base64 string, got integer" },
        { "{\"milex\":{},\"document\":{}}", "$.document",
            "\"milex\" and \"document\" are members of the same oneof" },
        { "{\"document\":{\"metadata\":[{\"key\":\"a\",\"text\":\"x\","
            "\"flag\":true}]}}", "$.document.metadata[0].flag",
            "\"text\" and \"flag\" are members of the same oneof" },
        { "{\"remarks\":null}", "$.remarks", "null is not allowed" },
        { "{\"milex\":null}", "$.milex", "null is not allowed" },
        { "{\"references\":[\"a\",null]}", "$.references[1]",
            "null is not allowed" },
        { "{\"references\":\"a\"}", "$.references",
            "expected array, got string" },
        { "{\"milex\":[]}", "$.milex",
            "expected object for csbm.MilexReport, got array" },
        { "{\"nil_report\":1}", "$.nil_report",
            "expected true or false, got integer" },
        { "{\"nil_report\":\"true\"}", "$.nil_report",
            "expected true or false, got string" },
        { "{\"state\":5}", "$.state", "expected string, got integer" },
        { "{\"exercise\":{\"areas\":[{\"latitude\":\"-33.0\"}]}}",
            "$.exercise.areas[0].latitude", "expected number, got string" },
        { "[]", "$", "expected an object at the top level, got array" },
        { "[{\"state\":\"ARG\"}]", "$", "expected an object" },
        /* a hostile key is quoted without its control characters */
        { "{\"a\\u001b[2Jb\":1}", "$.a?[2Jb", "unknown field" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_expect_error(&csbm__package__descriptor, bad[i].json, bad[i].path,
            bad[i].reason);
}

static void
test_json_codec_rejects_bad_envelope_headers_with_path(void **state)
{
    static const struct {
        const char *json, *path, *reason;
    } bad[] = {
        { "{\"created_at\":-1}", "$.created_at",
            "-1 is out of range for uint64" },
        { "{\"created_at\":\"-1\"}", "$.created_at",
            "\"-1\" is not a decimal integer" },
        { "{\"sequence\":\"18446744073709551616\"}", "$.sequence",
            "18446744073709551616 is out of range for uint64" },
        { "{\"sequence\":1.5}", "$.sequence", "expected integer, got real" },
        { "{\"version\":4294967296}", "$.version", "out of range for uint32" },
        { "{\"version\":\"1\"}", "$.version", "expected integer, got string" },
        { "{\"recipients\":[{\"key_id\":\"AAAA\"},{\"key_id\":\"A===\"}]}",
            "$.recipients[1].key_id", "invalid base64" },
        { "{\"references\":[\"AAAA\",7]}", "$.references[1]",
            "expected base64 string, got integer" },
        { "{\"package_type\":\"MILEX\"}", "$.package_type",
            "unknown enum value \"MILEX\" for csbm.PackageType" },
        { "{\"recipients\":[{\"id\":\"ARG\",\"id2\":1}]}",
            "$.recipients[0].id2",
            "unknown field for csbm.Recipient" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_expect_error(&csbm__envelope_header__descriptor, bad[i].json,
            bad[i].path, bad[i].reason);
}

static void
test_json_codec_rejects_malformed_json_with_line_and_column(void **state)
{
    static const struct {
        const char *json, *reason;
    } bad[] = {
        { "{\"year\":1,\"year\":2}",
            "line 1, column 16: duplicate object key near '\"year\"'" },
        { "{\n  \"state\": \"ARG\",\n  \"state\": \"BRA\"\n}",
            "line 3, column 9: duplicate object key" },
        { "{\"year\": }", "malformed JSON at line 1" },
        { "{\n  \"year\": 2024,\n  \"state\":\n}", "malformed JSON at line 4" },
        { "", "malformed JSON at line 1" },
        { "   ", "malformed JSON" },
        { "3", "'[' or '{' expected" },
        { "\"text\"", "'[' or '{' expected" },
        { "null", "'[' or '{' expected" },
        { "{\"year\":2024} trailing", "end of file expected" },
        { "{\"year\":2024}{}", "end of file expected" },
        { "{\"remarks\":\"a\\u0000b\"}", "\\u0000 is not allowed" },
        { "{\"k\\u0000\":1}", "NUL byte in object key" },
        { "{\"year\":99999999999999999999}",
            "too big integer near '99999999999999999999' (write integers "
            "beyond the int64 range as decimal strings)" },
        { "{\"year\":1e400}", "real number overflow" },
        { "{\"remarks\":\"\xff\"}", "unable to decode byte 0xff" },
        { "{\"remarks\":\"\xc0\xaf\"}", "malformed JSON" },
        { "{\"remarks\":\"\xed\xa0\x80\"}", "malformed JSON" },
        { "{\"remarks\":\"caf\xc3\"}", "malformed JSON" },
        { "{\"remarks\":\"tab\there\"}", "control character 0x9" },
        { "{'year':1}", "malformed JSON" },
        { "{\"year\":1,}", "malformed JSON" },
        { "{\"year\":NaN}", "malformed JSON" },
        { "{\"year\":Infinity}", "malformed JSON" },
        { "{\"year\":0x10}", "malformed JSON" },
        { "{\"year\":012}", "malformed JSON" },
        { "\xef\xbb\xbf{}", "malformed JSON" },
        { "{\"remarks\":\"\\ud800\"}", "malformed JSON" },
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_expect_error(&csbm__package__descriptor, bad[i].json, NULL,
            bad[i].reason);
    /* a raw NUL byte inside the given length */
    s_expect_error_len(&csbm__package__descriptor, "{\"remarks\":\"a\0b\"}", 17,
        NULL, "control character 0x0");
    s_expect_error_len(&csbm__package__descriptor, "{}\0", 3, NULL,
        "end of file expected");
}

/* {"req":0,"child":{"req":1,"child":...{"req":k}}}: k children, k + 1
 * levels of objects. */
static void
s_nested_children(char *json, size_t cap, int k)
{
    size_t n = 0;
    int    i;

    for (i = 0; i < k; i++)
        n += (size_t)snprintf(json + n, cap - n, "{\"req\":%d,\"child\":", i);
    n += (size_t)snprintf(json + n, cap - n, "{\"req\":%d}", k);
    for (i = 0; i < k; i++)
        json[n++] = '}';
    json[n] = '\0';
}

/* "$" followed by n copies of seg. */
static void
s_repeat_path(char *path, size_t cap, const char *seg, int n)
{
    size_t p = 1;
    int    i;

    path[0] = '$';
    path[1] = '\0';
    for (i = 0; i < n; i++)
        p += (size_t)snprintf(path + p, cap - p, "%s", seg);
}

static void
test_json_codec_rejects_too_deep_nesting(void **state)
{
    char              json[4096], path[1024];
    size_t            n = 0;
    int               i;
    errbuf_t          err = { { 0 } };
    ProtobufCMessage *m;

    (void)state;
    /* any JSON: 32 arrays under "remarks" make 33 levels with the top */
    n += (size_t)snprintf(json, sizeof json, "{\"remarks\":");
    for (i = 0; i < 32; i++)
        json[n++] = '[';
    for (i = 0; i < 32; i++)
        json[n++] = ']';
    json[n++] = '}';
    json[n] = '\0';
    s_repeat_path(path, sizeof path, "[0]", 31);
    memmove(path + 9, path + 1, strlen(path));
    memcpy(path, "$.remarks", 9);
    s_expect_error(&csbm__package__descriptor, json, path,
        "nested deeper than the limit of 32 levels");

    /* through the schema: 31 nested children (32 levels) decode... */
    s_nested_children(json, sizeof json, 31);
    m = s_decode(&s_at_desc, json, &err);
    assert_non_null(m);
    protobuf_c_message_free_unpacked(m, NULL);
    /* ...32 do not, and the path names the object at level 33 */
    s_nested_children(json, sizeof json, 32);
    s_repeat_path(path, sizeof path, ".child", 32);
    s_expect_error(&s_at_desc, json, path, "nested deeper than the limit");
}

static void
test_json_codec_encode_rejects_what_decode_would(void **state)
{
    all_types_t       chain[33];
    int32_t           one = 1;
    char              path[512];
    char             *out;
    errbuf_t          err = { { 0 } };
    ProtobufCMessage *m;
    int               i;

    (void)state;
    for (i = 0; i < 33; i++) {
        s_at_init(&chain[i].base);
        chain[i].child = i + 1 < 33 ? &chain[i + 1] : NULL;
    }
    /* 32 levels of messages encode, and decode again */
    chain[31].child = NULL;
    out = s_encode_ok(&chain[0].base);
    m = s_decode(&s_at_desc, out, &err);
    assert_non_null(m);
    protobuf_c_message_free_unpacked(m, NULL);
    free(out);
    /* an array at level 33 does not */
    chain[31].n_r_i32 = 1;
    chain[31].r_i32 = &one;
    s_repeat_path(path, sizeof path, ".child", 31);
    strcat(path, ".r_i32");
    s_expect_encode_error(&chain[0].base, path, "nested deeper");
    /* nor a message at level 33 */
    chain[31].n_r_i32 = 0;
    chain[31].child = &chain[32];
    s_repeat_path(path, sizeof path, ".child", 32);
    s_expect_encode_error(&chain[0].base, path, "nested deeper");
}

static void
test_json_codec_rejects_too_long_arrays(void **state)
{
    size_t   n = JSON_CODEC_MAX_ARRAY + 1, i, len = 0;
    char    *json = malloc(17 + 3 * n);
    errbuf_t err = { { 0 } };
    ProtobufCMessage *m;

    (void)state;
    assert_non_null(json);
    memcpy(json, "{\"references\":[", 15);
    len = 15;
    for (i = 0; i < n; i++) {
        memcpy(json + len, "\"\",", 3);
        len += 3;
    }
    json[len - 1] = ']';
    json[len++] = '}';
    json[len] = '\0';
    s_expect_error(&csbm__package__descriptor, json, "$.references",
        "array of 100001 elements is longer than the limit of 100000");
    /* one fewer is accepted */
    memmove(json + 15, json + 18, len - 18 + 1);
    m = s_decode(&csbm__package__descriptor, json, &err);
    assert_non_null(m);
    assert_int_equal(((Csbm__Package *)m)->n_references, JSON_CODEC_MAX_ARRAY);
    protobuf_c_message_free_unpacked(m, NULL);
    free(json);
}

static void
test_json_codec_rejects_oversized_input(void **state)
{
    size_t   n = JSON_CODEC_MAX_INPUT + 1;
    char    *json = malloc(n);
    errbuf_t err = { { 0 } };

    (void)state;
    assert_non_null(json);
    memset(json, ' ', n);
    json[0] = '{';
    json[n - 1] = '}';
    assert_null(json_codec_decode(&csbm__package__descriptor, json, n, &err));
    assert_non_null(strstr(err.msg, "larger than the limit of 50331648 bytes"));
    /* the limit itself is accepted */
    json[n - 2] = '}';
    {
        ProtobufCMessage *m = json_codec_decode(&csbm__package__descriptor,
            json, n - 1, &err);

        assert_non_null(m);
        protobuf_c_message_free_unpacked(m, NULL);
    }
    free(json);
}

/* ---------------------------------------------- truncation, bit flips --- */

static void
test_json_codec_rejects_every_truncation(void **state)
{
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof s_vectors / sizeof s_vectors[0]; i++) {
        char   name[64];
        size_t len, end;
        char  *text;

        snprintf(name, sizeof name, "%s.json", s_vectors[i].name);
        text = s_read_vector(name, &len);
        end = (size_t)(strrchr(text, '}') - text) + 1;
        for (n = 0; n < len; n++) {
            errbuf_t          err = { { 0 } };
            char             *copy = malloc(n > 0 ? n : 1);
            ProtobufCMessage *m;

            assert_non_null(copy);
            memcpy(copy, text, n);
            m = json_codec_decode(s_vectors[i].desc, copy, n, &err);
            free(copy);
            if (n < end) {
                if (m != NULL)
                    fail_msg("%s: prefix of %zu bytes accepted", name, n);
                assert_non_null(strstr(err.msg, "malformed JSON at line"));
            } else {
                /* only the final newline is missing */
                assert_non_null(m);
            }
            protobuf_c_message_free_unpacked(m, NULL);
        }
        free(text);
    }
}

/* A flipped text decodes to a message or fails with a message; whatever
 * decodes must encode, and its encoding must read back to itself. */
static void
s_mutant(const char *text, size_t len)
{
    errbuf_t          err = { { 0 } };
    ProtobufCMessage *m, *again;
    char             *copy = malloc(len), *out, *out2;

    assert_non_null(copy);
    memcpy(copy, text, len);
    m = json_codec_decode(&csbm__package__descriptor, copy, len, &err);
    free(copy);
    if (m == NULL) {
        assert_true(err.msg[0] != '\0');
        return;
    }
    out = json_codec_encode(m, &err);
    if (out == NULL) /* e.g. a flip to a value with no JSON form */
        fail_msg("decoded but cannot encode: %s", err.msg);
    again = json_codec_decode(&csbm__package__descriptor, out, strlen(out),
        &err);
    assert_non_null(again);
    out2 = json_codec_encode(again, &err);
    assert_non_null(out2);
    assert_string_equal(out, out2);
    free(out2);
    free(out);
    protobuf_c_message_free_unpacked(again, NULL);
    protobuf_c_message_free_unpacked(m, NULL);
}

static void
test_json_codec_survives_bit_flips(void **state)
{
    size_t   len, i, k;
    char    *text = s_read_vector("package_document.json", &len);
    char    *buf = malloc(len);
    uint64_t x = 0x9e3779b97f4a7c15u;
    int      bit;

    (void)state;
    assert_non_null(buf);
    /* every single-bit flip */
    for (i = 0; i < len; i++)
        for (bit = 0; bit < 8; bit++) {
            memcpy(buf, text, len);
            buf[i] = (char)(buf[i] ^ (1 << bit));
            s_mutant(buf, len);
        }
    /* and a deterministic run of 1 to 8 random flips at once */
    for (i = 0; i < 3000; i++) {
        memcpy(buf, text, len);
        for (k = 0; k < 1 + i % 8; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf[(x >> 3) % len] ^= (char)(1 << (x & 7));
        }
        s_mutant(buf, len);
    }
    free(buf);
    free(text);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_codec_known_answer_vectors),
        cmocka_unit_test(test_json_codec_round_trips_milex_matrix),
        cmocka_unit_test(test_json_codec_round_trips_arms_register),
        cmocka_unit_test(test_json_codec_round_trips_exercise_coordinates),
        cmocka_unit_test(test_json_codec_round_trips_document_oneofs_and_base64),
        cmocka_unit_test(test_json_codec_round_trips_envelope_uint64),
        cmocka_unit_test(test_json_codec_accepts_64bit_decimal_strings),
        cmocka_unit_test(test_json_codec_encode_orders_keys_and_omits_defaults),
        cmocka_unit_test(test_json_codec_encode_writes_set_oneof_member_with_default),
        cmocka_unit_test(test_json_codec_encode_writes_shortest_reals),
        cmocka_unit_test(test_json_codec_decode_checks_float_range_by_rounding),
        cmocka_unit_test(test_json_codec_encode_rejects_nan_and_infinity),
        cmocka_unit_test(test_json_codec_encode_rejects_unknown_enum_number),
        cmocka_unit_test(test_json_codec_encode_rejects_invalid_utf8),
        cmocka_unit_test(test_json_codec_encode_rejects_unset_parts_and_bad_arguments),
        cmocka_unit_test(test_json_codec_round_trips_every_type_and_label),
        cmocka_unit_test(test_json_codec_rejects_bad_values_of_every_type),
        cmocka_unit_test(test_json_codec_rejects_bad_packages_with_path),
        cmocka_unit_test(test_json_codec_rejects_bad_envelope_headers_with_path),
        cmocka_unit_test(test_json_codec_rejects_malformed_json_with_line_and_column),
        cmocka_unit_test(test_json_codec_rejects_too_deep_nesting),
        cmocka_unit_test(test_json_codec_encode_rejects_what_decode_would),
        cmocka_unit_test(test_json_codec_rejects_too_long_arrays),
        cmocka_unit_test(test_json_codec_rejects_oversized_input),
        cmocka_unit_test(test_json_codec_rejects_every_truncation),
        cmocka_unit_test(test_json_codec_survives_bit_flips),
    };

    return cmocka_run_group_tests(tests, s_setup, NULL);
}
