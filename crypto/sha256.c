/* sha256: SHA-256 through OpenSSL, libsodium as the fallback (sha256.h). */
#include "crypto/sha256.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>

static EVP_MD        *s_md;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

static void
s_fetch(void)
{
    s_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int
s_openssl(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    uint8_t out[SHA256_DIGEST_BYTES])
{
    EVP_MD_CTX  *ctx;
    unsigned int n = 0;
    int          ok;

    if (pthread_once(&s_once, s_fetch) != 0 || s_md == NULL
        || (ctx = EVP_MD_CTX_new()) == NULL)
        return -1;
    ok = EVP_DigestInit_ex2(ctx, s_md, NULL) == 1
         && (alen == 0 || EVP_DigestUpdate(ctx, a, alen) == 1)
         && (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1)
         && EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == SHA256_DIGEST_BYTES;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

void
sha256_concat(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
    uint8_t out[SHA256_DIGEST_BYTES])
{
    crypto_hash_sha256_state st;

    if (s_openssl(a, alen, b, blen, out) == 0)
        return;
    crypto_hash_sha256_init(&st);
    if (alen > 0)
        crypto_hash_sha256_update(&st, a, alen);
    if (blen > 0)
        crypto_hash_sha256_update(&st, b, blen);
    crypto_hash_sha256_final(&st, out);
}

void
sha256(const uint8_t *data, size_t len, uint8_t out[SHA256_DIGEST_BYTES])
{
    sha256_concat(data, len, NULL, 0, out);
}
