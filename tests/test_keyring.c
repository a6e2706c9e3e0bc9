/*
 * test_keyring: loading .pub directories and time-aware key lookups
 * (validity periods, rotation, retirement, revocation, member status).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/keyring.h"
#include "crypto/keys.h"

#define T_2025     INT64_C(1735689600) /* 2025-01-01T00:00:00Z */
#define T_REVOKED  INT64_C(1772323200) /* 2026-03-01T00:00:00Z */
#define T_PACKAGE  INT64_C(1772704800) /* 2026-03-05T10:00:00Z */
#define T_MIDYEAR  INT64_C(1782777600) /* 2026-06-30T00:00:00Z */
#define T_2027     INT64_C(1798761600) /* 2027-01-01T00:00:00Z */

/* ------------------------------------------------------------------ */

static void
s_join(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);

    assert_true(n > 0 && (size_t)n < cap);
}

static void
s_rm_tree(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *e;
    char           path[PATH_MAX];
    struct stat    st;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        s_join(path, sizeof path, dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            s_rm_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void
s_tempdir(char *out, size_t cap)
{
    snprintf(out, cap, "/tmp/test_keyring.XXXXXX");
    assert_non_null(mkdtemp(out));
}

/* A fresh public identity of owner (random keys). */
static void
s_pub(const char *owner, keys_public_t *pub)
{
    uint8_t  spk[32], ssk[64], bpk[32], bsk[32], tpk[32], tsk[32];
    errbuf_t err = {{0}};

    crypto_sign_keypair(spk, ssk);
    crypto_box_keypair(bpk, bsk);
    crypto_box_keypair(tpk, tsk);
    assert_int_equal(keys_public_init(pub, owner, spk, bpk, tpk, &err), 0);
    sodium_memzero(ssk, sizeof ssk);
    sodium_memzero(bsk, sizeof bsk);
    sodium_memzero(tsk, sizeof tsk);
}

static keyring_key_t
s_binding(const char *owner, int64_t from, int64_t until, int revoked,
    const char *reason)
{
    keyring_key_t k;

    memset(&k, 0, sizeof k);
    s_pub(owner, &k.pub);
    k.valid_from = from;
    k.valid_until = until;
    k.revoked = revoked;
    snprintf(k.reason, sizeof k.reason, "%s", reason);
    k.status = KEYRING_ACTIVE;
    return k;
}

static void
s_add(keyring_t *kr, const keyring_key_t *k)
{
    errbuf_t err = {{0}};

    if (keyring_add(kr, k, &err) != 0)
        fail_msg("keyring_add: %s", err.msg);
}

static void
s_save_pub(const char *dir, const char *name, const keys_public_t *pub)
{
    char     path[PATH_MAX];
    errbuf_t err = {{0}};

    s_join(path, sizeof path, dir, name);
    if (keys_public_save(path, pub, &err) != 0)
        fail_msg("%s", err.msg);
}

static void
s_write_text(const char *dir, const char *name, const char *text)
{
    char path[PATH_MAX];
    int  fd;

    s_join(path, sizeof path, dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

static char *
s_hex(const uint8_t id[KEYS_ID_BYTES], char out[2 * KEYS_ID_BYTES + 1])
{
    keys_id_hex(id, out);
    return out;
}

/* Expect a failed signer lookup whose message contains want. */
static void
s_signer_fails(const keyring_t *kr, const char *owner, const uint8_t *id,
    int64_t at, const char *want)
{
    const keyring_key_t *k = (const keyring_key_t *)1;
    errbuf_t             err = {{0}};

    assert_int_equal(keyring_signer(kr, owner, id, at, &k, &err), -1);
    assert_null(k);
    if (strstr(err.msg, want) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
}

static const keyring_key_t *
s_signer_ok(const keyring_t *kr, const char *owner, const uint8_t *id,
    int64_t at)
{
    const keyring_key_t *k = NULL;
    errbuf_t             err = {{0}};

    if (keyring_signer(kr, owner, id, at, &k, &err) != 0)
        fail_msg("keyring_signer: %s", err.msg);
    assert_non_null(k);
    return k;
}

static int
s_setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------ */

static void
test_keyring_destroy_is_null_safe(void **state)
{
    keyring_t *kr = keyring_new();

    (void)state;
    assert_non_null(kr);
    assert_int_equal(keyring_key_count(kr), 0);
    assert_int_equal(keyring_owner_count(kr), 0);
    assert_null(keyring_key_at(kr, 0));
    assert_null(keyring_owner_at(kr, 0));
    keyring_destroy(&kr);
    assert_null(kr);
    keyring_destroy(&kr);
    keyring_destroy(NULL);
}

static void
test_keyring_loads_directory_of_pub_files(void **state)
{
    char                 dir[PATH_MAX];
    keys_public_t        arg, chl, hub;
    keyring_t           *kr = keyring_new();
    errbuf_t             err = {{0}};
    const keyring_key_t *k;

    (void)state;
    s_tempdir(dir, sizeof dir);
    s_pub("hub", &hub);
    s_pub("CHL", &chl);
    s_pub("ARG", &arg);
    s_save_pub(dir, "hub.pub", &hub);
    s_save_pub(dir, "CHL.pub", &chl);
    s_save_pub(dir, "ARG.pub", &arg);
    /* Not .pub files: ignored. */
    s_write_text(dir, "README", "not a key");
    s_write_text(dir, "ARG.pub.tmp.123", "half-written");
    s_write_text(dir, "ARG.pub~", "editor backup");

    if (keyring_load_dir(kr, dir, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(keyring_key_count(kr), 3);
    /* Loaded in file name order; owners sorted. */
    assert_string_equal(keyring_key_at(kr, 0)->pub.owner, "ARG");
    assert_string_equal(keyring_key_at(kr, 1)->pub.owner, "CHL");
    assert_string_equal(keyring_key_at(kr, 2)->pub.owner, "hub");
    assert_int_equal(keyring_owner_count(kr), 3);
    assert_string_equal(keyring_owner_at(kr, 0), "ARG");
    assert_string_equal(keyring_owner_at(kr, 1), "CHL");
    assert_string_equal(keyring_owner_at(kr, 2), "hub");
    assert_memory_equal(&keyring_key_at(kr, 1)->pub, &chl, sizeof chl);

    /* A directory keyring: valid at all times, every owner active. */
    k = s_signer_ok(kr, "CHL", chl.sign_key_id, 0);
    assert_memory_equal(k->pub.sign_pk, chl.sign_pk, 32);
    assert_int_equal(k->valid_until, KEYRING_FOREVER);
    assert_int_equal(k->status, KEYRING_ACTIVE);
    s_signer_ok(kr, "CHL", chl.sign_key_id, INT64_MAX - 1);
    k = keyring_recipient(kr, "ARG", T_PACKAGE, &err);
    assert_non_null(k);
    assert_memory_equal(k->pub.box_pk, arg.box_pk, 32);
    s_signer_fails(kr, "ARG", chl.sign_key_id, T_PACKAGE, "belongs to CHL");

    keyring_destroy(&kr);
    s_rm_tree(dir);
}

/* Load dir into a new keyring and expect failure mentioning want. */
static void
s_load_fails(const char *dir, const char *want)
{
    keyring_t *kr = keyring_new();
    errbuf_t   err = {{0}};

    assert_int_equal(keyring_load_dir(kr, dir, &err), -1);
    if (strstr(err.msg, want) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    keyring_destroy(&kr);
}

static void
test_keyring_load_dir_rejects_bad_entries(void **state)
{
    char          dir[PATH_MAX], path[PATH_MAX], sub[PATH_MAX];
    keys_public_t arg, twin;

    (void)state;
    s_tempdir(dir, sizeof dir);
    s_load_fails(dir, "no .pub files");

    s_pub("ARG", &arg);
    s_save_pub(dir, "ARG.pub", &arg);
    /* A file whose owner is not its name. */
    s_save_pub(dir, "PER.pub", &arg);
    s_load_fails(dir, "its name says PER");
    s_join(path, sizeof path, dir, "PER.pub");
    unlink(path);

    /* The same key under two owners. */
    twin = arg;
    snprintf(twin.owner, sizeof twin.owner, "URY");
    s_save_pub(dir, "URY.pub", &twin);
    s_load_fails(dir, "already in the keyring");
    s_join(path, sizeof path, dir, "URY.pub");
    unlink(path);

    s_write_text(dir, "A B.pub", "{}");
    s_load_fails(dir, "named <ID>.pub");
    s_join(path, sizeof path, dir, "A B.pub");
    unlink(path);
    s_write_text(dir, ".pub", "{}");
    s_load_fails(dir, "named <ID>.pub");
    s_join(path, sizeof path, dir, ".pub");
    unlink(path);

    s_write_text(dir, "CHL.pub", "{\"format\":");
    s_load_fails(dir, "CHL.pub: not valid JSON");
    s_write_text(dir, "CHL.pub", "{}");
    s_load_fails(dir, "CHL.pub: missing field");
    s_join(path, sizeof path, dir, "CHL.pub");
    unlink(path);

    s_join(sub, sizeof sub, dir, "BOL.pub");
    assert_int_equal(mkdir(sub, 0700), 0);
    s_load_fails(dir, "not a regular file");
    rmdir(sub);

    s_join(path, sizeof path, dir, "ARG.pub");
    assert_int_equal(chmod(path, 0666), 0);
    s_load_fails(dir, "chmod o-w");
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    s_load_fails(dir, "chmod o-w");
    assert_int_equal(chmod(dir, 0755), 0);

    s_load_fails(path, "not a directory");
    s_join(path, sizeof path, dir, "missing");
    s_load_fails(path, "cannot use the keyring directory");
    s_rm_tree(dir);
}

static void
test_keyring_load_dir_bounds_file_count(void **state)
{
    char dir[PATH_MAX], name[32];
    int  i;

    (void)state;
    s_tempdir(dir, sizeof dir);
    for (i = 0; i <= KEYRING_MAX_KEYS; i++) {
        snprintf(name, sizeof name, "S%d.pub", i);
        s_write_text(dir, name, "");
    }
    s_load_fails(dir, "more than 4096 .pub files");
    s_rm_tree(dir);
}

static void
test_keyring_signer_checks_retirement_and_revocation(void **state)
{
    keyring_t    *kr = keyring_new();
    keyring_key_t old = s_binding("ARG", 0, T_MIDYEAR, 0, "rotated");
    keyring_key_t cur = s_binding("ARG", T_MIDYEAR, KEYRING_FOREVER, 0, "");
    keyring_key_t chl = s_binding("CHL", T_2025, T_REVOKED, 1,
        "key compromise");
    char          hex[33], want[512];
    errbuf_t      err = {{0}};
    const keyring_key_t *k = NULL;
    uint8_t       unknown[KEYS_ID_BYTES] = {0x9c, 0x1d};

    (void)state;
    s_add(kr, &old);
    s_add(kr, &cur);
    s_add(kr, &chl);

    /* Revocation: the exact message. */
    assert_int_equal(keyring_signer(kr, "CHL", chl.pub.sign_key_id,
                         T_PACKAGE, &k, &err), -1);
    snprintf(want, sizeof want, "CHL key %s was revoked at "
        "2026-03-01T00:00:00Z (key compromise); the package was created at "
        "2026-03-05T10:00:00Z", s_hex(chl.pub.sign_key_id, hex));
    assert_string_equal(err.msg, want);
    s_signer_fails(kr, "CHL", chl.pub.sign_key_id, T_REVOKED, "revoked at");
    s_signer_ok(kr, "CHL", chl.pub.sign_key_id, T_REVOKED - 1);
    s_signer_ok(kr, "CHL", chl.pub.sign_key_id, T_2025);
    s_signer_fails(kr, "CHL", chl.pub.sign_key_id, T_2025 - 1,
        "is valid only from 2025-01-01T00:00:00Z");

    /* Rotation: the old key signs until it is retired, the new one from
     * its start. */
    assert_ptr_equal(s_signer_ok(kr, "ARG", old.pub.sign_key_id, 0),
        keyring_key_at(kr, 0));
    s_signer_ok(kr, "ARG", old.pub.sign_key_id, T_MIDYEAR - 1);
    s_signer_fails(kr, "ARG", old.pub.sign_key_id, T_MIDYEAR,
        "was retired at 2026-06-30T00:00:00Z (rotated)");
    s_signer_fails(kr, "ARG", cur.pub.sign_key_id, T_MIDYEAR - 1,
        "is valid only from 2026-06-30T00:00:00Z; the package was created at "
        "2026-06-29T23:59:59Z");
    assert_ptr_equal(s_signer_ok(kr, "ARG", cur.pub.sign_key_id, T_2027),
        keyring_key_at(kr, 1));

    /* Unknown keys and owners. */
    snprintf(want, sizeof want, "no key %s for ARG in the registry",
        s_hex(unknown, hex));
    s_signer_fails(kr, "ARG", unknown, T_PACKAGE, want);
    s_signer_fails(kr, "PER", unknown, T_PACKAGE, "PER has no key at all");
    s_signer_fails(kr, "ARG", chl.pub.sign_key_id, T_2025,
        "belongs to CHL, not to ARG");
    s_signer_fails(kr, "AR G", cur.pub.sign_key_id, T_2027,
        "not a valid identity");
    s_signer_fails(kr, "", cur.pub.sign_key_id, T_2027, "not a valid");
    keyring_destroy(&kr);
}

static void
test_keyring_withdrawn_and_suspended_owners(void **state)
{
    keyring_t    *kr = keyring_new();
    keyring_key_t per = s_binding("PER", 0, KEYRING_FOREVER, 0, "");
    keyring_key_t ury = s_binding("URY", 0, KEYRING_FOREVER, 0, "");
    errbuf_t      err = {{0}};

    (void)state;
    per.status = KEYRING_WITHDRAWN;
    per.status_since = T_REVOKED;
    ury.status = KEYRING_SUSPENDED;
    ury.status_since = T_MIDYEAR;
    s_add(kr, &per);
    s_add(kr, &ury);

    /* What was signed before the withdrawal stays valid. */
    s_signer_ok(kr, "PER", per.pub.sign_key_id, T_REVOKED - 1);
    s_signer_fails(kr, "PER", per.pub.sign_key_id, T_PACKAGE,
        "PER is withdrawn since 2026-03-01T00:00:00Z; the package was "
        "created at 2026-03-05T10:00:00Z");
    s_signer_ok(kr, "URY", ury.pub.sign_key_id, T_PACKAGE);
    s_signer_fails(kr, "URY", ury.pub.sign_key_id, T_2027,
        "URY is suspended since 2026-06-30T00:00:00Z");

    /* Nobody seals to a withdrawn or suspended member. */
    assert_null(keyring_recipient(kr, "PER", T_PACKAGE, &err));
    assert_string_equal(err.msg, "PER is withdrawn since 2026-03-01T00:00:00Z");
    assert_non_null(keyring_recipient(kr, "PER", T_REVOKED - 1, &err));
    assert_null(keyring_recipient(kr, "URY", T_MIDYEAR, &err));
    assert_non_null(strstr(err.msg, "URY is suspended since"));
    assert_non_null(keyring_recipient(kr, "URY", T_PACKAGE, &err));
    keyring_destroy(&kr);
}

static void
test_keyring_recipient_picks_newest_valid_key(void **state)
{
    keyring_t    *kr = keyring_new();
    keyring_key_t k1 = s_binding("ARG", 0, KEYRING_FOREVER, 0, "");
    keyring_key_t k2 = s_binding("ARG", T_REVOKED, T_MIDYEAR, 1, "lost");
    keyring_key_t k3 = s_binding("ARG", T_2027, KEYRING_FOREVER, 0, "");
    keyring_key_t k4 = s_binding("ARG", T_2027, KEYRING_FOREVER, 0, "");
    keyring_key_t old = s_binding("BOL", 0, T_2025, 0, "");
    keyring_key_t gone = s_binding("BOL", T_2025, T_REVOKED, 1, "key "
        "compromise");
    keyring_key_t late = s_binding("CUB", T_2027, KEYRING_FOREVER, 0, "");
    errbuf_t      err = {{0}};
    char          hex[33], want[512];

    (void)state;
    s_add(kr, &k1);
    s_add(kr, &k2);
    s_add(kr, &k3);
    s_add(kr, &old);
    s_add(kr, &gone);
    s_add(kr, &late);

    assert_ptr_equal(keyring_recipient(kr, "ARG", T_REVOKED - 1, &err),
        keyring_key_at(kr, 0));
    assert_ptr_equal(keyring_recipient(kr, "ARG", T_PACKAGE, &err),
        keyring_key_at(kr, 1));
    /* k2 revoked: back to the still-valid older key. */
    assert_ptr_equal(keyring_recipient(kr, "ARG", T_MIDYEAR, &err),
        keyring_key_at(kr, 0));
    assert_ptr_equal(keyring_recipient(kr, "ARG", T_2027, &err),
        keyring_key_at(kr, 2));
    /* Same start: the one added last. */
    s_add(kr, &k4);
    assert_ptr_equal(keyring_recipient(kr, "ARG", T_2027, &err),
        keyring_key_at(kr, 6));

    assert_null(keyring_recipient(kr, "BOL", T_PACKAGE, &err));
    snprintf(want, sizeof want, "BOL has no key valid at "
        "2026-03-05T10:00:00Z: its latest key %s was revoked at "
        "2026-03-01T00:00:00Z (key compromise)",
        s_hex(gone.pub.sign_key_id, hex));
    assert_string_equal(err.msg, want);
    assert_ptr_equal(keyring_recipient(kr, "BOL", T_2025, &err),
        keyring_key_at(kr, 4));

    assert_null(keyring_recipient(kr, "CUB", T_PACKAGE, &err));
    assert_non_null(strstr(err.msg, "its first key"));
    assert_non_null(strstr(err.msg, "valid from 2027-01-01T00:00:00Z"));

    assert_null(keyring_recipient(kr, "PER", T_PACKAGE, &err));
    assert_string_equal(err.msg, "no key for PER in the registry (not a known "
        "participant)");
    assert_null(keyring_recipient(kr, "../x", T_PACKAGE, &err));
    keyring_destroy(&kr);
}

static void
s_add_fails(keyring_t *kr, const keyring_key_t *k, const char *want)
{
    errbuf_t err = {{0}};
    size_t   n = keyring_key_count(kr);

    assert_int_equal(keyring_add(kr, k, &err), -1);
    if (strstr(err.msg, want) == NULL)
        fail_msg("\"%s\" lacks \"%s\"", err.msg, want);
    assert_int_equal(keyring_key_count(kr), n);
}

static void
test_keyring_add_refuses_bad_bindings(void **state)
{
    keyring_t    *kr = keyring_new();
    keyring_key_t a = s_binding("ARG", 0, KEYRING_FOREVER, 0, "");
    keyring_key_t b;

    (void)state;
    s_add(kr, &a);

    s_add_fails(kr, &a, "already in the keyring (bound to ARG)");
    b = a;
    snprintf(b.pub.owner, sizeof b.pub.owner, "CHL");
    s_add_fails(kr, &b, "already in the keyring (bound to ARG)");

    /* The same box key under another owner is refused; under the same
     * owner (a new signing key only) it is fine. */
    b = s_binding("CHL", 0, KEYRING_FOREVER, 0, "");
    memcpy(b.pub.box_pk, a.pub.box_pk, 32);
    memcpy(b.pub.box_key_id, a.pub.box_key_id, KEYS_ID_BYTES);
    s_add_fails(kr, &b, "already bound to ARG");
    snprintf(b.pub.owner, sizeof b.pub.owner, "ARG");
    s_add(kr, &b);

    /* Another owner claiming ARG's transport key (enrollment proves only
     * the signing key) would lock ARG out at the hub: refused. */
    b = s_binding("CHL", 0, KEYRING_FOREVER, 0, "");
    memcpy(b.pub.transport_pk, a.pub.transport_pk, 32);
    s_add_fails(kr, &b, "transport key of CHL is already bound to ARG");

    b = s_binding("CHL", 10, 10, 0, "");
    s_add_fails(kr, &b, "validity period is empty");
    b = s_binding("CHL", -1, 10, 0, "");
    s_add_fails(kr, &b, "validity period");
    b = s_binding("CHL", 0, KEYRING_FOREVER, 1, "compromise");
    s_add_fails(kr, &b, "revocation time");
    b = s_binding("CHL", 0, KEYRING_FOREVER, 0, "");
    b.status = (keyring_status_t)7;
    s_add_fails(kr, &b, "unknown member status");
    b.status = KEYRING_WITHDRAWN;
    b.status_since = -5;
    s_add_fails(kr, &b, "status_since");
    b = s_binding("CHL", 0, KEYRING_FOREVER, 0, "");
    memset(b.reason, 'x', sizeof b.reason);
    s_add_fails(kr, &b, "reason");
    b = s_binding("CHL", 0, KEYRING_FOREVER, 0, "");
    b.pub.sign_key_id[0] ^= 1;
    s_add_fails(kr, &b, "sign_key_id");
    b = s_binding("CHL", 0, KEYRING_FOREVER, 0, "");
    memset(b.pub.owner, 'A', sizeof b.pub.owner);
    s_add_fails(kr, &b, "owner");

    /* An owner's status is one fact, whichever key carries it. */
    b = s_binding("ARG", 0, KEYRING_FOREVER, 0, "");
    b.status = KEYRING_SUSPENDED;
    b.status_since = T_2025;
    s_add_fails(kr, &b, "member status (suspended) differs");
    keyring_destroy(&kr);
}

static void
test_keyring_add_bounds_key_count(void **state)
{
    keyring_t    *kr = keyring_new();
    keyring_key_t k = s_binding("ARG", 0, KEYRING_FOREVER, 0, "");
    uint8_t       ssk[64];
    errbuf_t      err = {{0}};
    int           i;

    (void)state;
    /* One owner, one box key, many signing keys: cheap to make. */
    for (i = 0; i <= KEYRING_MAX_KEYS; i++) {
        crypto_sign_keypair(k.pub.sign_pk, ssk);
        keys_id(k.pub.sign_pk, k.pub.sign_key_id);
        if (i < KEYRING_MAX_KEYS) {
            if (keyring_add(kr, &k, &err) != 0)
                fail_msg("key %d: %s", i, err.msg);
        } else {
            s_add_fails(kr, &k, "more than 4096 keys");
        }
    }
    assert_int_equal(keyring_key_count(kr), KEYRING_MAX_KEYS);
    assert_int_equal(keyring_owner_count(kr), 1);
    sodium_memzero(ssk, sizeof ssk);
    keyring_destroy(&kr);
}

static void
test_keyring_owners_sorted_and_distinct(void **state)
{
    static const char *const in[] = {"URY", "ARG", "hub", "CHL", "ARG",
        "BRA", "URY"};
    static const char *const out[] = {"ARG", "BRA", "CHL", "URY", "hub"};
    keyring_t    *kr = keyring_new();
    keyring_key_t k;
    size_t        i;

    (void)state;
    for (i = 0; i < sizeof in / sizeof in[0]; i++) {
        k = s_binding(in[i], 0, KEYRING_FOREVER, 0, "");
        s_add(kr, &k);
    }
    assert_int_equal(keyring_key_count(kr), 7);
    assert_int_equal(keyring_owner_count(kr), 5);
    for (i = 0; i < 5; i++)
        assert_string_equal(keyring_owner_at(kr, i), out[i]);
    assert_string_equal(keyring_key_at(kr, 0)->pub.owner, "URY");
    keyring_destroy(&kr);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keyring_destroy_is_null_safe),
        cmocka_unit_test(test_keyring_loads_directory_of_pub_files),
        cmocka_unit_test(test_keyring_load_dir_rejects_bad_entries),
        cmocka_unit_test(test_keyring_load_dir_bounds_file_count),
        cmocka_unit_test(test_keyring_signer_checks_retirement_and_revocation),
        cmocka_unit_test(test_keyring_withdrawn_and_suspended_owners),
        cmocka_unit_test(test_keyring_recipient_picks_newest_valid_key),
        cmocka_unit_test(test_keyring_add_refuses_bad_bindings),
        cmocka_unit_test(test_keyring_add_bounds_key_count),
        cmocka_unit_test(test_keyring_owners_sorted_and_distinct),
    };

    return cmocka_run_group_tests_name("keyring", tests, s_setup, NULL);
}
