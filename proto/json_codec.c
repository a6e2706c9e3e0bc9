/*
 * json_codec: JSON text <-> protobuf-c messages, driven by the descriptors
 * (see json_codec.h for the mapping).
 *
 * Decoding builds messages from malloc'd parts in exactly the shape that
 * protobuf_c_message_free_unpacked() frees, so that one call releases a
 * finished message and a half-built one alike: a value is stored only once
 * it is complete, a oneof case only after its member, and a repeated
 * field's count grows with each element stored.
 */
#include "proto/json_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PATH_MAX 256 /* longer paths are cut short in messages */
#define S_SHOW_MAX 40  /* bytes of an offending value quoted in a message */

typedef struct {
    errbuf_t *err;
    char      path[S_PATH_MAX]; /* "$.milex.matrix" of the value at hand */
    size_t    len;
    int       digits; /* encode: %g precision that round-trips every real */
} walk_t;

/* ------------------------------------------------------------ helpers --- */

static void
s_walk_init(walk_t *w, errbuf_t *err)
{
    memset(w, 0, sizeof *w);
    w->err = err;
    w->path[0] = '$';
    w->len = 1;
    w->digits = 1;
}

/* Copy at most max bytes of s into out (max + 4 bytes), control bytes as
 * '?', so that quoting hostile input cannot drive the user's terminal. */
static const char *
s_show(char *out, const char *s, size_t n, size_t max)
{
    size_t i, k = n < max ? n : max;

    for (i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (k < n) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k] = '\0';
    return out;
}

/* Append a path segment; returns the length to restore with s_path_pop.
 * Control bytes in keys are shown as '?'; a path too long is cut short. */
static size_t __attribute__((format(printf, 2, 3)))
s_path_push(walk_t *w, const char *fmt, ...)
{
    char    seg[S_PATH_MAX];
    size_t  mark = w->len, i;
    va_list ap;

    va_start(ap, fmt);
    if (vsnprintf(seg, sizeof seg, fmt, ap) < 0)
        seg[0] = '\0';
    va_end(ap);
    for (i = 0; seg[i] != '\0' && w->len < sizeof w->path - 1; i++) {
        unsigned char c = (unsigned char)seg[i];

        w->path[w->len++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (seg[i] != '\0')
        memcpy(w->path + w->len - 3, "...", 3);
    w->path[w->len] = '\0';
    return mark;
}

static void
s_path_pop(walk_t *w, size_t mark)
{
    w->len = mark;
    w->path[mark] = '\0';
}

/* Set "<path>: <reason>" and return -1. */
static int __attribute__((format(printf, 2, 3)))
s_fail(walk_t *w, const char *fmt, ...)
{
    char    why[ERRBUF_SIZE];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    errbuf_set(w->err, "%s: %s", w->path, why);
    return -1;
}

static const char *
s_json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown value";
}

static const char *
s_type_name(ProtobufCType t)
{
    static const char *names[] = { "int32", "sint32", "sfixed32", "int64",
        "sint64", "sfixed64", "uint32", "fixed32", "uint64", "fixed64",
        "float", "double", "bool", "enum", "string", "bytes", "message" };

    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

/* Bytes one element of a repeated field takes, as protobuf-c lays it out. */
static size_t
s_elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return sizeof(uint32_t);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return sizeof(uint64_t);
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_ENUM:
        return sizeof(int);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* A proto2 optional scalar or bytes field records presence in has_<name>;
 * strings and messages record it by their pointer. */
static bool
s_has_flag(const ProtobufCFieldDescriptor *f)
{
    return f->label == PROTOBUF_C_LABEL_OPTIONAL
        && (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) == 0
        && f->type != PROTOBUF_C_TYPE_STRING
        && f->type != PROTOBUF_C_TYPE_MESSAGE;
}

/* ------------------------------------------------------------- decode --- */

/* The depth and array bounds, checked over the whole tree before any of it
 * is interpreted, so that they hold under unknown keys as well. */
static int
s_check_limits(walk_t *w, json_t *v, int depth)
{
    const char *key;
    json_t     *e;
    size_t      i, mark;

    if ((json_is_array(v) || json_is_object(v)) && depth > JSON_CODEC_MAX_DEPTH)
        return s_fail(w, "nested deeper than the limit of %d levels",
            JSON_CODEC_MAX_DEPTH);
    if (json_is_array(v)) {
        if (json_array_size(v) > JSON_CODEC_MAX_ARRAY)
            return s_fail(w, "array of %zu elements is longer than the "
                "limit of %d", json_array_size(v), JSON_CODEC_MAX_ARRAY);
        json_array_foreach(v, i, e) {
            mark = s_path_push(w, "[%zu]", i);
            if (s_check_limits(w, e, depth + 1) != 0)
                return -1;
            s_path_pop(w, mark);
        }
    } else if (json_is_object(v)) {
        json_object_foreach(v, key, e) {
            mark = s_path_push(w, ".%s", key);
            if (s_check_limits(w, e, depth + 1) != 0)
                return -1;
            s_path_pop(w, mark);
        }
    }
    return 0;
}

static int s_digits(double d);

/* A real number as it would be written, "2.0" rather than "2", so that a
 * message saying that it is not an integer makes sense. */
static const char *
s_real_text(char out[48], double d)
{
    snprintf(out, 48, "%.*g", s_digits(d), d);
    if (strpbrk(out, ".en") == NULL)
        strcat(out, ".0");
    return out;
}

/* A decimal string for a 64-bit field: optional '-' (if signed), digits. */
static int
s_decimal_text(walk_t *w, const json_t *v, bool is_signed)
{
    const char *s = json_string_value(v);
    size_t      n = json_string_length(v), i = 0;
    char        shown[S_SHOW_MAX + 4];

    if (is_signed && n > 0 && s[0] == '-')
        i = 1;
    if (i == n)
        goto bad;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            goto bad;
    return 0;
bad:
    return s_fail(w, "\"%s\" is not a decimal integer",
        s_show(shown, s, n, S_SHOW_MAX));
}

/* An integer in [lo, hi]; the 64-bit types also take a decimal string. */
static int
s_get_signed(walk_t *w, const json_t *v, const ProtobufCFieldDescriptor *f,
    int64_t lo, int64_t hi, int64_t *out)
{
    bool      text_ok = hi == INT64_MAX;
    long long x;
    char      shown[S_SHOW_MAX + 48], *end;

    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (text_ok && json_is_string(v)) {
        if (s_decimal_text(w, v, true) != 0)
            return -1;
        errno = 0;
        x = strtoll(json_string_value(v), &end, 10);
        if (errno == ERANGE || *end != '\0')
            return s_fail(w, "%s is out of range for %s (%" PRId64 "..%"
                PRId64 ")", s_show(shown, json_string_value(v),
                    json_string_length(v), S_SHOW_MAX), s_type_name(f->type),
                lo, hi);
    } else if (json_is_real(v)) {
        return s_fail(w, "expected integer, got real number %s (write "
            "integers without a fraction or exponent)",
            s_real_text(shown, json_real_value(v)));
    } else {
        return s_fail(w, "expected integer%s, got %s",
            text_ok ? " or decimal string" : "", s_json_kind(v));
    }
    if (x < lo || x > hi)
        return s_fail(w, "%lld is out of range for %s (%" PRId64 "..%" PRId64
            ")", x, s_type_name(f->type), lo, hi);
    *out = x;
    return 0;
}

static int
s_get_unsigned(walk_t *w, const json_t *v, const ProtobufCFieldDescriptor *f,
    uint64_t hi, uint64_t *out)
{
    bool               text_ok = hi == UINT64_MAX;
    unsigned long long x;
    char               shown[S_SHOW_MAX + 48], *end;

    if (json_is_integer(v)) {
        if (json_integer_value(v) < 0)
            return s_fail(w, "%lld is out of range for %s (0..%" PRIu64 ")",
                (long long)json_integer_value(v), s_type_name(f->type), hi);
        x = (unsigned long long)json_integer_value(v);
    } else if (text_ok && json_is_string(v)) {
        if (s_decimal_text(w, v, false) != 0)
            return -1;
        errno = 0;
        x = strtoull(json_string_value(v), &end, 10);
        if (errno == ERANGE || *end != '\0')
            return s_fail(w, "%s is out of range for %s (0..%" PRIu64 ")",
                s_show(shown, json_string_value(v), json_string_length(v),
                    S_SHOW_MAX), s_type_name(f->type), hi);
    } else if (json_is_real(v)) {
        return s_fail(w, "expected integer, got real number %s (write "
            "integers without a fraction or exponent)",
            s_real_text(shown, json_real_value(v)));
    } else {
        return s_fail(w, "expected integer%s, got %s",
            text_ok ? " or decimal string" : "", s_json_kind(v));
    }
    if (x > hi)
        return s_fail(w, "%llu is out of range for %s (0..%" PRIu64 ")", x,
            s_type_name(f->type), hi);
    *out = x;
    return 0;
}

static int
s_get_number(walk_t *w, const json_t *v, double *out)
{
    if (!json_is_number(v))
        return s_fail(w, "expected number, got %s", s_json_kind(v));
    *out = json_number_value(v);
    return 0;
}

static int
s_get_enum(walk_t *w, const json_t *v, const ProtobufCFieldDescriptor *f,
    int *out)
{
    const ProtobufCEnumDescriptor *ed = f->descriptor;
    const ProtobufCEnumValue      *ev;
    char                           shown[S_SHOW_MAX + 4];

    if (!json_is_string(v))
        return s_fail(w, "expected the name of a %s value (a string), got %s",
            ed->name, s_json_kind(v));
    ev = protobuf_c_enum_descriptor_get_value_by_name(ed, json_string_value(v));
    if (ev == NULL)
        return s_fail(w, "unknown enum value \"%s\" for %s",
            s_show(shown, json_string_value(v), json_string_length(v),
                S_SHOW_MAX), ed->name);
    *out = ev->value;
    return 0;
}

/* jansson has already checked UTF-8 and, without JSON_ALLOW_NUL, refused
 * NUL characters, so the string is safe to keep as a C string. */
static int
s_get_string(walk_t *w, const json_t *v, char **out)
{
    size_t n;
    char  *s;

    if (!json_is_string(v))
        return s_fail(w, "expected string, got %s", s_json_kind(v));
    n = json_string_length(v);
    if ((s = malloc(n + 1)) == NULL)
        return s_fail(w, "out of memory");
    memcpy(s, json_string_value(v), n + 1);
    *out = s;
    return 0;
}

static int
s_get_bytes(walk_t *w, const json_t *v, ProtobufCBinaryData *out)
{
    size_t   n, len = 0;
    uint8_t *data;

    if (!json_is_string(v))
        return s_fail(w, "expected base64 string, got %s", s_json_kind(v));
    n = json_string_length(v);
    out->len = 0;
    out->data = NULL;
    if (n == 0)
        return 0;
    if (n % 4 != 0)
        return s_fail(w, "invalid base64: %zu characters, not a multiple of 4 "
            "(standard base64 with '=' padding expected)", n);
    if ((data = malloc(n / 4 * 3)) == NULL)
        return s_fail(w, "out of memory");
    if (sodium_base642bin(data, n / 4 * 3, json_string_value(v), n, NULL, &len,
            NULL, sodium_base64_VARIANT_ORIGINAL) != 0) {
        free(data);
        return s_fail(w, "invalid base64 (standard alphabet with '=' "
            "padding, no line breaks, expected)");
    }
    out->len = len;
    out->data = data;
    return 0;
}

static int s_decode_message(walk_t *w, const ProtobufCMessageDescriptor *desc,
    json_t *obj, ProtobufCMessage **out);

/* One value of field f into slot, which is left untouched on failure. */
static int
s_decode_value(walk_t *w, const ProtobufCFieldDescriptor *f, json_t *v,
    void *slot)
{
    int64_t  i = 0;
    uint64_t u = 0;
    double   d = 0;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (s_get_signed(w, v, f, INT32_MIN, INT32_MAX, &i) != 0)
            return -1;
        *(int32_t *)slot = (int32_t)i;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (s_get_signed(w, v, f, INT64_MIN, INT64_MAX, &i) != 0)
            return -1;
        *(int64_t *)slot = i;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (s_get_unsigned(w, v, f, UINT32_MAX, &u) != 0)
            return -1;
        *(uint32_t *)slot = (uint32_t)u;
        return 0;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        if (s_get_unsigned(w, v, f, UINT64_MAX, &u) != 0)
            return -1;
        *(uint64_t *)slot = u;
        return 0;
    case PROTOBUF_C_TYPE_FLOAT:
        if (s_get_number(w, v, &d) != 0)
            return -1;
        /* below the midpoint of FLT_MAX and 2^128, d rounds to a finite
         * float; at or above it, to infinity */
        if (!(fabs(d) < 0x1.ffffffp127))
            return s_fail(w, "%g is out of range for float", d);
        *(float *)slot = (float)d;
        return 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        if (s_get_number(w, v, &d) != 0)
            return -1;
        *(double *)slot = d;
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (!json_is_boolean(v))
            return s_fail(w, "expected true or false, got %s",
                s_json_kind(v));
        *(protobuf_c_boolean *)slot = json_is_true(v);
        return 0;
    case PROTOBUF_C_TYPE_ENUM:
        return s_get_enum(w, v, f, (int *)slot);
    case PROTOBUF_C_TYPE_STRING:
        return s_get_string(w, v, (char **)slot);
    case PROTOBUF_C_TYPE_BYTES: {
        ProtobufCBinaryData bd;

        if (s_get_bytes(w, v, &bd) != 0)
            return -1;
        *(ProtobufCBinaryData *)slot = bd;
        return 0;
    }
    case PROTOBUF_C_TYPE_MESSAGE:
        return s_decode_message(w, f->descriptor, v, (ProtobufCMessage **)slot);
    }
    return s_fail(w, "field type %d is not supported", (int)f->type);
}

static int
s_decode_repeated(walk_t *w, const ProtobufCFieldDescriptor *f, json_t *arr,
    uint8_t *base)
{
    size_t   i, n, mark, size = s_elem_size(f->type);
    size_t  *count = (size_t *)(base + f->quantifier_offset);
    uint8_t *elems;
    json_t  *v;

    if (!json_is_array(arr))
        return s_fail(w, "expected array, got %s", s_json_kind(arr));
    if ((n = json_array_size(arr)) == 0)
        return 0;
    /* n is at most JSON_CODEC_MAX_ARRAY (s_check_limits) */
    if ((elems = calloc(n, size)) == NULL)
        return s_fail(w, "out of memory");
    *(uint8_t **)(base + f->offset) = elems;
    *count = 0;
    json_array_foreach(arr, i, v) {
        mark = s_path_push(w, "[%zu]", i);
        if (json_is_null(v))
            return s_fail(w, "null is not allowed in an array");
        if (s_decode_value(w, f, v, elems + i * size) != 0)
            return -1;
        *count = i + 1;
        s_path_pop(w, mark);
    }
    return 0;
}

static int
s_decode_field(walk_t *w, ProtobufCMessage *msg,
    const ProtobufCFieldDescriptor *f, json_t *v)
{
    uint8_t  *base = (uint8_t *)msg;
    uint32_t *which;

    if (json_is_null(v))
        return s_fail(w, "null is not allowed; leave the field out instead");
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        return s_decode_repeated(w, f, v, base);
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        which = (uint32_t *)(base + f->quantifier_offset);
        if (*which != 0) {
            const ProtobufCFieldDescriptor *other =
                protobuf_c_message_descriptor_get_field(msg->descriptor,
                    (unsigned)*which);

            return s_fail(w, "\"%s\" and \"%s\" are members of the same "
                "oneof; set only one", other != NULL ? other->name : "?",
                f->name);
        }
        if (s_decode_value(w, f, v, base + f->offset) != 0)
            return -1;
        *which = f->id;
        return 0;
    }
    if (s_decode_value(w, f, v, base + f->offset) != 0)
        return -1;
    if (s_has_flag(f))
        *(protobuf_c_boolean *)(base + f->quantifier_offset) = 1;
    return 0;
}

static int
s_decode_message(walk_t *w, const ProtobufCMessageDescriptor *desc,
    json_t *obj, ProtobufCMessage **out)
{
    const ProtobufCFieldDescriptor *f;
    ProtobufCMessage               *msg = NULL;
    unsigned char                  *seen = NULL;
    const char                     *key;
    json_t                         *v;
    unsigned                        i;
    int                             rc = -1;

    if (!json_is_object(obj))
        return s_fail(w, "expected object for %s, got %s", desc->name,
            s_json_kind(obj));
    if (desc->message_init == NULL)
        return s_fail(w, "%s has no init function in its descriptor",
            desc->name);
    if ((msg = malloc(desc->sizeof_message)) == NULL
        || (desc->n_fields > 0 && (seen = calloc(desc->n_fields, 1)) == NULL)) {
        free(msg);
        return s_fail(w, "out of memory");
    }
    protobuf_c_message_init(desc, msg);
    json_object_foreach(obj, key, v) {
        size_t mark = s_path_push(w, ".%s", key);

        if ((f = protobuf_c_message_descriptor_get_field_by_name(desc, key))
            == NULL) {
            s_fail(w, "unknown field for %s", desc->name);
            goto done;
        }
        if (s_decode_field(w, msg, f, v) != 0)
            goto done;
        seen[f - desc->fields] = 1;
        s_path_pop(w, mark);
    }
    for (i = 0; i < desc->n_fields; i++)
        if (desc->fields[i].label == PROTOBUF_C_LABEL_REQUIRED && !seen[i]) {
            s_fail(w, "missing required field \"%s\" of %s",
                desc->fields[i].name, desc->name);
            goto done;
        }
    *out = msg;
    msg = NULL;
    rc = 0;
done:
    free(seen);
    protobuf_c_message_free_unpacked(msg, NULL);
    return rc;
}

ProtobufCMessage *
json_codec_decode(const ProtobufCMessageDescriptor *desc, const char *text,
    size_t len, errbuf_t *err)
{
    ProtobufCMessage *msg = NULL;
    json_error_t      jerr;
    json_t           *root;
    walk_t            w;
    char              shown[sizeof jerr.text + 4];

    if (desc == NULL || (text == NULL && len > 0)) {
        errbuf_set(err, "json_codec_decode: no descriptor or no text");
        return NULL;
    }
    if (len > JSON_CODEC_MAX_INPUT) {
        errbuf_set(err, "JSON text of %zu bytes is larger than the limit of "
            "%u bytes", len, JSON_CODEC_MAX_INPUT);
        return NULL;
    }
    /* Without JSON_DECODE_ANY the top level must be an object or array;
     * without JSON_ALLOW_NUL, "\u0000" is refused; trailing text is too. */
    root = json_loadb(text != NULL ? text : "", len, JSON_REJECT_DUPLICATES,
        &jerr);
    if (root == NULL) {
        errbuf_set(err, "malformed JSON at line %d, column %d: %s%s",
            jerr.line, jerr.column,
            s_show(shown, jerr.text, strnlen(jerr.text, sizeof jerr.text),
                sizeof jerr.text),
            strstr(jerr.text, "too big integer") != NULL
                ? " (write integers beyond the int64 range as decimal strings)"
                : "");
        return NULL;
    }
    s_walk_init(&w, err);
    if (!json_is_object(root))
        s_fail(&w, "expected an object at the top level, got %s",
            s_json_kind(root));
    else if (s_check_limits(&w, root, 1) == 0)
        (void)s_decode_message(&w, desc, root, &msg);
    json_decref(root);
    return msg;
}

/* ------------------------------------------------------------- encode --- */

/* Strings from protobuf-c's unpacker are not checked, so check them here:
 * well-formed UTF-8, no overlong forms, no surrogates, at most U+10FFFF. */
static bool
s_utf8_valid(const unsigned char *s, size_t n)
{
    size_t   i = 0, j, k;
    uint32_t cp;

    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        } else if (s[i] >= 0xc2 && s[i] <= 0xdf) {
            k = 1, cp = s[i] & 0x1f;
        } else if (s[i] >= 0xe0 && s[i] <= 0xef) {
            k = 2, cp = s[i] & 0x0f;
        } else if (s[i] >= 0xf0 && s[i] <= 0xf4) {
            k = 3, cp = s[i] & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + j] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
            || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        i += k + 1;
    }
    return true;
}

/* The fewest %g digits that read back as d, but no fewer than its integer
 * digits below 1e17, so that 100.0 is not written 1e2. */
static int
s_digits(double d)
{
    char buf[400];
    int  p = 1;

    if (fabs(d) >= 1 && fabs(d) < 1e17)
        p = snprintf(buf, sizeof buf, "%.0f", fabs(d));
    for (; p < 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, d);
        if (strtod(buf, NULL) == d)
            return p;
    }
    return 17;
}

/* The double nearest to the shortest decimal that reads back as x, so
 * that 0.1f is written 0.1 and not 0.100000001490116. The decoder rounds
 * the text to a double and then to a float, so that path is checked too. */
static double
s_float_shortest(float x)
{
    char buf[40];
    int  p;

    for (p = 1; p < 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)x);
        if (strtof(buf, NULL) == x && (float)strtod(buf, NULL) == x)
            return strtod(buf, NULL);
    }
    return (double)x;
}

static json_t *
s_encode_real(walk_t *w, double d)
{
    int     p;
    json_t *v;

    if (!isfinite(d)) {
        s_fail(w, "%s cannot be written as JSON", isnan(d) ? "NaN"
            : "infinity");
        return NULL;
    }
    if ((p = s_digits(d)) > w->digits)
        w->digits = p;
    if ((v = json_real(d)) == NULL)
        s_fail(w, "out of memory");
    return v;
}

static json_t *s_encode_message(walk_t *w, const ProtobufCMessage *msg,
    int depth);

static json_t *
s_encode_value(walk_t *w, const ProtobufCFieldDescriptor *f,
    const void *slot, int depth)
{
    json_t *v = NULL;

    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        v = json_integer(*(const int32_t *)slot);
        break;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        v = json_integer(*(const int64_t *)slot);
        break;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        v = json_integer(*(const uint32_t *)slot);
        break;
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t u = *(const uint64_t *)slot;
        char     buf[24];

        if (u <= INT64_MAX) {
            v = json_integer((json_int_t)u);
        } else {
            snprintf(buf, sizeof buf, "%" PRIu64, u);
            v = json_string(buf);
        }
        break;
    }
    case PROTOBUF_C_TYPE_FLOAT: {
        float x = *(const float *)slot;

        return s_encode_real(w, isfinite(x) ? s_float_shortest(x) : x);
    }
    case PROTOBUF_C_TYPE_DOUBLE:
        return s_encode_real(w, *(const double *)slot);
    case PROTOBUF_C_TYPE_BOOL:
        v = json_boolean(*(const protobuf_c_boolean *)slot);
        break;
    case PROTOBUF_C_TYPE_ENUM: {
        const ProtobufCEnumDescriptor *ed = f->descriptor;
        const ProtobufCEnumValue      *ev;

        ev = protobuf_c_enum_descriptor_get_value(ed, *(const int *)slot);
        if (ev == NULL) {
            s_fail(w, "%d is not a value of %s, so it has no name to write",
                *(const int *)slot, ed->name);
            return NULL;
        }
        v = json_string(ev->name);
        break;
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)slot;
        size_t      n = s != NULL ? strlen(s) : 0;

        if (!s_utf8_valid((const unsigned char *)s, n)) {
            s_fail(w, "string is not valid UTF-8");
            return NULL;
        }
        v = json_stringn_nocheck(s != NULL ? s : "", n);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *bd = slot;
        char                      *b64;
        size_t                     cap;

        if (bd->len > 0 && bd->data == NULL) {
            s_fail(w, "bytes of length %zu have no data", bd->len);
            return NULL;
        }
        if (bd->len > (SIZE_MAX - 8) / 4 * 3) {
            s_fail(w, "bytes of length %zu are too long to encode", bd->len);
            return NULL;
        }
        cap = sodium_base64_ENCODED_LEN(bd->len,
            sodium_base64_VARIANT_ORIGINAL);
        if ((b64 = malloc(cap)) == NULL) {
            s_fail(w, "out of memory");
            return NULL;
        }
        sodium_bin2base64(b64, cap, bd->data, bd->len,
            sodium_base64_VARIANT_ORIGINAL);
        v = json_string_nocheck(b64);
        free(b64);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)slot;

        if (sub == NULL) {
            s_fail(w, "required message field is not set");
            return NULL;
        }
        return s_encode_message(w, sub, depth + 1);
    }
    default:
        s_fail(w, "field type %d is not supported", (int)f->type);
        return NULL;
    }
    if (v == NULL)
        s_fail(w, "out of memory");
    return v;
}

/* Whether a singular, non-oneof field is written: proto3 fields when they
 * differ from the default, proto2 ones when present. */
static bool
s_present(const ProtobufCFieldDescriptor *f, const uint8_t *base)
{
    const void *m = base + f->offset;

    if (f->label == PROTOBUF_C_LABEL_REQUIRED)
        return true;
    if (s_has_flag(f))
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset);
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        return *(const uint32_t *)m != 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return *(const uint64_t *)m != 0;
    case PROTOBUF_C_TYPE_FLOAT:
        return *(const float *)m != 0;
    case PROTOBUF_C_TYPE_DOUBLE:
        return *(const double *)m != 0;
    case PROTOBUF_C_TYPE_BOOL:
        return *(const protobuf_c_boolean *)m != 0;
    case PROTOBUF_C_TYPE_ENUM:
        return *(const int *)m != 0;
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)m;

        if (f->label == PROTOBUF_C_LABEL_OPTIONAL)
            return s != NULL && s != f->default_value;
        return s != NULL && s[0] != '\0';
    }
    case PROTOBUF_C_TYPE_BYTES:
        return ((const ProtobufCBinaryData *)m)->len != 0;
    case PROTOBUF_C_TYPE_MESSAGE:
        return *(ProtobufCMessage *const *)m != NULL;
    }
    return false;
}

/* The JSON for field f of the message at base, or *out = NULL to omit it. */
static int
s_encode_field(walk_t *w, const ProtobufCFieldDescriptor *f,
    const uint8_t *base, int depth, json_t **out)
{
    const uint8_t *elems;
    size_t         i, n, mark, size;
    json_t        *arr, *v;

    *out = NULL;
    if (f->label == PROTOBUF_C_LABEL_REPEATED) {
        n = *(const size_t *)(base + f->quantifier_offset);
        elems = *(const uint8_t *const *)(base + f->offset);
        size = s_elem_size(f->type);
        if (n == 0)
            return 0;
        if (elems == NULL)
            return s_fail(w, "%zu elements counted but no array", n);
        if (n > JSON_CODEC_MAX_ARRAY)
            return s_fail(w, "array of %zu elements is longer than the "
                "limit of %d", n, JSON_CODEC_MAX_ARRAY);
        if (depth + 1 > JSON_CODEC_MAX_DEPTH)
            return s_fail(w, "nested deeper than the limit of %d levels",
                JSON_CODEC_MAX_DEPTH);
        if ((arr = json_array()) == NULL)
            return s_fail(w, "out of memory");
        for (i = 0; i < n; i++) {
            mark = s_path_push(w, "[%zu]", i);
            if (f->type == PROTOBUF_C_TYPE_MESSAGE
                && *(ProtobufCMessage *const *)(elems + i * size) == NULL) {
                json_decref(arr);
                return s_fail(w, "array element is not set");
            }
            if ((v = s_encode_value(w, f, elems + i * size, depth + 1))
                == NULL) {
                json_decref(arr);
                return -1;
            }
            if (json_array_append_new(arr, v) != 0) {
                json_decref(arr);
                return s_fail(w, "out of memory");
            }
            s_path_pop(w, mark);
        }
        *out = arr;
        return 0;
    }
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        /* A set member is written even when it holds the default value;
         * an absent message member is not set at all (as protobuf-c packs
         * it). */
        if (*(const uint32_t *)(base + f->quantifier_offset) != f->id
            || (f->type == PROTOBUF_C_TYPE_MESSAGE
                && *(ProtobufCMessage *const *)(base + f->offset) == NULL))
            return 0;
    } else if (!s_present(f, base)) {
        return 0;
    }
    return (*out = s_encode_value(w, f, base + f->offset, depth)) != NULL
        ? 0 : -1;
}

static json_t *
s_encode_message(walk_t *w, const ProtobufCMessage *msg, int depth)
{
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    const ProtobufCFieldDescriptor   *f;
    json_t                           *obj, *v;
    unsigned                          i;
    size_t                            mark;

    if (depth > JSON_CODEC_MAX_DEPTH) {
        s_fail(w, "nested deeper than the limit of %d levels",
            JSON_CODEC_MAX_DEPTH);
        return NULL;
    }
    if (desc == NULL) {
        s_fail(w, "message has no descriptor");
        return NULL;
    }
    if ((obj = json_object()) == NULL) {
        s_fail(w, "out of memory");
        return NULL;
    }
    for (i = 0; i < desc->n_fields; i++) {
        f = &desc->fields[i];
        mark = s_path_push(w, ".%s", f->name);
        if (s_encode_field(w, f, (const uint8_t *)msg, depth, &v) != 0)
            goto fail;
        if (v != NULL && json_object_set_new(obj, f->name, v) != 0) {
            s_fail(w, "out of memory");
            goto fail;
        }
        s_path_pop(w, mark);
    }
    return obj;
fail:
    json_decref(obj);
    return NULL;
}

char *
json_codec_encode(const ProtobufCMessage *msg, errbuf_t *err)
{
    json_t *root;
    char   *text, *grown;
    size_t  n;
    walk_t  w;

    if (msg == NULL) {
        errbuf_set(err, "json_codec_encode: no message");
        return NULL;
    }
    s_walk_init(&w, err);
    if ((root = s_encode_message(&w, msg, 1)) == NULL)
        return NULL;
    text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(w.digits));
    json_decref(root);
    if (text == NULL) {
        errbuf_set(err, "cannot render JSON: out of memory");
        return NULL;
    }
    n = strlen(text);
    if ((grown = realloc(text, n + 2)) == NULL) {
        free(text);
        errbuf_set(err, "cannot render JSON: out of memory");
        return NULL;
    }
    grown[n] = '\n';
    grown[n + 1] = '\0';
    return grown;
}
