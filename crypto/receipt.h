/*
 * receipt: the hub's signed statements — receipts for archived packages and
 * rejections for refused ones.
 *
 * A statement is a serialized csbm.Receipt or csbm.Rejection; the hub signs
 * with Ed25519 over label || 0x00 || statement bytes, where label is
 * "CSBM-receipt-v1" or "CSBM-rejection-v1", so one can never be passed off
 * as the other. Verification parses only the exact signed bytes.
 */
#ifndef CSBM_RECEIPT_H
#define CSBM_RECEIPT_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/treehead.h"
#include "proto/errbuf.h"
#include "proto/wire.pb-c.h"

#define RECEIPT_LABEL   "CSBM-receipt-v1"
#define REJECTION_LABEL "CSBM-rejection-v1"
#define RECEIPT_MAX_STATEMENT 4096

/* Sign a Receipt with the hub's KEYS_SIGN key into a new Csbm__Signed
 * (caller frees with receipt_signed_free). */
Csbm__Signed *receipt_sign(const keys_secret_t *hub_key,
    const Csbm__Receipt *receipt, errbuf_t *err)
    __attribute__((warn_unused_result));
Csbm__Signed *receipt_sign_rejection(const keys_secret_t *hub_key,
    const Csbm__Rejection *rejection, errbuf_t *err)
    __attribute__((warn_unused_result));
void receipt_signed_free(Csbm__Signed *s);

/* Verify a signed receipt with the hub's public key and return the parsed
 * statement (caller frees with protobuf_c_message_free_unpacked). Checks
 * key id, sizes, signature, then parses the signed bytes. */
int receipt_verify(const Csbm__Signed *s, const uint8_t hub_pk[32],
    Csbm__Receipt **out, errbuf_t *err) __attribute__((warn_unused_result));
int receipt_verify_rejection(const Csbm__Signed *s, const uint8_t hub_pk[32],
    Csbm__Rejection **out, errbuf_t *err) __attribute__((warn_unused_result));

/* SHA-256 of an envelope, as named in receipts. */
void receipt_envelope_hash(const uint8_t *env, size_t len, uint8_t out[32]);

/* Name of a reason code ("REASON_REPLAY"). */
const char *receipt_reason_name(int reason);

/* ------------------------------------------------------------------ */
/* Receipts in the tamper-evident log (docs/FORMAT-merkle.md) */

#define RECEIPT_FILE_MAX (64u * 1024) /* largest receipt file accepted */

/* Does ip show that the (verified) receipt r is a leaf of a tree head the
 * hub signed with hub_pk? Checks the head's signature, that its origin is
 * the receipt's federation, that it is not older than the receipt, that
 * the leaf index is the receipt's log_index, the proof's length, and the
 * leaf recomputed from the receipt (position, accepted_at, envelope hash)
 * against the head's root. Returns 0 with *head, or -1 with err. */
int receipt_inclusion_verify(const Csbm__Receipt *r,
    const Csbm__InclusionProof *ip, const uint8_t hub_pk[32],
    treehead_t *head, errbuf_t *err)
    __attribute__((warn_unused_result, nonnull(1, 3, 4)));

/* What a verified receipt file says. */
typedef struct {
    Csbm__Receipt *receipt;    /* the statement; receipt_proof_clear frees */
    treehead_t     head;       /* the signed head that holds it */
    int            envelope_checked; /* an envelope was given and matched */
} receipt_proof_t;

/* Verify a receipt file (a serialized csbm.ReceiptFile) offline with the
 * hub's public signing key only: the receipt's signature, its inclusion
 * in the signed head, and, if env is not NULL, that env is the envelope
 * it names (SHA-256 and package id). Returns 0 with *out, or -1 with err
 * saying which check failed. */
int receipt_file_verify(const uint8_t *buf, size_t len,
    const uint8_t hub_pk[32], const uint8_t *env, size_t env_len,
    receipt_proof_t *out, errbuf_t *err)
    __attribute__((warn_unused_result, nonnull(3, 6)));
void receipt_proof_clear(receipt_proof_t *p);

/* Serialize a receipt file from a signed receipt and its inclusion proof
 * (either may be given serialized instead: NULL the message, pass the
 * bytes). Caller frees *out. Returns 0, or -1 with err. */
int receipt_file_pack(const uint8_t *receipt, size_t receipt_len,
    const uint8_t *inclusion, size_t inclusion_len, uint8_t **out,
    size_t *out_len, errbuf_t *err) __attribute__((warn_unused_result));

#endif
