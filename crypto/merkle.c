/* merkle: RFC 6962 / RFC 9162 Merkle tree, frontier and proofs (see
 * merkle.h; bytes in docs/FORMAT-merkle.md). */
#include "crypto/merkle.h"

#include <inttypes.h>
#include <sodium.h>
#include <string.h>

#include "crypto/sha256.h"

#define LEAF_PREFIX 0x00
#define NODE_PREFIX 0x01

/* ------------------------------------------------------------------ */
/* Hashing */

void
merkle_leaf_hash(const uint8_t *entry, size_t len,
    uint8_t out[MERKLE_HASH_BYTES])
{
    const uint8_t prefix = LEAF_PREFIX;

    sha256_concat(&prefix, 1, entry, len, out);
}

void
merkle_node_hash(const uint8_t left[MERKLE_HASH_BYTES],
    const uint8_t right[MERKLE_HASH_BYTES], uint8_t out[MERKLE_HASH_BYTES])
{
    uint8_t buf[1 + 2 * MERKLE_HASH_BYTES];

    /* Copy first: out may be left or right. */
    buf[0] = NODE_PREFIX;
    memcpy(buf + 1, left, MERKLE_HASH_BYTES);
    memcpy(buf + 1 + MERKLE_HASH_BYTES, right, MERKLE_HASH_BYTES);
    sha256(buf, sizeof buf, out);
}

static void
s_empty_root(uint8_t out[MERKLE_HASH_BYTES])
{
    sha256(NULL, 0, out);
}

/* The largest power of two strictly less than n, for n >= 2: RFC 6962's
 * split point (not the midpoint). */
static uint64_t
s_split(uint64_t n)
{
    return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/* Number of significant bits of x (0 for 0). */
static unsigned
s_bit_len(uint64_t x)
{
    return x == 0 ? 0 : 64 - (unsigned)__builtin_clzll(x);
}

static int
s_ready(errbuf_t *err)
{
    if (sodium_init() < 0) {
        errbuf_set(err, "merkle: libsodium failed to initialise");
        return -1;
    }
    return 0;
}

/* MTH over n >= 1 leaf hashes, recursively as in RFC 6962 section 2.1; the
 * depth is at most 63 levels. */
static void
s_root_rec(const uint8_t (*leaves)[MERKLE_HASH_BYTES], uint64_t n,
    uint8_t out[MERKLE_HASH_BYTES])
{
    uint8_t  left[MERKLE_HASH_BYTES], right[MERKLE_HASH_BYTES];
    uint64_t k;

    if (n == 1) {
        memcpy(out, leaves[0], MERKLE_HASH_BYTES);
        return;
    }
    k = s_split(n);
    s_root_rec(leaves, k, left);
    s_root_rec(leaves + k, n - k, right);
    merkle_node_hash(left, right, out);
}

void
merkle_root(const uint8_t (*leaves)[MERKLE_HASH_BYTES], uint64_t n,
    uint8_t out[MERKLE_HASH_BYTES])
{
    if (n == 0)
        s_empty_root(out);
    else
        s_root_rec(leaves, n, out);
}

/* ------------------------------------------------------------------ */
/* Frontier */

void
merkle_frontier_init(merkle_frontier_t *f)
{
    memset(f, 0, sizeof *f);
}

int
merkle_frontier_append_nodes(merkle_frontier_t *f,
    const uint8_t leaf_hash[MERKLE_HASH_BYTES], merkle_node_fn fn, void *ctx,
    errbuf_t *err)
{
    uint8_t  h[MERKLE_HASH_BYTES];
    unsigned level = 0;

    if (f->size >= MERKLE_MAX_TREE_SIZE) {
        errbuf_set(err,
            "merkle: the tree already holds the maximum of %" PRIu64
            " leaves; start a new log",
            MERKLE_MAX_TREE_SIZE);
        return -1;
    }
    /* Like adding one in binary: each set low bit is a perfect subtree of
     * the same size as the one being carried, and they merge. The frontier
     * is written only once every callback has accepted its node. */
    memcpy(h, leaf_hash, MERKLE_HASH_BYTES);
    for (;;) {
        if (fn != NULL && fn(ctx, level, f->size >> level, h) != 0) {
            errbuf_set(err,
                "merkle: storing the subtree root at level %u, index %" PRIu64
                " failed; the leaf was not appended",
                level, f->size >> level);
            return -1;
        }
        if ((f->size & (UINT64_C(1) << level)) == 0)
            break;
        merkle_node_hash(f->node[level], h, h);
        level++;
    }
    /* The tree never exceeds 2^63 leaves, so level <= 63. */
    memset(f->node, 0, (size_t)level * MERKLE_HASH_BYTES);
    memcpy(f->node[level], h, MERKLE_HASH_BYTES);
    f->size++;
    return 0;
}

int
merkle_frontier_append(merkle_frontier_t *f,
    const uint8_t leaf_hash[MERKLE_HASH_BYTES], errbuf_t *err)
{
    return merkle_frontier_append_nodes(f, leaf_hash, NULL, NULL, err);
}

void
merkle_frontier_root(const merkle_frontier_t *f,
    uint8_t out[MERKLE_HASH_BYTES])
{
    uint8_t  h[MERKLE_HASH_BYTES];
    unsigned level;
    int      have = 0;

    /* The right-most (smallest) subtree is the deepest right child; each
     * larger one is a left sibling on the way up. */
    for (level = 0; level < MERKLE_MAX_LEVELS; level++) {
        if ((f->size & (UINT64_C(1) << level)) == 0)
            continue;
        if (!have)
            memcpy(h, f->node[level], MERKLE_HASH_BYTES);
        else
            merkle_node_hash(f->node[level], h, h);
        have = 1;
    }
    if (have)
        memcpy(out, h, MERKLE_HASH_BYTES);
    else
        s_empty_root(out);
}

uint64_t
merkle_frontier_size(const merkle_frontier_t *f)
{
    return f->size;
}

size_t
merkle_frontier_serialized_len(const merkle_frontier_t *f)
{
    return MERKLE_FRONTIER_MIN_BYTES +
           (size_t)__builtin_popcountll(f->size) * MERKLE_HASH_BYTES;
}

int
merkle_frontier_serialize(const merkle_frontier_t *f, uint8_t *out,
    size_t cap, size_t *out_len, errbuf_t *err)
{
    size_t need = merkle_frontier_serialized_len(f), pos;
    int    level, i;

    *out_len = 0;
    if (cap < need) {
        errbuf_set(err,
            "merkle: frontier needs %zu bytes, the buffer has %zu; use "
            "MERKLE_FRONTIER_MAX_BYTES",
            need, cap);
        return -1;
    }
    memcpy(out, MERKLE_FRONTIER_MAGIC, MERKLE_FRONTIER_MAGIC_LEN);
    pos = MERKLE_FRONTIER_MAGIC_LEN;
    for (i = 7; i >= 0; i--)
        out[pos++] = (uint8_t)(f->size >> (8 * i));
    /* Left to right in the tree: the largest subtree first. */
    for (level = MERKLE_MAX_LEVELS - 1; level >= 0; level--) {
        if ((f->size & (UINT64_C(1) << level)) == 0)
            continue;
        memcpy(out + pos, f->node[level], MERKLE_HASH_BYTES);
        pos += MERKLE_HASH_BYTES;
    }
    merkle_frontier_root(f, out + pos);
    pos += MERKLE_HASH_BYTES;
    *out_len = pos;
    return 0;
}

int
merkle_frontier_parse(merkle_frontier_t *f, const uint8_t *buf, size_t len,
    errbuf_t *err)
{
    merkle_frontier_t tmp;
    uint8_t           root[MERKLE_HASH_BYTES];
    uint64_t          size = 0;
    size_t            pos, need;
    int               level, i;

    merkle_frontier_init(f);
    if (s_ready(err) != 0)
        return -1;
    if (len < MERKLE_FRONTIER_MIN_BYTES) {
        errbuf_set(err,
            "merkle: frontier is %zu bytes, shorter than the minimum of %d; "
            "the stored state is truncated",
            len, MERKLE_FRONTIER_MIN_BYTES);
        return -1;
    }
    if (memcmp(buf, MERKLE_FRONTIER_MAGIC, MERKLE_FRONTIER_MAGIC_LEN) != 0) {
        errbuf_set(err, "merkle: frontier does not start with \"%s\"; this "
                        "is not a stored tree state",
            MERKLE_FRONTIER_MAGIC);
        return -1;
    }
    pos = MERKLE_FRONTIER_MAGIC_LEN;
    for (i = 0; i < 8; i++)
        size = (size << 8) | buf[pos++];
    if (size > MERKLE_MAX_TREE_SIZE) {
        errbuf_set(err,
            "merkle: frontier tree size %" PRIu64 " is beyond the maximum "
            "of %" PRIu64,
            size, MERKLE_MAX_TREE_SIZE);
        return -1;
    }
    need = MERKLE_FRONTIER_MIN_BYTES +
           (size_t)__builtin_popcountll(size) * MERKLE_HASH_BYTES;
    if (len != need) {
        errbuf_set(err,
            "merkle: frontier for %" PRIu64 " leaves must be %zu bytes, "
            "got %zu; the stored state is truncated or has trailing bytes",
            size, need, len);
        return -1;
    }
    merkle_frontier_init(&tmp);
    tmp.size = size;
    for (level = MERKLE_MAX_LEVELS - 1; level >= 0; level--) {
        if ((size & (UINT64_C(1) << level)) == 0)
            continue;
        memcpy(tmp.node[level], buf + pos, MERKLE_HASH_BYTES);
        pos += MERKLE_HASH_BYTES;
    }
    merkle_frontier_root(&tmp, root);
    if (sodium_memcmp(root, buf + pos, MERKLE_HASH_BYTES) != 0) {
        errbuf_set(err, "merkle: frontier root does not match its subtree "
                        "roots; the stored state is corrupt");
        return -1;
    }
    *f = tmp;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Proof generation */

static int
s_subtree_root(merkle_leaf_fn fn, void *ctx, uint64_t start, uint64_t end,
    uint8_t out[MERKLE_HASH_BYTES], errbuf_t *err)
{
    merkle_frontier_t f;
    uint8_t           leaf[MERKLE_HASH_BYTES];
    uint64_t          i;

    /* The tree over D[start:end] is the tree over a list of end - start
     * leaves, so the frontier computes its root in O(log n) memory. */
    merkle_frontier_init(&f);
    for (i = start; i < end; i++) {
        if (fn(ctx, i, leaf) != 0) {
            errbuf_set(err,
                "merkle: reading the hash of leaf %" PRIu64 " failed", i);
            return -1;
        }
        if (merkle_frontier_append(&f, leaf, err) != 0)
            return -1;
    }
    merkle_frontier_root(&f, out);
    return 0;
}

int
merkle_subtree_root(merkle_leaf_fn fn, void *ctx, uint64_t start,
    uint64_t end, uint8_t out[MERKLE_HASH_BYTES], errbuf_t *err)
{
    if (s_ready(err) != 0)
        return -1;
    if (start > end || end > MERKLE_MAX_TREE_SIZE) {
        errbuf_set(err,
            "merkle: leaf range [%" PRIu64 ", %" PRIu64 ") is not a range "
            "of a tree of at most %" PRIu64 " leaves",
            start, end, MERKLE_MAX_TREE_SIZE);
        return -1;
    }
    return s_subtree_root(fn, ctx, start, end, out, err);
}

int
merkle_inclusion_proof(merkle_leaf_fn fn, void *ctx, uint64_t index,
    uint64_t tree_size, uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES],
    size_t *n_proof, errbuf_t *err)
{
    uint8_t  sib[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    uint64_t lo = 0, hi = tree_size, k;
    size_t   n = 0, i;
    int      rc;

    *n_proof = 0;
    if (s_ready(err) != 0)
        return -1;
    if (tree_size > MERKLE_MAX_TREE_SIZE) {
        errbuf_set(err,
            "merkle: tree size %" PRIu64 " is beyond the maximum of %" PRIu64,
            tree_size, MERKLE_MAX_TREE_SIZE);
        return -1;
    }
    if (index >= tree_size) {
        errbuf_set(err,
            "merkle: leaf index %" PRIu64 " is not in a tree of %" PRIu64
            " leaves (indexes start at 0)",
            index, tree_size);
        return -1;
    }
    /* PATH(m, D[lo:hi]) descends into the half holding the leaf; the other
     * half's root is the sibling at that level. Collected top-down, the
     * proof lists them bottom-up. At most 63 levels. */
    while (hi - lo > 1) {
        k = s_split(hi - lo);
        if (index < lo + k) {
            rc = s_subtree_root(fn, ctx, lo + k, hi, sib[n], err);
            hi = lo + k;
        } else {
            rc = s_subtree_root(fn, ctx, lo, lo + k, sib[n], err);
            lo += k;
        }
        if (rc != 0)
            return -1;
        n++;
    }
    for (i = 0; i < n; i++)
        memcpy(proof[i], sib[n - 1 - i], MERKLE_HASH_BYTES);
    *n_proof = n;
    return 0;
}

int
merkle_consistency_proof(merkle_leaf_fn fn, void *ctx, uint64_t old_size,
    uint64_t new_size, uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES],
    size_t *n_proof, errbuf_t *err)
{
    uint8_t  sib[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES];
    uint8_t  last[MERKLE_HASH_BYTES];
    uint64_t lo = 0, hi = new_size, m = old_size, k;
    size_t   n = 0, out = 0, i;
    int      whole = 1, have_last = 0, rc;

    *n_proof = 0;
    if (s_ready(err) != 0)
        return -1;
    if (new_size > MERKLE_MAX_TREE_SIZE) {
        errbuf_set(err,
            "merkle: tree size %" PRIu64 " is beyond the maximum of %" PRIu64,
            new_size, MERKLE_MAX_TREE_SIZE);
        return -1;
    }
    if (old_size > new_size) {
        errbuf_set(err,
            "merkle: old tree size %" PRIu64 " is larger than the new size "
            "%" PRIu64 "; a log only grows",
            old_size, new_size);
        return -1;
    }
    if (old_size == 0 || old_size == new_size)
        return 0;
    /* SUBPROOF(m, D[lo:hi], whole): whole stays true while the old tree is
     * the left edge of the current subtree, whose root the verifier then
     * already knows (the old root). */
    for (;;) {
        if (m == hi - lo) {
            if (!whole) {
                if (s_subtree_root(fn, ctx, lo, hi, last, err) != 0)
                    return -1;
                have_last = 1;
            }
            break;
        }
        k = s_split(hi - lo);
        if (m <= k) {
            rc = s_subtree_root(fn, ctx, lo + k, hi, sib[n], err);
            hi = lo + k;
        } else {
            rc = s_subtree_root(fn, ctx, lo, lo + k, sib[n], err);
            m -= k;
            lo += k;
            whole = 0;
        }
        if (rc != 0)
            return -1;
        n++;
    }
    /* A final hash exists only after a step to the right, so n >= 1 and
     * n + 1 <= 64 (depth <= 63). */
    if (have_last)
        memcpy(proof[out++], last, MERKLE_HASH_BYTES);
    for (i = 0; i < n; i++)
        memcpy(proof[out++], sib[n - 1 - i], MERKLE_HASH_BYTES);
    *n_proof = out;
    return 0;
}

/* ------------------------------------------------------------------ */
/* Verification */

/* The number of hashes in the inclusion proof of node index among the
 * nodes 0..last of one level: the levels where the path has a sibling
 * ("inner", below the point where index and last part ways) plus the
 * levels above where the path is a left child with a sibling ("border",
 * the set bits of what is left of index). */
static size_t
s_path_len(uint64_t index, uint64_t last)
{
    unsigned inner = s_bit_len(index ^ last);

    return inner + (size_t)__builtin_popcountll(index >> inner);
}

int
merkle_inclusion_verify(const uint8_t leaf_hash[MERKLE_HASH_BYTES],
    uint64_t index, uint64_t tree_size,
    const uint8_t (*proof)[MERKLE_HASH_BYTES], size_t n_proof,
    const uint8_t root[MERKLE_HASH_BYTES], errbuf_t *err)
{
    uint8_t  r[MERKLE_HASH_BYTES];
    uint64_t fn, sn;
    size_t   want, i;

    if (s_ready(err) != 0)
        return -1;
    if (tree_size == 0 || tree_size > MERKLE_MAX_TREE_SIZE) {
        errbuf_set(err,
            "merkle: inclusion proof for a tree of %" PRIu64 " leaves; the "
            "size must be 1..%" PRIu64,
            tree_size, MERKLE_MAX_TREE_SIZE);
        return -1;
    }
    if (index >= tree_size) {
        errbuf_set(err,
            "merkle: leaf index %" PRIu64 " is beyond the tree of %" PRIu64
            " leaves (indexes start at 0)",
            index, tree_size);
        return -1;
    }
    want = s_path_len(index, tree_size - 1);
    if (n_proof != want) {
        errbuf_set(err,
            "merkle: inclusion proof for leaf %" PRIu64 " in a tree of "
            "%" PRIu64 " leaves must have %zu hashes, got %zu",
            index, tree_size, want, n_proof);
        return -1;
    }
    /* RFC 9162 section 2.1.3.2, step by step. */
    fn = index;
    sn = tree_size - 1;
    memcpy(r, leaf_hash, MERKLE_HASH_BYTES);
    for (i = 0; i < n_proof; i++) {
        if (sn == 0) {
            errbuf_set(err, "merkle: inclusion proof is longer than the "
                            "path to the root");
            return -1;
        }
        if ((fn & 1) != 0 || fn == sn) {
            merkle_node_hash(proof[i], r, r);
            if ((fn & 1) == 0) {
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            merkle_node_hash(r, proof[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) {
        errbuf_set(err, "merkle: inclusion proof is shorter than the path "
                        "to the root");
        return -1;
    }
    if (sodium_memcmp(r, root, MERKLE_HASH_BYTES) != 0) {
        errbuf_set(err,
            "merkle: root mismatch: the inclusion proof for leaf %" PRIu64
            " leads to another root than the tree head's for %" PRIu64
            " leaves; the entry is not in that tree or the proof is forged",
            index, tree_size);
        return -1;
    }
    return 0;
}

int
merkle_consistency_verify(uint64_t old_size, uint64_t new_size,
    const uint8_t old_root[MERKLE_HASH_BYTES],
    const uint8_t new_root[MERKLE_HASH_BYTES],
    const uint8_t (*proof)[MERKLE_HASH_BYTES], size_t n_proof, errbuf_t *err)
{
    uint8_t        fr[MERKLE_HASH_BYTES], sr[MERKLE_HASH_BYTES];
    uint8_t        empty[MERKLE_HASH_BYTES];
    const uint8_t *seed;
    uint64_t       fn, sn;
    unsigned       shift;
    size_t         want, start, i;
    int            bad_old, bad_new;

    if (s_ready(err) != 0)
        return -1;
    if (new_size > MERKLE_MAX_TREE_SIZE) {
        errbuf_set(err,
            "merkle: new tree size %" PRIu64 " is beyond the maximum of "
            "%" PRIu64,
            new_size, MERKLE_MAX_TREE_SIZE);
        return -1;
    }
    if (old_size > new_size) {
        errbuf_set(err,
            "merkle: old tree size %" PRIu64 " is larger than the new size "
            "%" PRIu64 "; a log only grows, so these tree heads are "
            "inconsistent",
            old_size, new_size);
        return -1;
    }
    /* Outside RFC 9162's algorithm (0 < old < new): nothing to prove, so
     * only an empty proof is accepted, and the roots must be what the
     * sizes say. */
    if (old_size == 0 || old_size == new_size) {
        if (n_proof != 0) {
            errbuf_set(err,
                "merkle: consistency proof from %" PRIu64 " to %" PRIu64
                " leaves must be empty, got %zu hashes",
                old_size, new_size, n_proof);
            return -1;
        }
        s_empty_root(empty);
        if (old_size == 0 &&
            sodium_memcmp(old_root, empty, MERKLE_HASH_BYTES) != 0) {
            errbuf_set(err, "merkle: old root for 0 leaves is not the empty "
                            "tree root (SHA-256 of nothing)");
            return -1;
        }
        if (old_size == new_size &&
            sodium_memcmp(old_root, new_root, MERKLE_HASH_BYTES) != 0) {
            errbuf_set(err,
                "merkle: root mismatch: two different roots for the same "
                "size %" PRIu64 "; the log has forked",
                old_size);
            return -1;
        }
        return 0;
    }
    /* The proof is the inclusion path of the old tree's last full subtree
     * (at level shift), preceded by that subtree's root unless it is the
     * whole old tree (old_size a power of two), whose root the verifier
     * has. */
    shift = (unsigned)__builtin_ctzll(old_size);
    start = (old_size >> shift) == 1 ? 0 : 1;
    want = start + s_path_len((old_size - 1) >> shift, (new_size - 1) >> shift);
    if (n_proof != want) {
        errbuf_set(err,
            "merkle: consistency proof from %" PRIu64 " to %" PRIu64
            " leaves must have %zu hashes, got %zu",
            old_size, new_size, want, n_proof);
        return -1;
    }
    /* RFC 9162 section 2.1.4.2, step by step; "prepend old_root" is done
     * by seeding with it. */
    seed = start == 0 ? old_root : proof[0];
    fn = old_size - 1;
    sn = new_size - 1;
    while ((fn & 1) != 0) {
        fn >>= 1;
        sn >>= 1;
    }
    memcpy(fr, seed, MERKLE_HASH_BYTES);
    memcpy(sr, seed, MERKLE_HASH_BYTES);
    for (i = start; i < n_proof; i++) {
        if (sn == 0) {
            errbuf_set(err, "merkle: consistency proof is longer than the "
                            "path to the root");
            return -1;
        }
        if ((fn & 1) != 0 || fn == sn) {
            merkle_node_hash(proof[i], fr, fr);
            merkle_node_hash(proof[i], sr, sr);
            if ((fn & 1) == 0) {
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    if (sn != 0) {
        errbuf_set(err, "merkle: consistency proof is shorter than the path "
                        "to the root");
        return -1;
    }
    bad_old = sodium_memcmp(fr, old_root, MERKLE_HASH_BYTES) != 0;
    bad_new = sodium_memcmp(sr, new_root, MERKLE_HASH_BYTES) != 0;
    if (bad_old || bad_new) {
        errbuf_set(err,
            "merkle: root mismatch: the consistency proof from %" PRIu64
            " to %" PRIu64 " leaves does not lead to the %s; the tree heads "
            "are not of one append-only log, or the proof is forged",
            old_size, new_size,
            bad_old && bad_new ? "old or the new root"
            : bad_old          ? "old root"
                               : "new root");
        return -1;
    }
    return 0;
}
