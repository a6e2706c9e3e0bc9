/*
 * treehead: the byte formats of the hub's tamper-evident log — leaf
 * entries, signed tree heads (STH) and witnesses' cosignatures — and
 * their signatures. docs/FORMAT-merkle.md gives every layout.
 *
 *   leaf entry, package  0x01 || position || accepted_at || envelope hash
 *   leaf entry, pull     0x02 || at || len || member || after || n || positions
 *   STH                  "CSBMSTH1" || len || origin || size || root || time
 *   STH signature        Ed25519(hub sign key,
 *                                "CSBM-tree-head-v1" || 0x00 || STH)
 *   cosignature          Ed25519(member sign key,
 *                                "CSBM-cosignature-v1" || 0x00 || STH)
 *
 * Integers are unsigned big-endian. Signatures cover the exact bytes
 * carried; verification parses only bytes whose signature checked.
 */
#ifndef CSBM_TREEHEAD_H
#define CSBM_TREEHEAD_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/merkle.h"
#include "proto/errbuf.h"
#include "proto/wire.pb-c.h"

#define TREEHEAD_LABEL        "CSBM-tree-head-v1"
#define TREEHEAD_COSIGN_LABEL "CSBM-cosignature-v1"
#define TREEHEAD_MAGIC        "CSBMSTH1"
#define TREEHEAD_MAGIC_LEN    8
#define TREEHEAD_ORIGIN_MAX   64
#define TREEHEAD_MIN_BYTES    (TREEHEAD_MAGIC_LEN + 1 + 8 + 32 + 8)
#define TREEHEAD_MAX_BYTES    (TREEHEAD_MIN_BYTES + TREEHEAD_ORIGIN_MAX)

#define TREEHEAD_LEAF_PACKAGE       0x01
#define TREEHEAD_LEAF_PULL          0x02
#define TREEHEAD_LEAF_PACKAGE_BYTES (1 + 8 + 8 + 32 + 32)
#define TREEHEAD_PULL_MAX_POSITIONS 256
#define TREEHEAD_WHO_MAX            15
#define TREEHEAD_LEAF_MAX \
    (1 + 8 + 1 + TREEHEAD_WHO_MAX + 8 + 4 + 8 * TREEHEAD_PULL_MAX_POSITIONS)

/* A tree head: the log of origin held size leaves with this root at
 * timestamp (Unix seconds, hub clock). */
typedef struct {
    char     origin[TREEHEAD_ORIGIN_MAX + 1];
    uint64_t size;
    uint8_t  root[MERKLE_HASH_BYTES];
    int64_t  timestamp;
} treehead_t;

/* Serialize th into out (TREEHEAD_MAX_BYTES suffice). Returns 0, or -1
 * with err for an origin outside 1..64 bytes, a size beyond the Merkle
 * bound or a negative timestamp. */
int treehead_encode(const treehead_t *th, uint8_t out[TREEHEAD_MAX_BYTES],
    size_t *len, errbuf_t *err) __attribute__((warn_unused_result));

/* Parse exactly len bytes. Refuses a wrong magic, an origin length
 * outside 1..64, any length other than the exact one, a size beyond
 * MERKLE_MAX_TREE_SIZE and a timestamp beyond INT64_MAX. */
int treehead_decode(const uint8_t *buf, size_t len, treehead_t *out,
    errbuf_t *err) __attribute__((warn_unused_result, nonnull(1, 3)));

/* Sign th with the hub's KEYS_SIGN key: a new Csbm__Signed whose statement
 * is the STH bytes (free with receipt_signed_free). */
Csbm__Signed *treehead_sign(const keys_secret_t *hub_key, const treehead_t *th,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Verify a signed head with the hub's public key: key id, signature over
 * label || 0x00 || statement, then parse. Returns 0 with *out. */
int treehead_verify(const Csbm__Signed *s, const uint8_t hub_pk[32],
    treehead_t *out, errbuf_t *err)
    __attribute__((warn_unused_result, nonnull(2, 3)));

/* A witness's cosignature over the exact STH bytes, with its KEYS_SIGN
 * key. Returns 0, or -1 for a key of another kind. */
int treehead_cosign(const keys_secret_t *key, const uint8_t *sth, size_t len,
    uint8_t sig[KEYS_SIG_BYTES]) __attribute__((warn_unused_result));

/* Check a cosignature with the witness's Ed25519 public key. */
int treehead_cosign_verify(const uint8_t pk[32], const uint8_t *sth,
    size_t len, const uint8_t *sig, size_t sig_len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The leaf entry of an archived package (TREEHEAD_LEAF_PACKAGE_BYTES):
 * its position, when it was accepted, the SHA-256 of its envelope and the
 * SHA-256 of its receipt's statement bytes, which the leaf thereby signs
 * (crypto/receipt.h). */
void treehead_leaf_package(uint64_t position, int64_t accepted_at,
    const uint8_t envelope_hash[32], const uint8_t receipt_hash[32],
    uint8_t out[TREEHEAD_LEAF_PACKAGE_BYTES]);

/* The leaf hash of that entry. */
void treehead_leaf_package_hash(uint64_t position, int64_t accepted_at,
    const uint8_t envelope_hash[32], const uint8_t receipt_hash[32],
    uint8_t out[MERKLE_HASH_BYTES]);

/* The leaf entry of a pull served: member who, at time at, asked after
 * position after and got positions[0..n). out holds TREEHEAD_LEAF_MAX
 * bytes. Returns 0, or -1 with err (bad id, too many positions). */
int treehead_leaf_pull(int64_t at, const char *who, uint64_t after,
    const uint64_t *positions, size_t n, uint8_t out[TREEHEAD_LEAF_MAX],
    size_t *len, errbuf_t *err) __attribute__((warn_unused_result));

/* Check that entry is a well-formed leaf entry; *kind is its kind. */
int treehead_leaf_check(const uint8_t *entry, size_t len, int *kind,
    errbuf_t *err) __attribute__((warn_unused_result));

/* A proof as carried in a message (n x 32 bytes) into proof[]. Refuses a
 * length that is not a multiple of 32 or above 64 hashes. */
int treehead_proof_parse(const uint8_t *buf, size_t len,
    uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t *n,
    errbuf_t *err) __attribute__((warn_unused_result));

/* A head in one line for messages: "size 42, root 1a2b3c4d..., at
 * 2026-...Z". */
void treehead_describe(const treehead_t *th, char *out, size_t cap);

#endif
