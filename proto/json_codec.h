/*
 * json_codec: JSON text <-> protobuf-c messages, generically.
 *
 * Driven only by the protobuf-c descriptors, so no converter is written per
 * message type: a new package type needs only a schema change. Mapping:
 *   - object keys are the .proto field names; unknown keys are errors;
 *   - enums are written by value name ("THOUSANDS"); numbers are refused;
 *   - int32/int64/uint32/uint64 are JSON integers, range-checked;
 *   - float/double are JSON numbers; bool is true/false; string is string;
 *   - bytes are standard base64;
 *   - repeated fields are arrays; messages are objects;
 *   - at most one member of a oneof may be present.
 * On output, proto3 fields with their default value are omitted.
 * Every error names the JSON path and the reason, e.g.
 *   "$.milex.unit: unknown enum value \"KILO\" for csbm.UnitOfMeasure".
 * Bounds: input size, nesting depth and array lengths are limited.
 */
#ifndef CSBM_JSON_CODEC_H
#define CSBM_JSON_CODEC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#include "proto/errbuf.h"

#define JSON_CODEC_MAX_INPUT (48u * 1024 * 1024)
#define JSON_CODEC_MAX_DEPTH 32
#define JSON_CODEC_MAX_ARRAY 100000

/* Parse JSON text into a new message of type desc. Returns NULL with err
 * set on malformed JSON (with line and column), wrong types, unknown fields,
 * out-of-range numbers or bad base64. Caller owns the result and frees it
 * with protobuf_c_message_free_unpacked(msg, NULL). */
ProtobufCMessage *json_codec_decode(const ProtobufCMessageDescriptor *desc,
    const char *text, size_t len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Render msg as indented JSON text ending in a newline. Caller owns the
 * result (free()). NULL with err set on failure. */
char *json_codec_encode(const ProtobufCMessage *msg, errbuf_t *err)
    __attribute__((warn_unused_result));

#endif
