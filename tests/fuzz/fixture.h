/*
 * fixture: the fixed keys and root certificate of the fuzz targets.
 *
 * Everything is derived from constant seeds, so every run and every
 * machine uses the same keys: the envelope vector's sender (ARG, Ed25519
 * seed 00..1f) and recipients (BRA, CHL), the key-file vector's
 * passphrase, and a root CA for the federation "OAS-CSBM" whose Ed25519
 * seed is FUZZ_ROOT_SEED. Built on first use and kept until exit.
 */
#ifndef CSBM_FUZZ_FIXTURE_H
#define CSBM_FUZZ_FIXTURE_H

#include <limits.h>
#include <openssl/x509.h>
#include <stdint.h>

#include "crypto/keys.h"
#include "crypto/x509.h"

#define FUZZ_N_RECIPIENTS 3 /* BRA, CHL (the vector's) and hub (unknown) */
#define FUZZ_PASSPHRASE "csbm known-answer passphrase"
#define FUZZ_FEDERATION "OAS-CSBM"
#define FUZZ_ROOT_SEED 0xa5 /* every byte of the root's Ed25519 seed */
#define FUZZ_T_START INT64_C(1735689600) /* 2025-01-01T00:00:00Z */

typedef struct {
    uint8_t     sign_sk[KEYS_SIGN_SK_BYTES]; /* ARG */
    uint8_t     sign_pk[KEYS_SIGN_PK_BYTES];
    uint8_t     sign_key_id[KEYS_ID_BYTES];
    const char *recipient[FUZZ_N_RECIPIENTS];
    uint8_t     box_sk[FUZZ_N_RECIPIENTS][KEYS_BOX_SK_BYTES];
    uint8_t     box_pk[FUZZ_N_RECIPIENTS][KEYS_BOX_PK_BYTES];
    uint8_t     root_sk[KEYS_SIGN_SK_BYTES];
    EVP_PKEY   *root_key;
    X509       *root; /* NULL if it could not be built */
    x509_ca_t  *ca;
    char        dir[64]; /* private (0700) scratch directory, or "" */
    char        secret_path[PATH_MAX]; /* dir/input.secret, or "" */
} fuzz_fixture_t;

/* The fixture, built on the first call. Never NULL. */
const fuzz_fixture_t *fuzz_fixture(void);

/* An Ed25519 key for OpenSSL from a 32-byte seed. Caller owns it. */
EVP_PKEY *fuzz_ed25519_key(const uint8_t seed[32]);

#endif
