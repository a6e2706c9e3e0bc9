/*
 * keys: a participant's identity keys and their files.
 *
 * An identity ("ARG", or "hub") has three key pairs, each in its own file:
 *   <id>.sign.key       Ed25519 signing key (packages, receipts, tree heads)
 *   <id>.box.key        X25519 encryption key (content keys are wrapped to it)
 *   <id>.transport.key  Curve25519 CurveZMQ transport key
 *   <id>.pub            the three public keys, as JSON, to hand to others
 * Secret files are mode 0600 in a 0700 directory and are encrypted under a
 * passphrase (Argon2id via crypto_pwhash, XChaCha20-Poly1305); the file
 * format is in docs/FORMAT.md. Secret keys live in sodium_malloc'd memory and
 * are wiped on every path.
 *
 * A key id is the first 16 bytes of BLAKE2b-256("CSBM-key-id-v1" || pk).
 */
#ifndef CSBM_KEYS_H
#define CSBM_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "proto/errbuf.h"

#define KEYS_ID_BYTES       16
#define KEYS_SIGN_PK_BYTES  32
#define KEYS_SIGN_SK_BYTES  64
#define KEYS_BOX_PK_BYTES   32
#define KEYS_BOX_SK_BYTES   32
#define KEYS_OWNER_MAX      15 /* "hub" or a state code; [A-Za-z0-9_-] */
#define KEYS_PASSPHRASE_MAX 1024
#define KEYS_PASSPHRASE_ENV "CSBM_PASSPHRASE"

typedef enum {
    KEYS_SIGN = 1,
    KEYS_BOX = 2,
    KEYS_TRANSPORT = 3,
} keys_kind_t;

/* The public half of an identity, as published in <id>.pub. */
typedef struct {
    char    owner[KEYS_OWNER_MAX + 1];
    uint8_t sign_pk[KEYS_SIGN_PK_BYTES];
    uint8_t box_pk[KEYS_BOX_PK_BYTES];
    uint8_t transport_pk[KEYS_BOX_PK_BYTES];
    uint8_t sign_key_id[KEYS_ID_BYTES];
    uint8_t box_key_id[KEYS_ID_BYTES];
} keys_public_t;

/* One loaded secret key (opaque; sodium_malloc'd, read-only when idle). */
typedef struct keys_secret keys_secret_t;

/* Compute the key id of a 32-byte public key. */
void keys_id(const uint8_t pk[32], uint8_t id[KEYS_ID_BYTES]);

/* Is owner a valid identity name (1..15 of [A-Za-z0-9_-])? */
int keys_owner_valid(const char *owner);

/* Create a new identity in dir (created 0700 if missing): the three secret
 * files, encrypted under passphrase, and <owner>.pub. Refuses to overwrite
 * existing files. Returns 0, or -1 with err set. */
int keys_generate(const char *dir, const char *owner, const char *passphrase,
    size_t passphrase_len, errbuf_t *err) __attribute__((warn_unused_result));

/* Path of a key file: "<dir>/<owner>.<sign|box|transport>.key" or
 * "<dir>/<owner>.pub" for kind 0. Returns 0, or -1 if it does not fit. */
int keys_path(char *out, size_t cap, const char *dir, const char *owner,
    int kind);

/* Load and decrypt a secret key file of the given kind. Refuses loose
 * permissions (saying how to fix them), a wrong passphrase, a tampered file
 * and a file of another kind. Caller owns the result (keys_secret_destroy). */
keys_secret_t *keys_secret_load(const char *path, keys_kind_t kind,
    const char *passphrase, size_t passphrase_len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Destroy a secret key: wipe, free, NULL the caller's pointer. NULL-safe. */
void keys_secret_destroy(keys_secret_t **self_p);

keys_kind_t    keys_secret_kind(const keys_secret_t *self);
const char    *keys_secret_owner(const keys_secret_t *self);
/* The 32-byte public key (Ed25519 or X25519) and its id. */
const uint8_t *keys_secret_public(const keys_secret_t *self);
const uint8_t *keys_secret_key_id(const keys_secret_t *self);
/* The raw secret: 64 bytes (Ed25519 sk) or 32 bytes (X25519 / CurveZMQ).
 * Valid until destroy; never copy it outside sodium_malloc'd memory. */
const uint8_t *keys_secret_bytes(const keys_secret_t *self);

/* Ed25519-sign msg with a KEYS_SIGN key (detached, 64 bytes). */
int keys_sign(const keys_secret_t *self, const uint8_t *msg, size_t len,
    uint8_t sig[64]) __attribute__((warn_unused_result));

/* Read / write a public identity file (JSON: owner, sign, box, transport as
 * base64, and the key ids as hex, checked on load). */
int keys_public_load(const char *path, keys_public_t *out, errbuf_t *err)
    __attribute__((warn_unused_result));
int keys_public_save(const char *path, const keys_public_t *pub, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Get the passphrase: from file (if non-NULL; first line), else from the
 * environment variable CSBM_PASSPHRASE, else by prompting on the terminal
 * (twice when confirm is set). Never from a command-line argument. buf must
 * hold KEYS_PASSPHRASE_MAX + 1 bytes; wipe it with sodium_memzero after use. */
int keys_passphrase_get(const char *file, int confirm, char *buf, size_t *len,
    errbuf_t *err) __attribute__((warn_unused_result));

#endif
