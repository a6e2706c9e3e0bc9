/*
 * test_sha256: the archive's SHA-256 against the FIPS 180-4 examples and
 * libsodium's independent implementation, for every length around the
 * block boundaries and for every split of a two-part message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <string.h>

#include "crypto/sha256.h"

static void
s_hex(const char *hex, uint8_t out[32])
{
    size_t n = 0;

    assert_int_equal(sodium_hex2bin(out, 32, hex, strlen(hex), NULL, &n, NULL),
        0);
    assert_int_equal(n, 32);
}

static void
test_fips_examples(void **state)
{
    static const char *two_block =
        "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    uint8_t got[32], want[32];

    (void)state;
    sha256(NULL, 0, got);
    s_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        want);
    assert_memory_equal(got, want, 32);
    sha256((const uint8_t *)"abc", 3, got);
    s_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        want);
    assert_memory_equal(got, want, 32);
    sha256((const uint8_t *)two_block, strlen(two_block), got);
    s_hex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        want);
    assert_memory_equal(got, want, 32);
    /* A flipped bit changes the digest. */
    sha256((const uint8_t *)"abd", 3, got);
    s_hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
        want);
    assert_memory_not_equal(got, want, 32);
}

static void
test_matches_libsodium(void **state)
{
    uint8_t buf[300], got[32], want[32];
    size_t  len, cut;

    (void)state;
    for (len = 0; len < sizeof buf; len++)
        buf[len] = (uint8_t)(len * 131 + 7);
    for (len = 0; len <= sizeof buf; len++) {
        crypto_hash_sha256(want, buf, len);
        sha256(buf, len, got);
        assert_memory_equal(got, want, 32);
        for (cut = 0; cut <= len; cut += len < 140 ? 1 : 37) {
            sha256_concat(buf, cut, buf + cut, len - cut, got);
            assert_memory_equal(got, want, 32);
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fips_examples),
        cmocka_unit_test(test_matches_libsodium),
    };

    if (sodium_init() < 0)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
