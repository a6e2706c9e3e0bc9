/*
 * receipt: the hub's statements — receipts for archived packages and
 * rejections for refused ones.
 *
 * A statement is a serialized csbm.Receipt or csbm.Rejection, carried in a
 * csbm.Signed with the id of the hub key it answers to.
 *
 * Rejections are signed one by one: Ed25519 over label || 0x00 ||
 * statement bytes, label "CSBM-rejection-v1".
 *
 * Receipts are signed in batches, as a transparency log signs its entries:
 * the receipt's own signature field is empty, and its leaf in the hub's log
 * (treehead_leaf_package, which binds the SHA-256 of the exact statement
 * bytes) is in a tree head the hub signed. A receipt is therefore worth
 * exactly its inclusion proof: receipt_verify checks both. One Ed25519
 * signature per batch replaces one per package.
 *
 * Verification parses only the exact bytes covered.
 */
#ifndef CSBM_RECEIPT_H
#define CSBM_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/treehead.h"
#include "proto/errbuf.h"
#include "proto/wire.pb-c.h"

#define REJECTION_LABEL "CSBM-rejection-v1"
#define RECEIPT_MAX_STATEMENT 4096

/* A Receipt as carried: a new Csbm__Signed holding its serialized
 * statement and hub_key's id, without a signature of its own (caller
 * frees with receipt_signed_free). *statement_hash receives the SHA-256
 * of the statement bytes, for the package's leaf. */
Csbm__Signed *receipt_make(const keys_secret_t *hub_key,
    const Csbm__Receipt *receipt, uint8_t statement_hash[32], errbuf_t *err)
    __attribute__((warn_unused_result));
Csbm__Signed *receipt_sign_rejection(const keys_secret_t *hub_key,
    const Csbm__Rejection *rejection, errbuf_t *err)
    __attribute__((warn_unused_result));
void receipt_signed_free(Csbm__Signed *s);

/* Parse a receipt's statement without trusting it yet: sizes, the
 * fields every receipt has. Caller frees *out with
 * protobuf_c_message_free_unpacked. The receipt proves nothing until
 * receipt_inclusion_verify (or receipt_verify) has checked its leaf. */
int receipt_parse(const Csbm__Signed *s, Csbm__Receipt **out, errbuf_t *err)
    __attribute__((warn_unused_result));

/* receipt_parse, then receipt_inclusion_verify with ip: the receipt is
 * one the hub holds to. Returns 0 with *out (caller frees) and *head. */
int receipt_verify(const Csbm__Signed *s, const Csbm__InclusionProof *ip,
    const uint8_t hub_pk[32], Csbm__Receipt **out, treehead_t *head,
    errbuf_t *err) __attribute__((warn_unused_result));
int receipt_verify_rejection(const Csbm__Signed *s, const uint8_t hub_pk[32],
    Csbm__Rejection **out, errbuf_t *err) __attribute__((warn_unused_result));

/* SHA-256 of an envelope, as named in receipts. */
void receipt_envelope_hash(const uint8_t *env, size_t len, uint8_t out[32]);

/* Name of a reason code ("REASON_REPLAY"). */
const char *receipt_reason_name(int reason);

/* ------------------------------------------------------------------ */
/* Receipts in the tamper-evident log (docs/FORMAT-merkle.md) */

#define RECEIPT_FILE_MAX (64u * 1024) /* largest receipt file accepted */

/* The leaf hash of receipt s (r its parsed statement): the package leaf
 * of r's position, accepted_at and envelope hash and of the SHA-256 of
 * s's statement bytes. */
void receipt_leaf_hash(const Csbm__Signed *s, const Csbm__Receipt *r,
    uint8_t out[MERKLE_HASH_BYTES]) __attribute__((nonnull));

/* Does ip show that receipt s (r its parsed statement) is a leaf of a
 * tree head the hub signed with hub_pk? Checks the head's signature,
 * then receipt_path_verify against it. Returns 0 with *head, or -1 with
 * err. */
int receipt_inclusion_verify(const Csbm__Signed *s, const Csbm__Receipt *r,
    const Csbm__InclusionProof *ip, const uint8_t hub_pk[32],
    treehead_t *head, errbuf_t *err)
    __attribute__((warn_unused_result, nonnull(1, 2, 4, 5)));

/* The same against a head already verified (a pull page's): that its
 * origin is the receipt's federation, that it is not older than the
 * receipt, that leaf_index is the receipt's log_index, the proof's
 * length, and the leaf recomputed from the receipt against the head's
 * root. Returns 0, or -1 with err. */
int receipt_path_verify(const Csbm__Signed *s, const Csbm__Receipt *r,
    uint64_t leaf_index, const uint8_t *path, size_t path_len,
    const treehead_t *head, errbuf_t *err)
    __attribute__((warn_unused_result, nonnull(1, 2, 6)));

/* What a verified receipt file says. */
typedef struct {
    Csbm__Receipt *receipt;    /* the statement; receipt_proof_clear frees */
    treehead_t     head;       /* the signed head that holds it */
    int            envelope_checked; /* an envelope was given and matched */
} receipt_proof_t;

/* Verify a receipt file (a serialized csbm.ReceiptFile) offline with the
 * hub's public signing key only: the receipt's inclusion in the signed
 * head, and, if env is not NULL, that env is the envelope
 * it names (SHA-256 and package id). Returns 0 with *out, or -1 with err
 * saying which check failed. */
int receipt_file_verify(const uint8_t *buf, size_t len,
    const uint8_t hub_pk[32], const uint8_t *env, size_t env_len,
    receipt_proof_t *out, errbuf_t *err)
    __attribute__((warn_unused_result, nonnull(3, 6)));
void receipt_proof_clear(receipt_proof_t *p);

/* Serialize a receipt file from a receipt and its inclusion proof
 * (either may be given serialized instead: NULL the message, pass the
 * bytes). Caller frees *out. Returns 0, or -1 with err. */
int receipt_file_pack(const uint8_t *receipt, size_t receipt_len,
    const uint8_t *inclusion, size_t inclusion_len, uint8_t **out,
    size_t *out_len, errbuf_t *err) __attribute__((warn_unused_result));

#endif
