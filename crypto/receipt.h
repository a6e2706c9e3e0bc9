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

#endif
