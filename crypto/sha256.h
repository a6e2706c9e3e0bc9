/*
 * sha256: SHA-256 for the archive's hashes (envelope hashes, Merkle leaves
 * and nodes).
 *
 * OpenSSL's implementation, which uses the CPU's SHA extensions where it
 * has them: on the hub it hashes every envelope and every log node, about
 * five times faster than libsodium's portable code for a 1 KiB envelope.
 * Should OpenSSL fail (out of memory), libsodium computes the same digest,
 * so a caller always gets the hash. Thread-safe; needs no initialisation.
 */
#ifndef CSBM_SHA256_H
#define CSBM_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_BYTES 32

/* out = SHA-256(a || b); b may be NULL when blen is 0. */
void sha256_concat(const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen, uint8_t out[SHA256_DIGEST_BYTES]);

/* out = SHA-256(data). */
void sha256(const uint8_t *data, size_t len, uint8_t out[SHA256_DIGEST_BYTES]);

#endif
