/*
 * test_envelope: the known-answer vector, round trips, and every way an
 * envelope can be damaged, forged, misdirected or made hostile.
 *
 * Hostile envelopes are built by a small encoder in this file (the t_craft
 * helpers) that follows docs/FORMAT.md with libsodium and protobuf-c
 * directly, not with envelope_seal: the reader is checked against the
 * format, and the same encoder also builds valid envelopes at every limit
 * that the reader must accept and open. A malicious sender is simulated by
 * re-signing a crafted header with the sender's key.
 *
 * Set CSBM_REGEN_VECTORS=1 to rewrite tests/vectors/envelope/ from the
 * fixed inputs below; the other cases then check the new files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/envelope.h"
#include "crypto/fileio.h"
#include "crypto/keys.h"
#include "proto/package.pb-c.h"

/* The format's constants, written out here rather than taken from the
 * code under test. */
#define T_CHUNK       65536u
#define T_ABYTES      17u
#define T_STREAM_HDR  24u
#define T_PREFIX      9u
#define T_SIG         64u
#define T_SIG_LABEL   "CSBM-envelope-signature-v1"
#define T_WRAP_LABEL  "CSBM-wrap-v1"
#define T_COMMIT      "CSBM-key-commitment-v1"
#define T_KEYID_LABEL "CSBM-key-id-v1"

#define T_MAX_R   130
#define T_MAX_REF 40
#define T_BYTES   64

#define KAT_DIR        "tests/vectors/envelope"
#define KAT_FEDERATION "OAS-CSBM"
#define KAT_CREATED_AT 1745971200u /* 2025-04-30T00:00:00Z */
#define KAT_SEQUENCE   7u
#define KAT_YEAR       2024u
#define KAT_REFERENCE  "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"

typedef struct {
    char    id[16];
    uint8_t pk[32];
    uint8_t sk[32];
} t_party_t;

typedef struct {
    uint8_t pk[32];
    uint8_t sk[64];
} t_signer_t;

/* Keys for the whole run: the sender ARG, an impostor, three recipients. */
static t_signer_t s_arg, s_evil;
static t_party_t  s_bra, s_chl, s_ury;

/* ------------------------------------------------------ small helpers */

static void
s_assert_contains(const char *msg, const char *want)
{
    if (strstr(msg, want) == NULL)
        fail_msg("expected \"%s\" in the message \"%s\"", want, msg);
}

static void
s_pattern(uint8_t *out, size_t len, uint8_t start)
{
    size_t i;

    for (i = 0; i < len; i++)
        out[i] = (uint8_t)(start + i);
}

static void
s_party(t_party_t *p, const char *id)
{
    snprintf(p->id, sizeof p->id, "%s", id);
    randombytes_buf(p->sk, sizeof p->sk);
    crypto_scalarmult_base(p->pk, p->sk);
}

static uint8_t *
s_dup(const uint8_t *buf, size_t len)
{
    uint8_t *p = malloc(len > 0 ? len : 1);

    assert_non_null(p);
    if (len > 0)
        memcpy(p, buf, len);
    return p;
}

static void
s_path(char *out, size_t cap, const char *name)
{
    const char *root = getenv("CSBM_SOURCE_DIR");
    int         n;

    if (root == NULL)
        root = ".";
    n = snprintf(out, cap, "%s/%s/%s", root, KAT_DIR, name);
    assert_true(n > 0 && (size_t)n < cap);
}

static uint8_t *
s_read(const char *name, size_t *len)
{
    char     path[PATH_MAX];
    uint8_t *buf = NULL;
    errbuf_t err = {{0}};

    s_path(path, sizeof path, name);
    if (fileio_read(path, 1u << 20, &buf, len, &err) != 0)
        fail_msg("%s (regenerate with CSBM_REGEN_VECTORS=1)", err.msg);
    return buf;
}

static void
s_write(const char *name, const void *buf, size_t len)
{
    char     path[PATH_MAX];
    errbuf_t err = {{0}};

    s_path(path, sizeof path, name);
    if (fileio_write(path, buf, len, 0644, 0, &err) != 0)
        fail_msg("%s", err.msg);
}

/* Lower-case hex, 32 bytes a line. Caller frees. */
static char *
s_hex_lines(const uint8_t *buf, size_t len)
{
    char  *out = malloc(len * 2 + len / 32 + 2), *o = out;
    size_t i;

    assert_non_null(out);
    for (i = 0; i < len; i++) {
        sprintf(o, "%02x", buf[i]);
        o += 2;
        if (i % 32 == 31 || i + 1 == len)
            *o++ = '\n';
    }
    *o = '\0';
    return out;
}

/* Decode hex, ignoring white space. Caller frees. */
static uint8_t *
s_unhex(const char *text, size_t *len)
{
    size_t   cap = strlen(text) / 2 + 1;
    uint8_t *out = malloc(cap);

    assert_non_null(out);
    assert_int_equal(sodium_hex2bin(out, cap, text, strlen(text), " \n",
                         len, NULL),
        0);
    return out;
}

static void
s_hex_to(const char *hex, uint8_t *out, size_t want)
{
    size_t got = 0;

    assert_int_equal(sodium_hex2bin(out, want, hex, strlen(hex), NULL, &got,
                         NULL),
        0);
    assert_int_equal(got, want);
}

static void
s_tohex(char *out, const uint8_t *buf, size_t len)
{
    sodium_bin2hex(out, len * 2 + 1, buf, len);
}

/* ------------------------------- the format, written out independently */

static void
t_key_id(const uint8_t pk[32], uint8_t id[16])
{
    crypto_generichash_state st;
    uint8_t                  h[32];

    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)T_KEYID_LABEL,
        strlen(T_KEYID_LABEL));
    crypto_generichash_update(&st, pk, 32);
    crypto_generichash_final(&st, h, 32);
    memcpy(id, h, 16);
}

static void
t_commitment(const uint8_t k[32], const uint8_t pid[16], uint8_t out[32])
{
    crypto_generichash_state st;

    crypto_generichash_init(&st, k, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)T_COMMIT,
        strlen(T_COMMIT));
    crypto_generichash_update(&st, pid, 16);
    crypto_generichash_final(&st, out, 32);
}

/* wrap_key from the X25519 shared secret; 0, or -1 for an all-zero one. */
static int
t_wrap_key(const uint8_t sk[32], const uint8_t peer[32],
    const uint8_t eph_pk[32], const uint8_t rcpt_pk[32],
    const uint8_t pid[16], uint8_t out[32])
{
    crypto_generichash_state st;
    uint8_t                  shared[32];

    if (crypto_scalarmult(shared, sk, peer) != 0)
        return -1;
    crypto_generichash_init(&st, shared, 32, 32);
    crypto_generichash_update(&st, (const uint8_t *)T_WRAP_LABEL,
        strlen(T_WRAP_LABEL));
    crypto_generichash_update(&st, eph_pk, 32);
    crypto_generichash_update(&st, rcpt_pk, 32);
    crypto_generichash_update(&st, pid, 16);
    crypto_generichash_final(&st, out, 32);
    return 0;
}

typedef struct {
    uint8_t b[T_BYTES];
    size_t  len;
} t_bytes_t;

typedef struct {
    char      id[40];
    t_bytes_t key_id, ephemeral, wrapped;
} t_rcpt_t;

/* Every field of an envelope, each free to be set to anything. */
typedef struct {
    char      magic[4];
    uint8_t   version_byte;
    int64_t   header_len_field; /* -1: the real length */
    uint32_t  version;
    char      federation[100];
    t_bytes_t package_id;
    char      sender[40];
    t_bytes_t sender_key_id;
    int       package_type, distribution;
    t_rcpt_t  r[T_MAX_R];
    size_t    n_r;
    uint64_t  created_at, sequence;
    t_bytes_t refs[T_MAX_REF];
    size_t    n_refs;
    uint32_t  year;
    int       nil_report;
    char      subject_date[40];
    t_bytes_t key_commitment;
    uint32_t  chunk_size;
    uint64_t  body_size;
    t_bytes_t body_hash;
    uint8_t   extra[16];         /* raw bytes appended to the header */
    size_t    extra_len;
    uint8_t  *raw_header;        /* if set, the header bytes as they are */
    size_t    raw_header_len;
    uint8_t   sig[64];
    uint8_t  *body;
    size_t    body_len;
    uint8_t   trailer[8];
    size_t    trailer_len;
    uint8_t   k[32];             /* content key, when known */
} t_craft_t;

static void
t_set(t_bytes_t *dst, const uint8_t *src, size_t len)
{
    assert_true(len <= sizeof dst->b);
    memcpy(dst->b, src, len);
    dst->len = len;
}

static void
t_craft_free(t_craft_t **c_p)
{
    if (*c_p == NULL)
        return;
    free((*c_p)->body);
    free((*c_p)->raw_header);
    free(*c_p);
    *c_p = NULL;
}

/* The header as protobuf bytes (plus extra). Caller frees. */
static uint8_t *
t_craft_header(t_craft_t *c, size_t *len)
{
    Csbm__EnvelopeHeader h;
    Csbm__Recipient      rs[T_MAX_R], *rp[T_MAX_R];
    ProtobufCBinaryData  refs[T_MAX_REF];
    uint8_t             *out;
    size_t               i, n;

    if (c->raw_header != NULL) {
        *len = c->raw_header_len;
        return s_dup(c->raw_header, c->raw_header_len);
    }
    csbm__envelope_header__init(&h);
    h.version = c->version;
    h.federation = c->federation;
    h.package_id.data = c->package_id.b;
    h.package_id.len = c->package_id.len;
    h.sender = c->sender;
    h.sender_key_id.data = c->sender_key_id.b;
    h.sender_key_id.len = c->sender_key_id.len;
    h.package_type = (Csbm__PackageType)c->package_type;
    h.distribution = (Csbm__Distribution)c->distribution;
    for (i = 0; i < c->n_r; i++) {
        csbm__recipient__init(&rs[i]);
        rs[i].id = c->r[i].id;
        rs[i].key_id.data = c->r[i].key_id.b;
        rs[i].key_id.len = c->r[i].key_id.len;
        rs[i].ephemeral.data = c->r[i].ephemeral.b;
        rs[i].ephemeral.len = c->r[i].ephemeral.len;
        rs[i].wrapped_key.data = c->r[i].wrapped.b;
        rs[i].wrapped_key.len = c->r[i].wrapped.len;
        rp[i] = &rs[i];
    }
    h.n_recipients = c->n_r;
    h.recipients = rp;
    h.created_at = c->created_at;
    h.sequence = c->sequence;
    for (i = 0; i < c->n_refs; i++) {
        refs[i].data = c->refs[i].b;
        refs[i].len = c->refs[i].len;
    }
    h.n_references = c->n_refs;
    h.references = refs;
    h.year = c->year;
    h.nil_report = c->nil_report;
    h.subject_date = c->subject_date;
    h.key_commitment.data = c->key_commitment.b;
    h.key_commitment.len = c->key_commitment.len;
    h.chunk_size = c->chunk_size;
    h.body_size = c->body_size;
    h.body_hash.data = c->body_hash.b;
    h.body_hash.len = c->body_hash.len;
    n = protobuf_c_message_get_packed_size(&h.base);
    out = malloc(n + c->extra_len + 1);
    assert_non_null(out);
    assert_int_equal(protobuf_c_message_pack(&h.base, out), n);
    memcpy(out + n, c->extra, c->extra_len);
    *len = n + c->extra_len;
    return out;
}

/* body_size and body_hash from the body as it is. */
static void
t_craft_fix_body(t_craft_t *c)
{
    c->body_size = c->body_len;
    c->body_hash.len = 32;
    crypto_generichash(c->body_hash.b, 32, c->body, c->body_len, NULL, 0);
}

/* Sign as the sender: label || 0x00 || version || header length || header. */
static void
t_craft_sign(t_craft_t *c, const uint8_t sk[64])
{
    size_t   hl, n;
    uint8_t *hdr = t_craft_header(c, &hl);
    uint8_t *msg = malloc(sizeof T_SIG_LABEL + 5 + hl);

    assert_non_null(msg);
    memcpy(msg, T_SIG_LABEL, sizeof T_SIG_LABEL); /* and its NUL */
    n = sizeof T_SIG_LABEL;
    msg[n++] = c->version_byte;
    msg[n++] = (uint8_t)(hl >> 24);
    msg[n++] = (uint8_t)(hl >> 16);
    msg[n++] = (uint8_t)(hl >> 8);
    msg[n++] = (uint8_t)hl;
    memcpy(msg + n, hdr, hl);
    crypto_sign_detached(c->sig, NULL, msg, n + hl, sk);
    free(msg);
    free(hdr);
}

/* The envelope bytes. Caller frees. */
static uint8_t *
t_craft_bytes(t_craft_t *c, size_t *len)
{
    size_t   hl;
    uint8_t *hdr = t_craft_header(c, &hl);
    uint32_t field = c->header_len_field >= 0 ? (uint32_t)c->header_len_field
                                              : (uint32_t)hl;
    size_t   n = T_PREFIX + hl + T_SIG + c->body_len + c->trailer_len;
    uint8_t *out = malloc(n), *o = out;

    assert_non_null(out);
    memcpy(o, c->magic, 4);
    o[4] = c->version_byte;
    o[5] = (uint8_t)(field >> 24);
    o[6] = (uint8_t)(field >> 16);
    o[7] = (uint8_t)(field >> 8);
    o[8] = (uint8_t)field;
    o += T_PREFIX;
    memcpy(o, hdr, hl);
    o += hl;
    memcpy(o, c->sig, T_SIG);
    o += T_SIG;
    if (c->body_len > 0)
        memcpy(o, c->body, c->body_len);
    o += c->body_len;
    memcpy(o, c->trailer, c->trailer_len);
    free(hdr);
    *len = n;
    return out;
}

/* Fix the body hash, sign as sk and return the bytes. */
static uint8_t *
t_craft_finish(t_craft_t *c, const uint8_t sk[64], size_t *len)
{
    t_craft_fix_body(c);
    t_craft_sign(c, sk);
    return t_craft_bytes(c, len);
}

/* Read an envelope's fields with protobuf-c alone (no checks). */
static t_craft_t *
t_craft_load(const uint8_t *buf, size_t len)
{
    t_craft_t            *c = calloc(1, sizeof *c);
    Csbm__EnvelopeHeader *h;
    size_t                hl, i;

    assert_non_null(c);
    assert_true(len > T_PREFIX);
    hl = (size_t)buf[5] << 24 | (size_t)buf[6] << 16 | (size_t)buf[7] << 8
        | buf[8];
    assert_true(len >= T_PREFIX + hl + T_SIG);
    h = (Csbm__EnvelopeHeader *)protobuf_c_message_unpack(
        &csbm__envelope_header__descriptor, NULL, hl, buf + T_PREFIX);
    assert_non_null(h);
    memcpy(c->magic, buf, 4);
    c->version_byte = buf[4];
    c->header_len_field = -1;
    c->version = h->version;
    snprintf(c->federation, sizeof c->federation, "%s", h->federation);
    t_set(&c->package_id, h->package_id.data, h->package_id.len);
    snprintf(c->sender, sizeof c->sender, "%s", h->sender);
    t_set(&c->sender_key_id, h->sender_key_id.data, h->sender_key_id.len);
    c->package_type = (int)h->package_type;
    c->distribution = (int)h->distribution;
    assert_true(h->n_recipients <= T_MAX_R);
    for (i = 0; i < h->n_recipients; i++) {
        snprintf(c->r[i].id, sizeof c->r[i].id, "%s", h->recipients[i]->id);
        t_set(&c->r[i].key_id, h->recipients[i]->key_id.data,
            h->recipients[i]->key_id.len);
        t_set(&c->r[i].ephemeral, h->recipients[i]->ephemeral.data,
            h->recipients[i]->ephemeral.len);
        t_set(&c->r[i].wrapped, h->recipients[i]->wrapped_key.data,
            h->recipients[i]->wrapped_key.len);
    }
    c->n_r = h->n_recipients;
    c->created_at = h->created_at;
    c->sequence = h->sequence;
    assert_true(h->n_references <= T_MAX_REF);
    for (i = 0; i < h->n_references; i++)
        t_set(&c->refs[i], h->references[i].data, h->references[i].len);
    c->n_refs = h->n_references;
    c->year = h->year;
    c->nil_report = h->nil_report;
    snprintf(c->subject_date, sizeof c->subject_date, "%s", h->subject_date);
    t_set(&c->key_commitment, h->key_commitment.data, h->key_commitment.len);
    c->chunk_size = h->chunk_size;
    c->body_size = h->body_size;
    t_set(&c->body_hash, h->body_hash.data, h->body_hash.len);
    protobuf_c_message_free_unpacked(&h->base, NULL);
    memcpy(c->sig, buf + T_PREFIX + hl, T_SIG);
    c->body_len = len - T_PREFIX - hl - T_SIG;
    c->body = s_dup(buf + T_PREFIX + hl + T_SIG, c->body_len);
    return c;
}

/* Unwrap recipient i's content key with the recipient's secret key. */
static int
t_unwrap(const t_craft_t *c, size_t i, const t_party_t *p, uint8_t k[32])
{
    uint8_t wrap[32];
    const uint8_t nonce[24] = {0};

    if (t_wrap_key(p->sk, c->r[i].ephemeral.b, c->r[i].ephemeral.b, p->pk,
            c->package_id.b, wrap) != 0)
        return -1;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(k, NULL, NULL,
        c->r[i].wrapped.b, c->r[i].wrapped.len, (const uint8_t *)c->r[i].id,
        strlen(c->r[i].id), nonce, wrap);
}

/* Make entry i a recipient `id` with public key pk, wrapping k. */
static void
t_wrap(t_craft_t *c, size_t i, const char *id, const uint8_t pk[32],
    const uint8_t k[32])
{
    uint8_t esk[32], wrap[32];
    const uint8_t nonce[24] = {0};

    snprintf(c->r[i].id, sizeof c->r[i].id, "%s", id);
    t_key_id(pk, c->r[i].key_id.b);
    c->r[i].key_id.len = 16;
    randombytes_buf(esk, sizeof esk);
    crypto_scalarmult_base(c->r[i].ephemeral.b, esk);
    c->r[i].ephemeral.len = 32;
    assert_int_equal(t_wrap_key(esk, pk, c->r[i].ephemeral.b, pk,
                         c->package_id.b, wrap),
        0);
    crypto_aead_xchacha20poly1305_ietf_encrypt(c->r[i].wrapped.b, NULL, k, 32,
        (const uint8_t *)id, strlen(id), NULL, nonce, wrap);
    c->r[i].wrapped.len = 48;
}

typedef enum {
    T_TAGS_NORMAL,      /* MESSAGE ..., FINAL */
    T_TAGS_NO_FINAL,    /* the last chunk is a MESSAGE */
    T_TAGS_EARLY_FINAL, /* the first chunk is FINAL, more follow */
} t_tags_t;

/* Encrypt plain under c->k into c->body in chunks of chunk_size. */
static void
t_encrypt(t_craft_t *c, const uint8_t *plain, size_t len, uint32_t chunk_size,
    t_tags_t tags)
{
    crypto_secretstream_xchacha20poly1305_state st;
    size_t   n_chunks = len / chunk_size + 1, i, off = 0;
    uint8_t *o;

    free(c->body);
    c->chunk_size = chunk_size;
    c->body_len = T_STREAM_HDR + len + T_ABYTES * n_chunks;
    c->body = malloc(c->body_len);
    assert_non_null(c->body);
    crypto_secretstream_xchacha20poly1305_init_push(&st, c->body, c->k);
    o = c->body + T_STREAM_HDR;
    for (i = 0; i < n_chunks; i++) {
        size_t        m = i + 1 < n_chunks ? chunk_size : len - off;
        unsigned char tag = i + 1 < n_chunks
            ? crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
            : crypto_secretstream_xchacha20poly1305_TAG_FINAL;

        if (tags == T_TAGS_NO_FINAL)
            tag = crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
        if (tags == T_TAGS_EARLY_FINAL && i == 0)
            tag = crypto_secretstream_xchacha20poly1305_TAG_FINAL;
        crypto_secretstream_xchacha20poly1305_push(&st, o, NULL,
            plain + off, m, c->package_id.b, 16, tag);
        o += m + T_ABYTES;
        off += m;
    }
}

/* A valid envelope from ARG to the given recipients (in that order, so
 * pass them sorted), built from scratch. */
static t_craft_t *
t_craft_new(const t_party_t *const *rcpts, size_t n, const uint8_t *plain,
    size_t len, uint32_t chunk_size)
{
    t_craft_t *c = calloc(1, sizeof *c);
    size_t     i;

    assert_non_null(c);
    memcpy(c->magic, "CSBM", 4);
    c->version_byte = 1;
    c->header_len_field = -1;
    c->version = 1;
    snprintf(c->federation, sizeof c->federation, "%s", KAT_FEDERATION);
    randombytes_buf(c->package_id.b, 16);
    c->package_id.len = 16;
    snprintf(c->sender, sizeof c->sender, "ARG");
    t_key_id(s_arg.pk, c->sender_key_id.b);
    c->sender_key_id.len = 16;
    c->package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
    c->distribution = CSBM__DISTRIBUTION__DIRECT;
    c->created_at = KAT_CREATED_AT;
    c->sequence = 1;
    c->year = KAT_YEAR;
    randombytes_buf(c->k, sizeof c->k);
    t_commitment(c->k, c->package_id.b, c->key_commitment.b);
    c->key_commitment.len = 32;
    for (i = 0; i < n; i++)
        t_wrap(c, i, rcpts[i]->id, rcpts[i]->pk, c->k);
    c->n_r = n;
    t_encrypt(c, plain, len, chunk_size, T_TAGS_NORMAL);
    t_craft_fix_body(c);
    t_craft_sign(c, s_arg.sk);
    return c;
}

static t_craft_t *
t_craft_small(void)
{
    static const uint8_t      plain[] = "nil report, 2024";
    const t_party_t *const    to[] = {&s_bra, &s_chl};

    return t_craft_new(to, 2, plain, sizeof plain - 1, T_CHUNK);
}

/* ------------------------------------------------------ the pipeline */

typedef enum {
    STAGE_OK = 0,
    STAGE_PARSE = 1,
    STAGE_VERIFY = 2,
    STAGE_OPEN = 3,
} stage_t;

/* parse, verify with sign_pk, open as p. On STAGE_OK, *plain (if wanted)
 * holds the plaintext. The input is copied to a buffer of exactly len
 * bytes so that any read past the end is caught by ASan. */
static stage_t
s_try(const uint8_t *buf, size_t len, const uint8_t sign_pk[32],
    const t_party_t *p, uint8_t **plain, size_t *plain_len, errbuf_t *err)
{
    uint8_t    *copy = s_dup(buf, len), *pt = NULL;
    size_t      pt_len = 0;
    envelope_t *env;
    stage_t     stage = STAGE_OK;

    errbuf_clear(err);
    if ((env = envelope_parse(copy, len, err)) == NULL)
        stage = STAGE_PARSE;
    else if (envelope_verify(env, sign_pk, err) != 0)
        stage = STAGE_VERIFY;
    else if (envelope_open(env, p->id, p->sk, p->pk, &pt, &pt_len, err) != 0)
        stage = STAGE_OPEN;
    if (stage != STAGE_OK) {
        assert_null(pt);
        assert_true(err->msg[0] != '\0');
    }
    if (stage == STAGE_OK && plain != NULL) {
        *plain = pt;
        *plain_len = pt_len;
    } else {
        free(pt);
    }
    envelope_destroy(&env);
    assert_null(env);
    free(copy);
    return stage;
}

/* Expect the crafted envelope to fail at `stage` with `want` in the
 * message. */
static void
s_expect(t_craft_t *c, stage_t stage, const char *want)
{
    size_t   len;
    uint8_t *buf = t_craft_bytes(c, &len);
    errbuf_t err;
    stage_t  got = s_try(buf, len, s_arg.pk, &s_bra, NULL, NULL, &err);

    if (got != stage)
        fail_msg("expected failure at stage %d, got %d (\"%s\"), "
                 "expecting \"%s\"", stage, got, err.msg,
            want != NULL ? want : "any message");
    if (want != NULL)
        s_assert_contains(err.msg, want);
    free(buf);
}

static void
s_params(envelope_seal_params_t *p, envelope_recipient_t *r, size_t n)
{
    memset(p, 0, sizeof *p);
    p->federation = KAT_FEDERATION;
    p->sender = "ARG";
    p->sign_sk = s_arg.sk;
    p->package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
    p->distribution = CSBM__DISTRIBUTION__DIRECT;
    p->recipients = r;
    p->n_recipients = n;
    p->created_at = KAT_CREATED_AT;
    p->sequence = 1;
    p->year = KAT_YEAR;
}

/* Seal plain from ARG to `to` with envelope_seal. Caller frees. */
static uint8_t *
s_seal(const t_party_t *const *to, size_t n, const uint8_t *plain,
    size_t plain_len, size_t *len)
{
    envelope_recipient_t   r[4];
    envelope_seal_params_t p;
    uint8_t               *out = NULL;
    errbuf_t               err = {{0}};
    size_t                 i;

    assert_true(n <= 4);
    for (i = 0; i < n; i++) {
        r[i].id = to[i]->id;
        r[i].box_pk = to[i]->pk;
    }
    s_params(&p, r, n);
    if (envelope_seal(&p, plain, plain_len, &out, len, &err) != 0)
        fail_msg("seal: %s", err.msg);
    return out;
}

static uint8_t *
s_random(size_t len)
{
    uint8_t *p = malloc(len + 1);

    assert_non_null(p);
    randombytes_buf(p, len);
    return p;
}

/* --------------------------------------------------- known answers */

typedef struct {
    char    sender[16];
    uint8_t sign_seed[32], sign_pk[32], sign_sk[64];
    char    rid[2][16];
    uint8_t rsk[2][32], rpk[2][32];
    uint8_t seal_seed[32];
    uint8_t content_key[32];
    int     has_content_key;
} kat_keys_t;

static void
s_kat_plaintext(uint8_t **out, size_t *len)
{
    Csbm__Package     pkg;
    Csbm__MilexReport milex;
    char             *refs[1] = {(char *)(uintptr_t)KAT_REFERENCE};

    csbm__package__init(&pkg);
    csbm__milex_report__init(&milex);
    pkg.state = (char *)(uintptr_t)"ARG";
    pkg.year = KAT_YEAR;
    pkg.language = (char *)(uintptr_t)"es";
    pkg.prepared_at = (char *)(uintptr_t)"2025-04-30T00:00:00Z";
    pkg.nil_report = 1;
    pkg.n_references = 1;
    pkg.references = refs;
    milex.currency = (char *)(uintptr_t)"ARS";
    milex.unit = CSBM__UNIT_OF_MEASURE__UNITS;
    milex.form = CSBM__MILEX_FORM__MILEX_NIL;
    pkg.body_case = CSBM__PACKAGE__BODY_MILEX;
    pkg.milex = &milex;
    *len = protobuf_c_message_get_packed_size(&pkg.base);
    *out = malloc(*len);
    assert_non_null(*out);
    protobuf_c_message_pack(&pkg.base, *out);
}

static void
s_kat_default_keys(kat_keys_t *k)
{
    memset(k, 0, sizeof *k);
    snprintf(k->sender, sizeof k->sender, "ARG");
    s_pattern(k->sign_seed, 32, 0x00);
    snprintf(k->rid[0], sizeof k->rid[0], "BRA");
    snprintf(k->rid[1], sizeof k->rid[1], "CHL");
    s_pattern(k->rsk[0], 32, 0x40);
    s_pattern(k->rsk[1], 32, 0x60);
    s_pattern(k->seal_seed, 32, 0x80);
}

static void
s_kat_derive(kat_keys_t *k)
{
    crypto_sign_seed_keypair(k->sign_pk, k->sign_sk, k->sign_seed);
    crypto_scalarmult_base(k->rpk[0], k->rsk[0]);
    crypto_scalarmult_base(k->rpk[1], k->rsk[1]);
}

/* keys.txt: "name value" lines; '#' starts a comment. Derived values in
 * the file are checked against what the inputs give. */
static void
s_kat_load_keys(kat_keys_t *k)
{
    size_t   len, nr = 0;
    char    *text = (char *)s_read("keys.txt", &len), *line, *save = NULL;
    uint8_t  want[32];

    memset(k, 0, sizeof *k);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char name[40], a[80], b[80];
        int  n;

        if (line[0] == '#' || line[0] == '\0')
            continue;
        n = sscanf(line, "%39s %79s %79s", name, a, b);
        assert_true(n >= 2);
        if (strcmp(name, "sender") == 0)
        {
            assert_true(strlen(a) < sizeof k->sender);
            memcpy(k->sender, a, strlen(a) + 1);
        }
        else if (strcmp(name, "sender_sign_seed") == 0)
            s_hex_to(a, k->sign_seed, 32);
        else if (strcmp(name, "recipient_box_secret") == 0 && n == 3) {
            assert_true(nr < 2);
            assert_true(strlen(a) < sizeof k->rid[nr]);
            memcpy(k->rid[nr], a, strlen(a) + 1);
            s_hex_to(b, k->rsk[nr], 32);
            nr++;
        } else if (strcmp(name, "seal_seed") == 0)
            s_hex_to(a, k->seal_seed, 32);
        else if (strcmp(name, "content_key") == 0) {
            s_hex_to(a, k->content_key, 32);
            k->has_content_key = 1;
        }
    }
    assert_int_equal(nr, 2);
    s_kat_derive(k);
    /* second pass: derived values */
    free(text);
    text = (char *)s_read("keys.txt", &len);
    save = NULL;
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        char name[40], a[80], b[80];
        int  n = sscanf(line, "%39s %79s %79s", name, a, b);

        if (n >= 2 && strcmp(name, "sender_sign_pk") == 0) {
            s_hex_to(a, want, 32);
            assert_memory_equal(want, k->sign_pk, 32);
        } else if (n == 3 && strcmp(name, "recipient_box_pk") == 0) {
            size_t i = strcmp(a, k->rid[0]) == 0 ? 0 : 1;
            assert_string_equal(a, k->rid[i]);
            s_hex_to(b, want, 32);
            assert_memory_equal(want, k->rpk[i], 32);
        }
    }
    free(text);
}

static void
s_kat_params(const kat_keys_t *k, envelope_seal_params_t *p,
    envelope_recipient_t r[2], uint8_t ref[16])
{
    memset(p, 0, sizeof *p);
    r[0].id = k->rid[1]; /* unsorted on purpose: seal sorts */
    r[0].box_pk = k->rpk[1];
    r[1].id = k->rid[0];
    r[1].box_pk = k->rpk[0];
    assert_int_equal(envelope_id_parse(KAT_REFERENCE, ref), 0);
    p->federation = KAT_FEDERATION;
    p->sender = k->sender;
    p->sign_sk = k->sign_sk;
    p->package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
    p->distribution = CSBM__DISTRIBUTION__DIRECT;
    p->recipients = r;
    p->n_recipients = 2;
    p->created_at = KAT_CREATED_AT;
    p->sequence = KAT_SEQUENCE;
    p->references = (const uint8_t (*)[ENVELOPE_ID_BYTES])ref;
    p->n_references = 1;
    p->year = KAT_YEAR;
    p->nil_report = 1;
    p->subject_date = NULL;
    p->deterministic_seed = k->seal_seed;
}

static void
s_appendf(char **buf, size_t *used, size_t *cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
s_appendf(char **buf, size_t *used, size_t *cap, const char *fmt, ...)
{
    va_list ap;
    int     n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(*buf + *used, *cap - *used, fmt, ap);
        va_end(ap);
        assert_true(n >= 0);
        if ((size_t)n < *cap - *used)
            break;
        *cap *= 2;
        *buf = realloc(*buf, *cap);
        assert_non_null(*buf);
    }
    *used += (size_t)n;
}

/* The header, one field a line, as header.txt holds it. Caller frees. */
static char *
s_header_text(const envelope_t *env)
{
    const Csbm__EnvelopeHeader *h = envelope_header(env);
    size_t cap = 4096, used = 0, i, hl;
    char  *t = malloc(cap), a[65], b[65], c[97];

    assert_non_null(t);
    t[0] = '\0';
    (void)envelope_header_bytes(env, &hl);
    s_appendf(&t, &used, &cap, "header_len %zu\n", hl);
    s_appendf(&t, &used, &cap, "version %u\n", h->version);
    s_appendf(&t, &used, &cap, "federation %s\n", h->federation);
    s_tohex(a, h->package_id.data, h->package_id.len);
    s_appendf(&t, &used, &cap, "package_id %s\n", a);
    s_appendf(&t, &used, &cap, "sender %s\n", h->sender);
    s_tohex(a, h->sender_key_id.data, h->sender_key_id.len);
    s_appendf(&t, &used, &cap, "sender_key_id %s\n", a);
    s_appendf(&t, &used, &cap, "package_type %s\n",
        protobuf_c_enum_descriptor_get_value(&csbm__package_type__descriptor,
            h->package_type)->name);
    s_appendf(&t, &used, &cap, "distribution %s\n",
        protobuf_c_enum_descriptor_get_value(&csbm__distribution__descriptor,
            h->distribution)->name);
    for (i = 0; i < h->n_recipients; i++) {
        const Csbm__Recipient *r = h->recipients[i];
        s_tohex(a, r->key_id.data, r->key_id.len);
        s_tohex(b, r->ephemeral.data, r->ephemeral.len);
        s_tohex(c, r->wrapped_key.data, r->wrapped_key.len);
        s_appendf(&t, &used, &cap, "recipients[%zu].id %s\n", i, r->id);
        s_appendf(&t, &used, &cap, "recipients[%zu].key_id %s\n", i, a);
        s_appendf(&t, &used, &cap, "recipients[%zu].ephemeral %s\n", i, b);
        s_appendf(&t, &used, &cap, "recipients[%zu].wrapped_key %s\n", i, c);
    }
    s_appendf(&t, &used, &cap, "created_at %llu\n",
        (unsigned long long)h->created_at);
    s_appendf(&t, &used, &cap, "sequence %llu\n",
        (unsigned long long)h->sequence);
    for (i = 0; i < h->n_references; i++) {
        s_tohex(a, h->references[i].data, h->references[i].len);
        s_appendf(&t, &used, &cap, "references[%zu] %s\n", i, a);
    }
    s_appendf(&t, &used, &cap, "year %u\n", h->year);
    s_appendf(&t, &used, &cap, "nil_report %s\n",
        h->nil_report ? "true" : "false");
    s_appendf(&t, &used, &cap, "subject_date %s\n",
        h->subject_date[0] != '\0' ? h->subject_date : "\"\"");
    s_tohex(a, h->key_commitment.data, h->key_commitment.len);
    s_appendf(&t, &used, &cap, "key_commitment %s\n", a);
    s_appendf(&t, &used, &cap, "chunk_size %u\n", h->chunk_size);
    s_appendf(&t, &used, &cap, "body_size %llu\n",
        (unsigned long long)h->body_size);
    s_tohex(a, h->body_hash.data, h->body_hash.len);
    s_appendf(&t, &used, &cap, "body_hash %s\n", a);
    return t;
}

/* Rewrite the vector files (only with CSBM_REGEN_VECTORS=1). */
static void
test_envelope_write_vectors(void **state)
{
    const char            *regen = getenv("CSBM_REGEN_VECTORS");
    kat_keys_t             k;
    envelope_seal_params_t p;
    envelope_recipient_t   r[2];
    uint8_t                ref[16], *plain, *env_buf = NULL, kk[32];
    size_t                 plain_len, env_len = 0, i;
    errbuf_t               err = {{0}};
    envelope_t            *env;
    t_craft_t             *c;
    t_party_t              bra;
    char                  *hex, *text, h1[65], h2[65];
    size_t                 used = 0, cap = 4096;

    (void)state;
    if (regen == NULL || strcmp(regen, "1") != 0) {
        skip();
        return;
    }
    s_kat_default_keys(&k);
    s_kat_derive(&k);
    s_kat_plaintext(&plain, &plain_len);
    s_kat_params(&k, &p, r, ref);
    if (envelope_seal(&p, plain, plain_len, &env_buf, &env_len, &err) != 0)
        fail_msg("%s", err.msg);

    /* the content key, recovered with this file's own unwrap */
    c = t_craft_load(env_buf, env_len);
    memcpy(bra.id, k.rid[0], sizeof bra.id);
    memcpy(bra.sk, k.rsk[0], 32);
    memcpy(bra.pk, k.rpk[0], 32);
    assert_string_equal(c->r[0].id, "BRA");
    assert_int_equal(t_unwrap(c, 0, &bra, kk), 0);
    t_craft_free(&c);

    text = malloc(cap);
    assert_non_null(text);
    text[0] = '\0';
    s_appendf(&text, &used, &cap,
        "# Inputs of envelope.csbm (hex). See README.md.\n"
        "sender %s\n", k.sender);
    s_tohex(h1, k.sign_seed, 32);
    s_appendf(&text, &used, &cap, "sender_sign_seed %s\n", h1);
    for (i = 0; i < 2; i++) {
        s_tohex(h1, k.rsk[i], 32);
        s_appendf(&text, &used, &cap, "recipient_box_secret %s %s\n",
            k.rid[i], h1);
    }
    s_tohex(h1, k.seal_seed, 32);
    s_appendf(&text, &used, &cap, "seal_seed %s\n", h1);
    s_appendf(&text, &used, &cap, "# Derived from the inputs.\n");
    s_tohex(h1, k.sign_pk, 32);
    s_appendf(&text, &used, &cap, "sender_sign_pk %s\n", h1);
    for (i = 0; i < 2; i++) {
        s_tohex(h1, k.rpk[i], 32);
        s_appendf(&text, &used, &cap, "recipient_box_pk %s %s\n", k.rid[i],
            h1);
    }
    s_tohex(h2, kk, 32);
    s_appendf(&text, &used, &cap, "content_key %s\n", h2);
    s_write("keys.txt", text, used);
    free(text);

    s_write("plaintext.bin", plain, plain_len);
    hex = s_hex_lines(plain, plain_len);
    s_write("plaintext.hex", hex, strlen(hex));
    free(hex);
    s_write("envelope.csbm", env_buf, env_len);
    hex = s_hex_lines(env_buf, env_len);
    s_write("envelope.hex", hex, strlen(hex));
    free(hex);

    env = envelope_parse(env_buf, env_len, &err);
    if (env == NULL)
        fail_msg("%s", err.msg);
    text = s_header_text(env);
    s_write("header.txt", text, strlen(text));
    free(text);
    envelope_destroy(&env);
    free(env_buf);
    free(plain);
}

/* The committed envelope parses, verifies and opens to the committed
 * plaintext for both recipients, with exactly the committed header. */
static void
test_envelope_kat_decodes(void **state)
{
    kat_keys_t  k;
    uint8_t    *env_buf, *plain, *hex_bin, *pt = NULL, kk[32];
    char       *hex_text, *want_header, *header, *got_hex;
    size_t      env_len, plain_len, hex_len, len, pt_len, i;
    envelope_t *env;
    errbuf_t    err = {{0}};
    t_craft_t  *c;

    (void)state;
    s_kat_load_keys(&k);
    env_buf = s_read("envelope.csbm", &env_len);
    plain = s_read("plaintext.bin", &plain_len);

    hex_text = (char *)s_read("envelope.hex", &len);
    hex_bin = s_unhex(hex_text, &hex_len);
    assert_int_equal(hex_len, env_len);
    assert_memory_equal(hex_bin, env_buf, env_len);
    got_hex = s_hex_lines(env_buf, env_len);
    assert_string_equal(got_hex, hex_text);
    free(got_hex);
    free(hex_bin);
    free(hex_text);
    hex_text = (char *)s_read("plaintext.hex", &len);
    hex_bin = s_unhex(hex_text, &hex_len);
    assert_int_equal(hex_len, plain_len);
    assert_memory_equal(hex_bin, plain, plain_len);
    free(hex_bin);
    free(hex_text);

    env = envelope_parse(env_buf, env_len, &err);
    if (env == NULL)
        fail_msg("%s", err.msg);
    want_header = (char *)s_read("header.txt", &len);
    header = s_header_text(env);
    assert_string_equal(header, want_header);
    free(header);
    free(want_header);
    if (envelope_verify(env, k.sign_pk, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(envelope_is_verified(env));
    for (i = 0; i < 2; i++) {
        if (envelope_open(env, k.rid[i], k.rsk[i], k.rpk[i], &pt, &pt_len,
                &err) != 0)
            fail_msg("%s: %s", k.rid[i], err.msg);
        assert_int_equal(pt_len, plain_len);
        assert_memory_equal(pt, plain, plain_len);
        free(pt);
        pt = NULL;
    }
    envelope_destroy(&env);

    /* the same content key for both, as this file's own unwrap finds it */
    c = t_craft_load(env_buf, env_len);
    for (i = 0; i < 2; i++) {
        t_party_t p;
        memcpy(p.id, k.rid[i], sizeof p.id);
        memcpy(p.sk, k.rsk[i], 32);
        memcpy(p.pk, k.rpk[i], 32);
        assert_string_equal(c->r[i].id, k.rid[i]);
        assert_int_equal(t_unwrap(c, i, &p, kk), 0);
        assert_true(k.has_content_key);
        assert_memory_equal(kk, k.content_key, 32);
    }
    t_craft_free(&c);
    free(plain);
    free(env_buf);
}

/* Sealing the vector's inputs with its seed gives the committed bytes. */
static void
test_envelope_kat_seal_is_byte_exact(void **state)
{
    kat_keys_t             k;
    envelope_seal_params_t p;
    envelope_recipient_t   r[2];
    uint8_t                ref[16], *want, *plain, *got = NULL, *again = NULL;
    size_t                 want_len, plain_len, got_len = 0, again_len = 0;
    errbuf_t               err = {{0}};

    (void)state;
    s_kat_load_keys(&k);
    want = s_read("envelope.csbm", &want_len);
    plain = s_read("plaintext.bin", &plain_len);
    s_kat_params(&k, &p, r, ref);
    if (envelope_seal(&p, plain, plain_len, &got, &got_len, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
    assert_int_equal(envelope_seal(&p, plain, plain_len, &again, &again_len,
                         &err),
        0);
    assert_memory_equal(again, got, got_len);
    free(again);
    free(got);
    free(plain);
    free(want);
}

/* --------------------------------------------------------- round trips */

static void
test_envelope_round_trip_sizes(void **state)
{
    const size_t sizes[] = {0, 1, T_CHUNK - 1, T_CHUNK, T_CHUNK + 1,
        3 * T_CHUNK + 5};
    const t_party_t *const to[] = {&s_bra};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t   n = sizes[i], len, pt_len = 0, hl;
        uint8_t *plain = s_random(n), *buf = s_seal(to, 1, plain, n, &len);
        uint8_t *pt = NULL;
        errbuf_t err;
        envelope_t *env = envelope_parse(buf, len, &err);
        uint64_t body = T_STREAM_HDR + n + T_ABYTES * (n / T_CHUNK + 1);

        if (env == NULL)
            fail_msg("size %zu: %s", n, err.msg);
        (void)envelope_header_bytes(env, &hl);
        assert_int_equal(envelope_header(env)->body_size, body);
        assert_int_equal(envelope_header(env)->chunk_size, T_CHUNK);
        assert_int_equal(len, T_PREFIX + hl + T_SIG + body);
        envelope_destroy(&env);
        if (s_try(buf, len, s_arg.pk, &s_bra, &pt, &pt_len, &err) != STAGE_OK)
            fail_msg("size %zu: %s", n, err.msg);
        assert_int_equal(pt_len, n);
        if (n > 0)
            assert_memory_equal(pt, plain, n);
        free(pt);
        free(buf);
        free(plain);
    }
}

static void
test_envelope_two_recipients_open_same_plaintext(void **state)
{
    const t_party_t *const to[] = {&s_chl, &s_bra};
    uint8_t    *plain = s_random(1000), *buf, *a = NULL, *b = NULL;
    size_t      len, a_len = 0, b_len = 0;
    errbuf_t    err;
    envelope_t *env;

    (void)state;
    buf = s_seal(to, 2, plain, 1000, &len);
    env = envelope_parse(buf, len, &err);
    assert_non_null(env);
    assert_int_equal(envelope_header(env)->n_recipients, 2);
    assert_string_equal(envelope_header(env)->recipients[0]->id, "BRA");
    assert_string_equal(envelope_header(env)->recipients[1]->id, "CHL");
    envelope_destroy(&env);
    assert_int_equal(s_try(buf, len, s_arg.pk, &s_bra, &a, &a_len, &err),
        STAGE_OK);
    assert_int_equal(s_try(buf, len, s_arg.pk, &s_chl, &b, &b_len, &err),
        STAGE_OK);
    assert_int_equal(a_len, 1000);
    assert_int_equal(b_len, 1000);
    assert_memory_equal(a, plain, 1000);
    assert_memory_equal(b, plain, 1000);
    assert_int_equal(s_try(buf, len, s_arg.pk, &s_ury, NULL, NULL, &err),
        STAGE_OPEN);
    s_assert_contains(err.msg, "package is not addressed to URY");
    free(a);
    free(b);
    free(buf);
    free(plain);
}

/* Two seals of the same input share nothing random. */
/* A DOCUMENT names its kind in the signed header and no other type has
 * one; the kind survives the round trip and is covered by the signature. */
static void
test_envelope_document_kind_fits_the_type(void **state)
{
    envelope_recipient_t   r = {s_bra.id, s_bra.pk};
    envelope_seal_params_t p;
    uint8_t               *out = NULL;
    size_t                 len = 0;
    envelope_t            *env;
    errbuf_t               err = {{0}};

    (void)state;
    s_params(&p, &r, 1);
    p.document_kind = CSBM__DOCUMENT_KIND__CSBM_INVENTORY;
    assert_int_equal(envelope_seal(&p, (const uint8_t *)"x", 1, &out, &len,
        &err), -1);
    assert_null(out);
    s_assert_contains(err.msg, "document_kind 3 does not fit package_type");

    p.package_type = CSBM__PACKAGE_TYPE__DOCUMENT;
    p.document_kind = CSBM__DOCUMENT_KIND__DOCUMENT_KIND_UNSPECIFIED;
    assert_int_equal(envelope_seal(&p, (const uint8_t *)"x", 1, &out, &len,
        &err), -1);
    s_assert_contains(err.msg, "a DOCUMENT names its kind");

    p.document_kind = (Csbm__DocumentKind)99;
    assert_int_equal(envelope_seal(&p, (const uint8_t *)"x", 1, &out, &len,
        &err), -1);
    s_assert_contains(err.msg, "document_kind 99 is not a known document kind");

    p.document_kind = CSBM__DOCUMENT_KIND__CSBM_INVENTORY;
    if (envelope_seal(&p, (const uint8_t *)"x", 1, &out, &len, &err) != 0)
        fail_msg("seal: %s", err.msg);
    env = envelope_parse(out, len, &err);
    assert_non_null(env);
    assert_int_equal(envelope_header(env)->document_kind,
        CSBM__DOCUMENT_KIND__CSBM_INVENTORY);
    assert_int_equal(envelope_verify(env, s_arg.pk, &err), 0);
    envelope_destroy(&env);
    free(out);
}

static void
test_envelope_seal_is_randomized(void **state)
{
    const t_party_t *const to[] = {&s_bra};
    uint8_t    *x, *y;
    size_t      x_len, y_len;
    envelope_t *ex, *ey;
    errbuf_t    err;
    const Csbm__EnvelopeHeader *hx, *hy;

    (void)state;
    x = s_seal(to, 1, (const uint8_t *)"same", 4, &x_len);
    y = s_seal(to, 1, (const uint8_t *)"same", 4, &y_len);
    ex = envelope_parse(x, x_len, &err);
    ey = envelope_parse(y, y_len, &err);
    assert_non_null(ex);
    assert_non_null(ey);
    hx = envelope_header(ex);
    hy = envelope_header(ey);
    assert_memory_not_equal(hx->package_id.data, hy->package_id.data, 16);
    assert_memory_not_equal(hx->key_commitment.data, hy->key_commitment.data,
        32);
    assert_memory_not_equal(hx->recipients[0]->ephemeral.data,
        hy->recipients[0]->ephemeral.data, 32);
    assert_memory_not_equal(x + x_len - hx->body_size,
        y + y_len - hy->body_size, T_STREAM_HDR);
    envelope_destroy(&ex);
    envelope_destroy(&ey);
    free(x);
    free(y);
}

/* The reader follows the format, not envelope_seal: an envelope built by
 * this file's encoder with 1 KiB chunks opens. */
static void
test_envelope_opens_other_chunk_sizes(void **state)
{
    const t_party_t *const to[] = {&s_bra, &s_chl};
    const uint32_t sizes[] = {1024, 4096, 1024 * 1024};
    uint8_t  *plain = s_random(3000), *buf, *pt = NULL;
    size_t    len, pt_len = 0, i;
    errbuf_t  err;

    (void)state;
    for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        t_craft_t *c = t_craft_new(to, 2, plain, 3000, sizes[i]);
        buf = t_craft_bytes(c, &len);
        if (s_try(buf, len, s_arg.pk, &s_chl, &pt, &pt_len, &err) != STAGE_OK)
            fail_msg("chunk %u: %s", sizes[i], err.msg);
        assert_int_equal(pt_len, 3000);
        assert_memory_equal(pt, plain, 3000);
        free(pt);
        pt = NULL;
        free(buf);
        t_craft_free(&c);
    }
    free(plain);
}

/* ------------------------------------------------ damage and forgery */

static void
test_envelope_rejects_every_truncation(void **state)
{
    t_craft_t *c = t_craft_small();
    size_t     len, cut;
    uint8_t   *buf = t_craft_bytes(c, &len);
    errbuf_t   err;

    (void)state;
    assert_int_equal(s_try(buf, len, s_arg.pk, &s_bra, NULL, NULL, &err),
        STAGE_OK);
    for (cut = 0; cut < len; cut++) {
        stage_t st = s_try(buf, cut, s_arg.pk, &s_bra, NULL, NULL, &err);
        if (st != STAGE_PARSE)
            fail_msg("prefix of %zu of %zu bytes: stage %d (%s)", cut, len,
                st, err.msg);
    }
    free(buf);
    t_craft_free(&c);
}

static void
test_envelope_rejects_every_bit_flip(void **state)
{
    t_craft_t *c = t_craft_small();
    size_t     len, hl, i, bit;
    uint8_t   *buf = t_craft_bytes(c, &len), *hdr = t_craft_header(c, &hl);
    errbuf_t   err;

    (void)state;
    free(hdr);
    assert_true(len < 700); /* keep the loop small */
    for (i = 0; i < len; i++) {
        for (bit = 0; bit < 8; bit++) {
            stage_t st;

            buf[i] ^= (uint8_t)(1u << bit);
            st = s_try(buf, len, s_arg.pk, &s_bra, NULL, NULL, &err);
            buf[i] ^= (uint8_t)(1u << bit);
            if (st == STAGE_OK)
                fail_msg("flipping bit %zu of byte %zu went unnoticed", bit, i);
            if (i >= T_PREFIX + hl + T_SIG) {
                assert_int_equal(st, STAGE_VERIFY);
                s_assert_contains(err.msg, "body hash mismatch");
            } else if (i >= T_PREFIX + hl) {
                assert_int_equal(st, STAGE_VERIFY);
                s_assert_contains(err.msg, "signature does not verify");
            }
        }
    }
    free(buf);
    t_craft_free(&c);
}

static void
test_envelope_rejects_wrong_recipient_key(void **state)
{
    t_craft_t *c = t_craft_small();
    size_t     len;
    uint8_t   *buf = t_craft_bytes(c, &len);
    errbuf_t   err;
    t_party_t  p;
    char       hex[33];

    (void)state;
    /* BRA's name, URY's keys */
    p = s_ury;
    snprintf(p.id, sizeof p.id, "BRA");
    assert_int_equal(s_try(buf, len, s_arg.pk, &p, NULL, NULL, &err),
        STAGE_OPEN);
    s_tohex(hex, c->r[0].key_id.b, 16);
    s_assert_contains(err.msg, "addressed to BRA under another key");
    s_assert_contains(err.msg, hex);
    /* BRA's public key, another secret */
    memcpy(p.pk, s_bra.pk, 32);
    assert_int_equal(s_try(buf, len, s_arg.pk, &p, NULL, NULL, &err),
        STAGE_OPEN);
    s_assert_contains(err.msg, "cannot unwrap the content key for BRA");
    /* a party that is not a recipient */
    assert_int_equal(s_try(buf, len, s_arg.pk, &s_ury, NULL, NULL, &err),
        STAGE_OPEN);
    s_assert_contains(err.msg, "package is not addressed to URY");
    /* CHL's entry opened with BRA's keys */
    p = s_bra;
    snprintf(p.id, sizeof p.id, "CHL");
    assert_int_equal(s_try(buf, len, s_arg.pk, &p, NULL, NULL, &err),
        STAGE_OPEN);
    s_assert_contains(err.msg, "addressed to CHL under another key");
    free(buf);
    t_craft_free(&c);
}

static void
test_envelope_rejects_forged_signature(void **state)
{
    t_craft_t *c = t_craft_small(), *other = t_craft_small();
    size_t     len;
    uint8_t   *buf;
    errbuf_t   err;

    (void)state;
    /* random signature */
    randombytes_buf(c->sig, sizeof c->sig);
    s_expect(c, STAGE_VERIFY, "signature does not verify for sender ARG key");
    /* all zero */
    memset(c->sig, 0, sizeof c->sig);
    s_expect(c, STAGE_VERIFY, "signature does not verify");
    /* signed by another key under ARG's key id */
    t_craft_sign(c, s_evil.sk);
    s_expect(c, STAGE_VERIFY, "signature does not verify for sender ARG key");
    /* ... and checked with that other key: not the key the header names */
    buf = t_craft_bytes(c, &len);
    assert_int_equal(s_try(buf, len, s_evil.pk, &s_bra, NULL, NULL, &err),
        STAGE_VERIFY);
    s_assert_contains(err.msg, "the key given is");
    free(buf);
    /* the impostor names its own key: ARG's key does not match it */
    t_key_id(s_evil.pk, c->sender_key_id.b);
    t_craft_sign(c, s_evil.sk);
    s_expect(c, STAGE_VERIFY, "look the sender's key up by the header's");
    /* a signature copied from another envelope of the same sender */
    t_key_id(s_arg.pk, c->sender_key_id.b);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_OK, NULL);
    memcpy(c->sig, other->sig, sizeof c->sig);
    s_expect(c, STAGE_VERIFY, "signature does not verify");
    /* S + L: the same signature made non-canonical (malleability) */
    t_craft_sign(c, s_arg.sk);
    {
        /* L = 2^252 + 27742317777372353535851937790883648493, little
         * endian; adding it to S keeps the equation but must be refused */
        static const uint8_t l[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63,
            0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};
        unsigned carry = 0;
        size_t   i;
        for (i = 0; i < 32; i++) {
            carry += (unsigned)c->sig[32 + i] + l[i];
            c->sig[32 + i] = (uint8_t)carry;
            carry >>= 8;
        }
    }
    s_expect(c, STAGE_VERIFY, "signature does not verify");
    t_craft_free(&c);
    t_craft_free(&other);
}

/* B re-wraps the content key from A to C and swaps itself for C in the
 * recipient list, keeping A's signature: C must not accept it as A's. */
static void
test_envelope_rejects_surreptitious_forwarding(void **state)
{
    const t_party_t *const to[] = {&s_bra};
    size_t      len, pt_len = 0;
    uint8_t    *buf = s_seal(to, 1, (const uint8_t *)"for BRA only", 12, &len);
    uint8_t     k[32], *pt = NULL;
    t_craft_t  *c = t_craft_load(buf, len);
    errbuf_t    err;
    envelope_t *env;

    (void)state;
    assert_int_equal(t_unwrap(c, 0, &s_bra, k), 0);
    t_wrap(c, 0, "CHL", s_chl.pk, k);
    free(buf);
    buf = t_craft_bytes(c, &len);
    assert_int_equal(s_try(buf, len, s_arg.pk, &s_chl, NULL, NULL, &err),
        STAGE_VERIFY);
    s_assert_contains(err.msg, "signature does not verify for sender ARG");
    /* and without verification nobody opens it */
    env = envelope_parse(buf, len, &err);
    assert_non_null(env);
    assert_int_equal(envelope_open(env, "CHL", s_chl.sk, s_chl.pk, &pt,
                         &pt_len, &err),
        -1);
    s_assert_contains(err.msg, "not verified");
    assert_null(pt);
    envelope_destroy(&env);
    free(buf);
    t_craft_free(&c);
}

/* A malicious sender gives CHL a different content key than BRA, under a
 * correct signature: CHL detects it. */
static void
test_envelope_rejects_key_commitment_mismatch(void **state)
{
    t_craft_t *c = t_craft_small();
    uint8_t    other[32], *buf, *pt = NULL;
    size_t     len, pt_len = 0;
    errbuf_t   err;

    (void)state;
    assert_string_equal(c->r[1].id, "CHL");
    randombytes_buf(other, sizeof other);
    t_wrap(c, 1, "CHL", s_chl.pk, other);
    buf = t_craft_finish(c, s_arg.sk, &len);
    assert_int_equal(s_try(buf, len, s_arg.pk, &s_bra, &pt, &pt_len, &err),
        STAGE_OK);
    free(pt);
    assert_int_equal(s_try(buf, len, s_arg.pk, &s_chl, NULL, NULL, &err),
        STAGE_OPEN);
    s_assert_contains(err.msg, "key commitment mismatch: this recipient was "
                               "given a different content key than the "
                               "signed one");
    free(buf);
    t_craft_free(&c);
}

/* ----------------------------------------------------- hostile sizes */

static void
test_envelope_rejects_hostile_header_len(void **state)
{
    t_craft_t *c = t_craft_small();
    size_t     hl;
    uint8_t   *hdr = t_craft_header(c, &hl);

    (void)state;
    free(hdr);
    c->header_len_field = 0;
    s_expect(c, STAGE_PARSE, "header length 0 is outside 1..65536");
    c->header_len_field = 65537;
    s_expect(c, STAGE_PARSE, "header length 65537 is outside");
    c->header_len_field = 0xffffffff;
    s_expect(c, STAGE_PARSE, "header length 4294967295 is outside");
    /* within the limit but more than the envelope holds */
    c->header_len_field = 65536;
    s_expect(c, STAGE_PARSE, "truncated envelope");
    /* one byte off either way */
    c->header_len_field = (int64_t)hl + 1;
    s_expect(c, STAGE_PARSE, NULL);
    c->header_len_field = (int64_t)hl - 1;
    s_expect(c, STAGE_PARSE, NULL);
    t_craft_free(&c);
}

static void
test_envelope_rejects_hostile_body_size(void **state)
{
    t_craft_t *c = t_craft_small();
    uint64_t   real = c->body_size;

    (void)state;
    c->body_size = 64u * 1024 * 1024 + 1;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "body_size 67108865 is more than the limit");
    c->body_size = UINT64_MAX;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "more than the limit");
    c->body_size = real + T_CHUNK + T_ABYTES;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "truncated envelope: the body is");
    c->body_size = real + 1; /* layout-consistent, one byte short */
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "truncated envelope: the body is");
    c->body_size = real - 1;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "trailing data");
    c->body_size = 40; /* less than a stream header and one tag */
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "does not fit chunks");
    t_craft_free(&c);
}

/* Valid envelopes at every limit open; one past it is refused. */
static void
test_envelope_limits(void **state)
{
    static const t_party_t *to[T_MAX_R];
    static t_party_t many[T_MAX_R];
    t_craft_t *c;
    uint8_t   *buf, *pt = NULL;
    size_t     len, pt_len = 0, i;
    errbuf_t   err;
    t_party_t  me;

    (void)state;
    for (i = 0; i < 129; i++) {
        many[i] = s_bra;
        snprintf(many[i].id, sizeof many[i].id, "R%03zu", i);
        to[i] = &many[i];
    }
    /* 128 recipients open; 129 are refused */
    c = t_craft_new(to, 128, (const uint8_t *)"x", 1, T_CHUNK);
    buf = t_craft_bytes(c, &len);
    me = s_bra;
    snprintf(me.id, sizeof me.id, "R127");
    assert_int_equal(s_try(buf, len, s_arg.pk, &me, &pt, &pt_len, &err),
        STAGE_OK);
    free(pt);
    free(buf);
    t_wrap(c, 128, "R128", s_bra.pk, c->k);
    c->n_r = 129;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "recipients has 129 entries; 1..128 are allowed");
    c->n_r = 0;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "recipients has 0 entries");
    t_craft_free(&c);

    /* 32 references, 64-character federation, 15-character ids */
    c = t_craft_small();
    for (i = 0; i < 33; i++) {
        randombytes_buf(c->refs[i].b, 16);
        c->refs[i].len = 16;
    }
    c->n_refs = 32;
    memset(c->federation, 'F', 64);
    c->federation[64] = '\0';
    snprintf(c->sender, sizeof c->sender, "ARG-0123456789_");
    t_wrap(c, 1, "CHL-0123456789_", s_chl.pk, c->k);
    c->chunk_size = 1024; /* the body still fits: 16 bytes of plaintext */
    buf = t_craft_finish(c, s_arg.sk, &len);
    me = s_chl;
    snprintf(me.id, sizeof me.id, "CHL-0123456789_");
    if (s_try(buf, len, s_arg.pk, &me, &pt, &pt_len, &err) != STAGE_OK)
        fail_msg("%s", err.msg);
    free(pt);
    free(buf);

    c->n_refs = 33;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "references has 33 entries; at most 32");
    c->n_refs = 32;
    c->federation[64] = 'F';
    c->federation[65] = '\0';
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "federation must be 1..64");
    c->federation[64] = '\0';
    snprintf(c->sender, sizeof c->sender, "ARG-0123456789_x");
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "field sender is not an identity name");
    snprintf(c->sender, sizeof c->sender, "ARG-0123456789_");
    snprintf(c->r[1].id, sizeof c->r[1].id, "CHL-0123456789_x");
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "recipients[1].id is not an identity name");
    snprintf(c->r[1].id, sizeof c->r[1].id, "CHL-0123456789_");
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_OK, NULL);
    t_craft_free(&c);
}

/* protobuf-c is given a budget: a valid header followed by 30000 empty
 * recipient entries (60 KB) is refused without unpacking megabytes, and a
 * few hundred are refused by count. */
static void
s_many_empty_recipients(t_craft_t *c, size_t n)
{
    size_t   hl, i;
    uint8_t *h;

    free(c->raw_header);
    c->raw_header = NULL;
    h = t_craft_header(c, &hl);
    c->raw_header = realloc(h, hl + 2 * n);
    assert_non_null(c->raw_header);
    for (i = 0; i < n; i++) {
        c->raw_header[hl + 2 * i] = 0x42; /* field 8, length-delimited */
        c->raw_header[hl + 2 * i + 1] = 0x00;
    }
    c->raw_header_len = hl + 2 * n;
    t_craft_sign(c, s_arg.sk);
}

static void
test_envelope_rejects_hostile_repeated_fields(void **state)
{
    t_craft_t *c = t_craft_small();

    (void)state;
    s_many_empty_recipients(c, 30000);
    assert_true(c->raw_header_len <= 65536);
    s_expect(c, STAGE_PARSE, "is not a valid csbm.EnvelopeHeader");
    s_many_empty_recipients(c, 200);
    s_expect(c, STAGE_PARSE, "recipients has 202 entries");
    t_craft_free(&c);
}

/* ------------------------------------------------------- field checks */

typedef void (*t_mutate_t)(t_craft_t *c);

static void m_package_id(t_craft_t *c) { c->package_id.len = 15; }
static void m_sender_key_id(t_craft_t *c) { c->sender_key_id.len = 17; }
static void m_sender_empty(t_craft_t *c) { c->sender[0] = '\0'; }
static void m_sender_chars(t_craft_t *c) { snprintf(c->sender, 40, "A R"); }
static void m_sender_dash(t_craft_t *c) { snprintf(c->sender, 40, "-AR"); }
static void m_federation_empty(t_craft_t *c) { c->federation[0] = '\0'; }
static void m_federation_ctl(t_craft_t *c) { c->federation[1] = '\n'; }
static void m_type_zero(t_craft_t *c) { c->package_type = 0; }
static void m_type_unknown(t_craft_t *c) { c->package_type = 99; }
static void m_dist_zero(t_craft_t *c) { c->distribution = 0; }
static void m_dist_unknown(t_craft_t *c) { c->distribution = 3; }
static void m_key_id(t_craft_t *c) { c->r[1].key_id.len = 15; }
static void m_ephemeral(t_craft_t *c) { c->r[0].ephemeral.len = 31; }
static void m_wrapped_short(t_craft_t *c) { c->r[1].wrapped.len = 47; }
static void m_wrapped_long(t_craft_t *c) { c->r[1].wrapped.len = 49; }
static void m_rcpt_empty(t_craft_t *c) { c->r[0].id[0] = '\0'; }
static void m_created_zero(t_craft_t *c) { c->created_at = 0; }
static void m_created_big(t_craft_t *c) { c->created_at = 1ull << 63; }
static void m_sequence_zero(t_craft_t *c) { c->sequence = 0; }
static void m_sequence_big(t_craft_t *c) { c->sequence = UINT64_MAX; }
static void m_reference(t_craft_t *c)
{
    c->n_refs = 1;
    c->refs[0].len = 15;
}
static void m_date_short(t_craft_t *c)
{
    snprintf(c->subject_date, 40, "2025-1-01");
}
static void m_date_long(t_craft_t *c)
{
    snprintf(c->subject_date, 40, "2025-01-011");
}
static void m_date_shape(t_craft_t *c)
{
    snprintf(c->subject_date, 40, "2025/01/01");
}
static void m_commitment(t_craft_t *c) { c->key_commitment.len = 31; }
static void m_body_hash(t_craft_t *c) { c->body_hash.len = 33; }
static void m_chunk_small(t_craft_t *c) { c->chunk_size = 1023; }
static void m_chunk_big(t_craft_t *c) { c->chunk_size = 1024 * 1024 + 1; }
static void m_version(t_craft_t *c) { c->version = 2; }
static void m_version_zero(t_craft_t *c) { c->version = 0; }
static void m_unknown_field(t_craft_t *c)
{
    /* field 111, varint 1 */
    c->extra[0] = 0xf8;
    c->extra[1] = 0x06;
    c->extra[2] = 0x01;
    c->extra_len = 3;
}
static void m_unsorted(t_craft_t *c)
{
    t_rcpt_t t = c->r[0];
    c->r[0] = c->r[1];
    c->r[1] = t;
}
static void m_duplicate(t_craft_t *c) { c->r[1] = c->r[0]; }
static void m_duplicate_id(t_craft_t *c) { snprintf(c->r[1].id, 40, "BRA"); }

static void
test_envelope_rejects_bad_header_fields(void **state)
{
    static const struct {
        t_mutate_t  m;
        const char *want;
    } cases[] = {
        {m_package_id, "package_id is 15 bytes, expected 16"},
        {m_sender_key_id, "sender_key_id is 17 bytes, expected 16"},
        {m_sender_empty, "field sender is not an identity name"},
        {m_sender_chars, "field sender is not an identity name"},
        {m_sender_dash, "field sender is not an identity name"},
        {m_federation_empty, "field federation must be"},
        {m_federation_ctl, "field federation must be"},
        {m_type_zero, "package_type 0 is not a known package type"},
        {m_type_unknown, "package_type 99 is not a known package type"},
        {m_dist_zero, "distribution 0 is not a known distribution"},
        {m_dist_unknown, "distribution 3 is not a known distribution"},
        {m_key_id, "recipients[1].key_id is 15 bytes, expected 16"},
        {m_ephemeral, "recipients[0].ephemeral is 31 bytes, expected 32"},
        {m_wrapped_short, "recipients[1].wrapped_key is 47 bytes"},
        {m_wrapped_long, "recipients[1].wrapped_key is 49 bytes"},
        {m_rcpt_empty, "recipients[0].id is not an identity name"},
        {m_created_zero, "created_at 0 is outside"},
        {m_created_big, "created_at 9223372036854775808 is outside"},
        {m_sequence_zero, "sequence 0 is outside"},
        {m_sequence_big, "sequence 18446744073709551615 is outside"},
        {m_reference, "references[0] is 15 bytes, expected 16"},
        {m_date_short, "subject_date must be empty or a date"},
        {m_date_long, "subject_date must be empty or a date"},
        {m_date_shape, "subject_date must be empty or a date"},
        {m_commitment, "key_commitment is 31 bytes, expected 32"},
        {m_body_hash, "body_hash is 33 bytes, expected 32"},
        {m_chunk_small, "chunk_size 1023 is outside 1024..1048576"},
        {m_chunk_big, "chunk_size 1048577 is outside"},
        {m_version, "field version is 2 but the envelope framing says "
                    "version 1"},
        {m_version_zero, "field version is 0"},
        {m_unknown_field, "envelope header has unknown fields"},
        {m_unsorted, "recipients is not sorted by id (\"CHL\" before "
                     "\"BRA\")"},
        {m_duplicate, "recipients[1].id \"BRA\" appears twice"},
        {m_duplicate_id, "recipients[1].id \"BRA\" appears twice"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        t_craft_t *c = t_craft_small();
        size_t     len;
        uint8_t   *buf;
        errbuf_t   err;
        stage_t    st;

        cases[i].m(c);
        t_craft_sign(c, s_arg.sk); /* the sender itself wrote it */
        buf = t_craft_bytes(c, &len);
        st = s_try(buf, len, s_arg.pk, &s_bra, NULL, NULL, &err);
        if (st != STAGE_PARSE || strstr(err.msg, cases[i].want) == NULL)
            fail_msg("case %zu: stage %d, \"%s\"; expected parse to say "
                     "\"%s\"", i, st, err.msg, cases[i].want);
        free(buf);
        t_craft_free(&c);
    }
}

static void
test_envelope_rejects_unknown_version_byte(void **state)
{
    t_craft_t *c = t_craft_small();

    (void)state;
    c->version_byte = 7;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE,
        "unsupported envelope version 7; this build reads version 1");
    c->version_byte = 0;
    s_expect(c, STAGE_PARSE, "unsupported envelope version 0");
    /* version 2 in both places is still version 2 */
    c->version_byte = 2;
    c->version = 2;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "unsupported envelope version 2");
    memcpy(c->magic, "CSBN", 4);
    s_expect(c, STAGE_PARSE, "not a CSBM envelope");
    t_craft_free(&c);
}

/* Replace the first occurrence of pat in the crafted header. */
static void
s_patch_header(t_craft_t *c, const uint8_t *pat, size_t pat_len,
    const uint8_t *rep, size_t rep_len)
{
    size_t   hl, i;
    uint8_t *h = t_craft_header(c, &hl), *out;

    for (i = 0; i + pat_len <= hl; i++)
        if (memcmp(h + i, pat, pat_len) == 0)
            break;
    assert_true(i + pat_len <= hl);
    out = malloc(hl - pat_len + rep_len);
    assert_non_null(out);
    memcpy(out, h, i);
    memcpy(out + i, rep, rep_len);
    memcpy(out + i + rep_len, h + i + pat_len, hl - i - pat_len);
    free(c->raw_header);
    c->raw_header = out;
    c->raw_header_len = hl - pat_len + rep_len;
    free(h);
}

/* Another encoding of the same fields is refused, even when signed. */
static void
test_envelope_rejects_non_canonical_header(void **state)
{
    static const uint8_t v1[] = {0x08, 0x01}, v1_long[] = {0x08, 0x81, 0x00};
    static const uint8_t arg[] = {0x22, 0x03, 'A', 'R', 'G'};
    static const uint8_t arg_nul[] = {0x22, 0x05, 'A', 'R', 'G', 0, 'X'};
    static const uint8_t year[] = {0x60, 0xe8, 0x0f}; /* 2024 */
    t_craft_t *c;
    size_t     hl;
    uint8_t   *h;

    (void)state;
    /* a padded varint */
    c = t_craft_small();
    s_patch_header(c, v1, sizeof v1, v1_long, sizeof v1_long);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "not canonically encoded");
    t_craft_free(&c);
    /* a NUL inside a string: "ARG\0X" would read as "ARG" */
    c = t_craft_small();
    s_patch_header(c, arg, sizeof arg, arg_nul, sizeof arg_nul);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "not canonically encoded");
    t_craft_free(&c);
    /* a field repeated at the end (the last one wins in protobuf) */
    c = t_craft_small();
    h = t_craft_header(c, &hl);
    c->raw_header = realloc(h, hl + sizeof year);
    assert_non_null(c->raw_header);
    memcpy(c->raw_header + hl, year, sizeof year);
    c->raw_header_len = hl + sizeof year;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "not canonically encoded");
    t_craft_free(&c);
    /* not protobuf at all */
    c = t_craft_small();
    c->raw_header = malloc(4);
    assert_non_null(c->raw_header);
    memcpy(c->raw_header, "\xff\xff\xff\xff", 4);
    c->raw_header_len = 4;
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "is not a valid csbm.EnvelopeHeader");
    t_craft_free(&c);
}

static void
test_envelope_rejects_trailing_garbage(void **state)
{
    const t_party_t *const to[] = {&s_bra};
    t_craft_t *c = t_craft_small();
    size_t     len;
    uint8_t   *buf, *longer;
    errbuf_t   err;

    (void)state;
    c->trailer[0] = 0;
    c->trailer_len = 1;
    s_expect(c, STAGE_PARSE, "1 bytes of trailing data after the envelope");
    c->trailer_len = 8;
    s_expect(c, STAGE_PARSE, "8 bytes of trailing data");
    t_craft_free(&c);
    /* and on envelope_seal's output */
    buf = s_seal(to, 1, (const uint8_t *)"x", 1, &len);
    longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, buf, len);
    longer[len] = '\n';
    assert_int_equal(s_try(longer, len + 1, s_arg.pk, &s_bra, NULL, NULL,
                         &err),
        STAGE_PARSE);
    s_assert_contains(err.msg, "trailing data");
    free(longer);
    free(buf);
}

/* ------------------------------------------------------------- chunks */

static void
test_envelope_rejects_reordered_chunks(void **state)
{
    const t_party_t *const to[] = {&s_bra};
    size_t     n = 3 * T_CHUNK + 5, len, one = T_CHUNK + T_ABYTES;
    uint8_t   *plain = s_random(n), *buf = s_seal(to, 1, plain, n, &len);
    uint8_t   *tmp = malloc(one);
    t_craft_t *c = t_craft_load(buf, len);

    (void)state;
    assert_non_null(tmp);
    memcpy(tmp, c->body + T_STREAM_HDR, one);
    memmove(c->body + T_STREAM_HDR, c->body + T_STREAM_HDR + one, one);
    memcpy(c->body + T_STREAM_HDR + one, tmp, one);
    t_craft_fix_body(c);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_OPEN, "body chunk 0 of 4 does not decrypt");
    /* chunks 1 and 2: the first passes, the second does not */
    t_craft_free(&c);
    c = t_craft_load(buf, len);
    memcpy(tmp, c->body + T_STREAM_HDR + one, one);
    memmove(c->body + T_STREAM_HDR + one, c->body + T_STREAM_HDR + 2 * one,
        one);
    memcpy(c->body + T_STREAM_HDR + 2 * one, tmp, one);
    t_craft_fix_body(c);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_OPEN, "body chunk 1 of 4 does not decrypt");
    free(tmp);
    free(buf);
    free(plain);
    t_craft_free(&c);
}

static void
test_envelope_rejects_dropped_final_chunk(void **state)
{
    const t_party_t *const to[] = {&s_bra};
    size_t     n = 2 * T_CHUNK, len;
    uint8_t   *plain = s_random(n + 5), *buf = s_seal(to, 1, plain, n, &len);
    t_craft_t *c = t_craft_load(buf, len);

    (void)state;
    /* the empty final chunk removed: no plaintext length fits the size */
    c->body_len -= T_ABYTES;
    t_craft_fix_body(c);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "does not fit chunks");
    /* the final chunk and the last full one removed: the same */
    c->body_len -= T_CHUNK + T_ABYTES;
    t_craft_fix_body(c);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_PARSE, "does not fit chunks");
    t_craft_free(&c);
    free(buf);

    /* a sender who leaves the last chunk unmarked: open refuses */
    buf = s_seal(to, 1, plain, n + 5, &len);
    c = t_craft_load(buf, len);
    assert_int_equal(t_unwrap(c, 0, &s_bra, c->k), 0);
    t_encrypt(c, plain, n + 5, T_CHUNK, T_TAGS_NO_FINAL);
    t_craft_fix_body(c);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_OPEN, "the last body chunk is not marked final");
    /* or marks the first one final */
    t_encrypt(c, plain, n + 5, T_CHUNK, T_TAGS_EARLY_FINAL);
    t_craft_fix_body(c);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_OPEN, "body chunk 0 of 3 is marked final but more "
                            "chunks follow");
    /* the same body re-encrypted properly opens: the test can fail */
    t_encrypt(c, plain, n + 5, T_CHUNK, T_TAGS_NORMAL);
    t_craft_fix_body(c);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_OK, NULL);
    t_craft_free(&c);
    free(buf);
    free(plain);
}

/* The chunk associated data is the package id: a body moved under
 * another package id does not decrypt. */
static void
test_envelope_rejects_body_of_another_package(void **state)
{
    t_craft_t *c = t_craft_small();
    uint8_t    k[32];

    (void)state;
    assert_int_equal(t_unwrap(c, 0, &s_bra, k), 0);
    c->package_id.b[0] ^= 1;
    /* rewrap and recommit under the new id, keep the body */
    t_wrap(c, 0, "BRA", s_bra.pk, k);
    t_wrap(c, 1, "CHL", s_chl.pk, k);
    t_commitment(k, c->package_id.b, c->key_commitment.b);
    t_craft_sign(c, s_arg.sk);
    s_expect(c, STAGE_OPEN, "body chunk 0 of 1 does not decrypt");
    t_craft_free(&c);
}

/* --------------------------------------------------- API contracts */

static void
test_envelope_open_requires_verify(void **state)
{
    t_craft_t  *c = t_craft_small();
    size_t      len, pt_len = 0;
    uint8_t    *buf = t_craft_bytes(c, &len), *pt = NULL;
    errbuf_t    err;
    envelope_t *env = envelope_parse(buf, len, &err);

    (void)state;
    assert_non_null(env);
    assert_false(envelope_is_verified(env));
    assert_int_equal(envelope_open(env, "BRA", s_bra.sk, s_bra.pk, &pt,
                         &pt_len, &err),
        -1);
    s_assert_contains(err.msg, "envelope not verified");
    assert_int_equal(envelope_verify(env, s_arg.pk, &err), 0);
    assert_true(envelope_is_verified(env));
    /* a failed verify takes it back */
    assert_int_equal(envelope_verify(env, s_evil.pk, &err), -1);
    assert_false(envelope_is_verified(env));
    assert_int_equal(envelope_open(env, "BRA", s_bra.sk, s_bra.pk, &pt,
                         &pt_len, &err),
        -1);
    assert_null(pt);
    assert_int_equal(envelope_verify(env, s_arg.pk, &err), 0);
    assert_int_equal(envelope_open(env, "BRA", s_bra.sk, s_bra.pk, &pt,
                         &pt_len, &err),
        0);
    assert_int_equal(pt_len, 16);
    assert_memory_equal(pt, "nil report, 2024", 16);
    free(pt);
    envelope_destroy(&env);
    envelope_destroy(&env);
    envelope_destroy(NULL);
    free(buf);
    t_craft_free(&c);
}

static void
test_envelope_accessors_return_exact_bytes(void **state)
{
    t_craft_t  *c = t_craft_small();
    size_t      len, hl, got_len, got_hl;
    uint8_t    *buf = t_craft_bytes(c, &len), *hdr = t_craft_header(c, &hl);
    errbuf_t    err;
    envelope_t *env = envelope_parse(buf, len, &err);
    const uint8_t *p;

    (void)state;
    assert_non_null(env);
    p = envelope_bytes(env, &got_len);
    assert_int_equal(got_len, len);
    assert_memory_equal(p, buf, len);
    assert_true(p != buf); /* its own copy */
    p = envelope_header_bytes(env, &got_hl);
    assert_int_equal(got_hl, hl);
    assert_memory_equal(p, hdr, hl);
    assert_memory_equal(envelope_signature(env), c->sig, 64);
    envelope_destroy(&env);
    free(hdr);
    free(buf);
    t_craft_free(&c);
}

static void
test_envelope_seal_rejects_bad_params(void **state)
{
    envelope_recipient_t   r[130];
    envelope_seal_params_t p;
    uint8_t                ids[130][8], refs[33][16], *out = NULL;
    uint8_t                zero[32] = {0}, bad_sk[64];
    size_t                 len = 0, i;
    errbuf_t               err;

    (void)state;
    for (i = 0; i < 130; i++) {
        snprintf((char *)ids[i], sizeof ids[i], "S%03zu", i);
        r[i].id = (const char *)ids[i];
        r[i].box_pk = s_bra.pk;
    }
    memset(refs, 0xab, sizeof refs);

#define EXPECT_SEAL_FAIL(want)                                               \
    do {                                                                     \
        errbuf_clear(&err);                                                  \
        assert_int_equal(envelope_seal(&p, (const uint8_t *)"x", 1, &out,    \
                             &len, &err),                                    \
            -1);                                                             \
        assert_null(out);                                                    \
        s_assert_contains(err.msg, want);                                    \
        s_params(&p, r, 2);                                                  \
    } while (0)

    s_params(&p, r, 2);
    assert_int_equal(envelope_seal(&p, (const uint8_t *)"x", 1, &out, &len,
                         &err),
        0);
    free(out);
    out = NULL;
    assert_int_equal(envelope_seal(NULL, NULL, 0, &out, &len, &err), -1);
    p.n_recipients = 0;
    EXPECT_SEAL_FAIL("0 recipients; 1..128 are allowed");
    p.n_recipients = 129;
    EXPECT_SEAL_FAIL("129 recipients");
    p.recipients = NULL;
    EXPECT_SEAL_FAIL("recipients");
    r[1].id = r[0].id;
    EXPECT_SEAL_FAIL("\"S000\" appears twice");
    r[1].id = (const char *)ids[1];
    r[0].id = "S 0";
    EXPECT_SEAL_FAIL("recipient id \"S 0\" is not an identity name");
    r[0].id = "S0123456789abcdef";
    EXPECT_SEAL_FAIL("is not an identity name");
    r[0].id = NULL;
    EXPECT_SEAL_FAIL("recipients[0] needs an id");
    r[0].id = (const char *)ids[0];
    r[0].box_pk = zero;
    EXPECT_SEAL_FAIL("small-order point");
    r[0].box_pk = s_bra.pk;
    p.sender = "A/B";
    EXPECT_SEAL_FAIL("cannot seal: envelope header field sender");
    p.sender = NULL;
    EXPECT_SEAL_FAIL("federation, sender and signing key are required");
    p.federation = "";
    EXPECT_SEAL_FAIL("field federation");
    p.package_type = 0;
    EXPECT_SEAL_FAIL("field package_type 0");
    p.distribution = 7;
    EXPECT_SEAL_FAIL("field distribution 7");
    p.created_at = 0;
    EXPECT_SEAL_FAIL("field created_at 0");
    p.sequence = 0;
    EXPECT_SEAL_FAIL("field sequence 0");
    p.references = (const uint8_t (*)[ENVELOPE_ID_BYTES])refs;
    p.n_references = 33;
    EXPECT_SEAL_FAIL("33 references");
    p.n_references = 1;
    p.references = NULL;
    EXPECT_SEAL_FAIL("references");
    p.subject_date = "30 April";
    EXPECT_SEAL_FAIL("field subject_date");
    memcpy(bad_sk, s_arg.sk, 64);
    bad_sk[40] ^= 1;
    p.sign_sk = bad_sk;
    EXPECT_SEAL_FAIL("the signing key is damaged");
    assert_int_equal(envelope_seal(&p, NULL, 5, &out, &len, &err), -1);
    s_assert_contains(err.msg, "no plaintext");
    /* checked before the plaintext is read: no 64 MiB buffer is needed */
    assert_int_equal(envelope_seal(&p, (const uint8_t *)"x",
                         64u * 1024 * 1024, &out, &len, &err),
        -1);
    s_assert_contains(err.msg, "exceed the body limit");
    assert_int_equal(envelope_seal(&p, (const uint8_t *)"x", SIZE_MAX, &out,
                         &len, &err),
        -1);
    assert_null(out);
#undef EXPECT_SEAL_FAIL
}

static void
test_envelope_seal_sets_header_fields(void **state)
{
    envelope_recipient_t   r[1] = {{"BRA", NULL}};
    envelope_seal_params_t p;
    uint8_t                pid[16], refs[2][16], *out = NULL, kid[16];
    size_t                 len = 0;
    errbuf_t               err;
    envelope_t            *env;
    const Csbm__EnvelopeHeader *h;

    (void)state;
    r[0].box_pk = s_bra.pk;
    s_params(&p, r, 1);
    randombytes_buf(pid, sizeof pid);
    randombytes_buf(refs, sizeof refs);
    p.package_id = pid;
    p.references = (const uint8_t (*)[ENVELOPE_ID_BYTES])refs;
    p.n_references = 2;
    p.package_type = CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION;
    p.distribution = CSBM__DISTRIBUTION__ALL_MEMBERS;
    p.sequence = 42;
    p.nil_report = 1;
    p.subject_date = "2025-01-15";
    assert_int_equal(envelope_seal(&p, NULL, 0, &out, &len, &err), 0);
    env = envelope_parse(out, len, &err);
    assert_non_null(env);
    h = envelope_header(env);
    assert_int_equal(h->version, 1);
    assert_string_equal(h->federation, KAT_FEDERATION);
    assert_memory_equal(h->package_id.data, pid, 16);
    assert_string_equal(h->sender, "ARG");
    t_key_id(s_arg.pk, kid);
    assert_memory_equal(h->sender_key_id.data, kid, 16);
    t_key_id(s_bra.pk, kid);
    assert_memory_equal(h->recipients[0]->key_id.data, kid, 16);
    assert_int_equal(h->package_type,
        CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION);
    assert_int_equal(h->distribution, CSBM__DISTRIBUTION__ALL_MEMBERS);
    assert_int_equal(h->created_at, KAT_CREATED_AT);
    assert_int_equal(h->sequence, 42);
    assert_int_equal(h->n_references, 2);
    assert_memory_equal(h->references[1].data, refs[1], 16);
    assert_int_equal(h->year, KAT_YEAR);
    assert_true(h->nil_report);
    assert_string_equal(h->subject_date, "2025-01-15");
    assert_int_equal(h->body_size, T_STREAM_HDR + T_ABYTES);
    envelope_destroy(&env);
    free(out);
}

static void
test_envelope_id_hex_round_trip(void **state)
{
    uint8_t id[16], back[16];
    char    hex[33];

    (void)state;
    s_pattern(id, 16, 0xf0);
    envelope_id_hex(id, hex);
    assert_string_equal(hex, KAT_REFERENCE);
    assert_int_equal(envelope_id_parse(hex, back), 0);
    assert_memory_equal(back, id, 16);
    assert_int_equal(envelope_id_parse("F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF",
                         back),
        0);
    assert_memory_equal(back, id, 16);
    assert_int_equal(envelope_id_parse(NULL, back), -1);
    assert_int_equal(envelope_id_parse("", back), -1);
    assert_int_equal(envelope_id_parse("f0f1f2f3f4f5f6f7f8f9fafbfcfdfef", back),
        -1);
    assert_int_equal(envelope_id_parse("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff0",
                         back),
        -1);
    assert_int_equal(envelope_id_parse("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeZZ",
                         back),
        -1);
    assert_int_equal(envelope_id_parse("f0f1f2f3f4f5f6f7 8f9fafbfcfdfeff",
                         back),
        -1);
}

/* ------------------------------------------------------------------ */

static int
s_setup(void **state)
{
    uint8_t seed[32];

    (void)state;
    if (sodium_init() < 0)
        return -1;
    s_pattern(seed, 32, 0x00);
    crypto_sign_seed_keypair(s_arg.pk, s_arg.sk, seed);
    crypto_sign_keypair(s_evil.pk, s_evil.sk);
    s_party(&s_bra, "BRA");
    s_party(&s_chl, "CHL");
    s_party(&s_ury, "URY");
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_envelope_write_vectors),
        cmocka_unit_test(test_envelope_kat_decodes),
        cmocka_unit_test(test_envelope_kat_seal_is_byte_exact),
        cmocka_unit_test(test_envelope_round_trip_sizes),
        cmocka_unit_test(test_envelope_two_recipients_open_same_plaintext),
        cmocka_unit_test(test_envelope_seal_is_randomized),
        cmocka_unit_test(test_envelope_document_kind_fits_the_type),
        cmocka_unit_test(test_envelope_opens_other_chunk_sizes),
        cmocka_unit_test(test_envelope_rejects_every_truncation),
        cmocka_unit_test(test_envelope_rejects_every_bit_flip),
        cmocka_unit_test(test_envelope_rejects_wrong_recipient_key),
        cmocka_unit_test(test_envelope_rejects_forged_signature),
        cmocka_unit_test(test_envelope_rejects_surreptitious_forwarding),
        cmocka_unit_test(test_envelope_rejects_key_commitment_mismatch),
        cmocka_unit_test(test_envelope_rejects_hostile_header_len),
        cmocka_unit_test(test_envelope_rejects_hostile_body_size),
        cmocka_unit_test(test_envelope_limits),
        cmocka_unit_test(test_envelope_rejects_hostile_repeated_fields),
        cmocka_unit_test(test_envelope_rejects_bad_header_fields),
        cmocka_unit_test(test_envelope_rejects_unknown_version_byte),
        cmocka_unit_test(test_envelope_rejects_non_canonical_header),
        cmocka_unit_test(test_envelope_rejects_trailing_garbage),
        cmocka_unit_test(test_envelope_rejects_reordered_chunks),
        cmocka_unit_test(test_envelope_rejects_dropped_final_chunk),
        cmocka_unit_test(test_envelope_rejects_body_of_another_package),
        cmocka_unit_test(test_envelope_open_requires_verify),
        cmocka_unit_test(test_envelope_accessors_return_exact_bytes),
        cmocka_unit_test(test_envelope_seal_rejects_bad_params),
        cmocka_unit_test(test_envelope_seal_sets_header_fields),
        cmocka_unit_test(test_envelope_id_hex_round_trip),
    };

    return cmocka_run_group_tests(tests, s_setup, NULL);
}
