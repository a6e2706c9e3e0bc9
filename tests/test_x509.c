/*
 * test_x509: root CA, enrollment requests, issuance and chain checks.
 *
 * Keys are made in memory with OpenSSL (no key derivation) except in the
 * one test of the file-based operator and member steps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/fileio.h"
#include "crypto/keys.h"
#include "crypto/x509.h"

#define T_START   INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define T_DAY     INT64_C(86400)
#define T_YEAR    (365 * T_DAY)
#define FED       "Test Federation"

typedef struct {
    EVP_PKEY     *key;
    keys_public_t pub;
} ident_t;

typedef struct {
    char       dir[64];
    EVP_PKEY  *root_key, *other_key;
    X509      *root, *other_root;
    x509_ca_t *ca, *other_ca;
    ident_t    arg, chl, hub;
    char      *arg_csr; /* PEM */
    size_t     arg_csr_len;
} fixture_t;

/* ------------------------------------------------------------------ */

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
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            s_rm_tree(path);
        else
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static EVP_PKEY *
s_ed25519(void)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

    assert_non_null(k);
    return k;
}

static void
s_ident(const char *owner, ident_t *id)
{
    uint8_t  spk[32], bpk[32], bsk[32], tpk[32], tsk[32];
    size_t   len = sizeof spk;
    errbuf_t err = {{0}};

    id->key = s_ed25519();
    assert_int_equal(EVP_PKEY_get_raw_public_key(id->key, spk, &len), 1);
    crypto_box_keypair(bpk, bsk);
    crypto_box_keypair(tpk, tsk);
    if (keys_public_init(&id->pub, owner, spk, bpk, tpk, &err) != 0)
        fail_msg("%s", err.msg);
    sodium_memzero(bsk, sizeof bsk);
    sodium_memzero(tsk, sizeof tsk);
}

static char *
s_csr(const ident_t *id, const char *federation, size_t *len)
{
    X509_REQ *req = NULL;
    char     *pem = NULL;
    errbuf_t  err = {{0}};

    if (x509_request_new(id->key, &id->pub, federation, &req, &err) != 0
        || x509_request_pem(req, &pem, len, &err) != 0)
        fail_msg("%s", err.msg);
    X509_REQ_free(req);
    return pem;
}

static X509 *
s_issue(x509_ca_t *ca, const char *pem, size_t len, int64_t nb, int64_t na)
{
    X509    *cert = NULL;
    errbuf_t err = {{0}};

    if (x509_issue(ca, pem, len, NULL, nb, na, &cert, &err) != 0)
        fail_msg("x509_issue: %s", err.msg);
    return cert;
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

/* The request's DER, and back to PEM. */
static uint8_t *
s_pem_to_der(const char *pem, size_t len, size_t *der_len)
{
    BIO           *bio = BIO_new_mem_buf(pem, (int)len);
    char          *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long           dlen = 0;
    uint8_t       *out;

    assert_int_equal(PEM_read_bio(bio, &name, &header, &data, &dlen), 1);
    out = malloc((size_t)dlen);
    assert_non_null(out);
    memcpy(out, data, (size_t)dlen);
    *der_len = (size_t)dlen;
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    BIO_free(bio);
    return out;
}

static char *
s_der_to_pem(const char *label, const uint8_t *der, size_t len, size_t *out_len)
{
    BIO  *bio = BIO_new(BIO_s_mem());
    char *data, *out;
    long  n;

    assert_true(PEM_write_bio(bio, label, "", der, (long)len) > 0);
    n = BIO_get_mem_data(bio, &data);
    out = malloc((size_t)n + 1);
    assert_non_null(out);
    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    *out_len = (size_t)n;
    BIO_free(bio);
    return out;
}

/* A request built by hand, signed properly, with a binding extension of
 * the given raw bytes (NULL: none) and the given CN. */
static char *
s_custom_csr(EVP_PKEY *key, const char *cn, const uint8_t *binding,
    size_t binding_len, size_t *len)
{
    X509_REQ                 *req = X509_REQ_new();
    X509_NAME                *name = X509_NAME_new();
    STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
    ASN1_OCTET_STRING        *inner = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING        *outer = ASN1_OCTET_STRING_new();
    ASN1_OBJECT              *oid = OBJ_txt2obj(X509_BINDING_OID, 1);
    unsigned char            *der = NULL;
    int                       der_len;
    char                     *pem;
    BIO                      *bio = BIO_new(BIO_s_mem());
    char                     *data;
    long                      n;

    assert_int_equal(X509_NAME_add_entry_by_NID(name, NID_organizationName,
        MBSTRING_UTF8, (const unsigned char *)FED, -1, -1, 0), 1);
    assert_int_equal(X509_NAME_add_entry_by_NID(name, NID_commonName,
        MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0), 1);
    assert_int_equal(X509_REQ_set_subject_name(req, name), 1);
    assert_int_equal(X509_REQ_set_pubkey(req, key), 1);
    if (binding != NULL) {
        assert_int_equal(ASN1_OCTET_STRING_set(inner, binding,
            (int)binding_len), 1);
        der_len = i2d_ASN1_OCTET_STRING(inner, &der);
        assert_true(der_len > 0);
        assert_int_equal(ASN1_OCTET_STRING_set(outer, der, der_len), 1);
        sk_X509_EXTENSION_push(exts,
            X509_EXTENSION_create_by_OBJ(NULL, oid, 0, outer));
        assert_int_equal(X509_REQ_add_extensions(req, exts), 1);
    }
    assert_true(X509_REQ_sign(req, key, NULL) > 0);
    assert_int_equal(PEM_write_bio_X509_REQ(bio, req), 1);
    n = BIO_get_mem_data(bio, &data);
    pem = malloc((size_t)n + 1);
    assert_non_null(pem);
    memcpy(pem, data, (size_t)n);
    pem[n] = '\0';
    *len = (size_t)n;
    BIO_free(bio);
    OPENSSL_free(der);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(inner);
    ASN1_OCTET_STRING_free(outer);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    X509_REQ_free(req);
    return pem;
}

/* ------------------------------------------------------------------ */

static int
s_setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    errbuf_t   err = {{0}};

    assert_non_null(f);
    assert_int_equal(sodium_init() >= 0, 1);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_x509.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->root_key = s_ed25519();
    f->other_key = s_ed25519();
    if (x509_root_new(f->root_key, FED, T_START - 10 * T_DAY,
            T_START + 10 * T_YEAR, &f->root, &err) != 0
        || x509_root_new(f->other_key, FED, T_START - 10 * T_DAY,
            T_START + 10 * T_YEAR, &f->other_root, &err) != 0)
        fail_msg("%s", err.msg);
    f->ca = x509_ca_new(f->root, f->root_key, &err);
    f->other_ca = x509_ca_new(f->other_root, f->other_key, &err);
    if (f->ca == NULL || f->other_ca == NULL)
        fail_msg("%s", err.msg);
    s_ident("ARG", &f->arg);
    s_ident("CHL", &f->chl);
    s_ident("hub", &f->hub);
    f->arg_csr = s_csr(&f->arg, FED, &f->arg_csr_len);
    *state = f;
    return 0;
}

static int
s_teardown(void **state)
{
    fixture_t *f = *state;

    s_rm_tree(f->dir);
    free(f->arg_csr);
    EVP_PKEY_free(f->arg.key);
    EVP_PKEY_free(f->chl.key);
    EVP_PKEY_free(f->hub.key);
    x509_ca_destroy(&f->ca);
    x509_ca_destroy(&f->other_ca);
    x509_ca_destroy(&f->ca); /* twice is harmless */
    X509_free(f->root);
    X509_free(f->other_root);
    EVP_PKEY_free(f->root_key);
    EVP_PKEY_free(f->other_key);
    free(f);
    return 0;
}

/* ------------------------------------------------------------------ */

static void
test_x509_id_and_federation_names(void **state)
{
    (void)state;
    assert_true(x509_id_valid("ARG"));
    assert_true(x509_id_valid("hub"));
    assert_false(x509_id_valid("arg"));
    assert_false(x509_id_valid("AR"));
    assert_false(x509_id_valid("ARGE"));
    assert_false(x509_id_valid(""));
    assert_false(x509_id_valid(NULL));
    assert_true(x509_federation_valid("Organización de los Estados"));
    assert_false(x509_federation_valid(""));
    assert_false(x509_federation_valid(" OAS"));
    assert_false(x509_federation_valid("OAS\n"));
    assert_false(x509_federation_valid("bad \xc3\x28 utf8"));
    assert_false(x509_federation_valid(
        "0123456789012345678901234567890123456789012345678901234567"));
}

static void
test_x509_root_is_a_self_signed_ca(void **state)
{
    fixture_t     *f = *state;
    char           fed[X509_FEDERATION_MAX + 1];
    uint8_t        pk[32], want[32];
    size_t         len = sizeof want;
    errbuf_t       err = {{0}};
    int            crit = -1;
    BASIC_CONSTRAINTS *bc;
    const ASN1_INTEGER *serial;
    int64_t        nb, na;
    char           cn[80];

    if (x509_root_check(f->root, fed, pk, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(fed, FED);
    assert_int_equal(EVP_PKEY_get_raw_public_key(f->root_key, want, &len), 1);
    assert_memory_equal(pk, want, 32);
    assert_string_equal(x509_ca_federation(f->ca), FED);
    bc = X509_get_ext_d2i(f->root, NID_basic_constraints, &crit, NULL);
    assert_non_null(bc);
    assert_true(bc->ca);
    assert_int_equal(crit, 1);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_get_key_usage(f->root),
        KU_KEY_CERT_SIGN | KU_CRL_SIGN);
    assert_non_null(X509_get0_subject_key_id(f->root));
    serial = X509_get0_serialNumber(f->root);
    assert_int_equal(ASN1_STRING_length(serial), 16);
    assert_int_equal(x509_cert_times(f->root, &nb, &na, &err), 0);
    assert_true(nb == T_START - 10 * T_DAY);
    assert_true(na == T_START + 10 * T_YEAR);
    assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(f->root),
        NID_commonName, cn, sizeof cn) > 0);
    assert_string_equal(cn, FED " Root CA");
}

static void
test_x509_ca_refuses_key_of_another_root(void **state)
{
    fixture_t *f = *state;
    errbuf_t   err = {{0}};
    x509_ca_t *ca = x509_ca_new(f->root, f->other_key, &err);

    assert_null(ca);
    assert_non_null(strstr(err.msg, "not the key of the root"));
}

static void
test_x509_request_round_trip(void **state)
{
    fixture_t      *f = *state;
    x509_identity_t id;
    errbuf_t        err = {{0}};

    if (x509_request_check(f->arg_csr, f->arg_csr_len, "ARG", &id, &err)
        != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(id.pub.owner, "ARG");
    assert_string_equal(id.federation, FED);
    assert_memory_equal(id.pub.sign_pk, f->arg.pub.sign_pk, 32);
    assert_memory_equal(id.pub.box_pk, f->arg.pub.box_pk, 32);
    assert_memory_equal(id.pub.transport_pk, f->arg.pub.transport_pk, 32);
    assert_memory_equal(id.pub.sign_key_id, f->arg.pub.sign_key_id, 16);
    assert_int_equal(x509_request_check(f->arg_csr, f->arg_csr_len, NULL,
        NULL, &err), 0);
}

static void
test_x509_request_rejects_wrong_state(void **state)
{
    fixture_t *f = *state;
    char      *pem;
    size_t     len;
    errbuf_t   err = {{0}};

    pem = s_csr(&f->chl, FED, &len);
    s_expect(x509_request_check(pem, len, "ARG", NULL, &err), &err,
        "request is for CHL but was expected for ARG");
    free(pem);
}

static void
test_x509_request_rejects_garbage(void **state)
{
    fixture_t  *f = *state;
    errbuf_t    err = {{0}};
    const char *bad[] = {
        "",
        "hello",
        "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n"
        "-----END CERTIFICATE REQUEST-----\n",
        "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
        "-----END CERTIFICATE REQUEST-----\n",
    };
    char       *pem;
    size_t      i, len;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_expect(x509_request_check(bad[i], strlen(bad[i]), NULL, NULL, &err),
            &err, "not a PEM certificate request");
    /* A certificate is not a request. */
    {
        X509 *cert = s_issue(f->ca, f->arg_csr, f->arg_csr_len, T_START,
            T_START + T_YEAR);

        assert_int_equal(x509_cert_pem(cert, &pem, &len, &err), 0);
        s_expect(x509_request_check(pem, len, NULL, NULL, &err), &err,
            "not a PEM certificate request");
        free(pem);
        X509_free(cert);
    }
    /* Hostile size. */
    pem = malloc(X509_PEM_MAX + 2);
    assert_non_null(pem);
    memset(pem, 'A', X509_PEM_MAX + 1);
    pem[X509_PEM_MAX + 1] = '\0';
    s_expect(x509_request_check(pem, X509_PEM_MAX + 1, NULL, NULL, &err),
        &err, "larger than");
    free(pem);
}

static void
test_x509_request_rejects_every_truncation(void **state)
{
    fixture_t *f = *state;
    uint8_t   *der;
    size_t     der_len, i, len;
    char      *pem;
    errbuf_t   err = {{0}};

    der = s_pem_to_der(f->arg_csr, f->arg_csr_len, &der_len);
    pem = strdup("-----BEGIN CERTIFICATE REQUEST-----\n"
                 "-----END CERTIFICATE REQUEST-----\n");
    assert_non_null(pem);
    s_expect(x509_request_check(pem, strlen(pem), NULL, NULL, &err), &err,
        "not a PEM certificate request");
    free(pem);
    for (i = 1; i < der_len; i++) {
        pem = s_der_to_pem("CERTIFICATE REQUEST", der, i, &len);
        if (x509_request_check(pem, len, NULL, NULL, &err) == 0)
            fail_msg("a request cut to %zu of %zu bytes was accepted", i,
                der_len);
        free(pem);
    }
    /* One byte more is refused as well. */
    der = realloc(der, der_len + 1);
    assert_non_null(der);
    der[der_len] = 0;
    pem = s_der_to_pem("CERTIFICATE REQUEST", der, der_len + 1, &len);
    s_expect(x509_request_check(pem, len, NULL, NULL, &err), &err,
        "exactly one DER");
    free(pem);
    free(der);
}

static void
test_x509_request_rejects_every_flipped_bit(void **state)
{
    fixture_t *f = *state;
    uint8_t   *der;
    size_t     der_len, i, len;
    int        bit;
    char      *pem;
    errbuf_t   err = {{0}};

    der = s_pem_to_der(f->arg_csr, f->arg_csr_len, &der_len);
    for (i = 0; i < der_len; i++)
        for (bit = 0; bit < 8; bit++) {
            der[i] ^= (uint8_t)(1u << bit);
            pem = s_der_to_pem("CERTIFICATE REQUEST", der, der_len, &len);
            if (x509_request_check(pem, len, NULL, NULL, &err) == 0)
                fail_msg("flipping bit %d of byte %zu went unnoticed", bit,
                    i);
            free(pem);
            der[i] ^= (uint8_t)(1u << bit);
        }
    free(der);
}

static void
test_x509_request_rejects_tampered_binding(void **state)
{
    fixture_t *f = *state;
    uint8_t   *der, *at;
    size_t     der_len, len;
    char      *pem;
    errbuf_t   err = {{0}};

    /* Replace the box key in the request with CHL's: the signature over
     * the request no longer holds. */
    der = s_pem_to_der(f->arg_csr, f->arg_csr_len, &der_len);
    for (at = der; at + 32 <= der + der_len; at++)
        if (memcmp(at, f->arg.pub.box_pk, 32) == 0)
            break;
    assert_true(at + 32 <= der + der_len);
    memcpy(at, f->chl.pub.box_pk, 32);
    pem = s_der_to_pem("CERTIFICATE REQUEST", der, der_len, &len);
    s_expect(x509_request_check(pem, len, NULL, NULL, &err), &err,
        "request signature does not verify");
    free(pem);
    free(der);
}

static void
test_x509_request_rejects_malformed_binding(void **state)
{
    fixture_t *f = *state;
    uint8_t    raw[X509_BINDING_LEN + 1];
    char      *pem;
    size_t     len;
    errbuf_t   err = {{0}};

    raw[0] = X509_BINDING_VERSION;
    memcpy(raw + 1, f->arg.pub.box_pk, 32);
    memcpy(raw + 33, f->arg.pub.transport_pk, 32);
    raw[65] = 0;

    pem = s_custom_csr(f->arg.key, "ARG", raw, 40, &len);
    s_expect(x509_request_check(pem, len, NULL, NULL, &err), &err,
        "binding extension malformed: length 40, expected 65");
    free(pem);

    pem = s_custom_csr(f->arg.key, "ARG", raw, 66, &len);
    s_expect(x509_request_check(pem, len, NULL, NULL, &err), &err,
        "length 66, expected 65");
    free(pem);

    raw[0] = 2;
    pem = s_custom_csr(f->arg.key, "ARG", raw, 65, &len);
    s_expect(x509_request_check(pem, len, NULL, NULL, &err), &err,
        "version 2, expected 1");
    free(pem);
    raw[0] = X509_BINDING_VERSION;

    pem = s_custom_csr(f->arg.key, "ARG", NULL, 0, &len);
    s_expect(x509_request_check(pem, len, NULL, NULL, &err), &err,
        "binding extension missing");
    free(pem);

    /* A small-order box key (all zero) is not usable. */
    memset(raw + 1, 0, 32);
    pem = s_custom_csr(f->arg.key, "ARG", raw, 65, &len);
    s_expect(x509_request_check(pem, len, NULL, NULL, &err), &err, "box");
    free(pem);
    memcpy(raw + 1, f->arg.pub.box_pk, 32);

    /* The well-formed hand-built one passes: the checks above are real. */
    pem = s_custom_csr(f->arg.key, "ARG", raw, 65, &len);
    if (x509_request_check(pem, len, "ARG", NULL, &err) != 0)
        fail_msg("%s", err.msg);
    free(pem);

    pem = s_custom_csr(f->arg.key, "Argentina", raw, 65, &len);
    s_expect(x509_request_check(pem, len, NULL, NULL, &err), &err,
        "not a state code");
    free(pem);
    pem = s_custom_csr(f->arg.key, "arg", raw, 65, &len);
    s_expect(x509_request_check(pem, len, NULL, NULL, &err), &err,
        "not a state code");
    free(pem);
}

static void
test_x509_request_rejects_non_ed25519_key(void **state)
{
    fixture_t *f = *state;
    EVP_PKEY  *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509_REQ  *req = X509_REQ_new();
    X509_NAME *name = X509_NAME_new();
    BIO       *bio = BIO_new(BIO_s_mem());
    char      *data;
    long       n;
    errbuf_t   err = {{0}};

    (void)f;
    assert_non_null(ec);
    X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
        (const unsigned char *)"ARG", -1, -1, 0);
    X509_REQ_set_subject_name(req, name);
    X509_REQ_set_pubkey(req, ec);
    assert_true(X509_REQ_sign(req, ec, EVP_sha256()) > 0);
    PEM_write_bio_X509_REQ(bio, req);
    n = BIO_get_mem_data(bio, &data);
    s_expect(x509_request_check(data, (size_t)n, NULL, NULL, &err), &err,
        "not Ed25519");
    BIO_free(bio);
    X509_NAME_free(name);
    X509_REQ_free(req);
    EVP_PKEY_free(ec);
}

static void
test_x509_request_new_refuses_mismatched_key(void **state)
{
    fixture_t *f = *state;
    X509_REQ  *req = NULL;
    errbuf_t   err = {{0}};
    keys_public_t pub = f->arg.pub;

    s_expect(x509_request_new(f->chl.key, &f->arg.pub, FED, &req, &err),
        &err, "not the one in ARG's public keys");
    assert_null(req);
    snprintf(pub.owner, sizeof pub.owner, "Argentina");
    s_expect(x509_request_new(f->arg.key, &pub, FED, &req, &err), &err,
        "cannot enroll");
}

static void
test_x509_issue_and_verify(void **state)
{
    fixture_t      *f = *state;
    X509           *cert;
    x509_identity_t id;
    errbuf_t        err = {{0}};
    int             crit = -1;
    BASIC_CONSTRAINTS *bc;
    uint8_t        *der = NULL;
    size_t          der_len = 0;
    X509           *back = NULL;

    cert = s_issue(f->ca, f->arg_csr, f->arg_csr_len, T_START,
        T_START + T_YEAR);
    if (x509_cert_verify(f->root, cert, T_START + T_DAY, &id, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(id.pub.owner, "ARG");
    assert_string_equal(id.federation, FED);
    assert_memory_equal(id.pub.sign_pk, f->arg.pub.sign_pk, 32);
    assert_memory_equal(id.pub.box_pk, f->arg.pub.box_pk, 32);
    assert_memory_equal(id.pub.transport_pk, f->arg.pub.transport_pk, 32);
    assert_true(id.not_before == T_START);
    assert_true(id.not_after == T_START + T_YEAR);
    assert_int_equal(strlen(id.serial) >= 31, 1);
    /* The period is [notBefore, notAfter): OpenSSL counts the notAfter
     * second itself as expired. */
    assert_int_equal(x509_cert_verify(f->root, cert, T_START, NULL, &err), 0);
    assert_int_equal(x509_cert_verify(f->root, cert, T_START + T_YEAR - 1,
        NULL, &err), 0);
    s_expect(x509_cert_verify(f->root, cert, T_START + T_YEAR, NULL, &err),
        &err, "certificate has expired");
    s_expect(x509_cert_verify(f->root, cert, T_START - 1, NULL, &err), &err,
        "certificate is not yet valid");
    /* Profile. */
    bc = X509_get_ext_d2i(cert, NID_basic_constraints, &crit, NULL);
    assert_non_null(bc);
    assert_false(bc->ca);
    assert_int_equal(crit, 1);
    BASIC_CONSTRAINTS_free(bc);
    assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
    assert_non_null(X509_get0_subject_key_id(cert));
    assert_non_null(X509_get0_authority_key_id(cert));
    assert_int_equal(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert),
        X509_get0_subject_key_id(f->root)), 0);
    /* DER round trip. */
    assert_int_equal(x509_cert_der(cert, &der, &der_len, &err), 0);
    assert_int_equal(x509_cert_from_der(der, der_len, &back, &err), 0);
    assert_int_equal(X509_cmp(cert, back), 0);
    X509_free(back);
    free(der);
    X509_free(cert);
}

static void
test_x509_issue_for_hub(void **state)
{
    fixture_t      *f = *state;
    char           *pem;
    size_t          len;
    X509           *cert = NULL;
    x509_identity_t id;
    errbuf_t        err = {{0}};

    pem = s_csr(&f->hub, FED, &len);
    if (x509_issue(f->ca, pem, len, "hub", T_START, T_START + T_YEAR, &cert,
            &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(x509_cert_verify(f->root, cert, T_START, &id, &err), 0);
    assert_string_equal(id.pub.owner, "hub");
    X509_free(cert);
    free(pem);
}

static void
test_x509_verify_rejects_expired_certificate(void **state)
{
    fixture_t *f = *state;
    X509      *cert = s_issue(f->ca, f->arg_csr, f->arg_csr_len, T_START,
        T_START + 30 * T_DAY);
    errbuf_t   err = {{0}};

    s_expect(x509_cert_verify(f->root, cert, T_START + 31 * T_DAY, NULL,
        &err), &err, "certificate has expired");
    assert_non_null(strstr(err.msg, "certificate of ARG"));
    assert_non_null(strstr(err.msg, "valid until 2026-01-31"));
    X509_free(cert);
}

static void
test_x509_verify_rejects_not_yet_valid_certificate(void **state)
{
    fixture_t *f = *state;
    X509      *cert = s_issue(f->ca, f->arg_csr, f->arg_csr_len,
        T_START + 100 * T_DAY, T_START + T_YEAR);
    errbuf_t   err = {{0}};

    s_expect(x509_cert_verify(f->root, cert, T_START, NULL, &err), &err,
        "certificate is not yet valid");
    assert_non_null(strstr(err.msg, "valid from 2026-04-11"));
    X509_free(cert);
}

static void
test_x509_verify_rejects_certificate_of_another_ca(void **state)
{
    fixture_t *f = *state;
    X509      *cert = s_issue(f->other_ca, f->arg_csr, f->arg_csr_len,
        T_START, T_START + T_YEAR);
    errbuf_t   err = {{0}};

    s_expect(x509_cert_verify(f->root, cert, T_START + T_DAY, NULL, &err),
        &err, "unable to get local issuer certificate");
    /* It does verify under its own root: the failure above is the root. */
    assert_int_equal(x509_cert_verify(f->other_root, cert, T_START + T_DAY,
        NULL, &err), 0);
    X509_free(cert);
}

static void
test_x509_verify_rejects_root_as_member(void **state)
{
    fixture_t *f = *state;
    errbuf_t   err = {{0}};

    s_expect(x509_cert_verify(f->root, f->root, T_START, NULL, &err), &err,
        "CA certificate");
}

static void
test_x509_verify_rejects_time_after_root_expiry(void **state)
{
    fixture_t *f = *state;
    X509      *cert = s_issue(f->ca, f->arg_csr, f->arg_csr_len, T_START,
        T_START + T_YEAR);
    errbuf_t   err = {{0}};

    s_expect(x509_cert_verify(f->root, cert, T_START + 20 * T_YEAR, NULL,
        &err), &err, "expired");
    X509_free(cert);
}

static void
test_x509_issue_rejects_bad_requests_and_periods(void **state)
{
    fixture_t *f = *state;
    X509      *cert = NULL;
    char      *pem;
    size_t     len;
    errbuf_t   err = {{0}};

    s_expect(x509_issue(f->ca, f->arg_csr, f->arg_csr_len, "CHL", T_START,
        T_START + T_YEAR, &cert, &err), &err,
        "request is for ARG but was expected for CHL");
    s_expect(x509_issue(f->ca, f->arg_csr, f->arg_csr_len, NULL, T_START,
        T_START + 20 * T_YEAR, &cert, &err), &err, "root's own validity");
    s_expect(x509_issue(f->ca, f->arg_csr, f->arg_csr_len, NULL,
        T_START - 20 * T_DAY, T_START + T_YEAR, &cert, &err), &err,
        "root's own validity");
    s_expect(x509_issue(f->ca, f->arg_csr, f->arg_csr_len, NULL,
        T_START + T_YEAR, T_START, &cert, &err), &err, "empty");
    pem = s_csr(&f->arg, "Another Federation", &len);
    s_expect(x509_issue(f->ca, pem, len, NULL, T_START, T_START + T_YEAR,
        &cert, &err), &err, "federation \"Another Federation\"");
    free(pem);
    s_expect(x509_issue(f->ca, "junk", 4, NULL, T_START, T_START + T_YEAR,
        &cert, &err), &err, "not a PEM certificate request");
    assert_null(cert);
}

static void
test_x509_cert_from_der_rejects_truncation_and_trailing(void **state)
{
    fixture_t *f = *state;
    X509      *cert = s_issue(f->ca, f->arg_csr, f->arg_csr_len, T_START,
        T_START + T_YEAR), *back = NULL;
    uint8_t   *der = NULL;
    size_t     len = 0, i;
    errbuf_t   err = {{0}};

    assert_int_equal(x509_cert_der(cert, &der, &len, &err), 0);
    for (i = 0; i < len; i++) {
        if (x509_cert_from_der(der, i, &back, &err) == 0)
            fail_msg("a certificate cut to %zu of %zu bytes decoded", i, len);
        assert_null(back);
    }
    der = realloc(der, len + 1);
    assert_non_null(der);
    der[len] = 0;
    s_expect(x509_cert_from_der(der, len + 1, &back, &err), &err,
        "not a DER certificate");
    free(der);
    X509_free(cert);
}

static void
test_x509_verify_detects_flipped_bits(void **state)
{
    fixture_t *f = *state;
    X509      *cert = s_issue(f->ca, f->arg_csr, f->arg_csr_len, T_START,
        T_START + T_YEAR), *bad = NULL;
    uint8_t   *der = NULL;
    size_t     len = 0, i;
    errbuf_t   err = {{0}};

    assert_int_equal(x509_cert_der(cert, &der, &len, &err), 0);
    /* One bit in every byte: each change must break decoding or the
     * issuer's signature. */
    for (i = 0; i < len; i++) {
        der[i] ^= 0x01;
        if (x509_cert_from_der(der, len, &bad, &err) == 0) {
            if (x509_cert_verify(f->root, bad, T_START + T_DAY, NULL, &err)
                == 0)
                fail_msg("flipping byte %zu went unnoticed", i);
            X509_free(bad);
            bad = NULL;
        }
        der[i] ^= 0x01;
    }
    free(der);
    X509_free(cert);
}

/* The file-based steps the command line uses: operator creates the CA,
 * a member writes a request from its key files, the operator checks and
 * issues it, anyone verifies the result against root.pem. */
static void
test_x509_files_ca_enroll_issue_verify(void **state)
{
    fixture_t      *f = *state;
    char            keys[PATH_MAX], mkeys[PATH_MAX], root[PATH_MAX];
    char            csr[PATH_MAX], cert[PATH_MAX], pub[PATH_MAX];
    const char      pass[] = "correct horse battery staple";
    x509_ca_t      *ca;
    x509_identity_t id;
    keys_public_t   arg;
    errbuf_t        err = {{0}};

    snprintf(keys, sizeof keys, "%s/ca-keys", f->dir);
    snprintf(mkeys, sizeof mkeys, "%s/arg-keys", f->dir);
    snprintf(root, sizeof root, "%s/root.pem", f->dir);
    snprintf(csr, sizeof csr, "%s/ARG.csr", f->dir);
    snprintf(cert, sizeof cert, "%s/ARG.pem", f->dir);
    snprintf(pub, sizeof pub, "%s/arg-keys/ARG.pub", f->dir);

    s_expect(x509_ca_create(keys, "", 30, pass, strlen(pass), root, &err),
        &err, "federation name");
    s_expect(x509_ca_create(keys, FED, 0, pass, strlen(pass), root, &err),
        &err, "days");
    if (x509_ca_create(keys, FED, 30, pass, strlen(pass), root, &err) != 0)
        fail_msg("%s", err.msg);
    s_expect(x509_ca_create(keys, FED, 30, pass, strlen(pass), root, &err),
        &err, "already exists");
    ca = x509_ca_load(root, keys, pass, strlen(pass), &err);
    if (ca == NULL)
        fail_msg("%s", err.msg);

    if (keys_generate(mkeys, "ARG", pass, strlen(pass), &err) != 0
        || x509_enroll_request(mkeys, "ARG", FED, pass, strlen(pass), csr,
            &err) != 0)
        fail_msg("%s", err.msg);
    if (x509_request_check_file(csr, "ARG", &id, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(keys_public_load(pub, &arg, &err), 0);
    assert_memory_equal(id.pub.sign_pk, arg.sign_pk, 32);
    assert_memory_equal(id.pub.box_pk, arg.box_pk, 32);
    assert_memory_equal(id.pub.transport_pk, arg.transport_pk, 32);
    s_expect(x509_request_check_file(csr, "CHL", NULL, &err), &err,
        "expected for CHL");
    assert_non_null(strstr(err.msg, csr));

    if (x509_issue_file(ca, csr, "ARG", 10, cert, &err) != 0)
        fail_msg("%s", err.msg);
    s_expect(x509_issue_file(ca, csr, "ARG", 10, cert, &err), &err,
        "exists");
    if (x509_cert_verify_file(cert, root, (int64_t)time(NULL) + 60, &id,
            &err) != 0)
        fail_msg("%s", err.msg);
    assert_memory_equal(id.pub.sign_pk, arg.sign_pk, 32);
    s_expect(x509_cert_verify_file(cert, root,
        (int64_t)time(NULL) + 11 * T_DAY, NULL, &err), &err,
        "certificate has expired");
    /* A member certificate is not a root. */
    s_expect(x509_cert_verify_file(cert, cert, (int64_t)time(NULL), NULL,
        &err), &err, "not self-signed");
    x509_ca_destroy(&ca);
    assert_null(ca);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x509_id_and_federation_names),
        cmocka_unit_test(test_x509_root_is_a_self_signed_ca),
        cmocka_unit_test(test_x509_ca_refuses_key_of_another_root),
        cmocka_unit_test(test_x509_request_round_trip),
        cmocka_unit_test(test_x509_request_rejects_wrong_state),
        cmocka_unit_test(test_x509_request_rejects_garbage),
        cmocka_unit_test(test_x509_request_rejects_every_truncation),
        cmocka_unit_test(test_x509_request_rejects_every_flipped_bit),
        cmocka_unit_test(test_x509_request_rejects_tampered_binding),
        cmocka_unit_test(test_x509_request_rejects_malformed_binding),
        cmocka_unit_test(test_x509_request_rejects_non_ed25519_key),
        cmocka_unit_test(test_x509_request_new_refuses_mismatched_key),
        cmocka_unit_test(test_x509_issue_and_verify),
        cmocka_unit_test(test_x509_issue_for_hub),
        cmocka_unit_test(test_x509_verify_rejects_expired_certificate),
        cmocka_unit_test(test_x509_verify_rejects_not_yet_valid_certificate),
        cmocka_unit_test(test_x509_verify_rejects_certificate_of_another_ca),
        cmocka_unit_test(test_x509_verify_rejects_root_as_member),
        cmocka_unit_test(test_x509_verify_rejects_time_after_root_expiry),
        cmocka_unit_test(test_x509_issue_rejects_bad_requests_and_periods),
        cmocka_unit_test(
            test_x509_cert_from_der_rejects_truncation_and_trailing),
        cmocka_unit_test(test_x509_verify_detects_flipped_bits),
        cmocka_unit_test(test_x509_files_ca_enroll_issue_verify),
    };

    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
