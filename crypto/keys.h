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
 * formats are in docs/FORMAT.md. Secret keys live in sodium_malloc'd memory,
 * read-only while idle, and are wiped on every path.
 *
 * A key id is the first 16 bytes of BLAKE2b-256("CSBM-key-id-v1" || pk).
 *
 * Every entry point calls sodium_init() itself (it is idempotent), so
 * callers need not.
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
#define KEYS_SIG_BYTES      64
#define KEYS_OWNER_MAX      15 /* "hub" or a state code; [A-Za-z0-9_-] */
#define KEYS_PASSPHRASE_MAX 1024
#define KEYS_PASSPHRASE_ENV "CSBM_PASSPHRASE"
#define KEYS_PUBLIC_FORMAT  "csbm-public-key-1"
#define KEYS_PUBLIC_MAX     (64u * 1024) /* largest .pub file accepted */
#define KEYS_Z85_BYTES      41           /* 40 characters and a NUL */

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

/* A key id as 32 lower-case hex digits and a NUL. */
void keys_id_hex(const uint8_t id[KEYS_ID_BYTES],
    char out[2 * KEYS_ID_BYTES + 1]);

/* Is owner a valid identity name: 1..15 of [A-Za-z0-9_-], starting with a
 * letter or digit (so it can never be taken for a command-line option)? */
int keys_owner_valid(const char *owner);

/* "sign", "box", "transport", or NULL for anything else. */
const char *keys_kind_name(int kind);

/* Create a new identity in dir (created 0700 if missing, refused if it is
 * accessible by others): the three secret files, encrypted under
 * passphrase (1..KEYS_PASSPHRASE_MAX bytes), mode 0600, and <owner>.pub,
 * mode 0644. Refuses to overwrite any existing file of the identity, and
 * checks that before the (slow) key derivation. On failure no file of the
 * new identity is left behind. Returns 0, or -1 with err set. */
int keys_generate(const char *dir, const char *owner, const char *passphrase,
    size_t passphrase_len, errbuf_t *err) __attribute__((warn_unused_result));

/* Path of a key file: "<dir>/<owner>.<sign|box|transport>.key" or
 * "<dir>/<owner>.pub" for kind 0. Returns 0, or -1 if it does not fit or
 * kind is unknown. */
int keys_path(char *out, size_t cap, const char *dir, const char *owner,
    int kind);

/* Load and decrypt a secret key file of the given kind. Refuses loose
 * permissions of the file or its directory (saying how to fix them), a
 * symbolic link, a truncated or oversized file, a file of another kind, an
 * owner that does not match the file name (<owner>.<kind>.key), key
 * derivation settings outside the accepted range, a wrong passphrase, a
 * tampered file and a secret that does not match its public key. All
 * format checks run before the (slow) key derivation. Caller owns the
 * result (keys_secret_destroy). */
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

/* Ed25519-sign msg with a KEYS_SIGN key (detached, 64 bytes). Returns -1
 * for a key of another kind. */
int keys_sign(const keys_secret_t *self, const uint8_t *msg, size_t len,
    uint8_t sig[KEYS_SIG_BYTES]) __attribute__((warn_unused_result));

/* A 32-byte Curve25519 key in ZeroMQ's Z85 text form (40 characters), as
 * ZMQ_CURVE_PUBLICKEY / ZMQ_CURVE_SECRETKEY / ZMQ_CURVE_SERVERKEY accept.
 * For a secret key, out holds a copy of the secret: wipe it after use.
 * Returns 0, or -1 if the encoder fails. */
int keys_z85(const uint8_t key[32], char out[KEYS_Z85_BYTES]);

/* Fill pub from an owner and three public keys, computing the key ids and
 * checking them as keys_public_check does. Returns 0, or -1 with err. */
int keys_public_init(keys_public_t *pub, const char *owner,
    const uint8_t sign_pk[32], const uint8_t box_pk[32],
    const uint8_t transport_pk[32], errbuf_t *err)
    __attribute__((warn_unused_result));

/* Check a public identity: a valid owner, key ids that match the keys, an
 * Ed25519 key that is a valid point of the main subgroup, and X25519 keys
 * that are not of small order. Returns 0, or -1 with err naming the field. */
int keys_public_check(const keys_public_t *pub, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Parse a public identity from JSON text (the .pub format: exactly the
 * fields format, owner, sign, box, transport, sign_key_id, box_key_id) and
 * check it as keys_public_check does. Messages name the field. */
int keys_public_parse(const char *json, size_t len, keys_public_t *out,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Encode a checked public identity as .pub JSON text (NUL-terminated, with
 * a final newline). Caller owns *out (free()). */
int keys_public_encode(const keys_public_t *pub, char **out, size_t *out_len,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Read / write a public identity file (at most KEYS_PUBLIC_MAX bytes).
 * Save refuses to overwrite an existing file and writes mode 0644. */
int keys_public_load(const char *path, keys_public_t *out, errbuf_t *err)
    __attribute__((warn_unused_result));
int keys_public_save(const char *path, const keys_public_t *pub, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Get the passphrase: from file (if non-NULL; "-" is standard input), else
 * from the environment variable CSBM_PASSPHRASE, else by prompting on the
 * terminal (/dev/tty, echo off; twice when confirm is set). Never from a
 * command-line argument.
 *   - CSBM_PASSPHRASE is read once per process: the first call copies it
 *     into guarded memory, wipes the value in the environment and unsets
 *     it (children and /proc/<pid>/environ do not see it); later calls
 *     without a file return that copy, until keys_passphrase_forget. Not
 *     thread-safe (it changes the environment): call it before starting
 *     threads.
 *   - file: the first line, without its trailing "\n" or "\r\n". A regular
 *     file readable or writable by others is refused (run: chmod 600);
 *     group access is allowed so a service group can share it.
 *   - An empty passphrase, one with a NUL byte and one longer than
 *     KEYS_PASSPHRASE_MAX bytes are refused; no other rule is imposed.
 *   - With no file, no CSBM_PASSPHRASE and no terminal, the error tells the
 *     user to set one of them.
 * buf must hold KEYS_PASSPHRASE_MAX + 1 bytes (preferably sodium_malloc'd);
 * on success it holds the passphrase, NUL-terminated, and *len its length.
 * The passphrase is never copied elsewhere (but for that guarded copy of
 * CSBM_PASSPHRASE). Wipe buf with sodium_memzero after use; on failure it
 * is already wiped. */
int keys_passphrase_get(const char *file, int confirm, char *buf, size_t *len,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Wipe and free the process's copy of CSBM_PASSPHRASE, if any (also done
 * at exit). A process that has loaded all its keys may call it early. */
void keys_passphrase_forget(void);

#endif
