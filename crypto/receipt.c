/*
 * receipt: the hub's signed statements (see receipt.h).
 *
 * The signed message is label || 0x00 || statement, so a receipt can never
 * be replayed as a rejection (or as anything else the hub signs) and the
 * verifier parses exactly the bytes the signature covers — never a
 * re-serialization.
 */
#include "crypto/receipt.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_ENVELOPE_HASH_BYTES 32
#define S_PACKAGE_ID_BYTES    16

/* label || 0x00 || statement, in a new buffer. */
static uint8_t *
s_signed_message(const char *label, const uint8_t *stmt, size_t len,
    size_t *out_len)
{
    size_t   ll = strlen(label);
    uint8_t *m = malloc(ll + 1 + len + 1);

    if (m == NULL)
        return NULL;
    memcpy(m, label, ll);
    m[ll] = 0x00;
    if (len > 0)
        memcpy(m + ll + 1, stmt, len);
    *out_len = ll + 1 + len;
    return m;
}

static Csbm__Signed *
s_sign(const keys_secret_t *key, const char *label, const ProtobufCMessage *stmt,
    errbuf_t *err)
{
    Csbm__Signed *s = NULL;
    uint8_t      *msg = NULL;
    size_t        len, mlen = 0;

    if (key == NULL || keys_secret_kind(key) != KEYS_SIGN) {
        errbuf_set(err, "signing a %s statement needs the hub's signing key",
            label);
        return NULL;
    }
    len = protobuf_c_message_get_packed_size(stmt);
    if (len > RECEIPT_MAX_STATEMENT) {
        errbuf_set(err, "%s statement is %zu bytes, more than the limit of "
            "%d; shorten the message", label, len, RECEIPT_MAX_STATEMENT);
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (s == NULL)
        goto oom;
    csbm__signed__init(s);
    s->statement.data = malloc(len + 1);
    s->signature.data = malloc(KEYS_SIG_BYTES);
    s->hub_key_id.data = malloc(KEYS_ID_BYTES);
    if (s->statement.data == NULL || s->signature.data == NULL
        || s->hub_key_id.data == NULL)
        goto oom;
    s->statement.len = protobuf_c_message_pack(stmt, s->statement.data);
    s->signature.len = KEYS_SIG_BYTES;
    s->hub_key_id.len = KEYS_ID_BYTES;
    memcpy(s->hub_key_id.data, keys_secret_key_id(key), KEYS_ID_BYTES);
    msg = s_signed_message(label, s->statement.data, s->statement.len, &mlen);
    if (msg == NULL)
        goto oom;
    if (keys_sign(key, msg, mlen, s->signature.data) != 0) {
        free(msg);
        receipt_signed_free(s);
        errbuf_set(err, "signing the %s statement failed", label);
        return NULL;
    }
    free(msg);
    return s;
oom:
    receipt_signed_free(s);
    errbuf_set(err, "out of memory");
    return NULL;
}

Csbm__Signed *
receipt_sign(const keys_secret_t *hub_key, const Csbm__Receipt *receipt,
    errbuf_t *err)
{
    return s_sign(hub_key, RECEIPT_LABEL, &receipt->base, err);
}

Csbm__Signed *
receipt_sign_rejection(const keys_secret_t *hub_key,
    const Csbm__Rejection *rejection, errbuf_t *err)
{
    return s_sign(hub_key, REJECTION_LABEL, &rejection->base, err);
}

void
receipt_signed_free(Csbm__Signed *s)
{
    if (s == NULL)
        return;
    free(s->statement.data);
    free(s->signature.data);
    free(s->hub_key_id.data);
    free(s);
}

/* Check the envelope of a signed statement and the signature; on success
 * the statement bytes may be parsed. */
static int
s_check(const Csbm__Signed *s, const uint8_t hub_pk[32], const char *label,
    errbuf_t *err)
{
    uint8_t  id[KEYS_ID_BYTES];
    uint8_t *msg;
    size_t   mlen = 0;
    int      ok;

    if (s == NULL) {
        errbuf_set(err, "no signed statement");
        return -1;
    }
    if (s->hub_key_id.len != KEYS_ID_BYTES) {
        errbuf_set(err, "hub key id is %zu bytes, not %d", s->hub_key_id.len,
            KEYS_ID_BYTES);
        return -1;
    }
    keys_id(hub_pk, id);
    if (memcmp(id, s->hub_key_id.data, KEYS_ID_BYTES) != 0) {
        char want[2 * KEYS_ID_BYTES + 1], got[2 * KEYS_ID_BYTES + 1];
        keys_id_hex(id, want);
        keys_id_hex(s->hub_key_id.data, got);
        errbuf_set(err, "signed by hub key %s, not by the expected hub key %s",
            got, want);
        return -1;
    }
    if (s->signature.len != KEYS_SIG_BYTES) {
        errbuf_set(err, "signature is %zu bytes, not %d", s->signature.len,
            KEYS_SIG_BYTES);
        return -1;
    }
    if (s->statement.len == 0 || s->statement.len > RECEIPT_MAX_STATEMENT) {
        errbuf_set(err, "statement is %zu bytes, outside 1..%d",
            s->statement.len, RECEIPT_MAX_STATEMENT);
        return -1;
    }
    if ((msg = s_signed_message(label, s->statement.data, s->statement.len,
             &mlen)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    ok = crypto_sign_verify_detached(s->signature.data, msg, mlen, hub_pk)
        == 0;
    free(msg);
    if (!ok) {
        errbuf_set(err, "the hub's signature over the %s statement does not "
            "verify (forged, altered, or another kind of statement)", label);
        return -1;
    }
    return 0;
}

int
receipt_verify(const Csbm__Signed *s, const uint8_t hub_pk[32],
    Csbm__Receipt **out, errbuf_t *err)
{
    Csbm__Receipt *r;

    *out = NULL;
    if (s_check(s, hub_pk, RECEIPT_LABEL, err) != 0)
        return -1;
    r = csbm__receipt__unpack(NULL, s->statement.len, s->statement.data);
    if (r == NULL) {
        errbuf_set(err, "the signed receipt statement does not parse");
        return -1;
    }
    if (r->package_id.len != S_PACKAGE_ID_BYTES
        || r->envelope_hash.len != S_ENVELOPE_HASH_BYTES || r->position == 0) {
        errbuf_set(err, "the signed receipt is incomplete (package id %zu "
            "bytes, envelope hash %zu bytes, position %llu)",
            r->package_id.len, r->envelope_hash.len,
            (unsigned long long)r->position);
        csbm__receipt__free_unpacked(r, NULL);
        return -1;
    }
    *out = r;
    return 0;
}

int
receipt_verify_rejection(const Csbm__Signed *s, const uint8_t hub_pk[32],
    Csbm__Rejection **out, errbuf_t *err)
{
    Csbm__Rejection *r;

    *out = NULL;
    if (s_check(s, hub_pk, REJECTION_LABEL, err) != 0)
        return -1;
    r = csbm__rejection__unpack(NULL, s->statement.len, s->statement.data);
    if (r == NULL) {
        errbuf_set(err, "the signed rejection statement does not parse");
        return -1;
    }
    if ((r->package_id.len != 0 && r->package_id.len != S_PACKAGE_ID_BYTES)
        || r->envelope_hash.len != S_ENVELOPE_HASH_BYTES) {
        errbuf_set(err, "the signed rejection is malformed (package id %zu "
            "bytes, envelope hash %zu bytes)", r->package_id.len,
            r->envelope_hash.len);
        csbm__rejection__free_unpacked(r, NULL);
        return -1;
    }
    *out = r;
    return 0;
}

void
receipt_envelope_hash(const uint8_t *env, size_t len, uint8_t out[32])
{
    crypto_hash_sha256(out, env, len);
}

const char *
receipt_reason_name(int reason)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &csbm__reason_code__descriptor, reason);

    return v != NULL ? v->name : "REASON_UNKNOWN";
}
