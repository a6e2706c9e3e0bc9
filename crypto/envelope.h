/*
 * envelope: seal, verify and open signed, encrypted packages.
 *
 * The byte layout is in docs/FORMAT.md. In short:
 *   "CSBM" | version (1 byte) | header length (u32 BE) | header (protobuf
 *   csbm.EnvelopeHeader, signed as carried) | Ed25519 signature (64) |
 *   body: crypto_secretstream_xchacha20poly1305 header (24) and chunks.
 * The signature covers a domain-separation label, the version and the exact
 * header bytes; the header holds the BLAKE2b-256 hash of the body, the
 * recipients with their wrapped content keys, and a commitment to the
 * content key. So the hub and any third party can check who sent what to
 * whom without decrypting, and a recipient detects a content key that does
 * not match what the other recipients got.
 *
 * Trust flow: envelope_parse (bounds and framing only; nothing is trusted),
 * look the sender's key up by header->sender and header->sender_key_id,
 * envelope_verify, then envelope_open as a recipient.
 */
#ifndef CSBM_ENVELOPE_H
#define CSBM_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/envelope.pb-c.h"
#include "proto/errbuf.h"

#define ENVELOPE_VERSION        1
#define ENVELOPE_MAGIC          "CSBM"
#define ENVELOPE_ID_BYTES       16
#define ENVELOPE_MAX_HEADER     (64u * 1024)
#define ENVELOPE_MAX_BODY       (64u * 1024 * 1024) /* ciphertext bytes */
#define ENVELOPE_MAX_RECIPIENTS 128
#define ENVELOPE_MAX_REFERENCES 32
#define ENVELOPE_CHUNK_SIZE     (64u * 1024)
#define ENVELOPE_ID_MAX         15  /* recipient / sender id length */
#define ENVELOPE_FEDERATION_MAX 64
#define ENVELOPE_SIG_BYTES      64

typedef struct envelope envelope_t;

/* One recipient to seal to. */
typedef struct {
    const char    *id;        /* state code or "hub" */
    const uint8_t *box_pk;    /* 32-byte X25519 public key */
} envelope_recipient_t;

typedef struct {
    const char    *federation;
    const char    *sender;
    const uint8_t *sign_sk;        /* 64-byte Ed25519 secret key */
    Csbm__PackageType package_type;
    Csbm__Distribution distribution;
    const envelope_recipient_t *recipients;
    size_t         n_recipients;
    uint64_t       created_at;     /* Unix seconds */
    uint64_t       sequence;
    const uint8_t (*references)[ENVELOPE_ID_BYTES];
    size_t         n_references;
    uint32_t       year;
    int            nil_report;
    const char    *subject_date;   /* may be NULL */
    const uint8_t *package_id;     /* NULL: random; else 16 bytes */
    /* Test vectors only: when non-NULL, all randomness (content key,
     * ephemeral keys, stream header) is derived from this 32-byte seed. */
    const uint8_t *deterministic_seed;
} envelope_seal_params_t;

/* Seal plaintext into a new envelope. Caller owns *out (free()). Returns 0,
 * or -1 with err naming the bad parameter. */
int envelope_seal(const envelope_seal_params_t *params, const uint8_t *plain,
    size_t plain_len, uint8_t **out, size_t *out_len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Parse the framing and the header, checking every bound (magic, version,
 * lengths, field sizes, recipient count, body length, chunking). Nothing is
 * authenticated yet. The envelope keeps its own copy of buf. Caller owns the
 * result (envelope_destroy). NULL with err on malformed input. */
envelope_t *envelope_parse(const uint8_t *buf, size_t len, errbuf_t *err)
    __attribute__((warn_unused_result));

void envelope_destroy(envelope_t **self_p);

/* The parsed header. Untrusted until envelope_verify has returned 0. */
const Csbm__EnvelopeHeader *envelope_header(const envelope_t *self);

/* The exact bytes: the whole envelope, the signed header, the signature. */
const uint8_t *envelope_bytes(const envelope_t *self, size_t *len);
const uint8_t *envelope_header_bytes(const envelope_t *self, size_t *len);
const uint8_t *envelope_signature(const envelope_t *self);

/* Verify the Ed25519 signature with the sender's public key and the body
 * hash. Returns 0, or -1 with err saying which check failed. */
int envelope_verify(const envelope_t *self, const uint8_t sign_pk[32],
    errbuf_t *err) __attribute__((warn_unused_result));

/* Open as recipient `id` with its X25519 key pair: find the recipient entry,
 * unwrap the content key, check the key commitment, decrypt every chunk.
 * The envelope must have been verified first (otherwise -1). Caller owns
 * *plain (free(); it is wiped by envelope code on failure). */
int envelope_open(const envelope_t *self, const char *id,
    const uint8_t box_sk[32], const uint8_t box_pk[32], uint8_t **plain,
    size_t *plain_len, errbuf_t *err) __attribute__((warn_unused_result));

/* Hex form of a package id (33 bytes with NUL). */
void envelope_id_hex(const uint8_t id[ENVELOPE_ID_BYTES], char out[33]);
/* Parse 32 hex digits into an id. Returns 0 or -1. */
int envelope_id_parse(const char *hex, uint8_t id[ENVELOPE_ID_BYTES]);

#endif
