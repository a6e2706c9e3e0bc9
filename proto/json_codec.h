/*
 * json_codec: JSON text <-> protobuf-c messages, generically.
 *
 * Driven only by the protobuf-c descriptors, so no converter is written per
 * message type: a new package type needs only a schema change. Mapping:
 *   - object keys are the .proto field names; unknown keys are errors, and
 *     so are duplicate keys;
 *   - enums are written by value name ("THOUSANDS"); numbers are refused;
 *   - int32/sint32/sfixed32/uint32/fixed32 are JSON integers, range-checked;
 *     a real number (2.5, and also 2.0) is refused where an integer belongs;
 *   - the 64-bit types are JSON integers, except that uint64/fixed64 values
 *     above 9223372036854775807 (beyond what jansson holds) are written as
 *     decimal strings ("18446744073709551615"); on input every 64-bit type
 *     also takes a decimal string (digits, '-' for signed types only);
 *   - float/double are JSON numbers (an integer is accepted); NaN and the
 *     infinities cannot be written; a float out of float range is refused;
 *   - bool is true/false; string is a string (UTF-8, no NUL characters);
 *   - bytes are standard base64 with '=' padding, no line breaks;
 *   - repeated fields are arrays; messages are objects;
 *   - at most one member of a oneof may be present;
 *   - null is refused anywhere: leave a field out to leave it unset;
 *   - a proto2 required field that is missing is an error.
 * On output, keys follow the descriptor's field order (protoc-c sorts it by
 * field number), indented by two spaces, and the text ends in a newline.
 * Fields with their default value (0, false, "", empty bytes, empty
 * repeated, absent message) are omitted, except a oneof member that is set,
 * which is always written; proto2 optional fields are written when present.
 * Doubles and floats are written with enough digits to read back to the
 * same value: the fewest that serve every number in the message, so 0.1
 * stays 0.1 unless another number needs all 17 digits. An enum number with
 * no name in the schema is an error (it could not be read back). Unknown
 * fields kept by protobuf-c's unpacker are not rendered.
 *
 * Every error names the JSON path and the reason, e.g.
 *   "$.milex.unit: unknown enum value \"KILO\" for csbm.UnitOfMeasure"
 *   "$.arms_register.exports[2].quantity: expected integer, got real ..."
 * Malformed JSON is reported by line and column instead.
 * Bounds: input size, nesting depth (objects and arrays, the top-level
 * object being level 1) and array lengths are limited; encode refuses to
 * write what decode would refuse to read, except the input size.
 */
#ifndef CSBM_JSON_CODEC_H
#define CSBM_JSON_CODEC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "proto/errbuf.h"

#define JSON_CODEC_MAX_INPUT (48u * 1024 * 1024)
#define JSON_CODEC_MAX_DEPTH 32
#define JSON_CODEC_MAX_ARRAY 100000

/* Parse len bytes of JSON text (no terminating NUL needed) into a new
 * message of type desc. Returns NULL with err set on malformed JSON (with
 * line and column), input over the limits, wrong types, unknown fields,
 * out-of-range numbers, unknown enum names, bad base64 or two members of a
 * oneof. Nothing is left allocated on failure. Caller owns the result and
 * frees it with protobuf_c_message_free_unpacked(msg, NULL). */
ProtobufCMessage *json_codec_decode(const ProtobufCMessageDescriptor *desc,
    const char *text, size_t len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Render msg as indented JSON text ending in a newline. Returns NULL with
 * err set (naming the JSON path) on NaN or infinite numbers, enum numbers
 * without a name, strings that are not UTF-8, nesting or arrays over the
 * limits, or a missing required message. Caller owns the result (free()). */
char *json_codec_encode(const ProtobufCMessage *msg, errbuf_t *err)
    __attribute__((warn_unused_result));

#endif
