/*
 * test_registry: publishing the signed member registry, verifying it on a
 * node (signature, framing, certificates, roll-back), and what the keyring
 * built from it answers (rotation, revocation, withdrawal).
 *
 * The root and the members' keys are made in memory once per run; every
 * test publishes its own registry file in the run's temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/keyring.h"
#include "config/registry.h"
#include "crypto/fileio.h"
#include "crypto/keys.h"
#include "crypto/x509.h"
#include "proto/registry.pb-c.h"

#define T_START  INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define T_DAY    INT64_C(86400)
#define T_YEAR   (365 * T_DAY)
#define T_END    (T_START + 2 * T_YEAR)
#define T_PUB    (T_START + 10)      /* first publication */
#define FED      "Test Federation"

typedef struct {
    EVP_PKEY     *key;
    keys_public_t pub;
    char          csr[PATH_MAX];
} ident_t;

enum { I_ARG, I_CHL, I_BRA, I_HUB, I_ARG2, I_ARG3, I_N };

typedef struct {
    char       dir[64];
    char       root_path[PATH_MAX], other_root_path[PATH_MAX];
    EVP_PKEY  *root_key, *other_key;
    X509      *root, *other_root;
    x509_ca_t *ca, *other_ca;
    ident_t    id[I_N];
} fixture_t;

static const char *const s_owner[I_N] = {"ARG", "CHL", "BRA", "hub", "ARG",
    "ARG"};

/* ------------------------------------------------------------------ */

static void
s_rm_tree(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *e;
    char           path[PATH_MAX];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static void
s_expect(int rc, const errbuf_t *err, const char *needle)
{
    if (rc == 0)
        fail_msg("expected a failure with \"%s\"", needle);
    if (strstr(err->msg, needle) == NULL)
        fail_msg("expected \"%s\" in: %s", needle, err->msg);
    if (getenv("CSBM_TEST_VERBOSE") != NULL)
        print_message("refused as expected: %s\n", err->msg);
}

static void
s_ok(int rc, const errbuf_t *err)
{
    if (rc != 0)
        fail_msg("%s", err->msg);
}

static void
s_path(const fixture_t *f, const char *name, char out[PATH_MAX])
{
    int n = snprintf(out, PATH_MAX, "%s/%s", f->dir, name);

    assert_true(n > 0 && n < PATH_MAX);
}

static void
s_write(const char *path, const void *buf, size_t len)
{
    errbuf_t err = {{0}};

    s_ok(fileio_write(path, buf, len, 0644, 0, &err), &err);
}

static uint8_t *
s_read(const char *path, size_t *len)
{
    uint8_t *buf = NULL;
    errbuf_t err = {{0}};

    s_ok(fileio_read(path, REGISTRY_MAX_BYTES, &buf, len, &err), &err);
    return buf;
}

static void
s_make_ident(fixture_t *f, int i)
{
    ident_t  *id = &f->id[i];
    uint8_t   spk[32], bpk[32], bsk[32], tpk[32], tsk[32];
    size_t    len = sizeof spk;
    X509_REQ *req = NULL;
    char     *pem = NULL, name[32];
    errbuf_t  err = {{0}};

    id->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(id->key);
    assert_int_equal(EVP_PKEY_get_raw_public_key(id->key, spk, &len), 1);
    crypto_box_keypair(bpk, bsk);
    crypto_box_keypair(tpk, tsk);
    s_ok(keys_public_init(&id->pub, s_owner[i], spk, bpk, tpk, &err), &err);
    s_ok(x509_request_new(id->key, &id->pub, FED, &req, &err), &err);
    s_ok(x509_request_pem(req, &pem, &len, &err), &err);
    snprintf(name, sizeof name, "%s-%d.csr", s_owner[i], i);
    s_path(f, name, id->csr);
    s_write(id->csr, pem, len);
    free(pem);
    X509_REQ_free(req);
}

static const uint8_t *
s_kid(const fixture_t *f, int i)
{
    return f->id[i].pub.sign_key_id;
}

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    errbuf_t   err = {{0}};
    char      *pem = NULL;
    size_t     len = 0;
    int        i;

    assert_non_null(f);
    assert_true(sodium_init() >= 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_registry.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->root_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    f->other_key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    s_ok(x509_root_new(f->root_key, FED, T_START - 10 * T_DAY,
        T_START + 10 * T_YEAR, &f->root, &err), &err);
    s_ok(x509_root_new(f->other_key, FED, T_START - 10 * T_DAY,
        T_START + 10 * T_YEAR, &f->other_root, &err), &err);
    assert_non_null(f->ca = x509_ca_new(f->root, f->root_key, &err));
    assert_non_null(f->other_ca = x509_ca_new(f->other_root, f->other_key,
        &err));
    s_path(f, "root.pem", f->root_path);
    s_path(f, "other-root.pem", f->other_root_path);
    s_ok(x509_cert_pem(f->root, &pem, &len, &err), &err);
    s_write(f->root_path, pem, len);
    free(pem);
    s_ok(x509_cert_pem(f->other_root, &pem, &len, &err), &err);
    s_write(f->other_root_path, pem, len);
    free(pem);
    for (i = 0; i < I_N; i++)
        s_make_ident(f, i);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;
    int        i;

    s_rm_tree(f->dir);
    for (i = 0; i < I_N; i++)
        EVP_PKEY_free(f->id[i].key);
    x509_ca_destroy(&f->ca);
    x509_ca_destroy(&f->other_ca);
    X509_free(f->root);
    X509_free(f->other_root);
    EVP_PKEY_free(f->root_key);
    EVP_PKEY_free(f->other_key);
    free(f);
    return 0;
}

/* A registry at `name` with ARG, CHL and the hub (version 4). */
static void
s_publish_basic(const fixture_t *f, const char *name, char path[PATH_MAX])
{
    errbuf_t err = {{0}};

    s_path(f, name, path);
    s_ok(registry_init(path, f->ca, T_PUB, &err), &err);
    s_ok(registry_add_member(path, f->ca, "ARG", "Argentina",
        f->id[I_ARG].csr, T_START, T_END, T_PUB + 1, &err), &err);
    s_ok(registry_add_member(path, f->ca, "CHL", "Chile", f->id[I_CHL].csr,
        T_START, T_END, T_PUB + 2, &err), &err);
    s_ok(registry_add_member(path, f->ca, "hub", NULL, f->id[I_HUB].csr,
        T_START, T_END, T_PUB + 3, &err), &err);
}

static registry_t *
s_load(const fixture_t *f, const char *path, const char *state_file)
{
    registry_t *reg = NULL;
    errbuf_t    err = {{0}};

    s_ok(registry_load(path, f->root_path, state_file, &reg, &err), &err);
    return reg;
}

static keyring_t *
s_keyring(const registry_t *reg)
{
    keyring_t *kr = keyring_new();
    errbuf_t   err = {{0}};

    assert_non_null(kr);
    s_ok(registry_to_keyring(reg, kr, &err), &err);
    return kr;
}

static int
s_signer(const keyring_t *kr, const char *owner, const uint8_t *kid,
    int64_t at, errbuf_t *err)
{
    const keyring_key_t *k = NULL;

    return keyring_signer(kr, owner, kid, at, &k, err);
}

/* Re-sign a registry after edit() changed its payload, as a CA would. */
static void
s_resign(const fixture_t *f, const x509_ca_t *ca, const char *in,
    const char *out, void (*edit)(const fixture_t *, Csbm__Registry *))
{
    size_t          len, plen, mlen;
    uint8_t        *buf = s_read(in, &len), *file, *msg;
    Csbm__Registry *pb;
    errbuf_t        err = {{0}};
    const char      ctx[] = REGISTRY_SIG_CONTEXT;

    Csbm__Registry    saved;
    Csbm__Member    **ptrs, *members;
    Csbm__KeyBinding *keys;
    size_t            i, n;

    pb = csbm__registry__unpack(NULL, len - 12 - 64, buf + 12);
    assert_non_null(pb);
    /* Snapshot what the edits change, so protobuf-c frees what it made. */
    saved = *pb;
    n = pb->n_members;
    ptrs = calloc(n, sizeof *ptrs);
    members = calloc(n, sizeof *members);
    keys = calloc(n, sizeof *keys);
    assert_true(ptrs != NULL && members != NULL && keys != NULL);
    for (i = 0; i < n; i++) {
        ptrs[i] = pb->members[i];
        members[i] = *pb->members[i];
        keys[i] = *pb->members[i]->keys[0];
    }
    edit(f, pb);
    plen = csbm__registry__get_packed_size(pb);
    file = malloc(12 + plen + 64);
    assert_non_null(file);
    memcpy(file, "CSBMREG\x01", 8);
    file[8] = (uint8_t)(plen >> 24);
    file[9] = (uint8_t)(plen >> 16);
    file[10] = (uint8_t)(plen >> 8);
    file[11] = (uint8_t)plen;
    csbm__registry__pack(pb, file + 12);
    *pb = saved;
    for (i = 0; i < n; i++) {
        pb->members[i] = ptrs[i];
        *pb->members[i] = members[i];
        *pb->members[i]->keys[0] = keys[i];
    }
    free(ptrs);
    free(members);
    free(keys);
    mlen = sizeof ctx + 12 + plen;
    msg = malloc(mlen);
    assert_non_null(msg);
    memcpy(msg, ctx, sizeof ctx); /* with the NUL */
    memcpy(msg + sizeof ctx, file, 12 + plen);
    s_ok(x509_ca_sign(ca, msg, mlen, file + 12 + plen, &err), &err);
    s_write(out, file, 12 + plen + 64);
    csbm__registry__free_unpacked(pb, NULL);
    free(msg);
    free(file);
    free(buf);
}

static void
s_edit_nothing(const fixture_t *f, Csbm__Registry *pb)
{
    (void)f;
    (void)pb;
}

/* ------------------------------------------------------------------ */

static void
test_registry_publish_load_and_list(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX], out[PATH_MAX];
    registry_t *reg;
    keyring_t  *kr;
    errbuf_t    err = {{0}};
    FILE       *fp;
    uint8_t    *text;
    size_t      len;
    json_t     *j;
    json_error_t jerr;

    s_publish_basic(f, "basic.reg", path);
    reg = s_load(f, path, NULL);
    assert_string_equal(registry_federation(reg), FED);
    assert_true(registry_version(reg) == 4);
    assert_true(registry_issued_at(reg) == T_PUB + 3);
    assert_int_equal(registry_member_count(reg), 2);
    kr = s_keyring(reg);
    assert_int_equal(keyring_owner_count(kr), 3);
    s_ok(s_signer(kr, "ARG", s_kid(f, I_ARG), T_START + T_DAY, &err), &err);
    s_ok(s_signer(kr, "hub", s_kid(f, I_HUB), T_START + T_DAY, &err), &err);
    {
        const keyring_key_t *k = keyring_recipient(kr, "CHL", T_START, &err);

        assert_non_null(k);
        assert_memory_equal(k->pub.box_pk, f->id[I_CHL].pub.box_pk, 32);
        assert_memory_equal(k->pub.transport_pk,
            f->id[I_CHL].pub.transport_pk, 32);
        assert_true(k->valid_from == T_START);
        assert_true(k->valid_until == T_END);
    }
    s_ok(registry_verify_signer(reg, "CHL", s_kid(f, I_CHL), T_START, &err),
        &err);
    /* Before its certificate: not yet. */
    s_expect(s_signer(kr, "ARG", s_kid(f, I_ARG), T_START - 1, &err), &err,
        "valid only from");

    s_path(f, "list.txt", out);
    fp = fopen(out, "w");
    assert_non_null(fp);
    assert_int_equal(registry_list(reg, fp, 0), 0);
    fclose(fp);
    text = s_read(out, &len);
    assert_non_null(strstr((char *)text, "Argentina"));
    assert_non_null(strstr((char *)text, "version 4"));
    free(text);
    fp = fopen(out, "w");
    assert_non_null(fp);
    assert_int_equal(registry_list(reg, fp, 1), 0);
    fclose(fp);
    text = s_read(out, &len);
    j = json_loadb((char *)text, len, 0, &jerr);
    assert_non_null(j);
    assert_int_equal(json_array_size(json_object_get(j, "members")), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(
        json_object_get(j, "members"), 0), "state")), "ARG");
    assert_string_equal(json_string_value(json_object_get(json_object_get(j,
        "hub"), "state")), "hub");
    json_decref(j);
    free(text);
    keyring_destroy(&kr);
    registry_destroy(&reg);
    registry_destroy(&reg);
    assert_null(reg);
}

/* The framing and signature, computed independently of registry.c. */
static void
test_registry_file_format_known_layout(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX];
    uint8_t    *buf, pk[32], *msg;
    size_t      len, plen, pklen = sizeof pk;
    const char  ctx[] = "CSBM-registry-signature-v1";

    s_publish_basic(f, "layout.reg", path);
    buf = s_read(path, &len);
    assert_memory_equal(buf, "CSBMREG", 7);
    assert_int_equal(buf[7], 1);
    plen = ((size_t)buf[8] << 24) | ((size_t)buf[9] << 16)
        | ((size_t)buf[10] << 8) | buf[11];
    assert_int_equal(len, 12 + plen + 64);
    msg = malloc(sizeof ctx + 12 + plen);
    assert_non_null(msg);
    memcpy(msg, ctx, sizeof ctx);
    assert_int_equal(msg[sizeof ctx - 1], 0);
    memcpy(msg + sizeof ctx, buf, 12 + plen);
    assert_int_equal(EVP_PKEY_get_raw_public_key(f->root_key, pk, &pklen), 1);
    assert_int_equal(crypto_sign_verify_detached(buf + 12 + plen, msg,
        sizeof ctx + 12 + plen, pk), 0);
    free(msg);
    free(buf);
}

static void
test_registry_rejects_signer_key_mismatch(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX];
    registry_t *reg;
    keyring_t  *kr;
    errbuf_t    err = {{0}};

    s_publish_basic(f, "mismatch.reg", path);
    reg = s_load(f, path, NULL);
    kr = s_keyring(reg);
    /* A package that says "ARG" but is signed with CHL's key. */
    s_expect(s_signer(kr, "ARG", s_kid(f, I_CHL), T_START + T_DAY, &err),
        &err, "belongs to CHL, not to ARG");
    /* A key nobody enrolled. */
    s_expect(s_signer(kr, "ARG", s_kid(f, I_BRA), T_START + T_DAY, &err),
        &err, "no key");
    s_expect(s_signer(kr, "BRA", s_kid(f, I_BRA), T_START + T_DAY, &err),
        &err, "not a known participant");
    keyring_destroy(&kr);
    registry_destroy(&reg);
}

static void
test_registry_revoked_key_before_and_after(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX], hex[33];
    registry_t *reg;
    keyring_t  *kr;
    errbuf_t    err = {{0}};
    int64_t     t_rev = T_START + 60 * T_DAY;

    s_publish_basic(f, "revoke.reg", path);
    keys_id_hex(s_kid(f, I_ARG), hex);
    s_expect(registry_revoke(path, f->ca, "ARG", "xyz", t_rev, "lost",
        T_PUB + 4, &err), &err, "hex digits");
    s_expect(registry_revoke(path, f->ca, "ARG", hex, t_rev, "", T_PUB + 4,
        &err), &err, "reason");
    keys_id_hex(s_kid(f, I_CHL), hex);
    s_expect(registry_revoke(path, f->ca, "ARG", hex, t_rev, "lost",
        T_PUB + 4, &err), &err, "ARG has no key");
    keys_id_hex(s_kid(f, I_ARG), hex);
    s_ok(registry_revoke(path, f->ca, "ARG", hex, t_rev, "key compromised",
        T_PUB + 4, &err), &err);
    s_expect(registry_revoke(path, f->ca, "ARG", hex, t_rev, "again",
        T_PUB + 5, &err), &err, "already revoked");

    reg = s_load(f, path, NULL);
    kr = s_keyring(reg);
    s_ok(s_signer(kr, "ARG", s_kid(f, I_ARG), t_rev - 1, &err), &err);
    s_expect(s_signer(kr, "ARG", s_kid(f, I_ARG), t_rev, &err), &err,
        "revoked at 2026-03-02T00:00:00Z (key compromised)");
    assert_non_null(strstr(err.msg, hex));
    assert_null(keyring_recipient(kr, "ARG", t_rev + 1, &err));
    keyring_destroy(&kr);
    registry_destroy(&reg);
}

static void
test_registry_withdrawn_state(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX];
    registry_t *reg;
    keyring_t  *kr;
    errbuf_t    err = {{0}};
    int64_t     t_w = T_START + 90 * T_DAY;

    s_publish_basic(f, "withdrawn.reg", path);
    s_expect(registry_set_status(path, f->ca, "BRA", REGISTRY_WITHDRAWN,
        t_w, T_PUB + 4, &err), &err, "BRA is not in the registry");
    s_ok(registry_set_status(path, f->ca, "CHL", REGISTRY_WITHDRAWN, t_w,
        T_PUB + 4, &err), &err);
    reg = s_load(f, path, NULL);
    kr = s_keyring(reg);
    s_ok(s_signer(kr, "CHL", s_kid(f, I_CHL), t_w - 1, &err), &err);
    s_expect(s_signer(kr, "CHL", s_kid(f, I_CHL), t_w, &err), &err,
        "CHL is withdrawn since 2026-04-01T00:00:00Z");
    assert_null(keyring_recipient(kr, "CHL", t_w, &err));
    assert_non_null(strstr(err.msg, "withdrawn"));
    /* Others are not affected. */
    s_ok(s_signer(kr, "ARG", s_kid(f, I_ARG), t_w, &err), &err);
    keyring_destroy(&kr);
    registry_destroy(&reg);

    /* Readmitted: active again. */
    s_ok(registry_set_status(path, f->ca, "CHL", REGISTRY_ACTIVE, t_w + 1,
        T_PUB + 5, &err), &err);
    reg = s_load(f, path, NULL);
    kr = s_keyring(reg);
    s_ok(s_signer(kr, "CHL", s_kid(f, I_CHL), t_w, &err), &err);
    keyring_destroy(&kr);
    registry_destroy(&reg);
}

static void
test_registry_rotated_key(void **state)
{
    fixture_t           *f = *state;
    char                 path[PATH_MAX], hex_new[33], want[128];
    registry_t          *reg;
    keyring_t           *kr;
    const keyring_key_t *k;
    errbuf_t             err = {{0}};
    int64_t              t_rot = T_START + 100 * T_DAY;

    s_publish_basic(f, "rotate.reg", path);
    /* The same key again is not a rotation. */
    s_expect(registry_rotate(path, f->ca, "ARG", f->id[I_ARG].csr, t_rot,
        T_END, T_PUB + 4, &err), &err, "needs a new key");
    /* Another state's request is refused. */
    s_expect(registry_rotate(path, f->ca, "ARG", f->id[I_CHL].csr, t_rot,
        T_END, T_PUB + 4, &err), &err,
        "request is for CHL but was expected for ARG");
    s_ok(registry_rotate(path, f->ca, "ARG", f->id[I_ARG2].csr, t_rot, T_END,
        T_PUB + 4, &err), &err);
    keys_id_hex(s_kid(f, I_ARG2), hex_new);

    reg = s_load(f, path, NULL);
    kr = s_keyring(reg);
    s_ok(s_signer(kr, "ARG", s_kid(f, I_ARG), t_rot - 1, &err), &err);
    s_expect(s_signer(kr, "ARG", s_kid(f, I_ARG), t_rot, &err), &err,
        "retired at 2026-04-11T00:00:00Z");
    snprintf(want, sizeof want, "replaced by key %s", hex_new);
    assert_non_null(strstr(err.msg, want));
    s_ok(s_signer(kr, "ARG", s_kid(f, I_ARG2), t_rot, &err), &err);
    s_expect(s_signer(kr, "ARG", s_kid(f, I_ARG2), t_rot - 1, &err), &err,
        "valid only from");
    k = keyring_recipient(kr, "ARG", t_rot, &err);
    assert_non_null(k);
    assert_memory_equal(k->pub.sign_key_id, s_kid(f, I_ARG2), 16);
    k = keyring_recipient(kr, "ARG", t_rot - 1, &err);
    assert_non_null(k);
    assert_memory_equal(k->pub.sign_key_id, s_kid(f, I_ARG), 16);
    keyring_destroy(&kr);
    registry_destroy(&reg);

    /* A second rotation retires only the current key. */
    s_ok(registry_rotate(path, f->ca, "ARG", f->id[I_ARG3].csr,
        t_rot + T_DAY, T_END, T_PUB + 5, &err), &err);
    reg = s_load(f, path, NULL);
    kr = s_keyring(reg);
    s_expect(s_signer(kr, "ARG", s_kid(f, I_ARG), t_rot, &err), &err,
        "retired at 2026-04-11T00:00:00Z");
    s_ok(s_signer(kr, "ARG", s_kid(f, I_ARG2), t_rot, &err), &err);
    s_expect(s_signer(kr, "ARG", s_kid(f, I_ARG2), t_rot + T_DAY, &err),
        &err, "retired at 2026-04-12");
    s_ok(s_signer(kr, "ARG", s_kid(f, I_ARG3), t_rot + T_DAY, &err), &err);
    keyring_destroy(&kr);
    registry_destroy(&reg);
}

static void
test_registry_expired_certificate_ends_key(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX];
    registry_t *reg;
    keyring_t  *kr;
    errbuf_t    err = {{0}};

    /* BRA's certificate ran out long ago; the registry still loads (the
     * certificate was valid when the key took office) and BRA's old
     * signatures still verify, new ones do not. */
    s_publish_basic(f, "expired.reg", path);
    s_ok(registry_add_member(path, f->ca, "BRA", "Brasil", f->id[I_BRA].csr,
        T_START, T_START + 30 * T_DAY, T_PUB + 4, &err), &err);
    reg = s_load(f, path, NULL);
    kr = s_keyring(reg);
    s_ok(s_signer(kr, "BRA", s_kid(f, I_BRA), T_START + 29 * T_DAY, &err),
        &err);
    s_expect(s_signer(kr, "BRA", s_kid(f, I_BRA), T_START + 30 * T_DAY,
        &err), &err, "certificate expired");
    keyring_destroy(&kr);
    registry_destroy(&reg);
}

static void
test_registry_operator_refusals(void **state)
{
    fixture_t *f = *state;
    char       path[PATH_MAX];
    uint8_t   *before, *after;
    size_t     len1, len2;
    errbuf_t   err = {{0}};

    s_publish_basic(f, "refusals.reg", path);
    s_expect(registry_init(path, f->ca, T_PUB, &err), &err,
        "already exists");
    s_expect(registry_add_member(path, f->ca, "ARG", NULL, f->id[I_ARG].csr,
        T_START, T_END, T_PUB + 4, &err), &err, "already in the registry");
    s_expect(registry_add_member(path, f->ca, "BRA", NULL, f->id[I_CHL].csr,
        T_START, T_END, T_PUB + 4, &err), &err,
        "request is for CHL but was expected for BRA");
    s_expect(registry_add_member(path, f->ca, "Brasil", NULL,
        f->id[I_BRA].csr, T_START, T_END, T_PUB + 4, &err), &err,
        "not a state code");
    /* A box key may not serve two members: a new member with the hub's
     * request is refused as it is for "hub". */
    s_expect(registry_add_member(path, f->ca, "BRA", NULL, f->id[I_HUB].csr,
        T_START, T_END, T_PUB + 4, &err), &err, "expected for BRA");
    /* Another CA cannot publish over this registry. */
    s_expect(registry_add_member(path, f->other_ca, "BRA", NULL,
        f->id[I_BRA].csr, T_START, T_END, T_PUB + 4, &err), &err,
        "signature does not verify");
    /* The clock went backwards: refused, file unchanged. */
    before = s_read(path, &len1);
    s_expect(registry_set_status(path, f->ca, "ARG", REGISTRY_SUSPENDED,
        T_START, T_PUB + 2, &err), &err, "clock reads");
    after = s_read(path, &len2);
    assert_int_equal(len1, len2);
    assert_memory_equal(before, after, len1);
    free(before);
    free(after);
}

static void
test_registry_rejects_bad_signature(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX];
    uint8_t    *buf;
    size_t      len, i;
    registry_t *reg = NULL;
    errbuf_t    err = {{0}};
    int         bit;

    s_publish_basic(f, "badsig.reg", path);
    buf = s_read(path, &len);
    s_ok(registry_parse(buf, len, f->root, &reg, &err), &err);
    registry_destroy(&reg);
    /* One bit of every payload byte, every bit of the signature. */
    for (i = 12; i < len - 64; i++) {
        buf[i] ^= 0x10;
        s_expect(registry_parse(buf, len, f->root, &reg, &err), &err,
            "registry signature does not verify");
        assert_null(reg);
        buf[i] ^= 0x10;
    }
    for (i = len - 64; i < len; i++)
        for (bit = 0; bit < 8; bit++) {
            buf[i] ^= (uint8_t)(1u << bit);
            s_expect(registry_parse(buf, len, f->root, &reg, &err), &err,
                "registry signature does not verify");
            buf[i] ^= (uint8_t)(1u << bit);
        }
    /* Every header byte. */
    for (i = 0; i < 12; i++) {
        buf[i] ^= 0x01;
        if (registry_parse(buf, len, f->root, &reg, &err) == 0)
            fail_msg("header byte %zu changed unnoticed", i);
        buf[i] ^= 0x01;
    }
    /* Under another root. */
    s_expect(registry_parse(buf, len, f->other_root, &reg, &err), &err,
        "registry signature does not verify");
    free(buf);
}

static void
test_registry_rejects_every_truncation(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX];
    uint8_t    *buf;
    size_t      len, i;
    registry_t *reg = NULL;
    errbuf_t    err = {{0}};

    s_publish_basic(f, "trunc.reg", path);
    buf = s_read(path, &len);
    for (i = 0; i < len; i++) {
        if (registry_parse(buf, i, f->root, &reg, &err) == 0)
            fail_msg("registry cut to %zu of %zu bytes accepted", i, len);
        assert_null(reg);
    }
    s_expect(registry_parse(buf, 3, f->root, &reg, &err), &err,
        "not a registry file");
    s_expect(registry_parse(buf, len - 1, f->root, &reg, &err), &err,
        "truncated");
    buf = realloc(buf, len + 1);
    assert_non_null(buf);
    buf[len] = 0;
    s_expect(registry_parse(buf, len + 1, f->root, &reg, &err), &err,
        "extra bytes");
    free(buf);
}

static void
test_registry_rejects_hostile_header(void **state)
{
    fixture_t  *f = *state;
    uint8_t     buf[12 + 64];
    registry_t *reg = NULL;
    errbuf_t    err = {{0}};

    memset(buf, 0, sizeof buf);
    memcpy(buf, "CSBMREG\x01\xff\xff\xff\xff", 12);
    s_expect(registry_parse(buf, sizeof buf, f->root, &reg, &err), &err,
        "claims a payload of 4294967295 bytes");
    memcpy(buf, "CSBMREG\x02\x00\x00\x00\x01", 12);
    s_expect(registry_parse(buf, sizeof buf, f->root, &reg, &err), &err,
        "format version 2");
    memcpy(buf, "CSBMREG\x01\x00\x00\x00\x00", 12);
    s_expect(registry_parse(buf, sizeof buf, f->root, &reg, &err), &err,
        "payload of 0 bytes");
}

static void
s_add_unknown_field(const fixture_t *f, Csbm__Registry *pb)
{
    static uint8_t            data[1] = {1};
    static ProtobufCMessageUnknownField field;

    (void)f;
    field.tag = 15;
    field.wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
    field.len = 1;
    field.data = data;
    pb->base.n_unknown_fields = 1;
    pb->base.unknown_fields = &field;
}

static void
s_add_unknown_binding_field(const fixture_t *f, Csbm__Registry *pb)
{
    static uint8_t            data[1] = {1};
    static ProtobufCMessageUnknownField field;

    (void)f;
    field.tag = 9;
    field.wire_type = PROTOBUF_C_WIRE_TYPE_VARINT;
    field.len = 1;
    field.data = data;
    pb->members[0]->keys[0]->base.n_unknown_fields = 1;
    pb->members[0]->keys[0]->base.unknown_fields = &field;
}

static void
s_swap_certificates(const fixture_t *f, Csbm__Registry *pb)
{
    ProtobufCBinaryData t = pb->members[0]->keys[0]->certificate;

    (void)f;
    pb->members[0]->keys[0]->certificate = pb->members[1]->keys[0]->certificate;
    pb->members[1]->keys[0]->certificate = t;
}

static void
s_many_members(const fixture_t *f, Csbm__Registry *pb)
{
    static Csbm__Member *many[REGISTRY_MAX_MEMBERS + 1];
    size_t               i;

    (void)f;
    for (i = 0; i < REGISTRY_MAX_MEMBERS + 1; i++)
        many[i] = pb->members[0];
    pb->n_members = REGISTRY_MAX_MEMBERS + 1;
    pb->members = many;
}

static void
s_other_federation(const fixture_t *f, Csbm__Registry *pb)
{
    static char name[] = "Other Federation";

    (void)f;
    pb->federation = name;
}

static void
s_bad_status(const fixture_t *f, Csbm__Registry *pb)
{
    (void)f;
    pb->members[1]->status = (Csbm__MemberStatus)7;
}

static void
s_duplicate_member(const fixture_t *f, Csbm__Registry *pb)
{
    (void)f;
    pb->members[1] = pb->members[0];
}

static void
test_registry_rejects_bad_contents(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX], out[PATH_MAX];
    registry_t *reg = NULL;
    errbuf_t    err = {{0}};
    static const struct {
        void (*edit)(const fixture_t *, Csbm__Registry *);
        const char *needle;
    } cases[] = {
        {s_add_unknown_field, "field number 15"},
        {s_add_unknown_binding_field, "field number 9"},
        {s_swap_certificates, "the certificate is for CHL, not for ARG"},
        {s_many_members, "513 members"},
        {s_other_federation, "federation \"Other Federation\""},
        {s_bad_status, "status 7 is unknown"},
        {s_duplicate_member, "ARG is listed twice"},
    };
    size_t i;

    s_publish_basic(f, "contents.reg", path);
    s_path(f, "contents-edited.reg", out);
    /* The re-signing itself is faithful. */
    s_resign(f, f->ca, path, out, s_edit_nothing);
    s_ok(registry_load(out, f->root_path, NULL, &reg, &err), &err);
    registry_destroy(&reg);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_resign(f, f->ca, path, out, cases[i].edit);
        s_expect(registry_load(out, f->root_path, NULL, &reg, &err), &err,
            cases[i].needle);
        assert_null(reg);
    }
}

static void
test_registry_rejects_certificate_of_another_ca(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX], other[PATH_MAX], out[PATH_MAX];
    registry_t *reg = NULL;
    errbuf_t    err = {{0}};

    /* Build a registry under the other CA, then sign it with ours: the
     * signature is right but the certificates are not ours. */
    s_path(f, "foreign.reg", other);
    s_ok(registry_init(other, f->other_ca, T_PUB, &err), &err);
    s_ok(registry_add_member(other, f->other_ca, "ARG", NULL,
        f->id[I_ARG].csr, T_START, T_END, T_PUB, &err), &err);
    s_expect(registry_load(other, f->root_path, NULL, &reg, &err), &err,
        "registry signature does not verify");
    (void)path;
    s_path(f, "foreign-resigned.reg", out);
    s_resign(f, f->ca, other, out, s_edit_nothing);
    s_expect(registry_load(out, f->root_path, NULL, &reg, &err), &err,
        "unable to get local issuer certificate");
    assert_non_null(strstr(err.msg, "ARG key 1"));
    /* And it does load with the other root. */
    s_ok(registry_load(other, f->other_root_path, NULL, &reg, &err), &err);
    registry_destroy(&reg);
}

static void
test_registry_rejects_rollback(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX], old[PATH_MAX], st[PATH_MAX];
    uint8_t    *buf;
    size_t      len;
    registry_t *reg;
    errbuf_t    err = {{0}};

    s_publish_basic(f, "rollback.reg", path);
    s_path(f, "rollback-v4.reg", old);
    s_path(f, "rollback.state", st);
    buf = s_read(path, &len);
    s_write(old, buf, len);
    free(buf);
    reg = s_load(f, path, st); /* first use: recorded */
    registry_destroy(&reg);
    reg = s_load(f, path, st); /* the same again: fine */
    registry_destroy(&reg);
    s_ok(registry_set_status(path, f->ca, "CHL", REGISTRY_SUSPENDED,
        T_START + T_YEAR, T_PUB + 100, &err), &err);
    reg = s_load(f, path, st);
    assert_true(registry_version(reg) == 5);
    registry_destroy(&reg);
    s_expect(registry_load(old, f->root_path, st, &reg, &err), &err,
        "registry version 4 is older than version 5 (issued "
        "2026-01-01T00:01:50Z) already seen; refusing to roll back");
    assert_null(reg);
    /* Without the state file, the old one is still a valid registry. */
    reg = s_load(f, old, NULL);
    registry_destroy(&reg);
}

static void
test_registry_rejects_same_version_other_content(void **state)
{
    fixture_t  *f = *state;
    char        a[PATH_MAX], b[PATH_MAX], st[PATH_MAX];
    registry_t *reg = NULL;
    errbuf_t    err = {{0}};

    s_publish_basic(f, "fork-a.reg", a);
    s_publish_basic(f, "fork-b.reg", b); /* same steps, other serials */
    s_path(f, "fork.state", st);
    reg = s_load(f, a, st);
    assert_true(registry_version(reg) == 4);
    registry_destroy(&reg);
    s_expect(registry_load(b, f->root_path, st, &reg, &err), &err,
        "registry version 4 differs from the version 4 already seen");
    assert_null(reg);
    reg = s_load(f, a, st);
    registry_destroy(&reg);
}

static void
test_registry_rejects_bad_state_file(void **state)
{
    fixture_t  *f = *state;
    char        path[PATH_MAX], st[PATH_MAX];
    registry_t *reg = NULL;
    errbuf_t    err = {{0}};
    const char  junk[] = "csbm-registry-state-1\nversion 12x\n";

    s_publish_basic(f, "state.reg", path);
    s_path(f, "bad.state", st);
    s_write(st, junk, sizeof junk - 1);
    s_expect(registry_load(path, f->root_path, st, &reg, &err), &err,
        "not a registry state file");
    assert_null(reg);
}

static void
test_registry_status_names(void **state)
{
    registry_status_t s;

    (void)state;
    assert_int_equal(registry_status_parse("withdrawn", &s), 0);
    assert_int_equal(s, REGISTRY_WITHDRAWN);
    assert_int_equal(registry_status_parse("Active", &s), -1);
    assert_string_equal(registry_status_name(REGISTRY_SUSPENDED),
        "suspended");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_publish_load_and_list),
        cmocka_unit_test(test_registry_file_format_known_layout),
        cmocka_unit_test(test_registry_rejects_signer_key_mismatch),
        cmocka_unit_test(test_registry_revoked_key_before_and_after),
        cmocka_unit_test(test_registry_withdrawn_state),
        cmocka_unit_test(test_registry_rotated_key),
        cmocka_unit_test(test_registry_expired_certificate_ends_key),
        cmocka_unit_test(test_registry_operator_refusals),
        cmocka_unit_test(test_registry_rejects_bad_signature),
        cmocka_unit_test(test_registry_rejects_every_truncation),
        cmocka_unit_test(test_registry_rejects_hostile_header),
        cmocka_unit_test(test_registry_rejects_bad_contents),
        cmocka_unit_test(test_registry_rejects_certificate_of_another_ca),
        cmocka_unit_test(test_registry_rejects_rollback),
        cmocka_unit_test(test_registry_rejects_same_version_other_content),
        cmocka_unit_test(test_registry_rejects_bad_state_file),
        cmocka_unit_test(test_registry_status_names),
    };

    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
