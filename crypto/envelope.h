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
#define ENVELOPE_PREFIX_BYTES   9   /* magic, version, header length */
#define ENVELOPE_CHUNK_MIN      1024u          /* accepted when reading */
#define ENVELOPE_CHUNK_MAX      (1024u * 1024) /* accepted when reading */
#define ENVELOPE_KEY_BYTES      32  /* content key */
#define ENVELOPE_HASH_BYTES     32  /* body hash, key commitment */
#define ENVELOPE_EPHEMERAL_BYTES 32
#define ENVELOPE_WRAPPED_BYTES  48  /* content key and a 16-byte tag */
#define ENVELOPE_SIG_LABEL      "CSBM-envelope-signature-v1"
#define ENVELOPE_WRAP_LABEL     "CSBM-wrap-v1"
#define ENVELOPE_COMMIT_LABEL   "CSBM-key-commitment-v1"

typedef struct envelope envelope_t;

/* One recipient to seal to. */
typedef struct {
    const char    *id;        /* state code or "hub" */
    const uint8_t *box_pk;    /* 32-byte X25519 public key */
} envelope_recipient_t;

typedef struct {
    const char    *federation;     /* 1..64 printable ASCII characters */
    const char    *sender;         /* identity name (keys_owner_valid) */
    const uint8_t *sign_sk;        /* 64-byte Ed25519 secret key */
    Csbm__PackageType package_type;
    Csbm__Distribution distribution;
    /* 1..ENVELOPE_MAX_RECIPIENTS, any order (the header lists them sorted
     * by id); a repeated id is an error. */
    const envelope_recipient_t *recipients;
    size_t         n_recipients;
    uint64_t       created_at;     /* Unix seconds, 1..INT64_MAX */
    uint64_t       sequence;       /* 1..INT64_MAX */
    const uint8_t (*references)[ENVELOPE_ID_BYTES];
    size_t         n_references;
    uint32_t       year;
    int            nil_report;
    const char    *subject_date;   /* NULL, "" or YYYY-MM-DD */
    /* DOCUMENT packages: the kind of document (a Csbm__DocumentKind other
     * than 0); 0 for every other package type. */
    Csbm__DocumentKind document_kind;
    const uint8_t *package_id;     /* NULL: random; else 16 bytes */
    /* Test vectors only: when non-NULL, all randomness (content key,
     * package id unless given, ephemeral keys, stream header) is derived
     * from this 32-byte seed, so the output is byte for byte reproducible.
     * Never use it for real packages. */
    const uint8_t *deterministic_seed;
} envelope_seal_params_t;

/* Seal plain_len bytes of plain (NULL allowed when plain_len is 0) into a
 * new envelope, body chunks of ENVELOPE_CHUNK_SIZE. Every parameter is held
 * to the bounds envelope_parse enforces, so a sealed envelope always
 * parses. Caller owns *out (free()). Returns 0, or -1 with err naming the
 * bad parameter (*out is then NULL). */
int envelope_seal(const envelope_seal_params_t *params, const uint8_t *plain,
    size_t plain_len, uint8_t **out, size_t *out_len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Parse the framing and the header, checking every bound before use
 * (magic, version, lengths, field sizes and values, recipient order and
 * count, body length and chunking; unknown or non-canonically encoded
 * header fields are refused). Nothing is authenticated yet. The envelope
 * keeps its own copy of buf. Caller owns the result (envelope_destroy).
 * NULL with err naming the field on malformed input. */
envelope_t *envelope_parse(const uint8_t *buf, size_t len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Free an envelope and NULL the caller's pointer. NULL-safe. */
void envelope_destroy(envelope_t **self_p);

/* The parsed header. Untrusted until envelope_verify has returned 0. Its
 * fields have the sizes envelope_parse checked (ids 16 bytes, ...). */
const Csbm__EnvelopeHeader *envelope_header(const envelope_t *self);

/* The exact bytes: the whole envelope, the signed header, the signature
 * (ENVELOPE_SIG_BYTES). Valid until envelope_destroy. */
const uint8_t *envelope_bytes(const envelope_t *self, size_t *len);
const uint8_t *envelope_header_bytes(const envelope_t *self, size_t *len);
const uint8_t *envelope_signature(const envelope_t *self);

/* Verify with the sender's Ed25519 public key: its key id must be the
 * header's sender_key_id, the signature must verify over the carried
 * header bytes, and the body must hash to header.body_hash. Returns 0 and
 * marks the envelope verified, or -1 with err saying which check failed
 * (the envelope is then not verified, even if it was before). */
int envelope_verify(const envelope_t *self, const uint8_t sign_pk[32],
    errbuf_t *err) __attribute__((warn_unused_result, nonnull(1, 2)));

/* Has envelope_verify succeeded (and not failed since)? */
int envelope_is_verified(const envelope_t *self);

/* Open as recipient `id` with its X25519 key pair: find the recipient entry
 * (by id, and its key id must be that of box_pk), unwrap the content key,
 * check the key commitment, decrypt every chunk in order and check that
 * only the last one is final. The envelope must have been verified first
 * (otherwise -1). Caller owns *plain (free(); wipe it when done). On
 * failure *plain is NULL, and the content key and any partial plaintext
 * have been wiped. */
int envelope_open(const envelope_t *self, const char *id,
    const uint8_t box_sk[32], const uint8_t box_pk[32], uint8_t **plain,
    size_t *plain_len, errbuf_t *err)
    __attribute__((warn_unused_result, nonnull(1, 3, 4, 5, 6)));

/* Hex form of a package id: 32 lower-case hex digits and a NUL. */
void envelope_id_hex(const uint8_t id[ENVELOPE_ID_BYTES], char out[33]);
/* Parse exactly 32 hex digits (either case) into an id. Returns 0 or -1. */
int envelope_id_parse(const char *hex, uint8_t id[ENVELOPE_ID_BYTES])
    __attribute__((warn_unused_result));

#endif
