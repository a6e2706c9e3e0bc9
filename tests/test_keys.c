/*
 * test_keys: identities, secret key files, .pub files and passphrases.
 *
 * Argon2id costs about 64 MiB and a fraction of a second per derivation,
 * so one identity is generated for the whole group and only the cases that
 * must reach the AEAD derive a key (15 derivations in all). Every other
 * negative case is refused before the derivation, which the tests check.
 *
 * Set CSBM_WRITE_VECTORS=1 to rewrite tests/vectors/keys/ from the fixed
 * inputs below (the files are built here from the format description, not
 * by the code under test).
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto/keys.h"

#define PASS     "correct horse battery staple"
#define PASS_LEN (sizeof PASS - 1)
#define OWNER    "ARG"

/* Secret file sizes for a 3-character owner: 67 + 3 + sk + 32 + 16. */
#define SIGN_FILE_LEN 182
#define BOX_FILE_LEN  150
/* Bytes before the salt: magic 8, kind, owner length, "ARG", kdf, ops 8,
 * mem 8. Salt 16 and nonce 24 follow. */
#define PRE_SALT_LEN  30
#define OPS_OFFSET    14
#define MEM_OFFSET    22

typedef struct {
    char base[PATH_MAX];  /* mkdtemp root */
    char keys[PATH_MAX];  /* the generated identity */
    char path[4][PATH_MAX];
    int  scratch_n;
} fixture_t;

static fixture_t s_fx;

/* This test program's own geteuid (the library's calls bind to it). The
 * owner check of a key file calls it after the file's metadata is read
 * and before its bytes are: when armed, it first renames s_swap.from over
 * s_swap.to, swapping the checked file for another one at that moment. */
static struct {
    int  armed;
    char from[PATH_MAX];
    char to[PATH_MAX];
} s_swap;

uid_t
geteuid(void)
{
    if (s_swap.armed) {
        s_swap.armed = 0;
        if (rename(s_swap.from, s_swap.to) != 0)
            s_swap.armed = -1;
    }
    return getuid(); /* this test does not run set-user-ID */
}

/* ------------------------------------------------------------------ */

static int
s_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static void
s_rm_tree(const char *path)
{
    nftw(path, s_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void
s_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
    int fd;

    unlink(path);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    assert_int_equal(fchmod(fd, mode), 0);
    close(fd);
}

static uint8_t *
s_read_file(const char *path, size_t *len)
{
    FILE    *f = fopen(path, "rb");
    uint8_t *buf = malloc(1 << 16);
    size_t   n;

    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    *len = n;
    return buf;
}

/* dir + "/" + name into out, which must be large enough. */
static void
s_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    assert_true(n > 0 && (size_t)n < cap);
}

/* A new private (0700) directory under the fixture root. */
static void
s_scratch(char *out, size_t cap)
{
    char name[32];

    snprintf(name, sizeof name, "scratch%d", s_fx.scratch_n++);
    s_join(out, cap, s_fx.base, name);
    assert_int_equal(mkdir(out, 0700), 0);
}

/* Load a secret file from bytes placed at dir/name (mode 0600). */
static keys_secret_t *
s_load_bytes(const char *dir, const char *name, const uint8_t *buf,
    size_t len, keys_kind_t kind, errbuf_t *err)
{
    char path[PATH_MAX];

    s_join(path, sizeof path, dir, name);
    s_write_file(path, buf, len, 0600);
    return keys_secret_load(path, kind, PASS, PASS_LEN, err);
}

static mode_t
s_mode(const char *path)
{
    struct stat st;

    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & 07777;
}

static int
s_group_setup(void **state)
{
    errbuf_t err = {{0}};
    int      k;

    (void)state;
    if (sodium_init() < 0)
        return -1;
    snprintf(s_fx.base, sizeof s_fx.base, "/tmp/test_keys.XXXXXX");
    if (mkdtemp(s_fx.base) == NULL)
        return -1;
    s_join(s_fx.keys, sizeof s_fx.keys, s_fx.base, "keys");
    if (keys_generate(s_fx.keys, OWNER, PASS, PASS_LEN, &err) != 0) {
        fprintf(stderr, "keys_generate: %s\n", err.msg);
        return -1;
    }
    for (k = 0; k <= KEYS_TRANSPORT; k++)
        if (keys_path(s_fx.path[k], sizeof s_fx.path[k], s_fx.keys, OWNER, k)
            != 0)
            return -1;
    return 0;
}

static int
s_group_teardown(void **state)
{
    (void)state;
    s_rm_tree(s_fx.base);
    return 0;
}

/* ------------------------------------------------------------------ */

static void
test_keys_id_known_answer(void **state)
{
    uint8_t pk[32], id[KEYS_ID_BYTES], h[32];
    char    hex[2 * KEYS_ID_BYTES + 1];
    size_t  i;
    crypto_generichash_state st;

    (void)state;
    for (i = 0; i < sizeof pk; i++)
        pk[i] = (uint8_t)i;
    keys_id(pk, id);
    keys_id_hex(id, hex);
    assert_string_equal(hex, "0b938712343ddfb03ab6c57d8072d448");
    /* The definition, independently: BLAKE2b-256(label || pk)[0..16). */
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)"CSBM-key-id-v1", 14);
    crypto_generichash_update(&st, pk, 32);
    crypto_generichash_final(&st, h, 32);
    assert_memory_equal(h, id, KEYS_ID_BYTES);
}

static void
test_keys_owner_valid(void **state)
{
    (void)state;
    assert_true(keys_owner_valid("ARG"));
    assert_true(keys_owner_valid("hub"));
    assert_true(keys_owner_valid("OSCE_2-x"));
    assert_true(keys_owner_valid("ABCDEFGHIJKLMNO"));   /* 15 */
    assert_false(keys_owner_valid("ABCDEFGHIJKLMNOP")); /* 16 */
    assert_false(keys_owner_valid(""));
    assert_false(keys_owner_valid(NULL));
    assert_false(keys_owner_valid("-rf"));
    assert_false(keys_owner_valid("_x"));
    assert_false(keys_owner_valid("A B"));
    assert_false(keys_owner_valid("../x"));
    assert_false(keys_owner_valid("A.B"));
    assert_false(keys_owner_valid("\xc3\x84"));
}

static void
test_keys_path(void **state)
{
    char out[64];

    (void)state;
    assert_int_equal(keys_path(out, sizeof out, "k", "ARG", 0), 0);
    assert_string_equal(out, "k/ARG.pub");
    assert_int_equal(keys_path(out, sizeof out, "k", "ARG", KEYS_SIGN), 0);
    assert_string_equal(out, "k/ARG.sign.key");
    assert_int_equal(keys_path(out, sizeof out, "k", "ARG", KEYS_BOX), 0);
    assert_string_equal(out, "k/ARG.box.key");
    assert_int_equal(keys_path(out, sizeof out, "k", "ARG", KEYS_TRANSPORT),
        0);
    assert_string_equal(out, "k/ARG.transport.key");
    assert_int_equal(keys_path(out, sizeof out, "k", "ARG", 4), -1);
    assert_int_equal(keys_path(out, 9, "k", "ARG", 0), -1); /* no room */
    assert_int_equal(keys_path(out, 10, "k", "ARG", 0), 0);
}

static void
test_keys_generate_sets_modes_and_sizes(void **state)
{
    struct stat st;

    (void)state;
    assert_int_equal(s_mode(s_fx.keys), 0700);
    assert_int_equal(s_mode(s_fx.path[KEYS_SIGN]), 0600);
    assert_int_equal(s_mode(s_fx.path[KEYS_BOX]), 0600);
    assert_int_equal(s_mode(s_fx.path[KEYS_TRANSPORT]), 0600);
    assert_int_equal(s_mode(s_fx.path[0]), 0644);
    assert_int_equal(stat(s_fx.path[KEYS_SIGN], &st), 0);
    assert_int_equal(st.st_size, SIGN_FILE_LEN);
    assert_int_equal(stat(s_fx.path[KEYS_BOX], &st), 0);
    assert_int_equal(st.st_size, BOX_FILE_LEN);
    assert_int_equal(stat(s_fx.path[KEYS_TRANSPORT], &st), 0);
    assert_int_equal(st.st_size, BOX_FILE_LEN);
}

static void
test_keys_loads_each_kind_and_signs(void **state)
{
    errbuf_t       err = {{0}};
    keys_public_t  pub;
    keys_secret_t *sk, *bk, *tk;
    uint8_t        msg[] = "MILEX 2025 ARG", sig[KEYS_SIG_BYTES], q[32];
    char           z85[KEYS_Z85_BYTES];
    uint8_t        back[32];

    (void)state;
    assert_int_equal(keys_public_load(s_fx.path[0], &pub, &err), 0);
    assert_string_equal(pub.owner, OWNER);

    sk = keys_secret_load(s_fx.path[KEYS_SIGN], KEYS_SIGN, PASS, PASS_LEN,
        &err);
    assert_non_null(sk);
    assert_int_equal(keys_secret_kind(sk), KEYS_SIGN);
    assert_string_equal(keys_secret_owner(sk), OWNER);
    assert_memory_equal(keys_secret_public(sk), pub.sign_pk, 32);
    assert_memory_equal(keys_secret_key_id(sk), pub.sign_key_id,
        KEYS_ID_BYTES);
    assert_int_equal(keys_sign(sk, msg, sizeof msg, sig), 0);
    assert_int_equal(crypto_sign_verify_detached(sig, msg, sizeof msg,
                         pub.sign_pk), 0);
    msg[0] ^= 1;
    assert_int_not_equal(crypto_sign_verify_detached(sig, msg, sizeof msg,
                             pub.sign_pk), 0);

    bk = keys_secret_load(s_fx.path[KEYS_BOX], KEYS_BOX, PASS, PASS_LEN, &err);
    assert_non_null(bk);
    assert_int_equal(keys_secret_kind(bk), KEYS_BOX);
    assert_memory_equal(keys_secret_public(bk), pub.box_pk, 32);
    assert_memory_equal(keys_secret_key_id(bk), pub.box_key_id, KEYS_ID_BYTES);
    assert_int_equal(crypto_scalarmult_base(q, keys_secret_bytes(bk)), 0);
    assert_memory_equal(q, pub.box_pk, 32);
    assert_int_equal(keys_sign(bk, msg, sizeof msg, sig), -1);

    tk = keys_secret_load(s_fx.path[KEYS_TRANSPORT], KEYS_TRANSPORT, PASS,
        PASS_LEN, &err);
    assert_non_null(tk);
    assert_int_equal(keys_secret_kind(tk), KEYS_TRANSPORT);
    assert_memory_equal(keys_secret_public(tk), pub.transport_pk, 32);
    assert_memory_not_equal(pub.transport_pk, pub.box_pk, 32);
    assert_int_equal(keys_z85(pub.transport_pk, z85), 0);
    assert_int_equal(strlen(z85), 40);
    assert_non_null(zmq_z85_decode(back, z85));
    assert_memory_equal(back, pub.transport_pk, 32);

    keys_secret_destroy(&sk);
    keys_secret_destroy(&bk);
    keys_secret_destroy(&tk);
    assert_null(sk);
    keys_secret_destroy(&tk); /* twice is fine */
    keys_secret_destroy(NULL);
}

static void
test_keys_rejects_wrong_passphrase(void **state)
{
    errbuf_t err = {{0}};

    (void)state;
    assert_null(keys_secret_load(s_fx.path[KEYS_SIGN], KEYS_SIGN,
        "correct horse battery stapler", PASS_LEN + 1, &err));
    assert_non_null(strstr(err.msg, "wrong passphrase, or the key file is "
                                    "damaged"));
}

static void
test_keys_rejects_wrong_kind(void **state)
{
    errbuf_t err = {{0}};
    char     dir[PATH_MAX];
    uint8_t *box;
    size_t   len;

    (void)state;
    assert_null(keys_secret_load(s_fx.path[KEYS_SIGN], KEYS_BOX, PASS,
        PASS_LEN, &err));
    assert_non_null(strstr(err.msg, "holds a sign key, but a box key"));
    /* A box key renamed to look like a signing key. */
    s_scratch(dir, sizeof dir);
    box = s_read_file(s_fx.path[KEYS_BOX], &len);
    assert_null(s_load_bytes(dir, "ARG.sign.key", box, len, KEYS_SIGN, &err));
    assert_non_null(strstr(err.msg, "holds a box key, but a sign key"));
    /* The right kind under another owner's or another kind's name. */
    assert_null(s_load_bytes(dir, "CHL.box.key", box, len, KEYS_BOX, &err));
    assert_non_null(strstr(err.msg, "key of ARG, not of the identity"));
    assert_null(s_load_bytes(dir, "ARG.transport.key", box, len, KEYS_BOX,
        &err));
    assert_non_null(strstr(err.msg, "file name says transport key"));
    assert_null(keys_secret_load(s_fx.path[KEYS_SIGN], (keys_kind_t)7, PASS,
        PASS_LEN, &err));
    free(box);
}

static void
test_keys_rejects_loose_file_mode(void **state)
{
    errbuf_t err = {{0}};
    char     dir[PATH_MAX], path[PATH_MAX];
    uint8_t *buf;
    size_t   len;

    (void)state;
    s_scratch(dir, sizeof dir);
    buf = s_read_file(s_fx.path[KEYS_SIGN], &len);
    s_join(path, sizeof path, dir, "ARG.sign.key");
    s_write_file(path, buf, len, 0644);
    assert_null(keys_secret_load(path, KEYS_SIGN, PASS, PASS_LEN, &err));
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(chmod(path, 0640), 0);
    assert_null(keys_secret_load(path, KEYS_SIGN, PASS, PASS_LEN, &err));
    assert_non_null(strstr(err.msg, "chmod 600"));
    free(buf);
}

static void
test_keys_rejects_loose_directory(void **state)
{
    errbuf_t err = {{0}};
    char     dir[PATH_MAX], path[PATH_MAX];
    uint8_t *buf;
    size_t   len;

    (void)state;
    s_scratch(dir, sizeof dir);
    buf = s_read_file(s_fx.path[KEYS_SIGN], &len);
    s_join(path, sizeof path, dir, "ARG.sign.key");
    s_write_file(path, buf, len, 0600);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_null(keys_secret_load(path, KEYS_SIGN, PASS, PASS_LEN, &err));
    assert_non_null(strstr(err.msg, "chmod 700"));
    assert_int_equal(chmod(dir, 0700), 0);
    free(buf);
}

static void
test_keys_rejects_symlinked_key_file(void **state)
{
    errbuf_t err = {{0}};
    char     dir[PATH_MAX], path[PATH_MAX];

    (void)state;
    s_scratch(dir, sizeof dir);
    s_join(path, sizeof path, dir, "ARG.sign.key");
    assert_int_equal(symlink(s_fx.path[KEYS_SIGN], path), 0);
    assert_null(keys_secret_load(path, KEYS_SIGN, PASS, PASS_LEN, &err));
    assert_non_null(strstr(err.msg, "symbolic link"));
}

/* The key file is checked on the descriptor it is read from: a path
 * swapped, between the check and the read, for a symbolic link to a
 * world-readable file of other content changes nothing. */
static void
test_keys_reads_the_key_file_it_checked(void **state)
{
    errbuf_t       err = {{0}};
    char           dir[PATH_MAX], path[PATH_MAX], other[PATH_MAX];
    uint8_t       *buf;
    size_t         len;
    keys_secret_t *sk;
    keys_public_t  pub;

    (void)state;
    assert_int_equal(keys_public_load(s_fx.path[0], &pub, &err), 0);
    s_scratch(dir, sizeof dir);
    buf = s_read_file(s_fx.path[KEYS_SIGN], &len);
    s_join(path, sizeof path, dir, "ARG.sign.key");
    s_write_file(path, buf, len, 0600);
    buf[len - 1] ^= 0x01; /* other content: its tag no longer matches */
    s_join(other, sizeof other, dir, "other.key");
    s_write_file(other, buf, len, 0644);
    s_join(s_swap.from, sizeof s_swap.from, dir, "link");
    assert_int_equal(symlink(other, s_swap.from), 0);
    snprintf(s_swap.to, sizeof s_swap.to, "%s", path);

    s_swap.armed = 1;
    sk = keys_secret_load(path, KEYS_SIGN, PASS, PASS_LEN, &err);
    assert_int_equal(s_swap.armed, 0); /* the swap did happen */
    if (sk == NULL)
        fail_msg("the file read is not the file checked: %s", err.msg);
    assert_memory_equal(keys_secret_public(sk), pub.sign_pk, 32);
    keys_secret_destroy(&sk);

    /* Now that the path is a symbolic link, it is refused. */
    assert_null(keys_secret_load(path, KEYS_SIGN, PASS, PASS_LEN, &err));
    assert_non_null(strstr(err.msg, "symbolic link"));
    free(buf);
}

/* A FIFO (or any other non-regular file) is refused without blocking on
 * the open, a symbolic link to a good key file too, and loose modes still
 * say which chmod fixes them. */
static void
test_keys_rejects_fifo_and_symlink_to_good_file(void **state)
{
    errbuf_t err = {{0}};
    char     dir[PATH_MAX], path[PATH_MAX], good[PATH_MAX];
    uint8_t *buf;
    size_t   len;

    (void)state;
    s_scratch(dir, sizeof dir);
    s_join(path, sizeof path, dir, "ARG.sign.key");
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_null(keys_secret_load(path, KEYS_SIGN, PASS, PASS_LEN, &err));
    assert_non_null(strstr(err.msg, "not a regular file"));
    assert_int_equal(unlink(path), 0);

    buf = s_read_file(s_fx.path[KEYS_SIGN], &len);
    s_join(good, sizeof good, dir, "good.key");
    s_write_file(good, buf, len, 0600);
    assert_int_equal(symlink(good, path), 0);
    assert_null(keys_secret_load(path, KEYS_SIGN, PASS, PASS_LEN, &err));
    assert_non_null(strstr(err.msg, "symbolic links are refused"));
    assert_int_equal(unlink(path), 0);

    s_write_file(path, buf, len, 0604);
    assert_null(keys_secret_load(path, KEYS_SIGN, PASS, PASS_LEN, &err));
    assert_non_null(strstr(err.msg, "(mode 604); run: chmod 600"));
    assert_int_equal(chmod(path, 0600), 0);
    {
        keys_secret_t *sk = keys_secret_load(path, KEYS_SIGN, PASS, PASS_LEN,
            &err);

        if (sk == NULL)
            fail_msg("%s", err.msg);
        keys_secret_destroy(&sk);
    }
    free(buf);
}

static void
test_keys_rejects_every_truncation(void **state)
{
    errbuf_t err = {{0}};
    char     dir[PATH_MAX];
    uint8_t *buf, *big;
    size_t   len, i;

    (void)state;
    s_scratch(dir, sizeof dir);
    buf = s_read_file(s_fx.path[KEYS_SIGN], &len);
    assert_int_equal(len, SIGN_FILE_LEN);
    for (i = 0; i < len; i++) {
        assert_null(s_load_bytes(dir, "ARG.sign.key", buf, i, KEYS_SIGN,
            &err));
        /* Refused by the length check, before any key derivation. */
        if (strstr(err.msg, "truncated") == NULL)
            fail_msg("prefix %zu: %s", i, err.msg);
    }
    /* One byte too many, and a hostile size. */
    big = calloc(1, 4096);
    assert_non_null(big);
    memcpy(big, buf, len);
    assert_null(s_load_bytes(dir, "ARG.sign.key", big, len + 1, KEYS_SIGN,
        &err));
    assert_non_null(strstr(err.msg, "trailing bytes"));
    assert_null(s_load_bytes(dir, "ARG.sign.key", big, 4096, KEYS_SIGN,
        &err));
    assert_non_null(strstr(err.msg, "larger than the limit"));
    free(big);
    free(buf);
}

static void
test_keys_rejects_flipped_header_bits(void **state)
{
    errbuf_t err = {{0}};
    char     dir[PATH_MAX];
    uint8_t *buf;
    size_t   len, i;
    int      bit, derived = 0;

    (void)state;
    s_scratch(dir, sizeof dir);
    buf = s_read_file(s_fx.path[KEYS_SIGN], &len);
    for (i = 0; i < PRE_SALT_LEN; i++) {
        for (bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            assert_null(s_load_bytes(dir, "ARG.sign.key", buf, len, KEYS_SIGN,
                &err));
            buf[i] ^= (uint8_t)(1u << bit);
            if (strstr(err.msg, "wrong passphrase") == NULL)
                continue;
            /* Only opslimit 2 -> 3 passes the header checks; the AEAD,
             * whose associated data is the header, refuses it. */
            if (i != OPS_OFFSET + 7 || bit != 0)
                fail_msg("byte %zu bit %d reached the key derivation", i, bit);
            derived++;
        }
    }
    assert_int_equal(derived, 1);
    free(buf);
}

/* Found by fuzzing: an owner "AR\0" (stored length 3) passed as "AR", so
 * the header length was taken one byte short and decryption wrote past
 * the end of its buffer. */
static void
test_keys_rejects_nul_in_stored_owner(void **state)
{
    errbuf_t err = {{0}};
    char     dir[PATH_MAX];
    uint8_t *buf;
    size_t   len, i;

    (void)state;
    s_scratch(dir, sizeof dir);
    buf = s_read_file(s_fx.path[KEYS_SIGN], &len);
    for (i = 0; i < 3; i++) {
        uint8_t saved = buf[10 + i];

        buf[10 + i] = 0;
        assert_null(s_load_bytes(dir, "input.secret", buf, len, KEYS_SIGN,
            &err));
        assert_non_null(strstr(err.msg, "holds a NUL byte"));
        buf[10 + i] = saved;
    }
    free(buf);
}

static void
test_keys_rejects_flipped_salt_nonce_ciphertext(void **state)
{
    static const size_t at[] = {PRE_SALT_LEN, PRE_SALT_LEN + 16 + 23,
        SIGN_FILE_LEN - 1};
    errbuf_t err = {{0}};
    char     dir[PATH_MAX];
    uint8_t *buf;
    size_t   len, i;

    (void)state;
    s_scratch(dir, sizeof dir);
    buf = s_read_file(s_fx.path[KEYS_SIGN], &len);
    for (i = 0; i < sizeof at / sizeof at[0]; i++) {
        buf[at[i]] ^= 0x20;
        assert_null(s_load_bytes(dir, "ARG.sign.key", buf, len, KEYS_SIGN,
            &err));
        assert_non_null(strstr(err.msg, "wrong passphrase, or the key file "
                                        "is damaged"));
        buf[at[i]] ^= 0x20;
    }
    free(buf);
}

static void
s_store_u64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void
test_keys_rejects_downgraded_kdf_settings(void **state)
{
    static const struct {
        uint64_t    ops, mem;
        const char *expect;
    } cases[] = {
        {1, 64u << 20, "downgraded"},
        {0, 64u << 20, "downgraded"},
        {2, 32u << 20, "downgraded"},
        {2, 0, "downgraded"},
        {5, 64u << 20, "exceed the maximum"},
        {2, 2048ull << 20, "exceed the maximum"},
        {UINT64_MAX, UINT64_MAX, "exceed the maximum"},
        {2, (64u << 20) + 1024, "not a power of two"},
    };
    errbuf_t err = {{0}};
    char     dir[PATH_MAX];
    uint8_t *buf;
    size_t   len, i;

    (void)state;
    s_scratch(dir, sizeof dir);
    buf = s_read_file(s_fx.path[KEYS_SIGN], &len);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_store_u64(buf + OPS_OFFSET, cases[i].ops);
        s_store_u64(buf + MEM_OFFSET, cases[i].mem);
        assert_null(s_load_bytes(dir, "ARG.sign.key", buf, len, KEYS_SIGN,
            &err));
        if (strstr(err.msg, cases[i].expect) == NULL)
            fail_msg("case %zu: %s", i, err.msg);
    }
    free(buf);
}

static void
test_keys_generate_refuses_to_overwrite(void **state)
{
    errbuf_t err = {{0}};
    uint8_t *before, *after;
    size_t   blen, alen;
    char     path[PATH_MAX];

    (void)state;
    before = s_read_file(s_fx.path[KEYS_SIGN], &blen);
    assert_int_equal(keys_generate(s_fx.keys, OWNER, PASS, PASS_LEN, &err),
        -1);
    assert_non_null(strstr(err.msg, "already exists"));
    after = s_read_file(s_fx.path[KEYS_SIGN], &alen);
    assert_int_equal(alen, blen);
    assert_memory_equal(before, after, blen);
    /* Any one existing file of the identity blocks it, even a dangling
     * symbolic link; nothing is created. */
    s_join(path, sizeof path, s_fx.keys, "CHL.transport.key");
    assert_int_equal(symlink("/nonexistent", path), 0);
    assert_int_equal(keys_generate(s_fx.keys, "CHL", PASS, PASS_LEN, &err),
        -1);
    assert_non_null(strstr(err.msg, "CHL.transport.key: already exists"));
    s_join(path, sizeof path, s_fx.keys, "CHL.sign.key");
    assert_int_equal(access(path, F_OK), -1);
    s_join(path, sizeof path, s_fx.keys, "CHL.transport.key");
    unlink(path);
    free(before);
    free(after);
}

static void
test_keys_generate_refuses_bad_input(void **state)
{
    errbuf_t err = {{0}};
    char     dir[PATH_MAX];

    (void)state;
    s_scratch(dir, sizeof dir);
    assert_int_equal(keys_generate(dir, "A/B", PASS, PASS_LEN, &err), -1);
    assert_non_null(strstr(err.msg, "not a valid identity"));
    assert_int_equal(keys_generate(dir, "ARG", "", 0, &err), -1);
    assert_non_null(strstr(err.msg, "empty passphrase"));
    assert_int_equal(keys_generate(dir, "ARG", PASS, KEYS_PASSPHRASE_MAX + 1,
                         &err), -1);
    assert_int_equal(chmod(dir, 0755), 0);
    assert_int_equal(keys_generate(dir, "ARG", PASS, PASS_LEN, &err), -1);
    assert_non_null(strstr(err.msg, "chmod 700"));
    assert_int_equal(chmod(dir, 0700), 0);
}

/* ------------------------------------------------------------------ */
/* .pub files */

static void
test_keys_public_roundtrip(void **state)
{
    errbuf_t      err = {{0}};
    keys_public_t pub, again;
    uint8_t      *file;
    size_t        flen, tlen;
    char         *text, path[PATH_MAX], dir[PATH_MAX];

    (void)state;
    assert_int_equal(keys_public_load(s_fx.path[0], &pub, &err), 0);
    assert_int_equal(keys_public_encode(&pub, &text, &tlen, &err), 0);
    file = s_read_file(s_fx.path[0], &flen);
    assert_int_equal(flen, tlen);
    assert_memory_equal(file, text, flen);
    assert_int_equal(text[tlen - 1], '\n');
    assert_int_equal(keys_public_parse(text, tlen, &again, &err), 0);
    assert_memory_equal(&pub, &again, sizeof pub);
    s_scratch(dir, sizeof dir);
    s_join(path, sizeof path, dir, "ARG.pub");
    assert_int_equal(keys_public_save(path, &pub, &err), 0);
    assert_int_equal(s_mode(path), 0644);
    assert_int_equal(keys_public_save(path, &pub, &err), -1);
    assert_non_null(strstr(err.msg, "already exists"));
    free(text);
    free(file);
}

/* The generated .pub as a jansson object, to derive bad variants from. */
static json_t *
s_pub_json(void)
{
    json_error_t jerr;
    json_t      *root = json_load_file(s_fx.path[0], 0, &jerr);

    assert_non_null(root);
    return root;
}

/* Parse root (consumed) and expect failure with a message holding want. */
static void
s_expect_pub_error(json_t *root, const char *want)
{
    errbuf_t      err = {{0}};
    keys_public_t pub;
    char         *text = json_dumps(root, 0);

    assert_non_null(text);
    json_decref(root);
    if (keys_public_parse(text, strlen(text), &pub, &err) == 0)
        fail_msg("accepted: %s", text);
    if (strstr(err.msg, want) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    free(text);
}

static void
s_set(json_t *root, const char *field, const char *value)
{
    assert_int_equal(json_object_set_new(root, field, json_string(value)), 0);
}

static void
test_keys_public_rejects_bad_fields(void **state)
{
    uint8_t  k31[31] = {1}, zero[32] = {0}, pk[32], id[KEYS_ID_BYTES];
    char     b64[64], hex[2 * KEYS_ID_BYTES + 1], *s;
    json_t  *root;
    errbuf_t err = {{0}};
    keys_public_t pub;

    (void)state;
    root = s_pub_json();
    s_set(root, "sign", "!!!!AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    s_expect_pub_error(root, "field \"sign\": not the base64");

    root = s_pub_json();
    sodium_bin2base64(b64, sizeof b64, k31, sizeof k31,
        sodium_base64_VARIANT_ORIGINAL);
    s_set(root, "box", b64);
    s_expect_pub_error(root, "field \"box\": not the base64");

    root = s_pub_json();
    s_set(root, "transport", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    s_expect_pub_error(root, "field \"transport\": not the base64");

    /* Non-canonical: the last character's unused low bits set. */
    {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "abcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t idx;

        root = s_pub_json();
        s = strdup(json_string_value(json_object_get(root, "box")));
        idx = (size_t)(strchr(alphabet, s[42]) - alphabet);
        assert_int_equal(idx & 3, 0);
        s[42] = alphabet[idx | 1];
        s_set(root, "box", s);
        free(s);
        s_expect_pub_error(root, "field \"box\": not the base64");
    }

    root = s_pub_json();
    s = strdup(json_string_value(json_object_get(root, "sign_key_id")));
    s[0] = s[0] == '0' ? '1' : '0';
    s_set(root, "sign_key_id", s);
    free(s);
    s_expect_pub_error(root, "field \"sign_key_id\": does not match");

    root = s_pub_json();
    s = strdup(json_string_value(json_object_get(root, "box_key_id")));
    s[31] = s[31] == '0' ? '1' : '0';
    s_set(root, "box_key_id", s);
    free(s);
    s_expect_pub_error(root, "field \"box_key_id\": does not match");

    root = s_pub_json();
    s = strdup(json_string_value(json_object_get(root, "box_key_id")));
    for (size_t i = 0; s[i]; i++)
        if (s[i] >= 'a' && s[i] <= 'f')
            s[i] = (char)(s[i] - 'a' + 'A');
    s_set(root, "box_key_id", s);
    free(s);
    s_expect_pub_error(root, "field \"box_key_id\": expected 32 lower-case");

    root = s_pub_json();
    s_set(root, "sign_key_id", "00");
    s_expect_pub_error(root, "field \"sign_key_id\": expected 32");

    root = s_pub_json();
    s_set(root, "comment", "hello");
    s_expect_pub_error(root, "unknown field \"comment\"");

    root = s_pub_json();
    s_set(root, "\x1b[2J", "x");
    s_expect_pub_error(root, "unknown field \"?[2J\"");

    root = s_pub_json();
    s_set(root, "owner", "A B");
    s_expect_pub_error(root, "field \"owner\": not a valid identity");

    root = s_pub_json();
    s_set(root, "owner", "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    s_expect_pub_error(root, "field \"owner\"");

    root = s_pub_json();
    /* jansson refuses \u0000 in text unless asked to allow it. */
    json_object_set_new(root, "owner", json_stringn("AR\0G", 4));
    s_expect_pub_error(root, "\\u0000 is not allowed");

    root = s_pub_json();
    json_object_set_new(root, "owner", json_integer(3));
    s_expect_pub_error(root, "field \"owner\": must be a string");

    root = s_pub_json();
    json_object_del(root, "transport");
    s_expect_pub_error(root, "missing field \"transport\"");

    root = s_pub_json();
    s_set(root, "format", "csbm-public-key-2");
    s_expect_pub_error(root, "field \"format\"");

    s_expect_pub_error(json_array(), "expected a JSON object");

    /* A small-order X25519 key with its matching id. */
    root = s_pub_json();
    sodium_bin2base64(b64, sizeof b64, zero, 32,
        sodium_base64_VARIANT_ORIGINAL);
    keys_id(zero, id);
    keys_id_hex(id, hex);
    s_set(root, "box", b64);
    s_set(root, "box_key_id", hex);
    s_expect_pub_error(root, "field \"box\": not a usable X25519");

    /* An Ed25519 key that is not a valid point, with its matching id. */
    root = s_pub_json();
    memset(pk, 0, sizeof pk);
    pk[0] = 1; /* the identity point: small order */
    sodium_bin2base64(b64, sizeof b64, pk, 32,
        sodium_base64_VARIANT_ORIGINAL);
    keys_id(pk, id);
    keys_id_hex(id, hex);
    s_set(root, "sign", b64);
    s_set(root, "sign_key_id", hex);
    s_expect_pub_error(root, "field \"sign\": not a usable Ed25519");

    /* Duplicate keys and invalid JSON, as text. */
    {
        const char *dup = "{\"owner\":\"ARG\",\"owner\":\"CHL\"}";
        const char *bad = "{\"owner\":";

        assert_int_equal(keys_public_parse(dup, strlen(dup), &pub, &err), -1);
        assert_non_null(strstr(err.msg, "duplicate"));
        assert_int_equal(keys_public_parse(bad, strlen(bad), &pub, &err), -1);
        assert_non_null(strstr(err.msg, "not valid JSON"));
    }
}

/* Found by fuzzing: jansson's message quotes the offending bytes, and
 * they went into ours unfiltered (terminal escapes from a hostile file). */
static void
test_keys_public_parse_error_is_printable(void **state)
{
    static const char bad[] = "{\"format\": \x1b[31m}";
    keys_public_t     pub;
    errbuf_t          err = {{0}};
    size_t            i;

    (void)state;
    assert_int_equal(keys_public_parse(bad, sizeof bad - 1, &pub, &err), -1);
    assert_non_null(strstr(err.msg, "not valid JSON"));
    for (i = 0; err.msg[i] != '\0'; i++)
        assert_true((unsigned char)err.msg[i] >= 0x20
            && (unsigned char)err.msg[i] != 0x7f);
}

static void
test_keys_public_rejects_truncation_and_big_file(void **state)
{
    errbuf_t      err = {{0}};
    keys_public_t pub;
    uint8_t      *file;
    char         *big, dir[PATH_MAX], path[PATH_MAX];
    size_t        len, i;

    (void)state;
    file = s_read_file(s_fx.path[0], &len);
    /* Every strict prefix but the one that only drops the final newline. */
    for (i = 0; i + 1 < len; i++) {
        if (keys_public_parse((const char *)file, i, &pub, &err) == 0)
            fail_msg("prefix %zu accepted", i);
    }
    assert_int_equal(keys_public_parse((const char *)file, len - 1, &pub,
                         &err), 0);
    s_scratch(dir, sizeof dir);
    s_join(path, sizeof path, dir, "ARG.pub");
    big = malloc(KEYS_PUBLIC_MAX + 2);
    assert_non_null(big);
    memset(big, ' ', KEYS_PUBLIC_MAX + 2);
    memcpy(big, file, len);
    s_write_file(path, big, KEYS_PUBLIC_MAX + 1, 0644);
    assert_int_equal(keys_public_load(path, &pub, &err), -1);
    assert_non_null(strstr(err.msg, "larger than the limit"));
    s_write_file(path, big, KEYS_PUBLIC_MAX, 0644); /* trailing spaces: ok */
    assert_int_equal(keys_public_load(path, &pub, &err), 0);
    free(big);
    free(file);
}

static void
test_keys_public_init_checks(void **state)
{
    errbuf_t      err = {{0}};
    keys_public_t pub;
    uint8_t       spk[32], ssk[64], bpk[32], bsk[32], zero[32] = {0};

    (void)state;
    crypto_sign_keypair(spk, ssk);
    crypto_box_keypair(bpk, bsk);
    assert_int_equal(keys_public_init(&pub, "CHL", spk, bpk, bpk, &err), 0);
    assert_int_equal(keys_public_check(&pub, &err), 0);
    assert_int_equal(keys_public_init(&pub, "C L", spk, bpk, bpk, &err), -1);
    assert_int_equal(keys_public_init(&pub, "CHL", spk, zero, bpk, &err), -1);
    assert_non_null(strstr(err.msg, "\"box\""));
    assert_int_equal(keys_public_init(&pub, "CHL", spk, bpk, zero, &err), -1);
    assert_non_null(strstr(err.msg, "\"transport\""));
    assert_int_equal(keys_public_init(&pub, "CHL", spk, bpk, bpk, &err), 0);
    pub.box_key_id[3] ^= 1;
    assert_int_equal(keys_public_check(&pub, &err), -1);
    assert_non_null(strstr(err.msg, "box_key_id"));
    sodium_memzero(ssk, sizeof ssk);
    sodium_memzero(bsk, sizeof bsk);
}

/* ------------------------------------------------------------------ */
/* Known-answer vector: tests/vectors/keys/KAT.sign.key and KAT.pub. */

#define KAT_PASS "csbm known-answer passphrase"
#define KAT_SIGN_PK \
    "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
#define KAT_SIGN_ID  "f6decd96cbcfbb2338bb290f445d56ae"
#define KAT_BOX_ID   "a2138db0c243209caf508767542ec4aa"
#define KAT_BOX_PK \
    "5730800ab340fcb18ce5111eda9d705f91388b41e4544cbd103ba5942db2233e"
#define KAT_TRANSPORT_PK \
    "f14b5173130a1b80687f273d49e8f4740a793a949b83b105837f2a61e8fee14f"

static void
s_kat_seed(uint8_t seed[32], uint8_t start)
{
    int i;

    for (i = 0; i < 32; i++)
        seed[i] = (uint8_t)(start + i);
}

/* The KAT signing key file, built from the byte layout in
 * docs/FORMAT-keys.md with libsodium directly. With the same derived key,
 * bad[0] holds a secret whose trailing public key is wrong and bad[1] one
 * whose Ed25519 sk carries a wrong copy of the public key. */
static void
s_kat_build(uint8_t *out, size_t *out_len, uint8_t bad[2][256])
{
    uint8_t seed[32], pk[32], sk[64], key[32], plain[96];
    size_t  p = 0;
    int     i;

    s_kat_seed(seed, 0x00);
    assert_int_equal(crypto_sign_seed_keypair(pk, sk, seed), 0);
    memcpy(out, "CSBMSEC1", 8);
    p = 8;
    out[p++] = 1;   /* sign */
    out[p++] = 3;   /* owner length */
    memcpy(out + p, "KAT", 3);
    p += 3;
    out[p++] = 1;   /* Argon2id */
    s_store_u64(out + p, 2);
    p += 8;
    s_store_u64(out + p, 67108864);
    p += 8;
    for (i = 0; i < 16; i++)
        out[p++] = (uint8_t)(0xa0 + i); /* salt */
    for (i = 0; i < 24; i++)
        out[p++] = (uint8_t)(0xb0 + i); /* nonce */
    assert_int_equal(p, 70);
    assert_int_equal(crypto_pwhash(key, 32, KAT_PASS, strlen(KAT_PASS),
                         out + 30, 2, 67108864, crypto_pwhash_ALG_ARGON2ID13),
        0);
    memcpy(plain, sk, 64);
    memcpy(plain + 64, pk, 32);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + p, NULL, plain, 96, out,
        p, NULL, out + 46, key);
    *out_len = p + 96 + 16;
    for (i = 0; i < 2; i++) {
        memcpy(bad[i], out, p);
        plain[i == 0 ? 95 : 63] ^= 1;
        crypto_aead_xchacha20poly1305_ietf_encrypt(bad[i] + p, NULL, plain,
            96, bad[i], p, NULL, bad[i] + 46, key);
        plain[i == 0 ? 95 : 63] ^= 1;
    }
    sodium_memzero(key, sizeof key);
    sodium_memzero(sk, sizeof sk);
    sodium_memzero(plain, sizeof plain);
}

static void
s_kat_pub(keys_public_t *pub)
{
    uint8_t  seed[32], spk[32], ssk[64], bpk[32], bsk[32], tpk[32], tsk[32];
    errbuf_t err = {{0}};

    s_kat_seed(seed, 0x00);
    crypto_sign_seed_keypair(spk, ssk, seed);
    s_kat_seed(seed, 0x20);
    crypto_box_seed_keypair(bpk, bsk, seed);
    s_kat_seed(seed, 0x40);
    crypto_box_seed_keypair(tpk, tsk, seed);
    assert_int_equal(keys_public_init(pub, "KAT", spk, bpk, tpk, &err), 0);
}

static void
s_hex_to(const char *hex, uint8_t *out, size_t n)
{
    size_t bin_len = 0;

    assert_int_equal(sodium_hex2bin(out, n, hex, strlen(hex), NULL, &bin_len,
                         NULL), 0);
    assert_int_equal(bin_len, n);
}

static void
test_keys_known_answer_vector(void **state)
{
    const char    *src = getenv("CSBM_SOURCE_DIR");
    char           vdir[PATH_MAX], vpath[PATH_MAX], vpub[PATH_MAX];
    char           dir[PATH_MAX], hex[65];
    uint8_t        built[256], bad[2][256], *file, expect[32];
    int            i;
    size_t         built_len = 0, flen;
    keys_public_t  pub, want;
    keys_secret_t *sk;
    errbuf_t       err = {{0}};
    char          *text;
    size_t         tlen;

    (void)state;
    assert_non_null(src);
    s_join(vdir, sizeof vdir, src, "tests/vectors/keys");
    s_join(vpath, sizeof vpath, vdir, "KAT.sign.key");
    s_join(vpub, sizeof vpub, vdir, "KAT.pub");
    s_kat_build(built, &built_len, bad);
    s_kat_pub(&want);
    if (getenv("CSBM_WRITE_VECTORS") != NULL) {
        mkdir(vdir, 0755);
        s_write_file(vpath, built, built_len, 0644);
        assert_int_equal(keys_public_encode(&want, &text, &tlen, &err), 0);
        s_write_file(vpub, text, tlen, 0644);
        free(text);
        sodium_bin2hex(hex, sizeof hex, want.sign_pk, 32);
        printf("sign pk %s\n", hex);
        keys_id_hex(want.sign_key_id, hex);
        printf("sign id %s\n", hex);
        sodium_bin2hex(hex, sizeof hex, want.box_pk, 32);
        printf("box pk %s\n", hex);
        sodium_bin2hex(hex, sizeof hex, want.transport_pk, 32);
        printf("transport pk %s\n", hex);
    }

    /* The committed file is exactly the documented layout. */
    file = s_read_file(vpath, &flen);
    assert_int_equal(flen, built_len);
    assert_memory_equal(file, built, flen);

    /* Git does not keep mode 0600: load a private copy. */
    s_scratch(dir, sizeof dir);
    s_join(vpath, sizeof vpath, dir, "KAT.sign.key");
    s_write_file(vpath, file, flen, 0600);
    sk = keys_secret_load(vpath, KEYS_SIGN, KAT_PASS, strlen(KAT_PASS), &err);
    if (sk == NULL)
        fail_msg("%s", err.msg);
    s_hex_to(KAT_SIGN_PK, expect, 32);
    assert_memory_equal(keys_secret_public(sk), expect, 32);
    keys_id_hex(keys_secret_key_id(sk), hex);
    assert_string_equal(hex, KAT_SIGN_ID);
    assert_string_equal(keys_secret_owner(sk), "KAT");
    keys_secret_destroy(&sk);

    /* Authentic ciphertext, but the secret and public halves disagree. */
    for (i = 0; i < 2; i++) {
        s_write_file(vpath, bad[i], flen, 0600);
        assert_null(keys_secret_load(vpath, KEYS_SIGN, KAT_PASS,
            strlen(KAT_PASS), &err));
        assert_non_null(strstr(err.msg, "does not match its public key"));
    }

    assert_int_equal(keys_public_load(vpub, &pub, &err), 0);
    assert_memory_equal(&pub, &want, sizeof pub);
    s_hex_to(KAT_SIGN_PK, expect, 32);
    assert_memory_equal(pub.sign_pk, expect, 32);
    s_hex_to(KAT_BOX_PK, expect, 32);
    assert_memory_equal(pub.box_pk, expect, 32);
    keys_id_hex(pub.box_key_id, hex);
    assert_string_equal(hex, KAT_BOX_ID);
    s_hex_to(KAT_TRANSPORT_PK, expect, 32);
    assert_memory_equal(pub.transport_pk, expect, 32);
    free(file);
}

/* ------------------------------------------------------------------ */
/* Passphrases */

static char *
s_pass_buf(void)
{
    char *buf = sodium_malloc(KEYS_PASSPHRASE_MAX + 1);

    assert_non_null(buf);
    return buf;
}

static void
s_free_pass(char *buf)
{
    sodium_memzero(buf, KEYS_PASSPHRASE_MAX + 1);
    sodium_free(buf);
}

static void
s_pass_file(const char *path, const char *content, size_t len, mode_t mode)
{
    s_write_file(path, content, len, mode);
}

static void
test_keys_passphrase_from_file(void **state)
{
    char     dir[PATH_MAX], path[PATH_MAX], *buf = s_pass_buf(), *big;
    size_t   len = 0;
    errbuf_t err = {{0}};

    (void)state;
    s_scratch(dir, sizeof dir);
    s_join(path, sizeof path, dir, "pass");

    s_pass_file(path, "s3cret phrase\nsecond line\n", 26, 0600);
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), 0);
    assert_int_equal(len, 13);
    assert_string_equal(buf, "s3cret phrase");

    s_pass_file(path, "windows\r\n", 9, 0600);
    assert_int_equal(keys_passphrase_get(path, 1, buf, &len, &err), 0);
    assert_string_equal(buf, "windows");

    s_pass_file(path, "no newline", 10, 0640); /* group may read */
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), 0);
    assert_string_equal(buf, "no newline");

    /* The file wins over the environment. */
    setenv(KEYS_PASSPHRASE_ENV, "from env", 1);
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), 0);
    assert_string_equal(buf, "no newline");
    unsetenv(KEYS_PASSPHRASE_ENV);

    s_pass_file(path, "\nsecond", 7, 0600);
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "empty"));
    assert_int_equal(len, 0);

    s_pass_file(path, "", 0, 0600);
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "empty"));

    s_pass_file(path, "a\0b\n", 4, 0600);
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "NUL"));

    s_pass_file(path, "readable\n", 9, 0604);
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_int_equal(buf[0], '\0'); /* wiped on failure */

    s_pass_file(path, "writable\n", 9, 0602);
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "chmod 600"));

    /* Exactly the maximum is accepted, also with CRLF; one more is not. */
    big = malloc(KEYS_PASSPHRASE_MAX + 3);
    assert_non_null(big);
    memset(big, 'x', KEYS_PASSPHRASE_MAX + 3);
    big[KEYS_PASSPHRASE_MAX] = '\r';
    big[KEYS_PASSPHRASE_MAX + 1] = '\n';
    s_pass_file(path, big, KEYS_PASSPHRASE_MAX + 2, 0600);
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), 0);
    assert_int_equal(len, KEYS_PASSPHRASE_MAX);
    memset(big, 'x', KEYS_PASSPHRASE_MAX + 3);
    big[KEYS_PASSPHRASE_MAX + 1] = '\n';
    s_pass_file(path, big, KEYS_PASSPHRASE_MAX + 2, 0600);
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "longer than"));
    free(big);

    assert_int_equal(keys_passphrase_get(dir, 0, buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
    s_join(path, sizeof path, dir, "missing");
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "cannot open"));
    s_free_pass(buf);
}

static void
test_keys_passphrase_from_stdin_reads_one_line(void **state)
{
    char     *buf = s_pass_buf(), rest[16] = {0};
    size_t    len = 0;
    errbuf_t  err = {{0}};
    int       fds[2], saved;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], "piped\nREST", 10), 10);
    close(fds[1]);
    saved = dup(STDIN_FILENO);
    assert_int_equal(dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
    assert_int_equal(keys_passphrase_get("-", 0, buf, &len, &err), 0);
    assert_string_equal(buf, "piped");
    /* Nothing after the first line was consumed. */
    assert_int_equal(read(STDIN_FILENO, rest, sizeof rest - 1), 4);
    assert_string_equal(rest, "REST");
    dup2(saved, STDIN_FILENO);
    close(saved);
    close(fds[0]);
    s_free_pass(buf);
}

static void
test_keys_passphrase_from_env(void **state)
{
    char    *buf = s_pass_buf(), *big;
    size_t   len = 0;
    errbuf_t err = {{0}};

    (void)state;
    setenv(KEYS_PASSPHRASE_ENV, "env phrase", 1);
    assert_int_equal(keys_passphrase_get(NULL, 1, buf, &len, &err), 0);
    assert_int_equal(len, 10);
    assert_string_equal(buf, "env phrase");
    setenv(KEYS_PASSPHRASE_ENV, "", 1);
    assert_int_equal(keys_passphrase_get(NULL, 0, buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "set but empty"));
    big = malloc(KEYS_PASSPHRASE_MAX + 2);
    assert_non_null(big);
    memset(big, 'y', KEYS_PASSPHRASE_MAX + 1);
    big[KEYS_PASSPHRASE_MAX + 1] = '\0';
    setenv(KEYS_PASSPHRASE_ENV, big, 1);
    assert_int_equal(keys_passphrase_get(NULL, 0, buf, &len, &err), -1);
    assert_non_null(strstr(err.msg, "longer than"));
    free(big);
    unsetenv(KEYS_PASSPHRASE_ENV);
    keys_passphrase_forget();
    s_free_pass(buf);
}

/* CSBM_PASSPHRASE is taken out of the environment on first use (wiped
 * where the environment held it, then unset), and a command that loads
 * several keys still gets it for each. */
static void
test_keys_passphrase_env_consumed_once_and_reused(void **state)
{
    static char    var[] = KEYS_PASSPHRASE_ENV "=" PASS;
    const char    *value = var + sizeof KEYS_PASSPHRASE_ENV;
    char           dir[PATH_MAX], path[PATH_MAX];
    char          *buf = s_pass_buf();
    size_t         len = 0, i;
    errbuf_t       err = {{0}};
    keys_secret_t *sk, *bk;
    int            status = 0;
    pid_t          pid;

    (void)state;
    assert_int_equal(putenv(var), 0);
    assert_int_equal(keys_passphrase_get(NULL, 0, buf, &len, &err), 0);
    assert_int_equal(len, PASS_LEN);
    assert_string_equal(buf, PASS);
    assert_null(getenv(KEYS_PASSPHRASE_ENV));
    for (i = 0; i < PASS_LEN; i++)
        assert_int_equal(value[i], '\0');
    sk = keys_secret_load(s_fx.path[KEYS_SIGN], KEYS_SIGN, buf, len, &err);
    assert_non_null(sk);
    sodium_memzero(buf, KEYS_PASSPHRASE_MAX + 1);

    /* The second key of the same command. */
    assert_int_equal(keys_passphrase_get(NULL, 0, buf, &len, &err), 0);
    assert_string_equal(buf, PASS);
    bk = keys_secret_load(s_fx.path[KEYS_BOX], KEYS_BOX, buf, len, &err);
    if (bk == NULL)
        fail_msg("second key: %s", err.msg);
    keys_secret_destroy(&bk);
    keys_secret_destroy(&sk);

    /* A child does not inherit it in its environment. */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", "test -z \"${" KEYS_PASSPHRASE_ENV
            "+set}\"", (char *)NULL);
        _exit(2);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* A value set again later wins over the copy, and is consumed too. */
    setenv(KEYS_PASSPHRASE_ENV, "newer phrase", 1);
    assert_int_equal(keys_passphrase_get(NULL, 0, buf, &len, &err), 0);
    assert_string_equal(buf, "newer phrase");
    assert_null(getenv(KEYS_PASSPHRASE_ENV));
    assert_int_equal(keys_passphrase_get(NULL, 0, buf, &len, &err), 0);
    assert_string_equal(buf, "newer phrase");
    /* A file still comes first. */
    s_scratch(dir, sizeof dir);
    s_join(path, sizeof path, dir, "pass");
    s_write_file(path, "file phrase\n", 12, 0600);
    assert_int_equal(keys_passphrase_get(path, 0, buf, &len, &err), 0);
    assert_string_equal(buf, "file phrase");
    /* Forgotten, there is nothing left to reuse (twice is harmless). */
    keys_passphrase_forget();
    keys_passphrase_forget();
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setsid(); /* no terminal to fall back to */
        _exit(keys_passphrase_get(NULL, 0, buf, &len, &err) == -1 ? 0 : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    s_free_pass(buf);
}

static void
test_keys_passphrase_without_terminal_says_what_to_do(void **state)
{
    int   fds[2], status = 0;
    pid_t pid;
    char  msg[ERRBUF_SIZE] = {0};

    (void)state;
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char     buf[KEYS_PASSPHRASE_MAX + 1];
        size_t   len = 0;
        errbuf_t err = {{0}};
        int      rc;

        close(fds[0]);
        setsid(); /* no controlling terminal any more */
        unsetenv(KEYS_PASSPHRASE_ENV);
        rc = keys_passphrase_get(NULL, 0, buf, &len, &err);
        if (write(fds[1], err.msg, strlen(err.msg)) < 0)
            _exit(3);
        _exit(rc == -1 ? 0 : 1);
    }
    close(fds[1]);
    assert_true(read(fds[0], msg, sizeof msg - 1) > 0);
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_non_null(strstr(msg, "CSBM_PASSPHRASE"));
    assert_non_null(strstr(msg, "--passphrase-file"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys_id_known_answer),
        cmocka_unit_test(test_keys_owner_valid),
        cmocka_unit_test(test_keys_path),
        cmocka_unit_test(test_keys_generate_sets_modes_and_sizes),
        cmocka_unit_test(test_keys_loads_each_kind_and_signs),
        cmocka_unit_test(test_keys_rejects_wrong_passphrase),
        cmocka_unit_test(test_keys_rejects_wrong_kind),
        cmocka_unit_test(test_keys_rejects_loose_file_mode),
        cmocka_unit_test(test_keys_rejects_loose_directory),
        cmocka_unit_test(test_keys_rejects_symlinked_key_file),
        cmocka_unit_test(test_keys_reads_the_key_file_it_checked),
        cmocka_unit_test(test_keys_rejects_fifo_and_symlink_to_good_file),
        cmocka_unit_test(test_keys_rejects_every_truncation),
        cmocka_unit_test(test_keys_rejects_flipped_header_bits),
        cmocka_unit_test(test_keys_rejects_nul_in_stored_owner),
        cmocka_unit_test(test_keys_rejects_flipped_salt_nonce_ciphertext),
        cmocka_unit_test(test_keys_rejects_downgraded_kdf_settings),
        cmocka_unit_test(test_keys_generate_refuses_to_overwrite),
        cmocka_unit_test(test_keys_generate_refuses_bad_input),
        cmocka_unit_test(test_keys_public_roundtrip),
        cmocka_unit_test(test_keys_public_rejects_bad_fields),
        cmocka_unit_test(test_keys_public_parse_error_is_printable),
        cmocka_unit_test(test_keys_public_rejects_truncation_and_big_file),
        cmocka_unit_test(test_keys_public_init_checks),
        cmocka_unit_test(test_keys_known_answer_vector),
        cmocka_unit_test(test_keys_passphrase_from_file),
        cmocka_unit_test(test_keys_passphrase_from_stdin_reads_one_line),
        cmocka_unit_test(test_keys_passphrase_from_env),
        cmocka_unit_test(test_keys_passphrase_env_consumed_once_and_reused),
        cmocka_unit_test(test_keys_passphrase_without_terminal_says_what_to_do),
    };

    return cmocka_run_group_tests_name("keys", tests, s_group_setup,
        s_group_teardown);
}
