/*
 * merkle: the Merkle tree of the hub's tamper-evident archive.
 *
 * The tree is the one of Certificate Transparency (RFC 6962 section 2.1,
 * RFC 9162 section 2.1) with SHA-256, so any CT tooling can check our proofs:
 *   leaf hash   SHA-256(0x00 || entry)
 *   node hash   SHA-256(0x01 || left || right)
 *   MTH(D[n])   for n > 1 the node hash of MTH(D[0:k]) and MTH(D[k:n]),
 *               k the largest power of two strictly less than n;
 *               for n = 1 the leaf hash; for n = 0 SHA-256 of nothing.
 * Byte-level description: docs/FORMAT-merkle.md.
 *
 * Three parts:
 *   - hashing and the root of an in-memory list of leaf hashes;
 *   - merkle_frontier_t, the O(log n) state the hub keeps to append leaves
 *     and sign tree heads without rereading the archive;
 *   - proofs: generated from a leaf-hash source (the archive, through a
 *     callback) and verified by the RFC 9162 algorithms.
 *
 * Proof generation reads every leaf of the tree but one, O(n) per proof,
 * which is fine for archives of thousands of packages. If that ever
 * matters, store the root of every perfect subtree when it completes
 * (merkle_frontier_append_nodes reports each one: level l, index i,
 * covering leaves [i * 2^l, (i + 1) * 2^l)) and look those up instead of
 * rereading leaves; every subtree a proof needs is perfect except those on
 * the right edge, which makes proofs O(log n) reads.
 *
 * Sizes: a tree holds at most MERKLE_MAX_TREE_SIZE (2^63) leaves, so a tree
 * is at most 63 levels deep and every proof fits in MERKLE_MAX_PROOF hashes.
 *
 * Security notes for callers:
 *   - A proof binds a leaf (or an old root) to a root; the tree size only
 *     decides the shape of the path. Always take the size and the root from
 *     the same signed tree head, never the size from one place and the root
 *     from another.
 *   - Consistency from size 0 is trivially true: the empty tree is a prefix
 *     of every tree. It is accepted only with an empty proof and the empty
 *     tree root, and says nothing about the new tree.
 *
 * Hashing (crypto/sha256.h) needs no sodium_init(), so the hash and
 * frontier functions do not call it; frontier parsing, proof generation
 * and verification call it themselves. All functions are reentrant.
 */
#ifndef CSBM_MERKLE_H
#define CSBM_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errbuf.h"

#define MERKLE_HASH_BYTES    32
#define MERKLE_MAX_PROOF     64
#define MERKLE_MAX_LEVELS    64
#define MERKLE_MAX_TREE_SIZE (UINT64_C(1) << 63)

/* Serialized frontier: magic, size, at most 63 subtree roots, root. */
#define MERKLE_FRONTIER_MAGIC     "CSBMFRT1"
#define MERKLE_FRONTIER_MAGIC_LEN 8
#define MERKLE_FRONTIER_MIN_BYTES \
    (MERKLE_FRONTIER_MAGIC_LEN + 8 + MERKLE_HASH_BYTES)
#define MERKLE_FRONTIER_MAX_BYTES \
    (MERKLE_FRONTIER_MIN_BYTES + 63 * MERKLE_HASH_BYTES)

/* ------------------------------------------------------------------ */
/* Hashing */

/* leaf hash = SHA-256(0x00 || entry). entry may be NULL when len is 0. */
void merkle_leaf_hash(const uint8_t *entry, size_t len,
    uint8_t out[MERKLE_HASH_BYTES]);

/* node hash = SHA-256(0x01 || left || right). out may alias either input. */
void merkle_node_hash(const uint8_t left[MERKLE_HASH_BYTES],
    const uint8_t right[MERKLE_HASH_BYTES], uint8_t out[MERKLE_HASH_BYTES]);

/* The root of the tree over n leaf hashes (the empty tree root when n is 0;
 * leaves may then be NULL). Follows the recursive definition literally; for
 * tests and small trees held in memory. */
void merkle_root(const uint8_t (*leaves)[MERKLE_HASH_BYTES], uint64_t n,
    uint8_t out[MERKLE_HASH_BYTES]);

/* ------------------------------------------------------------------ */
/* Frontier: an appendable tree in O(log n) memory */

/* The roots of the perfect subtrees the tree decomposes into ("compact
 * range" of [0, size)): node[l] is the root of 2^l leaves when bit l of
 * size is set, and all zero otherwise. A plain value, so the hub can copy
 * it before a batch of appends and put the copy back if the batch's
 * database transaction fails. Change it only through the functions below. */
typedef struct {
    uint64_t size;
    uint8_t  node[MERKLE_MAX_LEVELS][MERKLE_HASH_BYTES];
} merkle_frontier_t;

/* Called by merkle_frontier_append_nodes for each perfect subtree that
 * the append completes, smallest first: the subtree at level (0 for the
 * leaf itself) and index covers leaves [index << level, (index + 1) <<
 * level). A nonzero return stops the append, which then fails and leaves
 * the frontier unchanged. */
typedef int (*merkle_node_fn)(void *ctx, unsigned level, uint64_t index,
    const uint8_t hash[MERKLE_HASH_BYTES]);

/* The empty tree. */
void merkle_frontier_init(merkle_frontier_t *f);

/* Append one leaf hash. Returns 0, or -1 with err set when the tree
 * already holds MERKLE_MAX_TREE_SIZE leaves (f is then unchanged). */
int merkle_frontier_append(merkle_frontier_t *f,
    const uint8_t leaf_hash[MERKLE_HASH_BYTES], errbuf_t *err)
    __attribute__((warn_unused_result));

/* merkle_frontier_append, also reporting every perfect subtree root the
 * append completes to fn (may be NULL), so a caller can store them. */
int merkle_frontier_append_nodes(merkle_frontier_t *f,
    const uint8_t leaf_hash[MERKLE_HASH_BYTES], merkle_node_fn fn, void *ctx,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The root of the tree of merkle_frontier_size(f) leaves; equal to
 * merkle_root over the same leaves. */
void merkle_frontier_root(const merkle_frontier_t *f,
    uint8_t out[MERKLE_HASH_BYTES]);

/* The number of leaves appended. */
uint64_t merkle_frontier_size(const merkle_frontier_t *f);

/* The length of f serialized: MERKLE_FRONTIER_MIN_BYTES plus 32 bytes per
 * set bit of the size; never more than MERKLE_FRONTIER_MAX_BYTES. */
size_t merkle_frontier_serialized_len(const merkle_frontier_t *f);

/* Serialize f into out (cap bytes; MERKLE_FRONTIER_MAX_BYTES always
 * suffice), setting *out_len. Returns 0, or -1 with err set if cap is too
 * small. Format in docs/FORMAT-merkle.md. */
int merkle_frontier_serialize(const merkle_frontier_t *f, uint8_t *out,
    size_t cap, size_t *out_len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Parse a serialized frontier of exactly len bytes into *f. Checks the
 * magic, the size bound, that the length matches the size exactly, and the
 * trailing root against the one recomputed from the subtree roots, so any
 * corruption of a stored frontier is refused. On failure *f is the empty
 * tree and err says what was wrong. Returns 0 or -1. */
int merkle_frontier_parse(merkle_frontier_t *f, const uint8_t *buf,
    size_t len, errbuf_t *err) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Proof generation from a leaf-hash source */

/* Write the leaf hash of leaf index (0-based) into out; return 0, or
 * nonzero if it cannot be read (keep your own error detail in ctx). */
typedef int (*merkle_leaf_fn)(void *ctx, uint64_t index,
    uint8_t out[MERKLE_HASH_BYTES]);

/* The root of the tree over leaves [start, end), reading each once through
 * fn. start == end gives the empty tree root. Returns 0, or -1 with err set
 * (start > end, end beyond MERKLE_MAX_TREE_SIZE, or fn failed). */
int merkle_subtree_root(merkle_leaf_fn fn, void *ctx, uint64_t start,
    uint64_t end, uint8_t out[MERKLE_HASH_BYTES], errbuf_t *err)
    __attribute__((warn_unused_result));

/* The inclusion proof of leaf index in the tree of the first tree_size
 * leaves (RFC 6962 PATH, section 2.1.1): *n_proof hashes, the sibling next
 * to the leaf first. Returns 0, or -1 with err set (index >= tree_size,
 * tree_size beyond MERKLE_MAX_TREE_SIZE, or fn failed). */
int merkle_inclusion_proof(merkle_leaf_fn fn, void *ctx, uint64_t index,
    uint64_t tree_size, uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES],
    size_t *n_proof, errbuf_t *err) __attribute__((warn_unused_result));

/* The consistency proof from the tree of old_size leaves to the tree of
 * new_size leaves (RFC 6962 SUBPROOF, section 2.1.2). Empty when old_size
 * is 0 or equal to new_size. Returns 0, or -1 with err set (old_size >
 * new_size, new_size beyond MERKLE_MAX_TREE_SIZE, or fn failed). */
int merkle_consistency_proof(merkle_leaf_fn fn, void *ctx, uint64_t old_size,
    uint64_t new_size, uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES],
    size_t *n_proof, errbuf_t *err) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------ */
/* Verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2) */

/* Does proof show that leaf_hash is leaf index of the tree of tree_size
 * leaves with root root? Returns 0 if so; otherwise -1 with err naming the
 * reason: tree size 0 or beyond MERKLE_MAX_TREE_SIZE, index beyond the
 * tree, a proof of the wrong length for that index and size, or a root
 * mismatch. proof may be NULL when n_proof is 0. */
int merkle_inclusion_verify(const uint8_t leaf_hash[MERKLE_HASH_BYTES],
    uint64_t index, uint64_t tree_size,
    const uint8_t (*proof)[MERKLE_HASH_BYTES], size_t n_proof,
    const uint8_t root[MERKLE_HASH_BYTES], errbuf_t *err)
    __attribute__((warn_unused_result, nonnull(1, 6)));

/* Does proof show that the tree of old_size leaves with root old_root is a
 * prefix of the tree of new_size leaves with root new_root? Returns 0 if
 * so; otherwise -1 with err naming the reason. Edge cases: old_size ==
 * new_size takes an empty proof and equal roots; old_size == 0 takes an
 * empty proof and old_root equal to the empty tree root; old_size >
 * new_size and sizes beyond MERKLE_MAX_TREE_SIZE are refused. proof may be
 * NULL when n_proof is 0. */
int merkle_consistency_verify(uint64_t old_size, uint64_t new_size,
    const uint8_t old_root[MERKLE_HASH_BYTES],
    const uint8_t new_root[MERKLE_HASH_BYTES],
    const uint8_t (*proof)[MERKLE_HASH_BYTES], size_t n_proof, errbuf_t *err)
    __attribute__((warn_unused_result, nonnull(3, 4)));

#endif
