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

#include "crypto/envelope.h"
#include "crypto/sha256.h"

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
receipt_make(const keys_secret_t *hub_key, const Csbm__Receipt *receipt,
    uint8_t statement_hash[32], errbuf_t *err)
{
    Csbm__Signed *s = NULL;
    size_t        len;

    if (hub_key == NULL || keys_secret_kind(hub_key) != KEYS_SIGN) {
        errbuf_set(err, "a receipt names the hub's signing key");
        return NULL;
    }
    len = protobuf_c_message_get_packed_size(&receipt->base);
    if (len > RECEIPT_MAX_STATEMENT) {
        errbuf_set(err, "receipt statement is %zu bytes, more than the limit "
            "of %d", len, RECEIPT_MAX_STATEMENT);
        return NULL;
    }
    if ((s = calloc(1, sizeof *s)) == NULL)
        goto oom;
    csbm__signed__init(s);
    s->statement.data = malloc(len + 1);
    s->hub_key_id.data = malloc(KEYS_ID_BYTES);
    if (s->statement.data == NULL || s->hub_key_id.data == NULL)
        goto oom;
    s->statement.len = protobuf_c_message_pack(&receipt->base,
        s->statement.data);
    s->hub_key_id.len = KEYS_ID_BYTES;
    memcpy(s->hub_key_id.data, keys_secret_key_id(hub_key), KEYS_ID_BYTES);
    sha256(s->statement.data, s->statement.len, statement_hash);
    return s;
oom:
    receipt_signed_free(s);
    errbuf_set(err, "out of memory");
    return NULL;
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
receipt_parse(const Csbm__Signed *s, Csbm__Receipt **out, errbuf_t *err)
{
    Csbm__Receipt *r;

    *out = NULL;
    if (s == NULL) {
        errbuf_set(err, "no receipt");
        return -1;
    }
    if (s->hub_key_id.len != KEYS_ID_BYTES) {
        errbuf_set(err, "hub key id is %zu bytes, not %d", s->hub_key_id.len,
            KEYS_ID_BYTES);
        return -1;
    }
    if (s->statement.len == 0 || s->statement.len > RECEIPT_MAX_STATEMENT) {
        errbuf_set(err, "receipt statement is %zu bytes, outside 1..%d",
            s->statement.len, RECEIPT_MAX_STATEMENT);
        return -1;
    }
    r = csbm__receipt__unpack(NULL, s->statement.len, s->statement.data);
    if (r == NULL) {
        errbuf_set(err, "the receipt statement does not parse");
        return -1;
    }
    if (r->package_id.len != S_PACKAGE_ID_BYTES
        || r->envelope_hash.len != S_ENVELOPE_HASH_BYTES || r->position == 0
        || r->position > (uint64_t)INT64_MAX
        || r->accepted_at > (uint64_t)INT64_MAX) {
        errbuf_set(err, "the receipt is incomplete (package id %zu bytes, "
            "envelope hash %zu bytes, position %llu)", r->package_id.len,
            r->envelope_hash.len, (unsigned long long)r->position);
        csbm__receipt__free_unpacked(r, NULL);
        return -1;
    }
    *out = r;
    return 0;
}

int
receipt_verify(const Csbm__Signed *s, const Csbm__InclusionProof *ip,
    const uint8_t hub_pk[32], Csbm__Receipt **out, treehead_t *head,
    errbuf_t *err)
{
    if (receipt_parse(s, out, err) != 0)
        return -1;
    if (receipt_inclusion_verify(s, *out, ip, hub_pk, head, err) != 0) {
        csbm__receipt__free_unpacked(*out, NULL);
        *out = NULL;
        return -1;
    }
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
    sha256(env, len, out);
}

const char *
receipt_reason_name(int reason)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &csbm__reason_code__descriptor, reason);

    return v != NULL ? v->name : "REASON_UNKNOWN";
}

/* ------------------------------------------------------------- log --- */

void
receipt_leaf_hash(const Csbm__Signed *s, const Csbm__Receipt *r,
    uint8_t out[MERKLE_HASH_BYTES])
{
    uint8_t sh[S_ENVELOPE_HASH_BYTES];

    sha256(s->statement.data, s->statement.len, sh);
    treehead_leaf_package_hash(r->position, (int64_t)r->accepted_at,
        r->envelope_hash.data, sh, out);
}

int
receipt_inclusion_verify(const Csbm__Signed *s, const Csbm__Receipt *r,
    const Csbm__InclusionProof *ip, const uint8_t hub_pk[32],
    treehead_t *head, errbuf_t *err)
{
    memset(head, 0, sizeof *head);
    if (ip == NULL) {
        errbuf_set(err, "no inclusion proof");
        return -1;
    }
    if (treehead_verify(ip->tree_head, hub_pk, head, err) != 0) {
        errbuf_prefix(err, "tree head");
        return -1;
    }
    return receipt_path_verify(s, r, ip->leaf_index, ip->path.data,
        ip->path.len, head, err);
}

int
receipt_path_verify(const Csbm__Signed *s, const Csbm__Receipt *r,
    uint64_t leaf_index, const uint8_t *path, size_t path_len,
    const treehead_t *head, errbuf_t *err)
{
    uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    uint8_t leaf[MERKLE_HASH_BYTES];
    size_t  n = 0;

    if (strcmp(head->origin, r->federation) != 0) {
        errbuf_set(err, "the tree head is of the log of \"%s\", the receipt "
            "of federation \"%s\"", head->origin, r->federation);
        return -1;
    }
    if (leaf_index != r->log_index) {
        errbuf_set(err, "the proof is for leaf %llu, the receipt names leaf "
            "%llu", (unsigned long long)leaf_index,
            (unsigned long long)r->log_index);
        return -1;
    }
    if (r->accepted_at > (uint64_t)INT64_MAX
        || (int64_t)r->accepted_at > head->timestamp) {
        errbuf_set(err, "the tree head is older than the receipt");
        return -1;
    }
    if (r->position == 0 || r->position > (uint64_t)INT64_MAX
        || r->envelope_hash.len != S_ENVELOPE_HASH_BYTES) {
        errbuf_set(err, "the receipt has no valid position or envelope hash");
        return -1;
    }
    if (treehead_proof_parse(path, path_len, proof, &n, err) != 0)
        return -1;
    receipt_leaf_hash(s, r, leaf);
    if (merkle_inclusion_verify(leaf, leaf_index, head->size,
            (const uint8_t(*)[MERKLE_HASH_BYTES])proof, n, head->root, err)
        != 0) {
        errbuf_prefix(err, "inclusion proof of leaf %llu in the tree of %llu",
            (unsigned long long)leaf_index, (unsigned long long)head->size);
        return -1;
    }
    return 0;
}

void
receipt_proof_clear(receipt_proof_t *p)
{
    if (p == NULL)
        return;
    if (p->receipt != NULL)
        csbm__receipt__free_unpacked(p->receipt, NULL);
    memset(p, 0, sizeof *p);
}

int
receipt_file_verify(const uint8_t *buf, size_t len, const uint8_t hub_pk[32],
    const uint8_t *env, size_t env_len, receipt_proof_t *out, errbuf_t *err)
{
    Csbm__ReceiptFile *f;
    uint8_t            hash[S_ENVELOPE_HASH_BYTES];
    int                rc = -1;

    memset(out, 0, sizeof *out);
    if (buf == NULL || len == 0 || len > RECEIPT_FILE_MAX
        || (f = csbm__receipt_file__unpack(NULL, len, buf)) == NULL) {
        errbuf_set(err, "not a receipt file (a serialized csbm.ReceiptFile "
            "of at most %u bytes)", RECEIPT_FILE_MAX);
        return -1;
    }
    if (receipt_parse(f->receipt, &out->receipt, err) != 0) {
        errbuf_prefix(err, "receipt");
        goto done;
    }
    if (receipt_inclusion_verify(f->receipt, out->receipt, f->inclusion,
            hub_pk, &out->head, err) != 0)
        goto done;
    if (env != NULL) {
        envelope_t *e;
        receipt_envelope_hash(env, env_len, hash);
        if (sodium_memcmp(hash, out->receipt->envelope_hash.data,
                S_ENVELOPE_HASH_BYTES) != 0) {
            errbuf_set(err, "the package is not the one receipted: its "
                "SHA-256 differs from the receipt's envelope hash");
            goto done;
        }
        if ((e = envelope_parse(env, env_len, err)) != NULL) {
            const Csbm__EnvelopeHeader *h = envelope_header(e);
            int same = h->package_id.len == S_PACKAGE_ID_BYTES
                && memcmp(h->package_id.data, out->receipt->package_id.data,
                       S_PACKAGE_ID_BYTES) == 0
                && strcmp(h->sender, out->receipt->sender) == 0
                && h->sequence == out->receipt->sequence;
            envelope_destroy(&e);
            if (!same) {
                errbuf_set(err, "the package's id, sender or sequence differ "
                    "from the receipt's");
                goto done;
            }
        } else {
            errbuf_prefix(err, "the package");
            goto done;
        }
        out->envelope_checked = 1;
    }
    rc = 0;
done:
    csbm__receipt_file__free_unpacked(f, NULL);
    if (rc != 0)
        receipt_proof_clear(out);
    return rc;
}

int
receipt_file_pack(const uint8_t *receipt, size_t receipt_len,
    const uint8_t *inclusion, size_t inclusion_len, uint8_t **out,
    size_t *out_len, errbuf_t *err)
{
    Csbm__ReceiptFile f = CSBM__RECEIPT_FILE__INIT;
    int               rc = -1;

    *out = NULL;
    *out_len = 0;
    f.receipt = csbm__signed__unpack(NULL, receipt_len, receipt);
    f.inclusion = inclusion != NULL
        ? csbm__inclusion_proof__unpack(NULL, inclusion_len, inclusion)
        : NULL;
    if (f.receipt == NULL || f.inclusion == NULL) {
        errbuf_set(err, "the stored %s does not parse",
            f.receipt == NULL ? "receipt" : "inclusion proof");
        goto done;
    }
    *out_len = csbm__receipt_file__get_packed_size(&f);
    if ((*out = malloc(*out_len + 1)) == NULL) {
        errbuf_set(err, "out of memory");
        goto done;
    }
    csbm__receipt_file__pack(&f, *out);
    rc = 0;
done:
    if (f.receipt != NULL)
        csbm__signed__free_unpacked(f.receipt, NULL);
    if (f.inclusion != NULL)
        csbm__inclusion_proof__free_unpacked(f.inclusion, NULL);
    return rc;
}
