/*
 * fixture: the fixed keys and root certificate of the fuzz targets.
 */
#include "tests/fuzz/fixture.h"

#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_DAY INT64_C(86400)
#define S_YEAR (365 * S_DAY)

static fuzz_fixture_t s_fx;
static int            s_ready;

EVP_PKEY *
fuzz_ed25519_key(const uint8_t seed[32])
{
    return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
}

static void
s_cleanup(void)
{
    if (s_fx.secret_path[0] != '\0')
        unlink(s_fx.secret_path);
    if (s_fx.dir[0] != '\0')
        rmdir(s_fx.dir);
    x509_ca_destroy(&s_fx.ca);
    X509_free(s_fx.root);
    EVP_PKEY_free(s_fx.root_key);
    s_fx.root = NULL;
    s_fx.root_key = NULL;
}

static void
s_fill(uint8_t *out, size_t n, uint8_t first)
{
    size_t i;

    for (i = 0; i < n; i++)
        out[i] = (uint8_t)(first + i);
}

const fuzz_fixture_t *
fuzz_fixture(void)
{
    static const char *const ids[FUZZ_N_RECIPIENTS] = {"BRA", "CHL", "hub"};
    static const uint8_t     box_first[FUZZ_N_RECIPIENTS] = {0x40, 0x60, 0x90};
    uint8_t                  seed[32], pk[32];
    errbuf_t                 err = {{0}};
    size_t                   i;

    if (s_ready)
        return &s_fx;
    s_ready = 1;
    if (sodium_init() < 0) {
        fprintf(stderr, "fuzz fixture: libsodium failed to initialise\n");
        abort();
    }
    s_fill(seed, sizeof seed, 0x00);
    crypto_sign_seed_keypair(s_fx.sign_pk, s_fx.sign_sk, seed);
    keys_id(s_fx.sign_pk, s_fx.sign_key_id);
    for (i = 0; i < FUZZ_N_RECIPIENTS; i++) {
        s_fx.recipient[i] = ids[i];
        s_fill(s_fx.box_sk[i], KEYS_BOX_SK_BYTES, box_first[i]);
        crypto_scalarmult_base(s_fx.box_pk[i], s_fx.box_sk[i]);
    }
    memset(seed, FUZZ_ROOT_SEED, sizeof seed);
    crypto_sign_seed_keypair(pk, s_fx.root_sk, seed);
    s_fx.root_key = fuzz_ed25519_key(seed);
    if (s_fx.root_key == NULL ||
        x509_root_new(s_fx.root_key, FUZZ_FEDERATION, FUZZ_T_START - 10 * S_DAY,
                      FUZZ_T_START + 20 * S_YEAR, &s_fx.root, &err) != 0 ||
        (s_fx.ca = x509_ca_new(s_fx.root, s_fx.root_key, &err)) == NULL)
        fprintf(stderr,
                "fuzz fixture: no root CA (%s); the registry target "
                "only checks framing\n",
                err.msg);
    snprintf(s_fx.dir, sizeof s_fx.dir, "/tmp/csbm-fuzz.XXXXXX");
    if (mkdtemp(s_fx.dir) == NULL) {
        fprintf(stderr, "fuzz fixture: no scratch directory; the secret key "
                        "target does nothing\n");
        s_fx.dir[0] = '\0';
    } else {
        snprintf(s_fx.secret_path, sizeof s_fx.secret_path, "%s/input.secret",
                 s_fx.dir);
    }
    atexit(s_cleanup);
    return &s_fx;
}
