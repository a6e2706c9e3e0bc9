/*
 * treehead: leaf entries, signed tree heads and cosignatures of the hub's
 * log (see treehead.h and docs/FORMAT-merkle.md).
 */
#include "crypto/treehead.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/receipt.h"

static void
s_put64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t
s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    int      i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

int
treehead_encode(const treehead_t *th, uint8_t out[TREEHEAD_MAX_BYTES],
    size_t *len, errbuf_t *err)
{
    size_t ol = strnlen(th->origin, sizeof th->origin);
    size_t off = 0;

    *len = 0;
    if (ol == 0 || ol > TREEHEAD_ORIGIN_MAX) {
        errbuf_set(err, "tree head origin must be 1..%d bytes",
            TREEHEAD_ORIGIN_MAX);
        return -1;
    }
    if (th->size > MERKLE_MAX_TREE_SIZE || th->timestamp < 0) {
        errbuf_set(err, "tree head size or timestamp out of range");
        return -1;
    }
    memcpy(out, TREEHEAD_MAGIC, TREEHEAD_MAGIC_LEN);
    off = TREEHEAD_MAGIC_LEN;
    out[off++] = (uint8_t)ol;
    memcpy(out + off, th->origin, ol);
    off += ol;
    s_put64(out + off, th->size);
    off += 8;
    memcpy(out + off, th->root, MERKLE_HASH_BYTES);
    off += MERKLE_HASH_BYTES;
    s_put64(out + off, (uint64_t)th->timestamp);
    off += 8;
    *len = off;
    return 0;
}

int
treehead_decode(const uint8_t *buf, size_t len, treehead_t *out,
    errbuf_t *err)
{
    size_t   ol, off;
    uint64_t ts;

    memset(out, 0, sizeof *out);
    if (len < TREEHEAD_MIN_BYTES || len > TREEHEAD_MAX_BYTES
        || memcmp(buf, TREEHEAD_MAGIC, TREEHEAD_MAGIC_LEN) != 0) {
        errbuf_set(err, "not a tree head (%zu bytes; want the magic %s and "
            "%d..%d bytes)", len, TREEHEAD_MAGIC, TREEHEAD_MIN_BYTES,
            TREEHEAD_MAX_BYTES);
        return -1;
    }
    ol = buf[TREEHEAD_MAGIC_LEN];
    if (ol == 0 || ol > TREEHEAD_ORIGIN_MAX
        || len != TREEHEAD_MIN_BYTES + ol) {
        errbuf_set(err, "tree head: origin length %zu does not match the "
            "%zu bytes given", ol, len);
        return -1;
    }
    off = TREEHEAD_MAGIC_LEN + 1;
    if (memchr(buf + off, '\0', ol) != NULL) {
        errbuf_set(err, "tree head: origin holds a NUL byte");
        return -1;
    }
    memcpy(out->origin, buf + off, ol);
    off += ol;
    out->size = s_get64(buf + off);
    off += 8;
    memcpy(out->root, buf + off, MERKLE_HASH_BYTES);
    off += MERKLE_HASH_BYTES;
    ts = s_get64(buf + off);
    if (out->size > MERKLE_MAX_TREE_SIZE || ts > (uint64_t)INT64_MAX) {
        errbuf_set(err, "tree head: size or timestamp out of range");
        memset(out, 0, sizeof *out);
        return -1;
    }
    out->timestamp = (int64_t)ts;
    return 0;
}

/* label || 0x00 || msg into a new buffer. */
static uint8_t *
s_labelled(const char *label, const uint8_t *msg, size_t len, size_t *out_len)
{
    size_t   ll = strlen(label);
    uint8_t *m = malloc(ll + 1 + len + 1);

    if (m == NULL)
        return NULL;
    memcpy(m, label, ll);
    m[ll] = 0x00;
    if (len > 0)
        memcpy(m + ll + 1, msg, len);
    *out_len = ll + 1 + len;
    return m;
}

Csbm__Signed *
treehead_sign(const keys_secret_t *hub_key, const treehead_t *th,
    errbuf_t *err)
{
    uint8_t       sth[TREEHEAD_MAX_BYTES], *msg = NULL;
    size_t        len = 0, mlen = 0;
    Csbm__Signed *s;

    if (hub_key == NULL || keys_secret_kind(hub_key) != KEYS_SIGN) {
        errbuf_set(err, "signing a tree head needs the hub's signing key");
        return NULL;
    }
    if (treehead_encode(th, sth, &len, err) != 0)
        return NULL;
    if ((s = calloc(1, sizeof *s)) == NULL)
        goto oom;
    csbm__signed__init(s);
    s->statement.data = malloc(len);
    s->signature.data = malloc(KEYS_SIG_BYTES);
    s->hub_key_id.data = malloc(KEYS_ID_BYTES);
    if (s->statement.data == NULL || s->signature.data == NULL
        || s->hub_key_id.data == NULL)
        goto oom;
    memcpy(s->statement.data, sth, len);
    s->statement.len = len;
    s->signature.len = KEYS_SIG_BYTES;
    s->hub_key_id.len = KEYS_ID_BYTES;
    memcpy(s->hub_key_id.data, keys_secret_key_id(hub_key), KEYS_ID_BYTES);
    if ((msg = s_labelled(TREEHEAD_LABEL, sth, len, &mlen)) == NULL)
        goto oom;
    if (keys_sign(hub_key, msg, mlen, s->signature.data) != 0) {
        free(msg);
        receipt_signed_free(s);
        errbuf_set(err, "signing the tree head failed");
        return NULL;
    }
    free(msg);
    return s;
oom:
    receipt_signed_free(s);
    errbuf_set(err, "out of memory");
    return NULL;
}

int
treehead_verify(const Csbm__Signed *s, const uint8_t hub_pk[32],
    treehead_t *out, errbuf_t *err)
{
    uint8_t  id[KEYS_ID_BYTES];
    uint8_t *msg;
    size_t   mlen = 0;
    int      ok;

    memset(out, 0, sizeof *out);
    if (s == NULL) {
        errbuf_set(err, "no signed tree head");
        return -1;
    }
    keys_id(hub_pk, id);
    if (s->hub_key_id.len != KEYS_ID_BYTES
        || memcmp(s->hub_key_id.data, id, KEYS_ID_BYTES) != 0) {
        errbuf_set(err, "the tree head is not signed by the expected hub "
            "key");
        return -1;
    }
    if (s->signature.len != KEYS_SIG_BYTES) {
        errbuf_set(err, "tree head signature is %zu bytes, not %d",
            s->signature.len, KEYS_SIG_BYTES);
        return -1;
    }
    if (s->statement.len < TREEHEAD_MIN_BYTES
        || s->statement.len > TREEHEAD_MAX_BYTES) {
        errbuf_set(err, "tree head is %zu bytes, outside %d..%d",
            s->statement.len, TREEHEAD_MIN_BYTES, TREEHEAD_MAX_BYTES);
        return -1;
    }
    if ((msg = s_labelled(TREEHEAD_LABEL, s->statement.data, s->statement.len,
             &mlen)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    ok = crypto_sign_verify_detached(s->signature.data, msg, mlen, hub_pk)
        == 0;
    free(msg);
    if (!ok) {
        errbuf_set(err, "the hub's signature over the tree head does not "
            "verify (forged or altered)");
        return -1;
    }
    return treehead_decode(s->statement.data, s->statement.len, out, err);
}

int
treehead_cosign(const keys_secret_t *key, const uint8_t *sth, size_t len,
    uint8_t sig[KEYS_SIG_BYTES])
{
    uint8_t *msg;
    size_t   mlen = 0;
    int      rc;

    if (key == NULL || keys_secret_kind(key) != KEYS_SIGN
        || (msg = s_labelled(TREEHEAD_COSIGN_LABEL, sth, len, &mlen)) == NULL)
        return -1;
    rc = keys_sign(key, msg, mlen, sig);
    free(msg);
    return rc;
}

int
treehead_cosign_verify(const uint8_t pk[32], const uint8_t *sth, size_t len,
    const uint8_t *sig, size_t sig_len, errbuf_t *err)
{
    uint8_t *msg;
    size_t   mlen = 0;
    int      ok;

    if (sig == NULL || sig_len != KEYS_SIG_BYTES) {
        errbuf_set(err, "cosignature is %zu bytes, not %d", sig_len,
            KEYS_SIG_BYTES);
        return -1;
    }
    if ((msg = s_labelled(TREEHEAD_COSIGN_LABEL, sth, len, &mlen)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    ok = crypto_sign_verify_detached(sig, msg, mlen, pk) == 0;
    free(msg);
    if (!ok) {
        errbuf_set(err, "the cosignature does not verify");
        return -1;
    }
    return 0;
}

void
treehead_leaf_package(uint64_t position, int64_t accepted_at,
    const uint8_t envelope_hash[32], const uint8_t receipt_hash[32],
    uint8_t out[TREEHEAD_LEAF_PACKAGE_BYTES])
{
    out[0] = TREEHEAD_LEAF_PACKAGE;
    s_put64(out + 1, position);
    s_put64(out + 9, (uint64_t)accepted_at);
    memcpy(out + 17, envelope_hash, 32);
    memcpy(out + 49, receipt_hash, 32);
}

void
treehead_leaf_package_hash(uint64_t position, int64_t accepted_at,
    const uint8_t envelope_hash[32], const uint8_t receipt_hash[32],
    uint8_t out[MERKLE_HASH_BYTES])
{
    uint8_t e[TREEHEAD_LEAF_PACKAGE_BYTES];

    treehead_leaf_package(position, accepted_at, envelope_hash, receipt_hash,
        e);
    merkle_leaf_hash(e, sizeof e, out);
}

int
treehead_leaf_pull(int64_t at, const char *who, uint64_t after,
    const uint64_t *positions, size_t n, uint8_t out[TREEHEAD_LEAF_MAX],
    size_t *len, errbuf_t *err)
{
    size_t wl = who != NULL ? strlen(who) : 0, off = 0, i;

    *len = 0;
    if (wl == 0 || wl > TREEHEAD_WHO_MAX || n > TREEHEAD_PULL_MAX_POSITIONS
        || at < 0) {
        errbuf_set(err, "pull leaf: member id of 1..%d bytes and at most %d "
            "positions", TREEHEAD_WHO_MAX, TREEHEAD_PULL_MAX_POSITIONS);
        return -1;
    }
    out[off++] = TREEHEAD_LEAF_PULL;
    s_put64(out + off, (uint64_t)at);
    off += 8;
    out[off++] = (uint8_t)wl;
    memcpy(out + off, who, wl);
    off += wl;
    s_put64(out + off, after);
    off += 8;
    out[off++] = (uint8_t)(n >> 24);
    out[off++] = (uint8_t)(n >> 16);
    out[off++] = (uint8_t)(n >> 8);
    out[off++] = (uint8_t)n;
    for (i = 0; i < n; i++, off += 8)
        s_put64(out + off, positions[i]);
    *len = off;
    return 0;
}

int
treehead_leaf_check(const uint8_t *e, size_t len, int *kind, errbuf_t *err)
{
    size_t wl, n;

    *kind = 0;
    if (len == TREEHEAD_LEAF_PACKAGE_BYTES && e[0] == TREEHEAD_LEAF_PACKAGE) {
        *kind = TREEHEAD_LEAF_PACKAGE;
        return 0;
    }
    if (len >= 1 + 8 + 1 && e[0] == TREEHEAD_LEAF_PULL) {
        wl = e[9];
        if (wl >= 1 && wl <= TREEHEAD_WHO_MAX && len >= 10 + wl + 12) {
            n = ((size_t)e[18 + wl] << 24) | ((size_t)e[19 + wl] << 16)
                | ((size_t)e[20 + wl] << 8) | e[21 + wl];
            if (n <= TREEHEAD_PULL_MAX_POSITIONS && len == 22 + wl + 8 * n) {
                *kind = TREEHEAD_LEAF_PULL;
                return 0;
            }
        }
    }
    errbuf_set(err, "not a leaf entry (%zu bytes, kind byte %u)", len,
        len > 0 ? e[0] : 0u);
    return -1;
}

int
treehead_proof_parse(const uint8_t *buf, size_t len,
    uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t *n,
    errbuf_t *err)
{
    *n = 0;
    if (len % MERKLE_HASH_BYTES != 0
        || len > (size_t)MERKLE_MAX_PROOF * MERKLE_HASH_BYTES) {
        errbuf_set(err, "a proof of %zu bytes: not a list of at most %d "
            "hashes of %d bytes", len, MERKLE_MAX_PROOF, MERKLE_HASH_BYTES);
        return -1;
    }
    if (len > 0)
        memcpy(proof, buf, len);
    *n = len / MERKLE_HASH_BYTES;
    return 0;
}

void
treehead_describe(const treehead_t *th, char *out, size_t cap)
{
    char      when[32] = "?";
    struct tm tm;
    time_t    t = (time_t)th->timestamp;
    char      hex[2 * MERKLE_HASH_BYTES + 1];

    if (gmtime_r(&t, &tm) != NULL)
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    sodium_bin2hex(hex, sizeof hex, th->root, MERKLE_HASH_BYTES);
    snprintf(out, cap, "size %llu, root %s, at %s",
        (unsigned long long)th->size, hex, when);
}
