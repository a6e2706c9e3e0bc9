/*
 * test_receipt: the hub's receipts (signed in batches, through the tree
 * head over their leaves) and rejections (signed one by one) — known-
 * answer vectors computed independently (tests/vectors/receipt), round
 * trips, and every way a forged or damaged one must fail: flipped bits in
 * the statement, the path, the head and its signature, another key, a
 * rejection passed off as a receipt (and back), another leaf, truncations,
 * bad sizes.
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
#include "crypto/merkle.h"
#include "crypto/receipt.h"
#include "crypto/sha256.h"
#include "crypto/treehead.h"

#define KAT_PASSPHRASE "csbm known-answer passphrase"

static keys_secret_t *s_key;   /* the KAT signing key */
static char           s_dir[256];

typedef struct {
    uint8_t pk[32];
    uint8_t key_id[16];
    uint8_t rec[512];
    size_t  rec_len;
    uint8_t entry[TREEHEAD_LEAF_PACKAGE_BYTES];
    uint8_t leaf[32], l0[32], l1[32], path[32];
    uint8_t sth[TREEHEAD_MAX_BYTES];
    size_t  sth_len;
    uint8_t sth_sig[64];
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
    s_hex_field((const char *)kat, "receipt_leaf_entry", s_kat.entry,
        TREEHEAD_LEAF_PACKAGE_BYTES, NULL);
    s_hex_field((const char *)kat, "receipt_leaf_hash", s_kat.leaf, 32, NULL);
    s_hex_field((const char *)kat, "log_leaf0_hash", s_kat.l0, 32, NULL);
    s_hex_field((const char *)kat, "log_leaf1_hash", s_kat.l1, 32, NULL);
    s_hex_field((const char *)kat, "receipt_inclusion_path", s_kat.path, 32,
        NULL);
    s_hex_field((const char *)kat, "tree_head", s_kat.sth, sizeof s_kat.sth,
        &s_kat.sth_len);
    s_hex_field((const char *)kat, "tree_head_signature", s_kat.sth_sig, 64,
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
    r->log_index = 2;
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
s_make_receipt(Csbm__Receipt *r, uint8_t statement_hash[32])
{
    Csbm__Signed *s;
    errbuf_t      err = {{0}};

    s = receipt_make(s_key, r, statement_hash, &err);
    assert_non_null(s);
    return s;
}

/* A receipt's log, as the hub builds it: leaves "" and 00, then the
 * receipt's leaf (index 2), under a head the KAT key signs. */
typedef struct {
    Csbm__Signed        *receipt;
    Csbm__Signed        *head;
    Csbm__InclusionProof ip;
    uint8_t              path[32];
} s_log_t;

static void
s_log(s_log_t *l, Csbm__Receipt *r, int64_t ts, const char *origin)
{
    uint8_t     sh[32], leaf[32], l0[32], l1[32];
    treehead_t  th;
    errbuf_t    err = {{0}};

    memset(l, 0, sizeof *l);
    l->receipt = s_make_receipt(r, sh);
    treehead_leaf_package_hash(r->position, (int64_t)r->accepted_at,
        r->envelope_hash.data, sh, leaf);
    merkle_leaf_hash((const uint8_t *)"", 0, l0);
    merkle_leaf_hash((const uint8_t *)"\0", 1, l1);
    merkle_node_hash(l0, l1, l->path);
    memset(&th, 0, sizeof th);
    snprintf(th.origin, sizeof th.origin, "%s", origin);
    th.size = 3;
    merkle_node_hash(l->path, leaf, th.root);
    th.timestamp = ts;
    l->head = treehead_sign(s_key, &th, &err);
    assert_non_null(l->head);
    csbm__inclusion_proof__init(&l->ip);
    l->ip.tree_head = l->head;
    l->ip.leaf_index = r->log_index;
    l->ip.path.data = l->path;
    l->ip.path.len = 32;
}

static void
s_log_default(s_log_t *l)
{
    Csbm__Receipt r;

    s_receipt(&r);
    s_log(l, &r, 1767225600, "OAS-CSBM");
}

static void
s_log_free(s_log_t *l)
{
    receipt_signed_free(l->receipt);
    receipt_signed_free(l->head);
    memset(l, 0, sizeof *l);
}

static int
s_verify(const s_log_t *l, errbuf_t *err)
{
    Csbm__Receipt *r = NULL;
    treehead_t     th;
    int            rc = receipt_verify(l->receipt, &l->ip,
        keys_secret_public(s_key), &r, &th, err);

    if (rc == 0) {
        assert_non_null(r);
        csbm__receipt__free_unpacked(r, NULL);
    } else {
        assert_null(r);
    }
    return rc;
}

/* -------------------------------------------------------------- tests --- */

static void
test_receipt_known_answer_vector(void **state)
{
    Csbm__Receipt    rec;
    Csbm__Signed    *s, head = CSBM__SIGNED__INIT;
    Csbm__InclusionProof ip = CSBM__INCLUSION_PROOF__INIT;
    Csbm__Rejection  rj;
    Csbm__Receipt   *r = NULL;
    Csbm__Rejection *back = NULL;
    treehead_t       th;
    uint8_t          sh[32], entry[TREEHEAD_LEAF_PACKAGE_BYTES], leaf[32];
    uint8_t          l0[32], l1[32], n01[32];
    errbuf_t         err = {{0}};
    s_log_t          l;

    (void)state;
    assert_memory_equal(keys_secret_public(s_key), s_kat.pk, 32);
    /* The statement, carried without a signature of its own. */
    s_receipt(&rec);
    s = s_make_receipt(&rec, sh);
    assert_int_equal(s->statement.len, s_kat.rec_len);
    assert_memory_equal(s->statement.data, s_kat.rec, s_kat.rec_len);
    assert_int_equal(s->signature.len, 0);
    assert_int_equal(s->hub_key_id.len, 16);
    assert_memory_equal(s->hub_key_id.data, s_kat.key_id, 16);
    /* Its leaf binds the statement's SHA-256. */
    treehead_leaf_package(42, 1767225600, s_hash, sh, entry);
    assert_memory_equal(entry, s_kat.entry, sizeof entry);
    assert_int_equal(receipt_parse(s, &r, &err), 0);
    receipt_leaf_hash(s, r, leaf);
    assert_memory_equal(leaf, s_kat.leaf, 32);
    merkle_leaf_hash((const uint8_t *)"", 0, l0);
    merkle_leaf_hash((const uint8_t *)"\0", 1, l1);
    assert_memory_equal(l0, s_kat.l0, 32);
    assert_memory_equal(l1, s_kat.l1, 32);
    merkle_node_hash(l0, l1, n01);
    assert_memory_equal(n01, s_kat.path, 32);
    csbm__receipt__free_unpacked(r, NULL);
    r = NULL;
    /* The head the hub signs over the log of 3 leaves, byte for byte
     * (Ed25519 is deterministic). */
    s_log_default(&l);
    assert_int_equal(l.head->statement.len, s_kat.sth_len);
    assert_memory_equal(l.head->statement.data, s_kat.sth, s_kat.sth_len);
    assert_memory_equal(l.head->signature.data, s_kat.sth_sig, 64);
    s_log_free(&l);
    /* The vector's own bytes verify. */
    head.statement.data = s_kat.sth;
    head.statement.len = s_kat.sth_len;
    head.signature.data = s_kat.sth_sig;
    head.signature.len = 64;
    head.hub_key_id.data = s_kat.key_id;
    head.hub_key_id.len = 16;
    ip.tree_head = &head;
    ip.leaf_index = 2;
    ip.path.data = s_kat.path;
    ip.path.len = 32;
    assert_int_equal(receipt_verify(s, &ip, s_kat.pk, &r, &th, &err), 0);
    assert_string_equal(r->federation, "OAS-CSBM");
    assert_string_equal(r->sender, "ARG");
    assert_int_equal(r->sequence, 7);
    assert_int_equal(r->position, 42);
    assert_int_equal(r->accepted_at, 1767225600);
    assert_int_equal(r->log_index, 2);
    assert_memory_equal(r->package_id.data, s_id, 16);
    assert_memory_equal(r->envelope_hash.data, s_hash, 32);
    assert_int_equal(th.size, 3);
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
    s_log_t               l;
    Csbm__Signed         *copy;
    Csbm__InclusionProof *ipc;
    Csbm__Receipt        *r = NULL;
    treehead_t            th;
    uint8_t               buf[2048];
    size_t                len;
    errbuf_t              err = {{0}};

    (void)state;
    s_log_default(&l);
    len = csbm__signed__get_packed_size(l.receipt);
    assert_true(len < sizeof buf);
    csbm__signed__pack(l.receipt, buf);
    copy = csbm__signed__unpack(NULL, len, buf);
    assert_non_null(copy);
    len = csbm__inclusion_proof__get_packed_size(&l.ip);
    assert_true(len < sizeof buf);
    csbm__inclusion_proof__pack(&l.ip, buf);
    ipc = csbm__inclusion_proof__unpack(NULL, len, buf);
    assert_non_null(ipc);
    assert_int_equal(receipt_verify(copy, ipc, keys_secret_public(s_key), &r,
                         &th, &err), 0);
    assert_int_equal(r->position, 42);
    csbm__receipt__free_unpacked(r, NULL);
    csbm__inclusion_proof__free_unpacked(ipc, NULL);
    csbm__signed__free_unpacked(copy, NULL);
    s_log_free(&l);
}

/* The statement is signed through the leaf: no bit of it may change. */
static void
test_receipt_rejects_every_flipped_statement_bit(void **state)
{
    s_log_t  l;
    errbuf_t err = {{0}};
    size_t   i;
    int      bit;

    (void)state;
    s_log_default(&l);
    for (i = 0; i < l.receipt->statement.len; i++) {
        for (bit = 0; bit < 8; bit++) {
            l.receipt->statement.data[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(s_verify(&l, &err), -1);
            l.receipt->statement.data[i] ^= (uint8_t)(1u << bit);
        }
    }
    assert_int_equal(s_verify(&l, &err), 0);
    s_log_free(&l);
}

static void
test_receipt_rejects_every_flipped_proof_and_head_bit(void **state)
{
    s_log_t  l;
    errbuf_t err = {{0}};
    size_t   i;
    int      bit;

    (void)state;
    s_log_default(&l);
    for (i = 0; i < sizeof l.path; i++)
        for (bit = 0; bit < 8; bit++) {
            l.path[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(s_verify(&l, &err), -1);
            l.path[i] ^= (uint8_t)(1u << bit);
        }
    for (i = 0; i < l.head->signature.len; i++)
        for (bit = 0; bit < 8; bit++) {
            l.head->signature.data[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(s_verify(&l, &err), -1);
            l.head->signature.data[i] ^= (uint8_t)(1u << bit);
        }
    for (i = 0; i < l.head->statement.len; i++)
        for (bit = 0; bit < 8; bit++) {
            l.head->statement.data[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(s_verify(&l, &err), -1);
            l.head->statement.data[i] ^= (uint8_t)(1u << bit);
        }
    assert_int_equal(s_verify(&l, &err), 0);
    s_log_free(&l);
}

/* The forged receipt: a statement the hub never put in its log, with the
 * proof of a real one; and a real receipt under a head of another key. */
static void
test_receipt_rejects_forgery_and_another_hub_key(void **state)
{
    s_log_t        l;
    Csbm__Receipt  r, *back = NULL;
    Csbm__Signed  *forged;
    treehead_t     th;
    errbuf_t       err = {{0}};
    uint8_t        pk[32], sk[64], sh[32];

    (void)state;
    s_log_default(&l);
    s_receipt(&r);
    r.position = 43; /* a better position, say */
    forged = s_make_receipt(&r, sh);
    assert_int_equal(receipt_verify(forged, &l.ip, keys_secret_public(s_key),
                         &back, &th, &err), -1);
    assert_non_null(strstr(err.msg, "inclusion"));
    assert_null(back);
    receipt_signed_free(forged);

    crypto_sign_keypair(pk, sk);
    sodium_memzero(sk, sizeof sk);
    assert_int_equal(receipt_verify(l.receipt, &l.ip, pk, &back, &th, &err),
        -1);
    assert_non_null(strstr(err.msg, "tree head"));
    assert_null(back);
    s_log_free(&l);
}

/* A receipt counts for its own leaf only. */
static void
test_receipt_rejects_another_leaf_index(void **state)
{
    s_log_t       l;
    Csbm__Receipt r;
    errbuf_t      err = {{0}};

    (void)state;
    s_log_default(&l);
    l.ip.leaf_index = 1;
    assert_int_equal(s_verify(&l, &err), -1);
    assert_non_null(strstr(err.msg, "leaf"));
    s_log_free(&l);
    /* A receipt naming leaf 1, put at leaf 2 of the log: refused. */
    s_receipt(&r);
    r.log_index = 1;
    s_log(&l, &r, 1767225600, "OAS-CSBM");
    l.ip.leaf_index = 2;
    assert_int_equal(s_verify(&l, &err), -1);
    l.ip.leaf_index = 1;
    assert_int_equal(s_verify(&l, &err), -1);
    s_log_free(&l);
    {
        Csbm__Receipt *none = NULL;
        treehead_t     th;
        assert_int_equal(receipt_verify(NULL, NULL, keys_secret_public(s_key),
                             &none, &th, &err), -1);
        assert_null(none);
    }
}

static void
test_receipt_rejects_head_of_another_log_or_older(void **state)
{
    s_log_t       l;
    Csbm__Receipt r;
    errbuf_t      err = {{0}};

    (void)state;
    s_receipt(&r);
    s_log(&l, &r, 1767225600, "OTHER-FED");
    assert_int_equal(s_verify(&l, &err), -1);
    assert_non_null(strstr(err.msg, "OTHER-FED"));
    s_log_free(&l);
    s_log(&l, &r, 1767225599, "OAS-CSBM");
    assert_int_equal(s_verify(&l, &err), -1);
    assert_non_null(strstr(err.msg, "older"));
    s_log_free(&l);
    s_log(&l, &r, 1767225601, "OAS-CSBM");
    assert_int_equal(s_verify(&l, &err), 0);
    l.ip.tree_head = NULL;
    assert_int_equal(s_verify(&l, &err), -1);
    s_log_free(&l);
}

static void
test_receipt_rejection_is_not_a_receipt(void **state)
{
    Csbm__Rejection  rj;
    Csbm__Signed    *s, *saved;
    Csbm__Rejection *back = NULL;
    errbuf_t         err = {{0}};
    s_log_t          l;

    (void)state;
    s_log_default(&l);
    s_rejection(&rj);
    s = receipt_sign_rejection(s_key, &rj, &err);
    assert_non_null(s);
    /* Protobuf would parse a Rejection as a Receipt; its leaf is not in
     * the log. */
    saved = l.receipt;
    l.receipt = s;
    assert_int_equal(s_verify(&l, &err), -1);
    l.receipt = saved;
    receipt_signed_free(s);
    /* A receipt has no signature to pass as a rejection's. */
    assert_int_equal(receipt_verify_rejection(l.receipt,
                         keys_secret_public(s_key), &back, &err), -1);
    assert_null(back);
    /* Nor may a tree head pass as a rejection. */
    assert_int_equal(receipt_verify_rejection(l.head,
                         keys_secret_public(s_key), &back, &err), -1);
    assert_null(back);
    s_log_free(&l);
}

static void
test_receipt_rejects_truncations(void **state)
{
    s_log_t  l;
    errbuf_t err = {{0}};
    uint8_t  buf[1024];
    size_t   len, cut, full = 0;

    (void)state;
    s_log_default(&l);
    full = l.receipt->statement.len;
    for (cut = 0; cut < full; cut++) {
        l.receipt->statement.len = cut;
        assert_int_equal(s_verify(&l, &err), -1);
    }
    l.receipt->statement.len = full;
    for (cut = 0; cut < 32; cut++) {
        l.ip.path.len = cut;
        assert_int_equal(s_verify(&l, &err), -1);
    }
    l.ip.path.len = 32;
    for (cut = 0; cut < 16; cut++) {
        l.receipt->hub_key_id.len = cut;
        assert_int_equal(s_verify(&l, &err), -1);
    }
    l.receipt->hub_key_id.len = 16;
    /* Every truncation of the serialized receipt that still parses. */
    len = csbm__signed__get_packed_size(l.receipt);
    assert_true(len < sizeof buf);
    csbm__signed__pack(l.receipt, buf);
    for (cut = 0; cut < len; cut++) {
        Csbm__Signed *t = csbm__signed__unpack(NULL, cut, buf), *saved;
        if (t == NULL)
            continue;
        saved = l.receipt;
        l.receipt = t;
        assert_int_equal(s_verify(&l, &err), -1);
        l.receipt = saved;
        csbm__signed__free_unpacked(t, NULL);
    }
    assert_int_equal(s_verify(&l, &err), 0);
    s_log_free(&l);
}

static void
test_receipt_rejects_hostile_sizes(void **state)
{
    s_log_t  l;
    errbuf_t err = {{0}};
    uint8_t *big = calloc(1, RECEIPT_MAX_STATEMENT + 2 + 65 * 32);
    uint8_t *saved;
    size_t   saved_len;

    (void)state;
    assert_non_null(big);
    s_log_default(&l);
    saved = l.receipt->statement.data;
    saved_len = l.receipt->statement.len;
    l.receipt->statement.data = big;
    l.receipt->statement.len = RECEIPT_MAX_STATEMENT + 1;
    assert_int_equal(s_verify(&l, &err), -1);
    assert_non_null(strstr(err.msg, "statement"));
    l.receipt->statement.data = saved;
    l.receipt->statement.len = saved_len;
    /* A path that is not whole hashes, or longer than any tree's. */
    l.ip.path.data = big;
    l.ip.path.len = 33;
    assert_int_equal(s_verify(&l, &err), -1);
    l.ip.path.len = 65 * 32;
    assert_int_equal(s_verify(&l, &err), -1);
    free(big);
    s_log_free(&l);
}

static void
test_receipt_refuses_incomplete_statement(void **state)
{
    Csbm__Receipt r;
    Csbm__Receipt *back = NULL;
    Csbm__Signed *s;
    uint8_t       sh[32];
    errbuf_t      err = {{0}};

    (void)state;
    s_receipt(&r);
    r.package_id.len = 15;
    s = s_make_receipt(&r, sh);
    assert_int_equal(receipt_parse(s, &back, &err), -1);
    assert_non_null(strstr(err.msg, "incomplete"));
    assert_null(back);
    receipt_signed_free(s);

    s_receipt(&r);
    r.position = 0;
    s = s_make_receipt(&r, sh);
    assert_int_equal(receipt_parse(s, &back, &err), -1);
    receipt_signed_free(s);

    /* What receipt_make reports as the statement's hash is its SHA-256. */
    s_receipt(&r);
    s = s_make_receipt(&r, sh);
    {
        uint8_t want[32];
        sha256(s->statement.data, s->statement.len, want);
        assert_memory_equal(sh, want, 32);
    }
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
        cmocka_unit_test(test_receipt_rejects_every_flipped_proof_and_head_bit),
        cmocka_unit_test(test_receipt_rejects_forgery_and_another_hub_key),
        cmocka_unit_test(test_receipt_rejects_another_leaf_index),
        cmocka_unit_test(test_receipt_rejects_head_of_another_log_or_older),
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
