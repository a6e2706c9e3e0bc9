/*
 * test_merkle: tree hashing, frontier, proof generation and verification.
 *
 * Three independent sources of truth are checked against each other:
 *   - the published RFC 6962 test vectors (the eight leaves used by
 *     Certificate Transparency implementations), typed in below;
 *   - a reference written here straight from the recursive definitions of
 *     RFC 6962 section 2.1 (MTH, PATH, SUBPROOF), sharing no code with the
 *     library's iterative versions;
 *   - the vector files in tests/vectors/merkle/ (format in the README
 *     there), which pin every root and proof for sizes 0..64, 100 and 1000.
 * The library's verifiers (RFC 9162 bit-walking algorithms) must accept
 * everything the generators produce and reject every mutation of it.
 *
 * Set CSBM_REGEN_VECTORS=1 to rewrite the vector files from the code; the
 * test still checks the rewritten files against the RFC vectors, so a
 * generator that drifts cannot silently rewrite them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/fileio.h"
#include "crypto/merkle.h"

#define H           MERKLE_HASH_BYTES
#define N_LEAVES    1000 /* leaves behind the vector files */
#define VEC_DIR     "tests/vectors/merkle"
#define VEC_MAX     (16u * 1024 * 1024)
#define MUTATE_UPTO 32 /* sizes whose proofs get every mutation */
#define EVERY_BIT   16 /* sizes whose proofs get every bit flipped */

typedef uint8_t hash_t[H];

/* ------------------------------------------------------------------ */
/* RFC 6962 test vectors (certificate-transparency, transparency-dev) */

static const char *const s_rfc_entries[8] = {
    "",
    "00",
    "10",
    "2021",
    "3031",
    "40414243",
    "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
};

/* Roots for sizes 0..8. */
static const char *const s_rfc_roots[9] = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

typedef struct {
    uint64_t    a, b; /* index and size, or old and new size */
    size_t      n;
    const char *hash[3];
} rfc_proof_t;

static const rfc_proof_t s_rfc_inclusion[] = {
    {0, 1, 0, {NULL}},
    {0, 8, 3,
        {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5, 8, 3,
        {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, 1,
        {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1, 5, 3,
        {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
};

static const rfc_proof_t s_rfc_consistency[] = {
    {1, 1, 0, {NULL}},
    {1, 8, 3,
        {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8, 3,
        {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5, 2,
        {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6, 7, 3,
        {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

/* ------------------------------------------------------------------ */
/* Fixture: the vector leaves. Entries 0..7 are the RFC 6962 ones; entry
 * i >= 8 is i as 8 bytes, big-endian. */

static uint8_t s_entry[N_LEAVES][16];
static size_t  s_entry_len[N_LEAVES];
static hash_t  s_leaf[N_LEAVES];
static hash_t  s_root[N_LEAVES + 1]; /* reference roots, sizes 0..1000 */
/* Perfect subtree roots of the pattern tree (see s_pat_root). */
static hash_t  s_pat_perfect[64];

static void
s_unhex(const char *hex, uint8_t *out, size_t cap, size_t *len)
{
    size_t n = strlen(hex);

    assert_int_equal(n % 2, 0);
    assert_true(n / 2 <= cap);
    assert_int_equal(sodium_hex2bin(out, cap, hex, n, NULL, len, NULL), 0);
    assert_int_equal(*len, n / 2);
}

static void
s_unhex_hash(const char *hex, uint8_t out[H])
{
    size_t len;

    s_unhex(hex, out, H, &len);
    assert_int_equal(len, H);
}

static void
s_assert_hash_hex(const uint8_t h[H], const char *hex)
{
    char got[2 * H + 1];

    sodium_bin2hex(got, sizeof got, h, H);
    assert_string_equal(got, hex);
}

/* ------------------------------------------------------------------ */
/* Reference, written from RFC 6962 section 2.1 without the library */

typedef void (*range_root_fn)(const void *tree, uint64_t lo, uint64_t n,
    uint8_t out[H]);

static void
s_sha256(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    const uint8_t *c, size_t clen, uint8_t out[H])
{
    crypto_hash_sha256_state st;

    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, a, alen);
    crypto_hash_sha256_update(&st, b, blen);
    crypto_hash_sha256_update(&st, c, clen);
    crypto_hash_sha256_final(&st, out);
}

static void
s_ref_node(const uint8_t l[H], const uint8_t r[H], uint8_t out[H])
{
    const uint8_t one = 1;

    s_sha256(&one, 1, l, H, r, H, out);
}

static uint64_t
s_ref_k(uint64_t n)
{
    uint64_t k = 1;

    while (k < n - k) /* k < n / 2 without overflow: k * 2 < n */
        k <<= 1;
    return k;
}

/* MTH(D[lo:lo+n]) of an array of leaf hashes. */
static void
s_ref_mth(const void *tree, uint64_t lo, uint64_t n, uint8_t out[H])
{
    const hash_t *d = tree;
    uint8_t       l[H], r[H];
    uint64_t      k;

    if (n == 0) {
        crypto_hash_sha256(out, (const uint8_t *)"", 0);
        return;
    }
    if (n == 1) {
        memcpy(out, d[lo], H);
        return;
    }
    k = s_ref_k(n);
    s_ref_mth(tree, lo, k, l);
    s_ref_mth(tree, lo + k, n - k, r);
    s_ref_node(l, r, out);
}

/* PATH(m, D[lo:lo+n]), appended to out; returns the count. */
static size_t
s_ref_path(range_root_fn root, const void *tree, uint64_t m, uint64_t lo,
    uint64_t n, hash_t *out)
{
    uint64_t k;
    size_t   c;

    if (n == 1)
        return 0;
    k = s_ref_k(n);
    if (m < k) {
        c = s_ref_path(root, tree, m, lo, k, out);
        root(tree, lo + k, n - k, out[c]);
    } else {
        c = s_ref_path(root, tree, m - k, lo + k, n - k, out);
        root(tree, lo, k, out[c]);
    }
    return c + 1;
}

/* SUBPROOF(m, D[lo:lo+n], b). */
static size_t
s_ref_subproof(range_root_fn root, const void *tree, uint64_t m, uint64_t lo,
    uint64_t n, int b, hash_t *out)
{
    uint64_t k;
    size_t   c;

    if (m == n) {
        if (b)
            return 0;
        root(tree, lo, n, out[0]);
        return 1;
    }
    k = s_ref_k(n);
    if (m <= k) {
        c = s_ref_subproof(root, tree, m, lo, k, b, out);
        root(tree, lo + k, n - k, out[c]);
    } else {
        c = s_ref_subproof(root, tree, m - k, lo + k, n - k, 0, out);
        root(tree, lo, k, out[c]);
    }
    return c + 1;
}

/* PROOF(m, D[n]): SUBPROOF(m, D[n], true) for 0 < m < n, else empty. */
static size_t
s_ref_consistency(range_root_fn root, const void *tree, uint64_t m,
    uint64_t n, hash_t *out)
{
    if (m == 0 || m == n)
        return 0;
    return s_ref_subproof(root, tree, m, 0, n, 1, out);
}

/* ------------------------------------------------------------------ */
/* Leaf source for the library's generators */

typedef struct {
    const hash_t *leaves;
    uint64_t      n;
    uint64_t      reads;
    uint64_t      fail_at;
} source_t;

static int
s_read_leaf(void *ctx, uint64_t index, uint8_t out[H])
{
    source_t *src = ctx;

    src->reads++;
    if (index >= src->n || index == src->fail_at)
        return -1;
    memcpy(out, src->leaves[index], H);
    return 0;
}

static source_t
s_source(void)
{
    source_t src = {s_leaf, N_LEAVES, 0, UINT64_MAX};

    return src;
}

static size_t
s_lib_inclusion(uint64_t index, uint64_t size, hash_t *proof)
{
    source_t src = s_source();
    errbuf_t err = {{0}};
    size_t   n = 999;

    if (merkle_inclusion_proof(s_read_leaf, &src, index, size, proof, &n,
            &err) != 0)
        fail_msg("inclusion proof %" PRIu64 "/%" PRIu64 ": %s", index, size,
            err.msg);
    assert_true(n <= MERKLE_MAX_PROOF);
    return n;
}

static size_t
s_lib_consistency(uint64_t old_size, uint64_t new_size, hash_t *proof)
{
    source_t src = s_source();
    errbuf_t err = {{0}};
    size_t   n = 999;

    if (merkle_consistency_proof(s_read_leaf, &src, old_size, new_size,
            proof, &n, &err) != 0)
        fail_msg("consistency proof %" PRIu64 "->%" PRIu64 ": %s", old_size,
            new_size, err.msg);
    assert_true(n <= MERKLE_MAX_PROOF);
    return n;
}

static int
s_setup(void **state)
{
    size_t i, j;

    (void)state;
    if (sodium_init() < 0)
        return -1;
    for (i = 0; i < N_LEAVES; i++) {
        if (i < 8) {
            s_unhex(s_rfc_entries[i], s_entry[i], sizeof s_entry[i],
                &s_entry_len[i]);
        } else {
            for (j = 0; j < 8; j++)
                s_entry[i][j] = (uint8_t)((uint64_t)i >> (56 - 8 * j));
            s_entry_len[i] = 8;
        }
        merkle_leaf_hash(s_entry[i], s_entry_len[i], s_leaf[i]);
    }
    for (i = 0; i <= N_LEAVES; i++)
        s_ref_mth(s_leaf, 0, i, s_root[i]);
    memcpy(s_pat_perfect[0], s_leaf[0], H);
    s_ref_node(s_leaf[0], s_leaf[1], s_pat_perfect[1]);
    for (i = 2; i < 64; i++)
        s_ref_node(s_pat_perfect[i - 1], s_pat_perfect[i - 1],
            s_pat_perfect[i]);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Known answers */

static void
test_merkle_leaf_and_node_hash_known_answers(void **state)
{
    uint8_t h[H], a[H], b[H];
    char    hex[2 * H + 1];

    (void)state;
    /* SHA-256(0x00) and SHA-256(0x01 || a || b), computed independently. */
    merkle_leaf_hash(NULL, 0, h);
    s_assert_hash_hex(h, s_rfc_roots[1]);
    merkle_leaf_hash(s_entry[0], 0, a);
    merkle_leaf_hash(s_entry[1], 1, b);
    merkle_node_hash(a, b, h);
    s_assert_hash_hex(h, s_rfc_roots[2]);
    /* out may alias an input. */
    memcpy(h, a, H);
    merkle_node_hash(h, b, h);
    s_assert_hash_hex(h, s_rfc_roots[2]);
    memcpy(h, b, H);
    merkle_node_hash(a, h, h);
    s_assert_hash_hex(h, s_rfc_roots[2]);
    /* The prefixes matter: a node is not the hash of its bare children. */
    crypto_hash_sha256(h, a, H);
    sodium_bin2hex(hex, sizeof hex, h, H);
    assert_string_not_equal(hex, s_rfc_roots[2]);
}

static void
test_merkle_rfc6962_roots(void **state)
{
    merkle_frontier_t f;
    source_t          src = s_source();
    errbuf_t          err = {{0}};
    uint8_t           h[H];
    uint64_t          n;

    (void)state;
    merkle_frontier_init(&f);
    for (n = 0; n <= 8; n++) {
        merkle_root((const uint8_t(*)[H])s_leaf, n, h);
        s_assert_hash_hex(h, s_rfc_roots[n]);
        merkle_frontier_root(&f, h);
        s_assert_hash_hex(h, s_rfc_roots[n]);
        assert_int_equal(merkle_frontier_size(&f), n);
        assert_int_equal(
            merkle_subtree_root(s_read_leaf, &src, 0, n, h, &err), 0);
        s_assert_hash_hex(h, s_rfc_roots[n]);
        s_ref_mth(s_leaf, 0, n, h);
        s_assert_hash_hex(h, s_rfc_roots[n]);
        if (n < 8)
            assert_int_equal(merkle_frontier_append(&f, s_leaf[n], &err), 0);
    }
    merkle_root(NULL, 0, h);
    s_assert_hash_hex(h, s_rfc_roots[0]);
}

static void
s_check_rfc_proof(const rfc_proof_t *v, const hash_t *proof, size_t n)
{
    size_t i;

    assert_int_equal(n, v->n);
    for (i = 0; i < n; i++)
        s_assert_hash_hex(proof[i], v->hash[i]);
}

static void
test_merkle_rfc6962_inclusion_proofs(void **state)
{
    hash_t   proof[MERKLE_MAX_PROOF], want[3];
    uint8_t  root[H];
    errbuf_t err = {{0}};
    size_t   i, j, n;

    (void)state;
    for (i = 0; i < sizeof s_rfc_inclusion / sizeof s_rfc_inclusion[0]; i++) {
        const rfc_proof_t *v = &s_rfc_inclusion[i];

        n = s_lib_inclusion(v->a, v->b, proof);
        s_check_rfc_proof(v, proof, n);
        for (j = 0; j < v->n; j++)
            s_unhex_hash(v->hash[j], want[j]);
        s_unhex_hash(s_rfc_roots[v->b], root);
        if (merkle_inclusion_verify(s_leaf[v->a], v->a, v->b,
                (const uint8_t(*)[H])want, v->n, root, &err) != 0)
            fail_msg("RFC inclusion %" PRIu64 "/%" PRIu64 ": %s", v->a, v->b,
                err.msg);
    }
}

static void
test_merkle_rfc6962_consistency_proofs(void **state)
{
    hash_t   proof[MERKLE_MAX_PROOF], want[3];
    uint8_t  r1[H], r2[H];
    errbuf_t err = {{0}};
    size_t   i, j, n;

    (void)state;
    for (i = 0; i < sizeof s_rfc_consistency / sizeof s_rfc_consistency[0];
         i++) {
        const rfc_proof_t *v = &s_rfc_consistency[i];

        n = s_lib_consistency(v->a, v->b, proof);
        s_check_rfc_proof(v, proof, n);
        for (j = 0; j < v->n; j++)
            s_unhex_hash(v->hash[j], want[j]);
        s_unhex_hash(s_rfc_roots[v->a], r1);
        s_unhex_hash(s_rfc_roots[v->b], r2);
        if (merkle_consistency_verify(v->a, v->b, r1, r2,
                (const uint8_t(*)[H])want, v->n, &err) != 0)
            fail_msg("RFC consistency %" PRIu64 "->%" PRIu64 ": %s", v->a,
                v->b, err.msg);
    }
}

/* ------------------------------------------------------------------ */
/* Roots and generators against the reference */

static void
test_merkle_frontier_root_equals_root_for_every_size(void **state)
{
    merkle_frontier_t f;
    source_t          src = s_source();
    errbuf_t          err = {{0}};
    uint8_t           h[H], want[H];
    uint64_t          n;

    (void)state;
    merkle_frontier_init(&f);
    for (n = 0; n <= N_LEAVES; n++) {
        merkle_frontier_root(&f, h);
        assert_memory_equal(h, s_root[n], H);
        if (n <= 300 || n % 7 == 0) {
            merkle_root((const uint8_t(*)[H])s_leaf, n, h);
            assert_memory_equal(h, s_root[n], H);
        }
        if (n < N_LEAVES)
            assert_int_equal(merkle_frontier_append(&f, s_leaf[n], &err), 0);
    }
    /* Subtrees that do not start at 0, and their read counts. */
    for (n = 0; n <= 70; n++) {
        src.reads = 0;
        assert_int_equal(
            merkle_subtree_root(s_read_leaf, &src, 13, 13 + n, h, &err), 0);
        assert_int_equal(src.reads, n);
        s_ref_mth(s_leaf, 13, n, want);
        assert_memory_equal(h, want, H);
    }
}

static void
test_merkle_proofs_match_reference_and_verify(void **state)
{
    hash_t   got[MERKLE_MAX_PROOF], want[MERKLE_MAX_PROOF];
    errbuf_t err = {{0}};
    source_t src = s_source();
    uint64_t size, i;
    size_t   n, m;

    (void)state;
    for (size = 1; size <= 64; size++) {
        for (i = 0; i < size; i++) {
            src.reads = 0;
            assert_int_equal(merkle_inclusion_proof(s_read_leaf, &src, i,
                                 size, got, &n, &err),
                0);
            /* Every leaf but the proven one is read once. */
            assert_int_equal(src.reads, size - 1);
            m = s_ref_path(s_ref_mth, s_leaf, i, 0, size, want);
            assert_int_equal(n, m);
            assert_memory_equal(got, want, n * H);
            if (merkle_inclusion_verify(s_leaf[i], i, size,
                    (const uint8_t(*)[H])got, n, s_root[size], &err) != 0)
                fail_msg("inclusion %" PRIu64 "/%" PRIu64 ": %s", i, size,
                    err.msg);
        }
        for (i = 0; i <= size; i++) {
            n = s_lib_consistency(i, size, got);
            m = s_ref_consistency(s_ref_mth, s_leaf, i, size, want);
            assert_int_equal(n, m);
            assert_memory_equal(got, want, n * H);
            if (merkle_consistency_verify(i, size, s_root[i], s_root[size],
                    (const uint8_t(*)[H])got, n, &err) != 0)
                fail_msg("consistency %" PRIu64 "->%" PRIu64 ": %s", i, size,
                    err.msg);
        }
    }
    /* A few larger trees, against the same reference. */
    for (size = 65; size <= N_LEAVES; size += 187) {
        for (i = 0; i < size; i += 1 + size / 9) {
            n = s_lib_inclusion(i, size, got);
            m = s_ref_path(s_ref_mth, s_leaf, i, 0, size, want);
            assert_int_equal(n, m);
            assert_memory_equal(got, want, n * H);
            assert_int_equal(merkle_inclusion_verify(s_leaf[i], i, size,
                                 (const uint8_t(*)[H])got, n, s_root[size],
                                 &err),
                0);
            n = s_lib_consistency(i, size, got);
            m = s_ref_consistency(s_ref_mth, s_leaf, i, size, want);
            assert_int_equal(n, m);
            assert_memory_equal(got, want, n * H);
            assert_int_equal(merkle_consistency_verify(i, size, s_root[i],
                                 s_root[size], (const uint8_t(*)[H])got, n,
                                 &err),
                0);
        }
    }
}

/* ------------------------------------------------------------------ */
/* Vector files */

typedef struct {
    char  *buf;
    size_t len, cap;
} text_t;

static void s_text_add(text_t *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
s_text_add(text_t *t, const char *fmt, ...)
{
    va_list ap;
    int     w;

    if (t->buf == NULL) {
        t->cap = 4096;
        t->buf = malloc(t->cap);
        assert_non_null(t->buf);
    }
    for (;;) {
        va_start(ap, fmt);
        w = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        assert_true(w >= 0);
        if ((size_t)w < t->cap - t->len)
            break;
        t->cap = t->cap * 2 + (size_t)w + 1;
        t->buf = realloc(t->buf, t->cap);
        assert_non_null(t->buf);
    }
    t->len += (size_t)w;
}

static void
s_text_hashes(text_t *t, const hash_t *proof, size_t n)
{
    char   hex[2 * H + 1];
    size_t i;

    s_text_add(t, " %zu", n);
    for (i = 0; i < n; i++) {
        sodium_bin2hex(hex, sizeof hex, proof[i], H);
        s_text_add(t, " %s", hex);
    }
    s_text_add(t, "\n");
}

/* The sizes with roots and the indexes / old sizes with proofs. */
static const uint64_t s_big_sizes[] = {100, 1000};
static const uint64_t s_big_picks[] = {0, 1, 2, 3, 7, 8, 9, 31, 32, 33, 63,
    64, 65, 99, 100, 127, 128, 255, 256, 257, 499, 500, 511, 512, 513, 767,
    768, 991, 992, 998, 999, 1000};

static int
s_picked(uint64_t size, uint64_t i)
{
    size_t j;

    if (size <= 100)
        return 1;
    for (j = 0; j < sizeof s_big_picks / sizeof s_big_picks[0]; j++)
        if (s_big_picks[j] == i)
            return 1;
    return 0;
}

static void
s_gen_leaves(text_t *t)
{
    char   hex[2 * H + 1], ehex[2 * 16 + 1];
    size_t i;

    s_text_add(t, "# leaf <index> <entry hex, - if empty> <leaf hash>\n");
    for (i = 0; i < N_LEAVES; i++) {
        uint8_t h[H];

        merkle_leaf_hash(s_entry[i], s_entry_len[i], h);
        sodium_bin2hex(hex, sizeof hex, h, H);
        sodium_bin2hex(ehex, sizeof ehex, s_entry[i], s_entry_len[i]);
        s_text_add(t, "leaf %zu %s %s\n", i, s_entry_len[i] ? ehex : "-", hex);
    }
}

static void
s_gen_roots(text_t *t)
{
    merkle_frontier_t f;
    errbuf_t          err = {{0}};
    char              hex[2 * H + 1];
    uint8_t           h[H];
    uint64_t          n;

    s_text_add(t, "# root <tree size> <root hash>\n");
    merkle_frontier_init(&f);
    for (n = 0; n <= N_LEAVES; n++) {
        merkle_frontier_root(&f, h);
        sodium_bin2hex(hex, sizeof hex, h, H);
        s_text_add(t, "root %" PRIu64 " %s\n", n, hex);
        if (n < N_LEAVES)
            assert_int_equal(merkle_frontier_append(&f, s_leaf[n], &err), 0);
    }
}

static void
s_gen_inclusion(text_t *t)
{
    hash_t   proof[MERKLE_MAX_PROOF];
    uint64_t size, i;
    size_t   j, n;

    s_text_add(t, "# inclusion <tree size> <leaf index> <count> <hash>...\n");
    for (j = 0; j < 64 + 2; j++) {
        size = j < 64 ? j + 1 : s_big_sizes[j - 64];
        for (i = 0; i < size; i++) {
            if (!s_picked(size, i))
                continue;
            n = s_lib_inclusion(i, size, proof);
            s_text_add(t, "inclusion %" PRIu64 " %" PRIu64, size, i);
            s_text_hashes(t, proof, n);
        }
    }
}

static void
s_gen_consistency(text_t *t)
{
    hash_t   proof[MERKLE_MAX_PROOF];
    uint64_t size, i;
    size_t   j, n;

    s_text_add(t, "# consistency <old size> <new size> <count> <hash>...\n");
    for (j = 0; j < 65 + 2; j++) {
        size = j < 65 ? j : s_big_sizes[j - 65];
        for (i = 0; i <= size; i++) {
            if (!s_picked(size, i))
                continue;
            n = s_lib_consistency(i, size, proof);
            s_text_add(t, "consistency %" PRIu64 " %" PRIu64, i, size);
            s_text_hashes(t, proof, n);
        }
    }
}

typedef struct {
    const char *name;
    void (*gen)(text_t *t);
} vecfile_t;

static const vecfile_t s_vecfiles[] = {
    {"leaves.txt", s_gen_leaves},
    {"roots.txt", s_gen_roots},
    {"inclusion.txt", s_gen_inclusion},
    {"consistency.txt", s_gen_consistency},
};

static void
s_vec_path(char *out, size_t cap, const char *name)
{
    const char *src = getenv("CSBM_SOURCE_DIR");
    int         w;

    if (src == NULL)
        fail_msg("CSBM_SOURCE_DIR is not set; run the test through ctest");
    w = snprintf(out, cap, "%s/%s/%s", src, VEC_DIR, name);
    assert_true(w > 0 && (size_t)w < cap);
}

static char *
s_read_vec(const char *name, size_t *len)
{
    char     path[PATH_MAX];
    uint8_t *buf;
    errbuf_t err = {{0}};

    s_vec_path(path, sizeof path, name);
    if (fileio_read(path, VEC_MAX, &buf, len, &err) != 0)
        fail_msg("%s", err.msg);
    return (char *)buf;
}

/* The code must reproduce every vector file byte for byte. */
static void
test_merkle_vectors_match_code(void **state)
{
    const char *regen = getenv("CSBM_REGEN_VECTORS");
    char        path[PATH_MAX];
    errbuf_t    err = {{0}};
    size_t      i, k, len, line;
    char       *file;

    (void)state;
    for (i = 0; i < sizeof s_vecfiles / sizeof s_vecfiles[0]; i++) {
        text_t t = {NULL, 0, 0};

        s_vecfiles[i].gen(&t);
        if (regen != NULL && strcmp(regen, "1") == 0) {
            s_vec_path(path, sizeof path, s_vecfiles[i].name);
            if (fileio_write(path, t.buf, t.len, 0644, 0, &err) != 0)
                fail_msg("%s", err.msg);
        }
        file = s_read_vec(s_vecfiles[i].name, &len);
        for (k = 0, line = 1; k < len && k < t.len && file[k] == t.buf[k];
             k++)
            if (file[k] == '\n')
                line++;
        if (k != len || k != t.len)
            fail_msg("%s/%s line %zu differs from what the code computes; if "
                     "the change is intended, rerun with CSBM_REGEN_VECTORS=1 "
                     "and review the diff",
                VEC_DIR, s_vecfiles[i].name, line);
        free(file);
        free(t.buf);
    }
}

/* One parsed line: a keyword, two numbers, and for proofs a count and the
 * hashes. */
typedef struct {
    char     kind[16];
    uint64_t a, b;
    size_t   n;
    hash_t   h[MERKLE_MAX_PROOF];
    uint8_t  entry[16];
    size_t   entry_len;
} vline_t;

static uint64_t
s_parse_u64(const char *tok, const char *file, size_t line)
{
    char              *end;
    unsigned long long v;

    if (tok == NULL || *tok < '0' || *tok > '9')
        fail_msg("%s line %zu: number expected", file, line);
    v = strtoull(tok, &end, 10);
    if (*end != '\0')
        fail_msg("%s line %zu: bad number \"%s\"", file, line, tok);
    return (uint64_t)v;
}

static void
s_parse_hash(const char *tok, uint8_t out[H], const char *file, size_t line)
{
    size_t len;

    if (tok == NULL || strlen(tok) != 2 * H ||
        sodium_hex2bin(out, H, tok, 2 * H, NULL, &len, NULL) != 0)
        fail_msg("%s line %zu: 64 hex digits expected", file, line);
}

/* Parse line (modified in place); returns 0 for comments and blanks. */
static int
s_parse_line(char *text, vline_t *v, const char *file, size_t line)
{
    char  *save = NULL, *tok;
    size_t i;

    tok = strtok_r(text, " ", &save);
    if (tok == NULL || tok[0] == '#')
        return 0;
    assert_true(strlen(tok) < sizeof v->kind);
    strcpy(v->kind, tok);
    v->a = s_parse_u64(strtok_r(NULL, " ", &save), file, line);
    if (strcmp(v->kind, "leaf") == 0) {
        tok = strtok_r(NULL, " ", &save);
        if (tok == NULL)
            fail_msg("%s line %zu: entry expected", file, line);
        if (strcmp(tok, "-") == 0)
            v->entry_len = 0;
        else
            s_unhex(tok, v->entry, sizeof v->entry, &v->entry_len);
        s_parse_hash(strtok_r(NULL, " ", &save), v->h[0], file, line);
    } else if (strcmp(v->kind, "root") == 0) {
        s_parse_hash(strtok_r(NULL, " ", &save), v->h[0], file, line);
    } else {
        v->b = s_parse_u64(strtok_r(NULL, " ", &save), file, line);
        v->n = s_parse_u64(strtok_r(NULL, " ", &save), file, line);
        if (v->n > MERKLE_MAX_PROOF)
            fail_msg("%s line %zu: too many hashes", file, line);
        for (i = 0; i < v->n; i++)
            s_parse_hash(strtok_r(NULL, " ", &save), v->h[i], file, line);
    }
    if (strtok_r(NULL, " ", &save) != NULL)
        fail_msg("%s line %zu: trailing fields", file, line);
    return 1;
}

/* Read a vector file and call fn for each record. */
static size_t
s_each_vec(const char *name, const char *kind,
    void (*fn)(const vline_t *v, void *ctx), void *ctx)
{
    size_t   len, line = 0, records = 0;
    char    *file = s_read_vec(name, &len), *p, *nl;
    vline_t *v = malloc(sizeof *v);

    assert_non_null(v);
    for (p = file; *p != '\0'; p = nl + 1) {
        nl = strchr(p, '\n');
        if (nl == NULL)
            fail_msg("%s: last line has no newline", name);
        *nl = '\0';
        line++;
        if (!s_parse_line(p, v, name, line))
            continue;
        if (strcmp(v->kind, kind) != 0)
            fail_msg("%s line %zu: \"%s\" expected", name, line, kind);
        fn(v, ctx);
        records++;
    }
    free(v);
    free(file);
    return records;
}

typedef struct {
    hash_t   leaf[N_LEAVES];
    hash_t   root[N_LEAVES + 1];
    uint8_t  have_root[N_LEAVES + 1];
    uint64_t next;
} vecstate_t;

static void
s_vec_leaf(const vline_t *v, void *ctx)
{
    vecstate_t *st = ctx;
    uint8_t     h[H];

    assert_int_equal(v->a, st->next);
    assert_true(v->a < N_LEAVES);
    merkle_leaf_hash(v->entry, v->entry_len, h);
    assert_memory_equal(h, v->h[0], H);
    memcpy(st->leaf[v->a], h, H);
    st->next++;
}

static void
s_vec_root(const vline_t *v, void *ctx)
{
    vecstate_t *st = ctx;

    assert_true(v->a <= N_LEAVES);
    assert_false(st->have_root[v->a]);
    memcpy(st->root[v->a], v->h[0], H);
    st->have_root[v->a] = 1;
}

static void
s_vec_inclusion(const vline_t *v, void *ctx)
{
    vecstate_t *st = ctx;
    errbuf_t    err = {{0}};

    assert_true(v->b < v->a && v->a <= N_LEAVES && st->have_root[v->a]);
    if (merkle_inclusion_verify(st->leaf[v->b], v->b, v->a,
            (const uint8_t(*)[H])v->h, v->n, st->root[v->a], &err) != 0)
        fail_msg("inclusion.txt %" PRIu64 "/%" PRIu64 ": %s", v->b, v->a,
            err.msg);
}

static void
s_vec_consistency(const vline_t *v, void *ctx)
{
    vecstate_t *st = ctx;
    errbuf_t    err = {{0}};

    assert_true(v->a <= v->b && v->b <= N_LEAVES && st->have_root[v->a] &&
                st->have_root[v->b]);
    if (merkle_consistency_verify(v->a, v->b, st->root[v->a], st->root[v->b],
            (const uint8_t(*)[H])v->h, v->n, &err) != 0)
        fail_msg("consistency.txt %" PRIu64 "->%" PRIu64 ": %s", v->a, v->b,
            err.msg);
}

/* Read back independently of the generator: the leaves hash to what the
 * files say, the roots agree with the reference and with RFC 6962, and
 * every proof in the files verifies against the files' own roots. */
static void
test_merkle_vectors_verify_and_agree_with_rfc6962(void **state)
{
    vecstate_t *st = calloc(1, sizeof *st);
    size_t      n, i;

    (void)state;
    assert_non_null(st);
    assert_int_equal(s_each_vec("leaves.txt", "leaf", s_vec_leaf, st),
        N_LEAVES);
    assert_int_equal(memcmp(st->leaf, s_leaf, sizeof s_leaf), 0);
    assert_int_equal(s_each_vec("roots.txt", "root", s_vec_root, st),
        N_LEAVES + 1);
    for (n = 0; n <= 8; n++) {
        assert_true(st->have_root[n]);
        s_assert_hash_hex(st->root[n], s_rfc_roots[n]);
    }
    for (n = 0; n <= N_LEAVES; n++)
        assert_memory_equal(st->root[n], s_root[n], H);
    n = s_each_vec("inclusion.txt", "inclusion", s_vec_inclusion, st);
    assert_int_equal(n, 64 * 65 / 2 + 100 + 31);
    n = s_each_vec("consistency.txt", "consistency", s_vec_consistency, st);
    assert_int_equal(n, 65 * 66 / 2 + 101 + 32);
    /* The RFC proofs appear in the files verbatim. */
    for (i = 0; i < sizeof s_rfc_inclusion / sizeof s_rfc_inclusion[0]; i++) {
        char   want[512];
        size_t len, j;
        char  *file = s_read_vec("inclusion.txt", &len);
        int    w = snprintf(want, sizeof want, "\ninclusion %" PRIu64
                                  " %" PRIu64 " %zu",
               s_rfc_inclusion[i].b, s_rfc_inclusion[i].a, s_rfc_inclusion[i].n);

        for (j = 0; j < s_rfc_inclusion[i].n; j++)
            w += snprintf(want + w, sizeof want - (size_t)w, " %s",
                s_rfc_inclusion[i].hash[j]);
        snprintf(want + w, sizeof want - (size_t)w, "\n");
        if (strstr(file, want) == NULL)
            fail_msg("inclusion.txt lacks the RFC 6962 line%s", want);
        free(file);
    }
    for (i = 0; i < sizeof s_rfc_consistency / sizeof s_rfc_consistency[0];
         i++) {
        char   want[512];
        size_t len, j;
        char  *file = s_read_vec("consistency.txt", &len);
        int    w = snprintf(want, sizeof want, "\nconsistency %" PRIu64
                                  " %" PRIu64 " %zu",
               s_rfc_consistency[i].a, s_rfc_consistency[i].b,
               s_rfc_consistency[i].n);

        for (j = 0; j < s_rfc_consistency[i].n; j++)
            w += snprintf(want + w, sizeof want - (size_t)w, " %s",
                s_rfc_consistency[i].hash[j]);
        snprintf(want + w, sizeof want - (size_t)w, "\n");
        if (strstr(file, want) == NULL)
            fail_msg("consistency.txt lacks the RFC 6962 line%s", want);
        free(file);
    }
    free(st);
}

/* ------------------------------------------------------------------ */
/* Mutations: everything near a valid proof is refused */

static void
s_incl_reject(const uint8_t leaf[H], uint64_t index, uint64_t size,
    const hash_t *proof, size_t n, const uint8_t root[H], const char *what)
{
    errbuf_t err = {{0}};

    if (merkle_inclusion_verify(leaf, index, size, (const uint8_t(*)[H])proof,
            n, root, &err) == 0)
        fail_msg("inclusion proof accepted with %s", what);
    assert_true(strncmp(err.msg, "merkle: ", 8) == 0);
}

static void
s_cons_reject(uint64_t m, uint64_t n, const uint8_t r1[H],
    const uint8_t r2[H], const hash_t *proof, size_t np, const char *what)
{
    errbuf_t err = {{0}};

    if (merkle_consistency_verify(m, n, r1, r2, (const uint8_t(*)[H])proof,
            np, &err) == 0)
        fail_msg("consistency proof %" PRIu64 "->%" PRIu64
                 " accepted with %s",
            m, n, what);
    assert_true(strncmp(err.msg, "merkle: ", 8) == 0);
}

/* Which bits of a proof hash to flip: every one for trees up to EVERY_BIT
 * leaves; above, one in each byte, each time at another position (step 9:
 * bit 0 of byte 0, bit 1 of byte 1, ...). A verifier only ever uses a proof
 * hash whole, as SHA-256 input, so a flip in every byte catches a hash that
 * is skipped or partly copied, at an eighth of the cost. */
static size_t
s_bit_step(uint64_t size)
{
    return size <= EVERY_BIT ? 1 : 9;
}

static void
test_merkle_inclusion_rejects_every_mutation(void **state)
{
    hash_t   proof[MERKLE_MAX_PROOF + 1], bad[MERKLE_MAX_PROOF + 1];
    uint8_t  leaf[H], root[H], zero[H] = {0};
    errbuf_t err = {{0}};
    uint64_t size, i;
    size_t   n, j, bit;

    (void)state;
    for (size = 1; size <= MUTATE_UPTO; size++) {
        for (i = 0; i < size; i++) {
            n = s_lib_inclusion(i, size, proof);
            assert_int_equal(merkle_inclusion_verify(s_leaf[i], i, size,
                                 (const uint8_t(*)[H])proof, n,
                                 s_root[size], &err),
                0);
            /* Single-bit flips of every proof hash (see s_bits). */
            for (j = 0; j < n; j++) {
                for (bit = 0; bit < 8 * H; bit += s_bit_step(size)) {
                    memcpy(bad, proof, n * H);
                    bad[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    s_incl_reject(s_leaf[i], i, size, bad, n, s_root[size],
                        "a flipped proof bit");
                }
            }
            /* A flipped bit in each byte of the leaf and of the root. */
            for (j = 0; j < H; j++) {
                memcpy(leaf, s_leaf[i], H);
                leaf[j] ^= (uint8_t)(1u << (j % 8));
                s_incl_reject(leaf, i, size, proof, n, s_root[size],
                    "a flipped leaf bit");
                memcpy(root, s_root[size], H);
                root[j] ^= (uint8_t)(1u << (j % 8));
                s_incl_reject(s_leaf[i], i, size, proof, n, root,
                    "a flipped root bit");
            }
            /* Wrong index, with the same leaf or the neighbour's. */
            if (i > 0) {
                s_incl_reject(s_leaf[i], i - 1, size, proof, n, s_root[size],
                    "index - 1");
                s_incl_reject(s_leaf[i - 1], i - 1, size, proof, n,
                    s_root[size], "index - 1 and its leaf");
            }
            s_incl_reject(s_leaf[i], i + 1, size, proof, n, s_root[size],
                "index + 1");
            s_incl_reject(s_leaf[i + 1], i + 1, size, proof, n, s_root[size],
                "index + 1 and its leaf");
            s_incl_reject(s_leaf[i], i ^ 2, size, proof, n, s_root[size],
                "index ^ 2");
            /* Wrong tree size, with that size's root. */
            if (size > 1)
                s_incl_reject(s_leaf[i], i, size - 1, proof, n,
                    s_root[size - 1], "size - 1");
            s_incl_reject(s_leaf[i], i, size + 1, proof, n, s_root[size + 1],
                "size + 1");
            /* Wrong tree size, with this size's root. */
            s_incl_reject(s_leaf[i], i, size * 2, proof, n, s_root[size],
                "size * 2");
            s_incl_reject(s_leaf[i], i, size / 2, proof, n, s_root[size],
                "size / 2");
            /* Another root. */
            s_incl_reject(s_leaf[i], i, size, proof, n, s_root[0],
                "the empty root");
            s_incl_reject(s_leaf[i], i, size, proof, n, s_root[size - 1],
                "the previous root");
            s_incl_reject(s_leaf[i], i, size, proof, n, zero, "a zero root");
            /* Hashes added, removed, reordered. */
            memcpy(bad, proof, n * H);
            memcpy(bad[n], s_root[size], H);
            s_incl_reject(s_leaf[i], i, size, bad, n + 1, s_root[size],
                "the root appended");
            memcpy(bad[n], zero, H);
            s_incl_reject(s_leaf[i], i, size, bad, n + 1, s_root[size],
                "a hash appended");
            memcpy(bad[0], s_leaf[i], H);
            memcpy(bad + 1, proof, n * H);
            s_incl_reject(s_leaf[i], i, size, bad, n + 1, s_root[size],
                "the leaf prepended");
            if (n > 0) {
                s_incl_reject(s_leaf[i], i, size, proof, n - 1, s_root[size],
                    "the last hash removed");
                s_incl_reject(s_leaf[i], i, size, proof + 1, n - 1,
                    s_root[size], "the first hash removed");
                /* The leaf or the root as its own proof. */
                s_incl_reject(proof[0], i, size, proof, n, s_root[size],
                    "the sibling as leaf");
            }
            if (n > 1) {
                memcpy(bad, proof, n * H);
                memcpy(bad[0], proof[1], H);
                memcpy(bad[1], proof[0], H);
                s_incl_reject(s_leaf[i], i, size, bad, n, s_root[size],
                    "two hashes swapped");
            }
        }
    }
}

static void
test_merkle_consistency_rejects_every_mutation(void **state)
{
    hash_t   proof[MERKLE_MAX_PROOF + 1], bad[MERKLE_MAX_PROOF + 1];
    uint8_t  root[H], zero[H] = {0};
    errbuf_t err = {{0}};
    uint64_t m, size;
    size_t   n, j, bit;

    (void)state;
    for (size = 2; size <= MUTATE_UPTO; size++) {
        for (m = 1; m < size; m++) {
            const uint8_t *r1 = s_root[m], *r2 = s_root[size];

            n = s_lib_consistency(m, size, proof);
            assert_true(n > 0);
            assert_int_equal(merkle_consistency_verify(m, size, r1, r2,
                                 (const uint8_t(*)[H])proof, n, &err),
                0);
            for (j = 0; j < n; j++) {
                for (bit = 0; bit < 8 * H; bit += s_bit_step(size)) {
                    memcpy(bad, proof, n * H);
                    bad[j][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                    s_cons_reject(m, size, r1, r2, bad, n,
                        "a flipped proof bit");
                }
            }
            for (j = 0; j < H; j++) {
                memcpy(root, r1, H);
                root[j] ^= (uint8_t)(1u << (j % 8));
                s_cons_reject(m, size, root, r2, proof, n,
                    "a flipped old root bit");
                memcpy(root, r2, H);
                root[j] ^= (uint8_t)(1u << (j % 8));
                s_cons_reject(m, size, r1, root, proof, n,
                    "a flipped new root bit");
            }
            /* Wrong sizes with the roots of those sizes. */
            s_cons_reject(m - 1, size, s_root[m - 1], r2, proof, n,
                "old size - 1");
            s_cons_reject(m + 1, size, s_root[m + 1], r2, proof, n,
                "old size + 1");
            s_cons_reject(m, size - 1, r1, s_root[size - 1], proof, n,
                "new size - 1");
            s_cons_reject(m, size + 1, r1, s_root[size + 1], proof, n,
                "new size + 1");
            /* Wrong sizes with the right roots. */
            s_cons_reject(m - 1, size, r1, r2, proof, n, "old size - 1");
            s_cons_reject(m + 1, size, r1, r2, proof, n, "old size + 1");
            s_cons_reject(m ^ 2, size, r1, r2, proof, n, "old size ^ 2");
            s_cons_reject(m, size * 2, r1, r2, proof, n, "new size * 2");
            s_cons_reject(m, size / 2, r1, r2, proof, n, "new size / 2");
            /* Wrong roots. */
            s_cons_reject(m, size, r2, r1, proof, n, "swapped roots");
            s_cons_reject(m, size, r1, r1, proof, n, "the old root twice");
            s_cons_reject(m, size, r2, r2, proof, n, "the new root twice");
            s_cons_reject(m, size, zero, r2, proof, n, "a zero old root");
            s_cons_reject(m, size, r1, s_root[size - 1], proof, n,
                "the previous new root");
            /* Hashes added, removed, reordered. */
            s_cons_reject(m, size, r1, r2, proof, 0, "an empty proof");
            s_cons_reject(m, size, r1, r2, proof, n - 1,
                "the last hash removed");
            s_cons_reject(m, size, r1, r2, proof + 1, n - 1,
                "the first hash removed");
            memcpy(bad, proof, n * H);
            memcpy(bad[n], r1, H);
            s_cons_reject(m, size, r1, r2, bad, n + 1, "old root appended");
            memcpy(bad[n], r2, H);
            s_cons_reject(m, size, r1, r2, bad, n + 1, "new root appended");
            memcpy(bad[n], zero, H);
            s_cons_reject(m, size, r1, r2, bad, n + 1, "a hash appended");
            memcpy(bad[0], r1, H);
            memcpy(bad + 1, proof, n * H);
            s_cons_reject(m, size, r1, r2, bad, n + 1, "old root prepended");
            memcpy(bad[0], proof[0], H);
            s_cons_reject(m, size, r1, r2, bad, n + 1,
                "first hash repeated");
            if (n > 1) {
                memcpy(bad, proof, n * H);
                memcpy(bad[0], proof[1], H);
                memcpy(bad[1], proof[0], H);
                s_cons_reject(m, size, r1, r2, bad, n, "two hashes swapped");
            }
        }
    }
}

/* ------------------------------------------------------------------ */
/* Edge cases and arguments */

static void
test_merkle_inclusion_verify_rejects_bad_arguments(void **state)
{
    hash_t   proof[MERKLE_MAX_PROOF + 1] = {{0}};
    errbuf_t err = {{0}};
    size_t   n;

    (void)state;
    /* A one-leaf tree: the root is the leaf hash, the proof empty. */
    assert_int_equal(
        merkle_inclusion_verify(s_leaf[0], 0, 1, NULL, 0, s_leaf[0], &err), 0);
    assert_int_equal(
        merkle_inclusion_verify(s_leaf[0], 0, 1, NULL, 0, s_leaf[1], &err),
        -1);
    assert_non_null(strstr(err.msg, "root mismatch"));
    /* Index at or beyond the size. */
    n = s_lib_inclusion(3, 8, proof);
    assert_int_equal(merkle_inclusion_verify(s_leaf[3], 8, 8,
                         (const uint8_t(*)[H])proof, n, s_root[8], &err),
        -1);
    assert_non_null(strstr(err.msg, "beyond the tree of 8"));
    assert_int_equal(merkle_inclusion_verify(s_leaf[3], UINT64_MAX, 8,
                         (const uint8_t(*)[H])proof, n, s_root[8], &err),
        -1);
    /* Size 0 and hostile sizes. */
    assert_int_equal(
        merkle_inclusion_verify(s_leaf[0], 0, 0, NULL, 0, s_root[0], &err),
        -1);
    assert_non_null(strstr(err.msg, "size must be"));
    assert_int_equal(merkle_inclusion_verify(s_leaf[0], 0,
                         MERKLE_MAX_TREE_SIZE + 1, (const uint8_t(*)[H])proof,
                         63, s_root[8], &err),
        -1);
    assert_int_equal(merkle_inclusion_verify(s_leaf[0], 0, UINT64_MAX,
                         (const uint8_t(*)[H])proof, 64, s_root[8], &err),
        -1);
    /* Wrong lengths, including absurd ones that must not be read. */
    assert_int_equal(merkle_inclusion_verify(s_leaf[3], 3, 8,
                         (const uint8_t(*)[H])proof, n + 1, s_root[8], &err),
        -1);
    assert_non_null(strstr(err.msg, "must have 3 hashes, got 4"));
    assert_int_equal(merkle_inclusion_verify(s_leaf[3], 3, 8,
                         (const uint8_t(*)[H])proof, SIZE_MAX, s_root[8],
                         &err),
        -1);
    assert_int_equal(
        merkle_inclusion_verify(s_leaf[3], 3, 8, NULL, 0, s_root[8], &err),
        -1);
    /* A NULL errbuf is allowed. */
    assert_int_equal(merkle_inclusion_verify(s_leaf[3], 9, 8, NULL, 0,
                         s_root[8], NULL),
        -1);
}

static void
test_merkle_consistency_verify_edge_cases(void **state)
{
    hash_t   proof[MERKLE_MAX_PROOF] = {{0}};
    errbuf_t err = {{0}};
    uint64_t n;

    (void)state;
    memcpy(proof[0], s_root[0], H);
    for (n = 0; n <= 64; n++) {
        /* Same size: empty proof, equal roots. */
        assert_int_equal(merkle_consistency_verify(n, n, s_root[n], s_root[n],
                             NULL, 0, &err),
            0);
        assert_int_equal(merkle_consistency_verify(n, n, s_root[n],
                             s_root[n + 1], NULL, 0, &err),
            -1);
        assert_non_null(strstr(err.msg, "forked"));
        assert_int_equal(merkle_consistency_verify(n, n, s_root[n], s_root[n],
                             (const uint8_t(*)[H])proof, 1, &err),
            -1);
        assert_non_null(strstr(err.msg, "must be empty"));
        /* From the empty tree: empty proof and the empty root only. */
        assert_int_equal(merkle_consistency_verify(0, n, s_root[0], s_root[n],
                             NULL, 0, &err),
            0);
        assert_int_equal(merkle_consistency_verify(0, n, s_root[0], s_root[n],
                             (const uint8_t(*)[H])proof, 1, &err),
            -1);
        assert_int_equal(merkle_consistency_verify(0, n, s_root[1], s_root[n],
                             NULL, 0, &err),
            -1);
        assert_non_null(strstr(err.msg, "empty tree root"));
        /* Shrinking. */
        assert_int_equal(merkle_consistency_verify(n + 1, n, s_root[n + 1],
                             s_root[n], NULL, 0, &err),
            -1);
        assert_non_null(strstr(err.msg, "only grows"));
    }
    /* 0 < old < new needs a proof. */
    assert_int_equal(
        merkle_consistency_verify(1, 2, s_root[1], s_root[2], NULL, 0, &err),
        -1);
    assert_non_null(strstr(err.msg, "must have 1 hashes, got 0"));
    /* Hostile sizes. */
    assert_int_equal(merkle_consistency_verify(1, MERKLE_MAX_TREE_SIZE + 1,
                         s_root[1], s_root[2], (const uint8_t(*)[H])proof, 64,
                         &err),
        -1);
    assert_non_null(strstr(err.msg, "beyond the maximum"));
    assert_int_equal(merkle_consistency_verify(UINT64_MAX, UINT64_MAX,
                         s_root[1], s_root[1], NULL, 0, &err),
        -1);
    assert_int_equal(merkle_consistency_verify(3, 8, s_root[3], s_root[8],
                         (const uint8_t(*)[H])proof, SIZE_MAX, &err),
        -1);
    assert_int_equal(merkle_consistency_verify(0, 0, s_root[0], s_root[0],
                         NULL, 0, NULL),
        0);
}

static void
test_merkle_generators_reject_bad_arguments(void **state)
{
    hash_t   proof[MERKLE_MAX_PROOF];
    source_t src = s_source();
    errbuf_t err = {{0}};
    uint8_t  h[H];
    size_t   n = 7;

    (void)state;
    assert_int_equal(
        merkle_inclusion_proof(s_read_leaf, &src, 5, 5, proof, &n, &err), -1);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.msg, "leaf index 5 is not in a tree of 5"));
    assert_int_equal(
        merkle_inclusion_proof(s_read_leaf, &src, 0, 0, proof, &n, &err), -1);
    assert_int_equal(merkle_inclusion_proof(s_read_leaf, &src, 0,
                         MERKLE_MAX_TREE_SIZE + 1, proof, &n, &err),
        -1);
    assert_int_equal(
        merkle_consistency_proof(s_read_leaf, &src, 6, 5, proof, &n, &err),
        -1);
    assert_non_null(strstr(err.msg, "only grows"));
    assert_int_equal(merkle_consistency_proof(s_read_leaf, &src, 1,
                         MERKLE_MAX_TREE_SIZE + 1, proof, &n, &err),
        -1);
    assert_int_equal(
        merkle_subtree_root(s_read_leaf, &src, 5, 4, h, &err), -1);
    assert_int_equal(merkle_subtree_root(s_read_leaf, &src, 0,
                         MERKLE_MAX_TREE_SIZE + 1, h, &err),
        -1);
    /* Empty proofs need no reads. */
    src.reads = 0;
    assert_int_equal(
        merkle_consistency_proof(s_read_leaf, &src, 0, 9, proof, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(
        merkle_consistency_proof(s_read_leaf, &src, 9, 9, proof, &n, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(src.reads, 0);
    assert_int_equal(
        merkle_subtree_root(s_read_leaf, &src, 7, 7, h, &err), 0);
    assert_memory_equal(h, s_root[0], H);
}

static void
test_merkle_generators_report_source_failure(void **state)
{
    hash_t   proof[MERKLE_MAX_PROOF];
    source_t src = s_source();
    errbuf_t err = {{0}};
    uint8_t  h[H];
    size_t   n = 7;

    (void)state;
    src.fail_at = 37;
    assert_int_equal(
        merkle_inclusion_proof(s_read_leaf, &src, 3, 100, proof, &n, &err),
        -1);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.msg, "leaf 37"));
    n = 7;
    assert_int_equal(
        merkle_consistency_proof(s_read_leaf, &src, 3, 100, proof, &n, &err),
        -1);
    assert_int_equal(n, 0);
    assert_non_null(strstr(err.msg, "leaf 37"));
    assert_int_equal(
        merkle_subtree_root(s_read_leaf, &src, 30, 40, h, &err), -1);
    assert_non_null(strstr(err.msg, "leaf 37"));
    /* The proven leaf itself is never read, so it may be missing. */
    assert_int_equal(
        merkle_inclusion_proof(s_read_leaf, &src, 37, 100, proof, &n, &err),
        0);
    /* A tree larger than the store. */
    src.fail_at = UINT64_MAX;
    assert_int_equal(merkle_inclusion_proof(s_read_leaf, &src, 3,
                         N_LEAVES + 1, proof, &n, &err),
        -1);
    assert_non_null(strstr(err.msg, "leaf 1000"));
}

/* ------------------------------------------------------------------ */
/* Trees of up to 2^63 leaves */

/* A tree too big to store: leaf i's hash is that of entry 0 for even i and
 * of entry 1 for odd i, so a subtree's root depends only on its start
 * parity and size, and the reference computes any subtree root in
 * O(log n) hashes. */
static void
s_pat_root(const void *tree, uint64_t lo, uint64_t n, uint8_t out[H])
{
    uint8_t  r[H];
    uint64_t k;
    unsigned l;

    (void)tree;
    if (n == 1) {
        memcpy(out, (lo & 1) == 0 ? s_leaf[0] : s_leaf[1], H);
        return;
    }
    /* PATH and SUBPROOF only ask for ranges of 2 or more leaves that
     * start at a multiple of a power of two >= 2. */
    assert_int_equal(lo & 1, 0);
    k = s_ref_k(n);
    l = (unsigned)__builtin_ctzll(k);
    s_pat_root(tree, lo + k, n - k, r);
    s_ref_node(s_pat_perfect[l], r, out);
}

static void
test_merkle_verify_trees_up_to_2_pow_63(void **state)
{
    static const uint64_t sizes[] = {MERKLE_MAX_TREE_SIZE,
        MERKLE_MAX_TREE_SIZE - 1, MERKLE_MAX_TREE_SIZE - 2,
        (UINT64_C(1) << 62) + 1, UINT64_C(3) << 61, UINT64_C(0x5a5a5a5a5a5a5a5b),
        UINT64_C(1) << 32, (UINT64_C(1) << 32) + 1};
    hash_t         proof[MERKLE_MAX_PROOF + 1];
    uint8_t        root[H], old_root[H], bad[H];
    errbuf_t       err = {{0}};
    size_t         s, t, n, longest_incl = 0, longest_cons = 0;

    (void)state;
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        uint64_t size = sizes[s];
        uint64_t idx[] = {0, 1, 2, size / 2, size / 2 + 1, size - 2,
            size - 1, size / 3, (size / 5) | 1};

        s_pat_root(NULL, 0, size, root);
        for (t = 0; t < sizeof idx / sizeof idx[0]; t++) {
            uint64_t i = idx[t];

            n = s_ref_path(s_pat_root, NULL, i, 0, size, proof);
            assert_true(n <= MERKLE_MAX_PROOF);
            longest_incl = n > longest_incl ? n : longest_incl;
            if (merkle_inclusion_verify(s_leaf[i & 1], i, size,
                    (const uint8_t(*)[H])proof, n, root, &err) != 0)
                fail_msg("inclusion %" PRIu64 "/%" PRIu64 ": %s", i, size,
                    err.msg);
            memcpy(bad, root, H);
            bad[31] ^= 1;
            s_incl_reject(s_leaf[i & 1], i, size, proof, n, bad, "bad root");
            s_incl_reject(s_leaf[i & 1], i, size, proof, n - 1, root,
                "a hash removed");
            s_incl_reject(s_leaf[(i + 1) & 1], i, size, proof, n, root,
                "the other leaf");

            /* Consistency from old size i (1 instead of 0) to size. */
            if (i == 0)
                i = 1;
            s_pat_root(NULL, 0, i, old_root);
            n = s_ref_consistency(s_pat_root, NULL, i, size, proof);
            assert_true(n <= MERKLE_MAX_PROOF);
            longest_cons = n > longest_cons ? n : longest_cons;
            if (merkle_consistency_verify(i, size, old_root, root,
                    (const uint8_t(*)[H])proof, n, &err) != 0)
                fail_msg("consistency %" PRIu64 "->%" PRIu64 ": %s", i, size,
                    err.msg);
            if (n > 0) {
                s_cons_reject(i, size, old_root, bad, proof, n, "bad root");
                s_cons_reject(i, size, old_root, root, proof, n - 1,
                    "a hash removed");
            }
        }
    }
    /* The bounds are reached: 63 levels, and 64 hashes for consistency. */
    assert_int_equal(longest_incl, 63);
    assert_int_equal(longest_cons, MERKLE_MAX_PROOF);
}

/* ------------------------------------------------------------------ */
/* Frontier */

static void
s_frontier_of(merkle_frontier_t *f, uint64_t n)
{
    errbuf_t err = {{0}};
    uint64_t i;

    merkle_frontier_init(f);
    for (i = 0; i < n; i++)
        assert_int_equal(merkle_frontier_append(f, s_leaf[i], &err), 0);
}

/* Every truncation, a trailing byte, and single-bit flips: all of them,
 * or for the largest states every bit of magic and size and one bit in
 * each byte after (each flip there costs a root recomputation). */
static void
s_check_every_corruption(const merkle_frontier_t *f)
{
    uint8_t           buf[MERKLE_FRONTIER_MAX_BYTES + 1];
    merkle_frontier_t g;
    errbuf_t          err = {{0}};
    size_t            len, k, bit;

    assert_int_equal(
        merkle_frontier_serialize(f, buf, sizeof buf, &len, &err), 0);
    for (k = 0; k < len; k++) {
        assert_int_equal(merkle_frontier_parse(&g, buf, k, &err), -1);
        assert_int_equal(merkle_frontier_size(&g), 0);
    }
    for (bit = 0; bit < 8 * len;
         bit += (len > 512 && bit >= 8 * 16) ? 9 : 1) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        if (merkle_frontier_parse(&g, buf, len, &err) == 0)
            fail_msg("frontier of %" PRIu64 " leaves parsed with bit %zu "
                     "flipped",
                f->size, bit);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    buf[len] = 0;
    assert_int_equal(merkle_frontier_parse(&g, buf, len + 1, &err), -1);
    assert_non_null(strstr(err.msg, "trailing"));
    assert_int_equal(merkle_frontier_parse(&g, buf, len, &err), 0);
}

static void
test_merkle_frontier_serialize_round_trip(void **state)
{
    merkle_frontier_t f, g;
    uint8_t           buf[MERKLE_FRONTIER_MAX_BYTES], h1[H], h2[H];
    errbuf_t          err = {{0}};
    size_t            len;
    uint64_t          n;

    (void)state;
    merkle_frontier_init(&f);
    for (n = 0; n <= 300; n++) {
        assert_int_equal(
            merkle_frontier_serialize(&f, buf, sizeof buf, &len, &err), 0);
        assert_int_equal(len, merkle_frontier_serialized_len(&f));
        assert_int_equal(len, MERKLE_FRONTIER_MIN_BYTES +
                                  H * (size_t)__builtin_popcountll(n));
        assert_memory_equal(buf, MERKLE_FRONTIER_MAGIC, 8);
        memset(&g, 0xa5, sizeof g);
        if (merkle_frontier_parse(&g, buf, len, &err) != 0)
            fail_msg("size %" PRIu64 ": %s", n, err.msg);
        /* Unused slots are zero, so equal states are equal bytes. */
        assert_memory_equal(&g, &f, sizeof f);
        merkle_frontier_root(&g, h1);
        assert_memory_equal(h1, s_root[n], H);
        assert_memory_equal(buf + len - H, s_root[n], H);
        /* A parsed frontier keeps growing like the original. */
        assert_int_equal(merkle_frontier_append(&g, s_leaf[n], &err), 0);
        assert_int_equal(merkle_frontier_append(&f, s_leaf[n], &err), 0);
        merkle_frontier_root(&g, h1);
        merkle_frontier_root(&f, h2);
        assert_memory_equal(h1, h2, H);
    }
    /* Big-endian size after the magic. */
    s_frontier_of(&f, 0x123);
    assert_int_equal(
        merkle_frontier_serialize(&f, buf, sizeof buf, &len, &err), 0);
    assert_memory_equal(buf + 8, "\0\0\0\0\0\0\x01\x23", 8);
    /* Too small a buffer. */
    assert_int_equal(
        merkle_frontier_serialize(&f, buf, len - 1, &len, &err), -1);
    assert_int_equal(len, 0);
    assert_non_null(strstr(err.msg, "MERKLE_FRONTIER_MAX_BYTES"));
}

/* The example of docs/FORMAT-merkle.md: the first three RFC 6962 leaves. */
static void
test_merkle_frontier_known_answer(void **state)
{
    static const char want[] =
        "4353424d46525431"
        "0000000000000003"
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
        "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7"
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77";
    merkle_frontier_t f, g;
    uint8_t           buf[MERKLE_FRONTIER_MAX_BYTES], kat[112];
    char              hex[2 * sizeof kat + 1];
    errbuf_t          err = {{0}};
    size_t            len;

    (void)state;
    s_frontier_of(&f, 3);
    assert_int_equal(
        merkle_frontier_serialize(&f, buf, sizeof buf, &len, &err), 0);
    assert_int_equal(len, sizeof kat);
    sodium_bin2hex(hex, sizeof hex, buf, len);
    assert_string_equal(hex, want);
    /* Built from the description alone, it parses to the same state. */
    s_unhex(want, kat, sizeof kat, &len);
    assert_int_equal(merkle_frontier_parse(&g, kat, len, &err), 0);
    assert_memory_equal(&g, &f, sizeof f);
    assert_int_equal(merkle_frontier_size(&g), 3);
}

static void
test_merkle_frontier_parse_rejects_truncation_and_corruption(void **state)
{
    static const uint64_t sizes[] = {0, 1, 2, 3, 7, 8, 64, 255, 1000};
    merkle_frontier_t     f;
    uint8_t               buf[MERKLE_FRONTIER_MAX_BYTES + 8];
    errbuf_t              err = {{0}};
    size_t                s, len;

    (void)state;
    for (s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        s_frontier_of(&f, sizes[s]);
        s_check_every_corruption(&f);
    }
    /* Hostile sizes: beyond 2^63, and one whose hashes are missing. */
    memcpy(buf, MERKLE_FRONTIER_MAGIC, 8);
    memset(buf + 8, 0xff, 8);
    memset(buf + 16, 0, sizeof buf - 16);
    assert_int_equal(
        merkle_frontier_parse(&f, buf, MERKLE_FRONTIER_MIN_BYTES, &err), -1);
    assert_non_null(strstr(err.msg, "beyond the maximum"));
    assert_int_equal(merkle_frontier_parse(&f, buf, sizeof buf, &err), -1);
    buf[8] = 0x7f;
    assert_int_equal(
        merkle_frontier_parse(&f, buf, MERKLE_FRONTIER_MIN_BYTES, &err), -1);
    assert_non_null(strstr(err.msg, "must be 2064 bytes"));
    assert_int_equal(merkle_frontier_parse(&f, buf, 0, &err), -1);
    assert_non_null(strstr(err.msg, "truncated"));
    memcpy(buf, "CSBMFRT2", 8);
    assert_int_equal(merkle_frontier_parse(&f, buf, sizeof buf, &err), -1);
    assert_non_null(strstr(err.msg, "not a stored tree state"));
    /* The largest states: 2^63 - 1 leaves (63 subtrees) and 2^63. */
    merkle_frontier_init(&f);
    for (s = 0; s < 63; s++)
        merkle_leaf_hash((const uint8_t *)&s, sizeof s, f.node[s]);
    f.size = MERKLE_MAX_TREE_SIZE - 1;
    assert_int_equal(merkle_frontier_serialized_len(&f),
        MERKLE_FRONTIER_MAX_BYTES);
    s_check_every_corruption(&f);
    assert_int_equal(
        merkle_frontier_serialize(&f, buf, sizeof buf, &len, &err), 0);
    assert_int_equal(len, MERKLE_FRONTIER_MAX_BYTES);
}

static void
test_merkle_frontier_append_refuses_beyond_2_pow_63(void **state)
{
    merkle_frontier_t f, before;
    errbuf_t          err = {{0}};
    uint8_t           h[H];
    unsigned          l;

    (void)state;
    /* The frontier of 2^63 - 1 pattern leaves (see s_pat_root); one more
     * (odd, so B) makes the perfect tree of 2^63. */
    merkle_frontier_init(&f);
    f.size = MERKLE_MAX_TREE_SIZE - 1;
    for (l = 0; l < 63; l++)
        memcpy(f.node[l], s_pat_perfect[l], H);
    assert_int_equal(merkle_frontier_append(&f, s_leaf[1], &err), 0);
    assert_int_equal(merkle_frontier_size(&f), MERKLE_MAX_TREE_SIZE);
    merkle_frontier_root(&f, h);
    assert_memory_equal(h, s_pat_perfect[63], H);
    before = f;
    assert_int_equal(merkle_frontier_append(&f, s_leaf[0], &err), -1);
    assert_non_null(strstr(err.msg, "maximum"));
    assert_memory_equal(&f, &before, sizeof f);
    s_check_every_corruption(&f);
}

typedef struct {
    uint64_t calls;
    uint64_t fail_on;
    hash_t   seen_hash;
    unsigned seen_level;
    uint64_t seen_index;
    int      bad;
} nodes_t;

static int
s_on_node(void *ctx, unsigned level, uint64_t index, const uint8_t hash[H])
{
    nodes_t *c = ctx;
    uint8_t  want[H];

    c->calls++;
    if (c->calls == c->fail_on)
        return 1;
    /* The subtree at (level, index) covers leaves [index << level, ...). */
    s_ref_mth(s_leaf, index << level, UINT64_C(1) << level, want);
    if (memcmp(want, hash, H) != 0)
        c->bad++;
    c->seen_level = level;
    c->seen_index = index;
    memcpy(c->seen_hash, hash, H);
    return 0;
}

static void
test_merkle_frontier_append_nodes_reports_perfect_subtrees(void **state)
{
    merkle_frontier_t f, before;
    nodes_t           c = {0, 0, {0}, 0, 0, 0};
    errbuf_t          err = {{0}};
    uint64_t          n;

    (void)state;
    merkle_frontier_init(&f);
    for (n = 0; n < 300; n++)
        assert_int_equal(
            merkle_frontier_append_nodes(&f, s_leaf[n], s_on_node, &c, &err),
            0);
    assert_int_equal(c.bad, 0);
    /* Each leaf, and each internal node of a perfect subtree, once. */
    assert_int_equal(c.calls, 300 + 300 - __builtin_popcountll(300));
    /* The last one reported on reaching 256 leaves was the 256 root. */
    merkle_frontier_init(&f);
    c.calls = 0;
    for (n = 0; n < 256; n++)
        assert_int_equal(
            merkle_frontier_append_nodes(&f, s_leaf[n], s_on_node, &c, &err),
            0);
    assert_int_equal(c.seen_level, 8);
    assert_int_equal(c.seen_index, 0);
    assert_memory_equal(c.seen_hash, s_root[256], H);
    /* A refusing callback leaves the frontier as it was. */
    s_frontier_of(&f, 255);
    before = f;
    c.calls = 0;
    c.fail_on = 5;
    assert_int_equal(
        merkle_frontier_append_nodes(&f, s_leaf[255], s_on_node, &c, &err),
        -1);
    assert_non_null(strstr(err.msg, "level 4"));
    assert_memory_equal(&f, &before, sizeof f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_merkle_leaf_and_node_hash_known_answers),
        cmocka_unit_test(test_merkle_rfc6962_roots),
        cmocka_unit_test(test_merkle_rfc6962_inclusion_proofs),
        cmocka_unit_test(test_merkle_rfc6962_consistency_proofs),
        cmocka_unit_test(test_merkle_frontier_root_equals_root_for_every_size),
        cmocka_unit_test(test_merkle_proofs_match_reference_and_verify),
        cmocka_unit_test(test_merkle_vectors_match_code),
        cmocka_unit_test(test_merkle_vectors_verify_and_agree_with_rfc6962),
        cmocka_unit_test(test_merkle_inclusion_rejects_every_mutation),
        cmocka_unit_test(test_merkle_consistency_rejects_every_mutation),
        cmocka_unit_test(test_merkle_inclusion_verify_rejects_bad_arguments),
        cmocka_unit_test(test_merkle_consistency_verify_edge_cases),
        cmocka_unit_test(test_merkle_generators_reject_bad_arguments),
        cmocka_unit_test(test_merkle_generators_report_source_failure),
        cmocka_unit_test(test_merkle_verify_trees_up_to_2_pow_63),
        cmocka_unit_test(test_merkle_frontier_serialize_round_trip),
        cmocka_unit_test(test_merkle_frontier_known_answer),
        cmocka_unit_test(
            test_merkle_frontier_parse_rejects_truncation_and_corruption),
        cmocka_unit_test(test_merkle_frontier_append_refuses_beyond_2_pow_63),
        cmocka_unit_test(
            test_merkle_frontier_append_nodes_reports_perfect_subtrees),
    };

    return cmocka_run_group_tests(tests, s_setup, NULL);
}
