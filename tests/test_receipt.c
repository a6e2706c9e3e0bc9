/*
 * test_receipt: the hub's signed receipts and rejections — known-answer
 * vectors, round trips, and every way a forged or damaged statement must
 * fail: flipped bits in the statement and the signature, another key, a
 * rejection passed off as a receipt (and back), truncations, bad sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/fileio.h"
#include "crypto/receipt.h"

#define KAT_PASSPHRASE "csbm known-answer passphrase"

static keys_secret_t *s_key;   /* the KAT signing key */
static char           s_dir[256];

typedef struct {
    uint8_t pk[32];
    uint8_t key_id[16];
    uint8_t rec[512];
    size_t  rec_len;
    uint8_t rec_sig[64];
    uint8_t rej[512];
    size_t  rej_len;
    uint8_t rej_sig[64];
} kat_t;

static kat_t s_kat;

static void
s_hex_field(const char *text, const char *name, uint8_t *out, size_t cap,
    size_t *len)
{
    char        key[64];
    const char *p, *end;
    size_t      n = 0;

    snprintf(key, sizeof key, "\n%s=", name);
    p = strstr(text, key);
    assert_non_null(p);
    p += strlen(key);
    end = strchr(p, '\n');
    assert_non_null(end);
    assert_int_equal(sodium_hex2bin(out, cap, p, (size_t)(end - p), NULL, &n,
                         NULL), 0);
    if (len != NULL)
        *len = n;
    else
        assert_int_equal(n, cap);
}

static int
s_setup(void **state)
{
    char     path[512], src[512];
    uint8_t *buf = NULL, *kat = NULL;
    size_t   len = 0, kat_len = 0;
    errbuf_t err = {{0}};
    const char *root = getenv("CSBM_SOURCE_DIR");

    (void)state;
    if (sodium_init() < 0 || root == NULL)
        return -1;
    snprintf(s_dir, sizeof s_dir, "/tmp/csbm-receipt-XXXXXX");
    if (mkdtemp(s_dir) == NULL)
        return -1;
    snprintf(src, sizeof src, "%s/tests/vectors/keys/KAT.sign.key", root);
    snprintf(path, sizeof path, "%s/KAT.sign.key", s_dir);
    if (fileio_read(src, 4096, &buf, &len, &err) != 0
        || fileio_write(path, buf, len, 0600, 1, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        free(buf);
        return -1;
    }
    free(buf);
    s_key = keys_secret_load(path, KEYS_SIGN, KAT_PASSPHRASE,
        strlen(KAT_PASSPHRASE), &err);
    if (s_key == NULL) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    snprintf(src, sizeof src, "%s/tests/vectors/receipt/receipt.kat", root);
    if (fileio_read(src, 65536, &kat, &kat_len, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    s_hex_field((const char *)kat, "hub_sign_pk", s_kat.pk, 32, NULL);
    s_hex_field((const char *)kat, "hub_key_id", s_kat.key_id, 16, NULL);
    s_hex_field((const char *)kat, "receipt_statement", s_kat.rec,
        sizeof s_kat.rec, &s_kat.rec_len);
    s_hex_field((const char *)kat, "receipt_signature", s_kat.rec_sig, 64,
        NULL);
    s_hex_field((const char *)kat, "rejection_statement", s_kat.rej,
        sizeof s_kat.rej, &s_kat.rej_len);
    s_hex_field((const char *)kat, "rejection_signature", s_kat.rej_sig, 64,
        NULL);
    free(kat);
    return 0;
}

static int
s_teardown(void **state)
{
    char path[512];

    (void)state;
    keys_secret_destroy(&s_key);
    snprintf(path, sizeof path, "%s/KAT.sign.key", s_dir);
    unlink(path);
    rmdir(s_dir);
    return 0;
}

static uint8_t s_id[16], s_hash[32];

static void
s_receipt(Csbm__Receipt *r)
{
    size_t i;

    for (i = 0; i < 16; i++)
        s_id[i] = (uint8_t)i;
    for (i = 0; i < 32; i++)
        s_hash[i] = (uint8_t)(0x20 + i);
    csbm__receipt__init(r);
    r->federation = (char *)(uintptr_t) "OAS-CSBM";
    r->package_id.data = s_id;
    r->package_id.len = 16;
    r->sender = (char *)(uintptr_t) "ARG";
    r->sequence = 7;
    r->envelope_hash.data = s_hash;
    r->envelope_hash.len = 32;
    r->position = 42;
    r->accepted_at = 1767225600;
}

static void
s_rejection(Csbm__Rejection *r)
{
    s_receipt(&(Csbm__Receipt){0}); /* fills s_id, s_hash */
    csbm__rejection__init(r);
    r->federation = (char *)(uintptr_t) "OAS-CSBM";
    r->package_id.data = s_id;
    r->package_id.len = 16;
    r->sender = (char *)(uintptr_t) "CHL";
    r->envelope_hash.data = s_hash;
    r->envelope_hash.len = 32;
    r->reason = CSBM__REASON_CODE__REASON_REPLAY;
    r->message = (char *)(uintptr_t) "package id reused";
    r->rejected_at = 1767225600;
}

static Csbm__Signed *
s_sign_receipt(void)
{
    Csbm__Receipt r;
    Csbm__Signed *s;
    errbuf_t      err = {{0}};

    s_receipt(&r);
    s = receipt_sign(s_key, &r, &err);
    assert_non_null(s);
    return s;
}

/* -------------------------------------------------------------- tests --- */

static void
test_receipt_known_answer_vector(void **state)
{
    Csbm__Signed    *s;
    Csbm__Rejection  rj;
    Csbm__Receipt   *r = NULL;
    Csbm__Rejection *back = NULL;
    errbuf_t         err = {{0}};

    (void)state;
    assert_memory_equal(keys_secret_public(s_key), s_kat.pk, 32);
    s = s_sign_receipt();
    assert_int_equal(s->statement.len, s_kat.rec_len);
    assert_memory_equal(s->statement.data, s_kat.rec, s_kat.rec_len);
    assert_int_equal(s->signature.len, 64);
    assert_memory_equal(s->signature.data, s_kat.rec_sig, 64);
    assert_int_equal(s->hub_key_id.len, 16);
    assert_memory_equal(s->hub_key_id.data, s_kat.key_id, 16);
    assert_int_equal(receipt_verify(s, s_kat.pk, &r, &err), 0);
    assert_string_equal(r->federation, "OAS-CSBM");
    assert_string_equal(r->sender, "ARG");
    assert_int_equal(r->sequence, 7);
    assert_int_equal(r->position, 42);
    assert_int_equal(r->accepted_at, 1767225600);
    assert_memory_equal(r->package_id.data, s_id, 16);
    assert_memory_equal(r->envelope_hash.data, s_hash, 32);
    csbm__receipt__free_unpacked(r, NULL);
    receipt_signed_free(s);

    s_rejection(&rj);
    s = receipt_sign_rejection(s_key, &rj, &err);
    assert_non_null(s);
    assert_int_equal(s->statement.len, s_kat.rej_len);
    assert_memory_equal(s->statement.data, s_kat.rej, s_kat.rej_len);
    assert_memory_equal(s->signature.data, s_kat.rej_sig, 64);
    assert_int_equal(receipt_verify_rejection(s, s_kat.pk, &back, &err), 0);
    assert_int_equal(back->reason, CSBM__REASON_CODE__REASON_REPLAY);
    assert_string_equal(back->message, "package id reused");
    assert_string_equal(back->sender, "CHL");
    csbm__rejection__free_unpacked(back, NULL);
    receipt_signed_free(s);
}

static void
test_receipt_survives_serialization(void **state)
{
    Csbm__Signed  *s = s_sign_receipt(), *copy;
    Csbm__Receipt *r = NULL;
    uint8_t        buf[1024];
    size_t         len;
    errbuf_t       err = {{0}};

    (void)state;
    len = csbm__signed__get_packed_size(s);
    assert_true(len < sizeof buf);
    csbm__signed__pack(s, buf);
    copy = csbm__signed__unpack(NULL, len, buf);
    assert_non_null(copy);
    assert_int_equal(receipt_verify(copy, keys_secret_public(s_key), &r, &err),
        0);
    assert_int_equal(r->position, 42);
    csbm__receipt__free_unpacked(r, NULL);
    csbm__signed__free_unpacked(copy, NULL);
    receipt_signed_free(s);
}

static void
test_receipt_rejects_every_flipped_statement_bit(void **state)
{
    Csbm__Signed  *s = s_sign_receipt();
    Csbm__Receipt *r = NULL;
    errbuf_t       err = {{0}};
    size_t         i;
    int            bit;

    (void)state;
    for (i = 0; i < s->statement.len; i++) {
        for (bit = 0; bit < 8; bit++) {
            s->statement.data[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(receipt_verify(s, keys_secret_public(s_key), &r,
                                 &err), -1);
            assert_null(r);
            s->statement.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(receipt_verify(s, keys_secret_public(s_key), &r, &err),
        0);
    csbm__receipt__free_unpacked(r, NULL);
    receipt_signed_free(s);
}

static void
test_receipt_rejects_every_flipped_signature_bit(void **state)
{
    Csbm__Signed  *s = s_sign_receipt();
    Csbm__Receipt *r = NULL;
    errbuf_t       err = {{0}};
    size_t         i;
    int            bit;

    (void)state;
    for (i = 0; i < s->signature.len; i++) {
        for (bit = 0; bit < 8; bit++) {
            s->signature.data[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(receipt_verify(s, keys_secret_public(s_key), &r,
                                 &err), -1);
            assert_null(r);
            s->signature.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    receipt_signed_free(s);
}

static void
test_receipt_rejects_another_hub_key(void **state)
{
    Csbm__Signed  *s = s_sign_receipt();
    Csbm__Receipt *r = NULL;
    errbuf_t       err = {{0}};
    uint8_t        pk[32], sk[64], id[16];

    (void)state;
    crypto_sign_keypair(pk, sk);
    sodium_memzero(sk, sizeof sk);
    /* The key id names the other key: refused before the signature. */
    assert_int_equal(receipt_verify(s, pk, &r, &err), -1);
    assert_non_null(strstr(err.msg, "hub key"));
    /* A forger who also rewrites the key id still fails on the signature. */
    keys_id(pk, id);
    memcpy(s->hub_key_id.data, id, 16);
    assert_int_equal(receipt_verify(s, pk, &r, &err), -1);
    assert_non_null(strstr(err.msg, "does not verify"));
    assert_null(r);
    receipt_signed_free(s);
}

static void
test_receipt_rejection_is_not_a_receipt(void **state)
{
    Csbm__Rejection  rj;
    Csbm__Signed    *s;
    Csbm__Receipt   *r = NULL;
    Csbm__Rejection *back = NULL;
    errbuf_t         err = {{0}};

    (void)state;
    s_rejection(&rj);
    s = receipt_sign_rejection(s_key, &rj, &err);
    assert_non_null(s);
    /* Protobuf would parse a Rejection as a Receipt; the label stops it. */
    assert_int_equal(receipt_verify(s, keys_secret_public(s_key), &r, &err),
        -1);
    assert_null(r);
    receipt_signed_free(s);

    s = s_sign_receipt();
    assert_int_equal(receipt_verify_rejection(s, keys_secret_public(s_key),
                         &back, &err), -1);
    assert_null(back);
    receipt_signed_free(s);
}

static void
test_receipt_rejects_truncations(void **state)
{
    Csbm__Signed  *s = s_sign_receipt();
    Csbm__Receipt *r = NULL;
    errbuf_t       err = {{0}};
    uint8_t        buf[1024];
    size_t         len, cut, full_stmt = s->statement.len;

    (void)state;
    /* Every shorter statement. */
    for (cut = 0; cut < full_stmt; cut++) {
        s->statement.len = cut;
        assert_int_equal(receipt_verify(s, keys_secret_public(s_key), &r,
                             &err), -1);
    }
    s->statement.len = full_stmt;
    /* Every shorter signature and key id. */
    for (cut = 0; cut < 64; cut++) {
        s->signature.len = cut;
        assert_int_equal(receipt_verify(s, keys_secret_public(s_key), &r,
                             &err), -1);
    }
    s->signature.len = 64;
    for (cut = 0; cut < 16; cut++) {
        s->hub_key_id.len = cut;
        assert_int_equal(receipt_verify(s, keys_secret_public(s_key), &r,
                             &err), -1);
    }
    s->hub_key_id.len = 16;
    /* Every truncation of the serialized Signed that still parses. */
    len = csbm__signed__get_packed_size(s);
    csbm__signed__pack(s, buf);
    for (cut = 0; cut < len; cut++) {
        Csbm__Signed *t = csbm__signed__unpack(NULL, cut, buf);
        if (t == NULL)
            continue;
        assert_int_equal(receipt_verify(t, keys_secret_public(s_key), &r,
                             &err), -1);
        assert_null(r);
        csbm__signed__free_unpacked(t, NULL);
    }
    assert_int_equal(receipt_verify(NULL, keys_secret_public(s_key), &r,
                         &err), -1);
    receipt_signed_free(s);
}

static void
test_receipt_rejects_hostile_sizes(void **state)
{
    Csbm__Signed  *s = s_sign_receipt();
    Csbm__Receipt *r = NULL;
    errbuf_t       err = {{0}};
    uint8_t       *big = calloc(1, RECEIPT_MAX_STATEMENT + 2);
    uint8_t       *saved = s->statement.data;
    size_t         saved_len = s->statement.len;

    (void)state;
    assert_non_null(big);
    s->statement.data = big;
    s->statement.len = RECEIPT_MAX_STATEMENT + 1;
    assert_int_equal(receipt_verify(s, keys_secret_public(s_key), &r, &err),
        -1);
    assert_non_null(strstr(err.msg, "statement"));
    s->statement.data = saved;
    s->statement.len = saved_len;
    free(big);
    receipt_signed_free(s);
}

static void
test_receipt_refuses_incomplete_statement(void **state)
{
    Csbm__Receipt r;
    Csbm__Receipt *back = NULL;
    Csbm__Signed *s;
    errbuf_t      err = {{0}};

    (void)state;
    s_receipt(&r);
    r.package_id.len = 15; /* signed by the hub, but not a valid receipt */
    s = receipt_sign(s_key, &r, &err);
    assert_non_null(s);
    assert_int_equal(receipt_verify(s, keys_secret_public(s_key), &back,
                         &err), -1);
    assert_non_null(strstr(err.msg, "incomplete"));
    receipt_signed_free(s);

    s_receipt(&r);
    r.position = 0;
    s = receipt_sign(s_key, &r, &err);
    assert_non_null(s);
    assert_int_equal(receipt_verify(s, keys_secret_public(s_key), &back,
                         &err), -1);
    receipt_signed_free(s);
}

static void
test_receipt_sign_refuses_oversized_statement(void **state)
{
    Csbm__Rejection rj;
    char           *msg = malloc(RECEIPT_MAX_STATEMENT + 1);
    errbuf_t        err = {{0}};

    (void)state;
    assert_non_null(msg);
    memset(msg, 'x', RECEIPT_MAX_STATEMENT);
    msg[RECEIPT_MAX_STATEMENT] = '\0';
    s_rejection(&rj);
    rj.message = msg;
    assert_null(receipt_sign_rejection(s_key, &rj, &err));
    assert_non_null(strstr(err.msg, "limit"));
    free(msg);
}

static void
test_receipt_envelope_hash_is_sha256(void **state)
{
    /* SHA-256("abc"), FIPS 180-2 appendix B.1. */
    static const uint8_t want[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01,
        0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0,
        0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
        0xf2, 0x00, 0x15, 0xad};
    uint8_t out[32];

    (void)state;
    receipt_envelope_hash((const uint8_t *)"abc", 3, out);
    assert_memory_equal(out, want, 32);
}

static void
test_receipt_reason_names(void **state)
{
    (void)state;
    assert_string_equal(receipt_reason_name(CSBM__REASON_CODE__REASON_REPLAY),
        "REASON_REPLAY");
    assert_string_equal(receipt_reason_name(0), "REASON_NONE");
    assert_string_equal(receipt_reason_name(9999), "REASON_UNKNOWN");
    assert_string_equal(receipt_reason_name(-1), "REASON_UNKNOWN");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_receipt_known_answer_vector),
        cmocka_unit_test(test_receipt_survives_serialization),
        cmocka_unit_test(test_receipt_rejects_every_flipped_statement_bit),
        cmocka_unit_test(test_receipt_rejects_every_flipped_signature_bit),
        cmocka_unit_test(test_receipt_rejects_another_hub_key),
        cmocka_unit_test(test_receipt_rejection_is_not_a_receipt),
        cmocka_unit_test(test_receipt_rejects_truncations),
        cmocka_unit_test(test_receipt_rejects_hostile_sizes),
        cmocka_unit_test(test_receipt_refuses_incomplete_statement),
        cmocka_unit_test(test_receipt_sign_refuses_oversized_statement),
        cmocka_unit_test(test_receipt_envelope_hash_is_sha256),
        cmocka_unit_test(test_receipt_reason_names),
    };

    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
