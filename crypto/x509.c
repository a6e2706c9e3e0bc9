/*
 * x509: root CA, enrollment requests, issuance and chain checks for the
 * federation's Ed25519 certificates (see x509.h; layouts in
 * docs/REGISTRY.md).
 *
 * Everything that comes from outside (a request, a certificate, a root) is
 * decoded strictly: PEM must carry the expected label and no headers, DER
 * must be consumed exactly, names must hold exactly one CN and one O, and
 * the key-binding extension must appear exactly once with the one layout
 * we define. Trust decisions are OpenSSL's X509_verify_cert, run against a
 * store that holds only the root, at an explicit time.
 */
#include "crypto/x509.h"

#include <errno.h>
#include <limits.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
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

/* 9999-12-31T23:59:59Z, the last time X.509 can express. */
#define S_TIME_MAX INT64_C(253402300799)
#define S_SERIAL_BYTES 16

struct x509_authority {
    X509     *cert;
    EVP_PKEY *key;
    char      federation[X509_FEDERATION_MAX + 1];
    int64_t   not_before, not_after;
};

/* ---------------------------------------------------------------------
 * Small helpers
 */

/* Set err to "what: <OpenSSL's reason>" and clear OpenSSL's queue. */
static void
s_ossl(errbuf_t *err, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    char          reason[256];

    if (e != 0) {
        ERR_error_string_n(e, reason, sizeof reason);
        errbuf_set(err, "%s: %s", what, reason);
    } else {
        errbuf_set(err, "%s", what);
    }
    ERR_clear_error();
}

static void
s_time(int64_t t, char out[32])
{
    time_t    tt = (time_t)t;
    struct tm tm;

    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL
        || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "@%lld", (long long)t);
}

static int
s_time_get(const ASN1_TIME *at, int64_t *out)
{
    struct tm tm;
    time_t    t;

    memset(&tm, 0, sizeof tm);
    if (at == NULL || ASN1_TIME_to_tm(at, &tm) != 1)
        return -1;
    t = timegm(&tm);
    if (t == (time_t)-1 && tm.tm_year != 69)
        return -1;
    *out = (int64_t)t;
    return 0;
}

static int
s_time_set(ASN1_TIME *at, int64_t t)
{
    if (t < 0 || t > S_TIME_MAX)
        return -1;
    return ASN1_TIME_set(at, (time_t)t) == NULL ? -1 : 0;
}

/* Copy s for a message, replacing anything unprintable. */
static void
s_printable(const char *s, size_t len, char *out, size_t cap)
{
    size_t i;

    for (i = 0; i < len && i + 1 < cap; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    out[i] = '\0';
}

int
x509_id_valid(const char *id)
{
    if (id == NULL)
        return 0;
    if (strcmp(id, X509_HUB_ID) == 0)
        return 1;
    return strlen(id) == 3 && id[0] >= 'A' && id[0] <= 'Z' && id[1] >= 'A'
        && id[1] <= 'Z' && id[2] >= 'A' && id[2] <= 'Z';
}

/* Length of the UTF-8 sequence at s (with n bytes left) and its code
 * point, or 0 if it is not valid, minimal UTF-8. */
static size_t
s_utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t   len, i;
    uint32_t c;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2;
        c = s[0] & 0x1f;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3;
        c = s[0] & 0x0f;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4;
        c = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800)
        || (len == 4 && (c < 0x10000 || c > 0x10ffff))
        || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

int
x509_text_valid(const char *text, size_t max)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t               len, i, step;
    uint32_t             cp;

    if (text == NULL)
        return 0;
    len = strlen(text);
    if (len == 0 || len > max || text[0] == ' ' || text[len - 1] == ' ')
        return 0;
    for (i = 0; i < len; i += step) {
        if ((step = s_utf8_next(s + i, len - i, &cp)) == 0)
            return 0;
        if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
            return 0;
    }
    return 1;
}

int
x509_federation_valid(const char *name)
{
    return x509_text_valid(name, X509_FEDERATION_MAX);
}

/* ---------------------------------------------------------------------
 * Keys and names
 */

EVP_PKEY *
x509_key_from_secret(const keys_secret_t *sign_key, errbuf_t *err)
{
    EVP_PKEY *key;
    uint8_t   pk[KEYS_SIGN_PK_BYTES];
    size_t    pk_len = sizeof pk;

    if (sign_key == NULL || keys_secret_kind(sign_key) != KEYS_SIGN) {
        errbuf_set(err, "a certificate key must be an Ed25519 sign key");
        return NULL;
    }
    /* The libsodium secret key is seed || pk; OpenSSL wants the seed. The
     * seed goes straight from the protected memory into OpenSSL's key,
     * which clears it on free, so no copy is left behind here. */
    key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL,
        keys_secret_bytes(sign_key), 32);
    if (key == NULL) {
        s_ossl(err, "cannot build an Ed25519 key");
        return NULL;
    }
    if (EVP_PKEY_get_raw_public_key(key, pk, &pk_len) != 1
        || pk_len != sizeof pk
        || memcmp(pk, keys_secret_public(sign_key), sizeof pk) != 0) {
        EVP_PKEY_free(key);
        s_ossl(err, "the sign key's public half does not match its seed");
        return NULL;
    }
    return key;
}

static int
s_raw_ed25519(EVP_PKEY *key, uint8_t pk[KEYS_SIGN_PK_BYTES], const char *what,
    errbuf_t *err)
{
    size_t len = KEYS_SIGN_PK_BYTES;

    if (key == NULL) {
        errbuf_set(err, "%s has no public key", what);
        return -1;
    }
    if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
        const char *type = OBJ_nid2sn(EVP_PKEY_get_base_id(key));

        errbuf_set(err, "%s key is %s, not Ed25519", what,
            type != NULL ? type : "of an unknown type");
        ERR_clear_error();
        return -1;
    }
    if (EVP_PKEY_get_raw_public_key(key, pk, &len) != 1
        || len != KEYS_SIGN_PK_BYTES) {
        s_ossl(err, "cannot read the Ed25519 public key");
        return -1;
    }
    return 0;
}

static X509_NAME *
s_name(const char *cn, const char *org)
{
    X509_NAME *name = X509_NAME_new();

    if (name == NULL
        || X509_NAME_add_entry_by_NID(name, NID_organizationName,
               MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0) != 1
        || X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
               (const unsigned char *)cn, -1, -1, 0) != 1) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

/* The single entry nid of name, as UTF-8 text in out (cap bytes). */
static int
s_name_get(const X509_NAME *name, int nid, const char *label, char *out,
    size_t cap, const char *what, errbuf_t *err)
{
    int              i, len;
    X509_NAME_ENTRY *e;
    unsigned char   *utf8 = NULL;

    i = X509_NAME_get_index_by_NID(name, nid, -1);
    if (i < 0) {
        errbuf_set(err, "%s has no %s in its subject", what, label);
        return -1;
    }
    if (X509_NAME_get_index_by_NID(name, nid, i) >= 0) {
        errbuf_set(err, "%s has more than one %s in its subject", what,
            label);
        return -1;
    }
    e = X509_NAME_get_entry(name, i);
    len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len < 0) {
        s_ossl(err, "cannot read the subject");
        return -1;
    }
    if ((size_t)len >= cap || memchr(utf8, '\0', (size_t)len) != NULL) {
        char shown[64];

        s_printable((const char *)utf8, (size_t)len, shown, sizeof shown);
        errbuf_set(err, "%s has an invalid %s \"%s\"", what, label, shown);
        OPENSSL_free(utf8);
        return -1;
    }
    memcpy(out, utf8, (size_t)len);
    out[len] = '\0';
    OPENSSL_free(utf8);
    return 0;
}

/* The CN of cert for a message, without any check. */
static void
s_cn_shown(X509 *cert, char out[32])
{
    char cn[64];
    int  n;

    n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
        NID_commonName, cn, sizeof cn);
    if (n <= 0) {
        snprintf(out, 32, "(no CN)");
        ERR_clear_error();
        return;
    }
    s_printable(cn, (size_t)n, out, 32);
}

/* ---------------------------------------------------------------------
 * The key-binding extension
 */

static ASN1_OBJECT *
s_binding_oid(void)
{
    return OBJ_txt2obj(X509_BINDING_OID, 1);
}

static X509_EXTENSION *
s_binding_new(const keys_public_t *pub)
{
    uint8_t            raw[X509_BINDING_LEN];
    ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new(), *outer = NULL;
    ASN1_OBJECT       *oid = s_binding_oid();
    unsigned char     *der = NULL;
    int                der_len;
    X509_EXTENSION    *ext = NULL;

    raw[0] = X509_BINDING_VERSION;
    memcpy(raw + 1, pub->box_pk, KEYS_BOX_PK_BYTES);
    memcpy(raw + 1 + KEYS_BOX_PK_BYTES, pub->transport_pk, KEYS_BOX_PK_BYTES);
    if (inner == NULL || oid == NULL
        || ASN1_OCTET_STRING_set(inner, raw, sizeof raw) != 1)
        goto cleanup;
    if ((der_len = i2d_ASN1_OCTET_STRING(inner, &der)) <= 0)
        goto cleanup;
    if ((outer = ASN1_OCTET_STRING_new()) == NULL
        || ASN1_OCTET_STRING_set(outer, der, der_len) != 1)
        goto cleanup;
    ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, outer);
cleanup:
    ASN1_OCTET_STRING_free(inner);
    ASN1_OCTET_STRING_free(outer);
    ASN1_OBJECT_free(oid);
    OPENSSL_free(der);
    return ext;
}

/* Find the binding among exts (exactly once) and decode it. */
static int
s_binding_get(const STACK_OF(X509_EXTENSION) *exts, uint8_t box[32],
    uint8_t transport[32], errbuf_t *err)
{
    ASN1_OBJECT             *oid = s_binding_oid();
    int                      i, rc = -1, len;
    X509_EXTENSION          *ext;
    const ASN1_OCTET_STRING *data;
    ASN1_OCTET_STRING       *inner = NULL;
    const unsigned char     *p, *end;

    if (oid == NULL) {
        s_ossl(err, "cannot build the key-binding OID");
        return -1;
    }
    i = exts == NULL ? -1 : X509v3_get_ext_by_OBJ(exts, oid, -1);
    if (i < 0) {
        errbuf_set(err, "binding extension missing: the %s extension with "
            "the box and transport keys is required", X509_BINDING_OID);
        goto cleanup;
    }
    if (X509v3_get_ext_by_OBJ(exts, oid, i) >= 0) {
        errbuf_set(err, "binding extension appears more than once");
        goto cleanup;
    }
    ext = X509v3_get_ext(exts, i);
    data = X509_EXTENSION_get_data(ext);
    p = ASN1_STRING_get0_data(data);
    len = ASN1_STRING_length(data);
    end = p + len;
    if (len <= 0 || (inner = d2i_ASN1_OCTET_STRING(NULL, &p, len)) == NULL
        || p != end) {
        errbuf_set(err, "binding extension malformed: not a single DER "
            "OCTET STRING");
        goto cleanup;
    }
    len = ASN1_STRING_length(inner);
    if (len != X509_BINDING_LEN) {
        errbuf_set(err, "binding extension malformed: length %d, expected "
            "%d", len, X509_BINDING_LEN);
        goto cleanup;
    }
    p = ASN1_STRING_get0_data(inner);
    if (p[0] != X509_BINDING_VERSION) {
        errbuf_set(err, "binding extension malformed: version %u, expected "
            "%d", (unsigned)p[0], X509_BINDING_VERSION);
        goto cleanup;
    }
    memcpy(box, p + 1, 32);
    memcpy(transport, p + 1 + 32, 32);
    rc = 0;
cleanup:
    ASN1_OCTET_STRING_free(inner);
    ASN1_OBJECT_free(oid);
    ERR_clear_error();
    return rc;
}

/* Subject name + key + extensions -> checked identity. */
static int
s_identity(const X509_NAME *name, EVP_PKEY *key,
    const STACK_OF(X509_EXTENSION) *exts, const char *what,
    x509_identity_t *out, errbuf_t *err)
{
    char    cn[KEYS_OWNER_MAX + 1], shown[64];
    uint8_t sign_pk[32], box[32], transport[32];

    memset(out, 0, sizeof *out);
    if (s_raw_ed25519(key, sign_pk, what, err) != 0)
        return -1;
    if (s_name_get(name, NID_commonName, "CN", cn, sizeof cn, what, err)
        != 0)
        return -1;
    if (!x509_id_valid(cn)) {
        s_printable(cn, strlen(cn), shown, sizeof shown);
        errbuf_set(err, "%s has CN \"%s\", which is not a state code (three "
            "capital letters, ISO 3166-1 alpha-3 such as ARG) or \"hub\"",
            what, shown);
        return -1;
    }
    if (s_name_get(name, NID_organizationName, "O", out->federation,
            sizeof out->federation, what, err) != 0)
        return -1;
    if (!x509_federation_valid(out->federation)) {
        s_printable(out->federation, strlen(out->federation), shown,
            sizeof shown);
        errbuf_set(err, "%s has O \"%s\", which is not a valid federation "
            "name", what, shown);
        return -1;
    }
    if (s_binding_get(exts, box, transport, err) != 0)
        return -1;
    if (keys_public_init(&out->pub, cn, sign_pk, box, transport, err) != 0) {
        errbuf_prefix(err, "%s of %s", what, cn);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------
 * PEM and DER
 */

/* Decode the first PEM block of text, whose label must be one of labels,
 * into DER. Caller frees *der with OPENSSL_free. */
static int
s_pem_decode(const char *text, size_t len, const char *const *labels,
    unsigned char **der, long *der_len)
{
    BIO  *bio;
    char *name = NULL, *header = NULL;
    int   ok = 0, i;

    *der = NULL;
    *der_len = 0;
    if (len == 0 || len > X509_PEM_MAX)
        return -1;
    if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL)
        return -1;
    if (PEM_read_bio(bio, &name, &header, der, der_len) == 1) {
        for (i = 0; labels[i] != NULL; i++)
            if (strcmp(name, labels[i]) == 0)
                ok = 1;
        /* An encrypted or annotated block is not what we write. */
        if (header != NULL && header[0] != '\0')
            ok = 0;
    }
    BIO_free(bio);
    OPENSSL_free(name);
    OPENSSL_free(header);
    ERR_clear_error();
    if (!ok) {
        OPENSSL_free(*der);
        *der = NULL;
        *der_len = 0;
        return -1;
    }
    return 0;
}

static int
s_request_decode(const char *pem, size_t len, X509_REQ **out, errbuf_t *err)
{
    static const char *const labels[] = {"CERTIFICATE REQUEST",
        "NEW CERTIFICATE REQUEST", NULL};
    unsigned char       *der = NULL;
    const unsigned char *p;
    long                 der_len;

    *out = NULL;
    if (len > X509_PEM_MAX) {
        errbuf_set(err, "not a PEM certificate request: larger than %u "
            "bytes", X509_PEM_MAX);
        return -1;
    }
    if (s_pem_decode(pem, len, labels, &der, &der_len) != 0) {
        errbuf_set(err, "not a PEM certificate request (expected a block "
            "starting with -----BEGIN CERTIFICATE REQUEST-----)");
        return -1;
    }
    p = der;
    *out = d2i_X509_REQ(NULL, &p, der_len);
    if (*out == NULL || p != der + der_len) {
        X509_REQ_free(*out);
        *out = NULL;
        OPENSSL_free(der);
        ERR_clear_error();
        errbuf_set(err, "not a PEM certificate request: the PEM block does "
            "not hold exactly one DER certificate request");
        return -1;
    }
    OPENSSL_free(der);
    return 0;
}

int
x509_cert_from_der(const uint8_t *der, size_t len, X509 **out, errbuf_t *err)
{
    const unsigned char *p = der;

    *out = NULL;
    if (len == 0 || len > X509_DER_MAX) {
        errbuf_set(err, "certificate of %zu bytes (expected 1 to %u)", len,
            X509_DER_MAX);
        return -1;
    }
    *out = d2i_X509(NULL, &p, (long)len);
    if (*out == NULL || p != der + len) {
        X509_free(*out);
        *out = NULL;
        ERR_clear_error();
        errbuf_set(err, "not a DER certificate (or bytes after it)");
        return -1;
    }
    return 0;
}

static int
s_cert_decode_pem(const char *pem, size_t len, X509 **out, errbuf_t *err)
{
    static const char *const labels[] = {"CERTIFICATE", NULL};
    unsigned char           *der = NULL;
    long                     der_len;
    int                      rc;

    *out = NULL;
    if (s_pem_decode(pem, len, labels, &der, &der_len) != 0) {
        errbuf_set(err, "not a PEM certificate (expected a block starting "
            "with -----BEGIN CERTIFICATE-----)");
        return -1;
    }
    rc = x509_cert_from_der(der, (size_t)der_len, out, err);
    OPENSSL_free(der);
    return rc;
}

int
x509_cert_load(const char *path, X509 **out, errbuf_t *err)
{
    uint8_t *buf = NULL;
    size_t   len = 0;
    int      rc;

    *out = NULL;
    if (fileio_read(path, X509_PEM_MAX, &buf, &len, err) != 0)
        return -1;
    rc = s_cert_decode_pem((const char *)buf, len, out, err);
    free(buf);
    if (rc != 0)
        errbuf_prefix(err, "%s", path);
    return rc;
}

/* BIO contents -> malloc'd NUL-terminated copy. */
static int
s_bio_take(BIO *bio, char **out, size_t *out_len, errbuf_t *err)
{
    char *data;
    long  n = BIO_get_mem_data(bio, &data);

    if (n <= 0 || (*out = malloc((size_t)n + 1)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    memcpy(*out, data, (size_t)n);
    (*out)[n] = '\0';
    *out_len = (size_t)n;
    return 0;
}

int
x509_request_pem(X509_REQ *req, char **out, size_t *out_len, errbuf_t *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int  rc = -1;

    *out = NULL;
    *out_len = 0;
    if (bio == NULL || PEM_write_bio_X509_REQ(bio, req) != 1)
        s_ossl(err, "cannot encode the request");
    else
        rc = s_bio_take(bio, out, out_len, err);
    BIO_free(bio);
    return rc;
}

int
x509_cert_pem(X509 *cert, char **out, size_t *out_len, errbuf_t *err)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int  rc = -1;

    *out = NULL;
    *out_len = 0;
    if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1)
        s_ossl(err, "cannot encode the certificate");
    else
        rc = s_bio_take(bio, out, out_len, err);
    BIO_free(bio);
    return rc;
}

int
x509_cert_der(X509 *cert, uint8_t **out, size_t *out_len, errbuf_t *err)
{
    unsigned char *der = NULL;
    int            n = i2d_X509(cert, &der);

    *out = NULL;
    *out_len = 0;
    if (n <= 0) {
        s_ossl(err, "cannot encode the certificate");
        return -1;
    }
    if ((*out = malloc((size_t)n)) == NULL) {
        OPENSSL_free(der);
        errbuf_set(err, "out of memory");
        return -1;
    }
    memcpy(*out, der, (size_t)n);
    *out_len = (size_t)n;
    OPENSSL_free(der);
    return 0;
}

/* ---------------------------------------------------------------------
 * Certificate building
 */

static int
s_serial(X509 *cert)
{
    uint8_t       raw[S_SERIAL_BYTES];
    BIGNUM       *bn = NULL;
    ASN1_INTEGER *serial = NULL;
    int           ok = 0;

    /* Positive and of full length, so the DER is always 16 or 17 bytes. */
    if (RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    raw[0] = (uint8_t)((raw[0] & 0x7f) | 0x40);
    if ((bn = BN_bin2bn(raw, sizeof raw, NULL)) != NULL
        && (serial = BN_to_ASN1_INTEGER(bn, NULL)) != NULL
        && X509_set_serialNumber(cert, serial) == 1)
        ok = 1;
    BN_free(bn);
    ASN1_INTEGER_free(serial);
    return ok ? 0 : -1;
}

static int
s_add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int             ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;

    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int
s_check_period(int64_t not_before, int64_t not_after, errbuf_t *err)
{
    char t1[32], t2[32];

    if (not_before < 0 || not_after > S_TIME_MAX || not_before >= not_after) {
        s_time(not_before, t1);
        s_time(not_after, t2);
        errbuf_set(err, "validity period from %s to %s is empty or outside "
            "what a certificate can carry", t1, t2);
        return -1;
    }
    return 0;
}

int
x509_root_new(EVP_PKEY *key, const char *federation, int64_t not_before,
    int64_t not_after, X509 **out, errbuf_t *err)
{
    X509       *cert = NULL;
    X509_NAME  *name = NULL;
    X509V3_CTX  ctx;
    char        cn[X509_FEDERATION_MAX + 16];
    uint8_t     pk[32];
    int         rc = -1;

    *out = NULL;
    if (!x509_federation_valid(federation)) {
        errbuf_set(err, "federation name must be 1 to %d bytes of UTF-8 "
            "text without control characters", X509_FEDERATION_MAX);
        return -1;
    }
    if (s_check_period(not_before, not_after, err) != 0
        || s_raw_ed25519(key, pk, "the root", err) != 0)
        return -1;
    snprintf(cn, sizeof cn, "%s Root CA", federation);
    if ((cert = X509_new()) == NULL || (name = s_name(cn, federation)) == NULL
        || X509_set_version(cert, X509_VERSION_3) != 1 || s_serial(cert) != 0
        || X509_set_subject_name(cert, name) != 1
        || X509_set_issuer_name(cert, name) != 1
        || s_time_set(X509_getm_notBefore(cert), not_before) != 0
        || s_time_set(X509_getm_notAfter(cert), not_after) != 0
        || X509_set_pubkey(cert, key) != 1) {
        s_ossl(err, "cannot build the root certificate");
        goto cleanup;
    }
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    if (s_add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:TRUE") != 0
        || s_add_ext(cert, &ctx, NID_key_usage,
               "critical,keyCertSign,cRLSign") != 0
        || s_add_ext(cert, &ctx, NID_subject_key_identifier, "hash") != 0
        || s_add_ext(cert, &ctx, NID_authority_key_identifier,
               "keyid:always") != 0) {
        s_ossl(err, "cannot add the root certificate's extensions");
        goto cleanup;
    }
    if (X509_sign(cert, key, NULL) <= 0) {
        s_ossl(err, "cannot sign the root certificate");
        goto cleanup;
    }
    *out = cert;
    cert = NULL;
    rc = 0;
cleanup:
    X509_free(cert);
    X509_NAME_free(name);
    ERR_clear_error();
    return rc;
}

/* ---------------------------------------------------------------------
 * Roots and the CA
 */

int
x509_root_check(X509 *root, char *federation, uint8_t pk[KEYS_SIGN_PK_BYTES],
    errbuf_t *err)
{
    uint32_t ku;

    if (s_raw_ed25519(X509_get0_pubkey(root), pk, "the root certificate",
            err) != 0)
        return -1;
    if (X509_NAME_cmp(X509_get_subject_name(root), X509_get_issuer_name(root))
            != 0
        || X509_verify(root, X509_get0_pubkey(root)) != 1) {
        ERR_clear_error();
        errbuf_set(err, "the root certificate is not self-signed (its "
            "signature does not verify under its own key)");
        return -1;
    }
    if (X509_check_ca(root) != 1) {
        errbuf_set(err, "the root certificate is not a CA certificate "
            "(basicConstraints CA:TRUE is missing)");
        return -1;
    }
    ku = X509_get_key_usage(root);
    if (ku != UINT32_MAX && (ku & KU_KEY_CERT_SIGN) == 0) {
        errbuf_set(err, "the root certificate may not sign certificates "
            "(keyUsage lacks keyCertSign)");
        return -1;
    }
    if (s_name_get(X509_get_subject_name(root), NID_organizationName, "O",
            federation, X509_FEDERATION_MAX + 1, "the root certificate", err)
        != 0)
        return -1;
    if (!x509_federation_valid(federation)) {
        errbuf_set(err, "the root certificate's O is not a valid federation "
            "name");
        return -1;
    }
    ERR_clear_error();
    return 0;
}

int
x509_root_load(const char *path, X509 **out, errbuf_t *err)
{
    char    fed[X509_FEDERATION_MAX + 1];
    uint8_t pk[32];

    if (x509_cert_load(path, out, err) != 0)
        return -1;
    if (x509_root_check(*out, fed, pk, err) != 0) {
        X509_free(*out);
        *out = NULL;
        errbuf_prefix(err, "%s", path);
        return -1;
    }
    return 0;
}

x509_ca_t *
x509_ca_new(X509 *root, EVP_PKEY *key, errbuf_t *err)
{
    x509_ca_t *self;
    uint8_t    root_pk[32], key_pk[32];
    char       fed[X509_FEDERATION_MAX + 1];
    int64_t    nb, na;

    if (root == NULL || key == NULL) {
        errbuf_set(err, "a CA needs its root certificate and its key");
        return NULL;
    }
    if (x509_root_check(root, fed, root_pk, err) != 0
        || s_raw_ed25519(key, key_pk, "the CA", err) != 0)
        return NULL;
    if (memcmp(root_pk, key_pk, sizeof root_pk) != 0) {
        errbuf_set(err, "the CA key is not the key of the root certificate; "
            "use the ca.sign.key that created this root");
        return NULL;
    }
    if (s_time_get(X509_get0_notBefore(root), &nb) != 0
        || s_time_get(X509_get0_notAfter(root), &na) != 0) {
        ERR_clear_error();
        errbuf_set(err, "the root certificate's validity cannot be read");
        return NULL;
    }
    if ((self = calloc(1, sizeof *self)) == NULL) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    X509_up_ref(root);
    EVP_PKEY_up_ref(key);
    self->cert = root;
    self->key = key;
    self->not_before = nb;
    self->not_after = na;
    memcpy(self->federation, fed, sizeof fed);
    return self;
}

void
x509_ca_destroy(x509_ca_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    X509_free((*self_p)->cert);
    EVP_PKEY_free((*self_p)->key);
    free(*self_p);
    *self_p = NULL;
}

X509 *
x509_ca_cert(const x509_ca_t *self)
{
    return self->cert;
}

const char *
x509_ca_federation(const x509_ca_t *self)
{
    return self->federation;
}

int
x509_ca_sign(const x509_ca_t *self, const uint8_t *msg, size_t len,
    uint8_t sig[KEYS_SIG_BYTES], errbuf_t *err)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t      sig_len = KEYS_SIG_BYTES;
    int         ok;

    ok = md != NULL && EVP_DigestSignInit(md, NULL, NULL, NULL, self->key) == 1
        && EVP_DigestSign(md, sig, &sig_len, msg, len) == 1
        && sig_len == KEYS_SIG_BYTES;
    EVP_MD_CTX_free(md);
    if (!ok) {
        s_ossl(err, "cannot sign with the CA key");
        return -1;
    }
    return 0;
}

x509_ca_t *
x509_ca_load(const char *cert_path, const char *key_dir,
    const char *passphrase, size_t passphrase_len, errbuf_t *err)
{
    X509          *root = NULL;
    keys_secret_t *secret = NULL;
    EVP_PKEY      *key = NULL;
    x509_ca_t     *self = NULL;
    char           path[PATH_MAX];

    if (x509_root_load(cert_path, &root, err) != 0)
        return NULL;
    if (keys_path(path, sizeof path, key_dir, X509_CA_OWNER, KEYS_SIGN)
        != 0) {
        errbuf_set(err, "%s: key directory path too long", key_dir);
        goto cleanup;
    }
    if ((secret = keys_secret_load(path, KEYS_SIGN, passphrase,
             passphrase_len, err)) == NULL)
        goto cleanup;
    if ((key = x509_key_from_secret(secret, err)) == NULL)
        goto cleanup;
    if ((self = x509_ca_new(root, key, err)) == NULL)
        errbuf_prefix(err, "%s and %s", path, cert_path);
cleanup:
    keys_secret_destroy(&secret);
    EVP_PKEY_free(key);
    X509_free(root);
    return self;
}

int
x509_ca_create(const char *key_dir, const char *federation, int days,
    const char *passphrase, size_t passphrase_len, const char *cert_path,
    errbuf_t *err)
{
    char           paths[4][PATH_MAX];
    keys_secret_t *secret = NULL;
    EVP_PKEY      *key = NULL;
    X509          *root = NULL;
    char          *pem = NULL;
    size_t         pem_len = 0;
    struct stat    st;
    int64_t        now = (int64_t)time(NULL);
    int            k, created = 0, rc = -1;

    if (!x509_federation_valid(federation)) {
        errbuf_set(err, "federation name must be 1 to %d bytes of UTF-8 "
            "text without control characters or outer spaces",
            X509_FEDERATION_MAX);
        return -1;
    }
    if (days < 1 || days > X509_MAX_DAYS) {
        errbuf_set(err, "root validity of %d days; use 1 to %d", days,
            X509_MAX_DAYS);
        return -1;
    }
    if (lstat(cert_path, &st) == 0) {
        errbuf_set(err, "%s: already exists; refusing to replace a root "
            "certificate (every member trusts the existing one)", cert_path);
        return -1;
    }
    for (k = 0; k <= KEYS_TRANSPORT; k++)
        if (keys_path(paths[k], sizeof paths[k], key_dir, X509_CA_OWNER, k)
            != 0) {
            errbuf_set(err, "%s: key directory path too long", key_dir);
            return -1;
        }
    /* Only the sign key is used; the two others are the price of reusing
     * the one audited key-file writer. */
    if (keys_generate(key_dir, X509_CA_OWNER, passphrase, passphrase_len, err)
        != 0)
        return -1;
    created = 1;
    if ((secret = keys_secret_load(paths[KEYS_SIGN], KEYS_SIGN, passphrase,
             passphrase_len, err)) == NULL
        || (key = x509_key_from_secret(secret, err)) == NULL
        || x509_root_new(key, federation, now,
               now + (int64_t)days * 86400, &root, err) != 0
        || x509_cert_pem(root, &pem, &pem_len, err) != 0
        || fileio_write(cert_path, pem, pem_len, 0644, 1, err) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    if (rc != 0 && created)
        for (k = 0; k <= KEYS_TRANSPORT; k++)
            unlink(paths[k]);
    keys_secret_destroy(&secret);
    EVP_PKEY_free(key);
    X509_free(root);
    free(pem);
    return rc;
}

/* ---------------------------------------------------------------------
 * Enrollment requests
 */

int
x509_request_new(EVP_PKEY *sign_key, const keys_public_t *pub,
    const char *federation, X509_REQ **out, errbuf_t *err)
{
    X509_REQ                 *req = NULL;
    X509_NAME                *name = NULL;
    X509_EXTENSION           *ext = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    uint8_t                   pk[32];
    int                       rc = -1;

    *out = NULL;
    if (keys_public_check(pub, err) != 0)
        return -1;
    if (!x509_id_valid(pub->owner)) {
        errbuf_set(err, "\"%s\" cannot enroll: a certificate names a state "
            "code (three capital letters such as ARG) or \"hub\"",
            pub->owner);
        return -1;
    }
    if (!x509_federation_valid(federation)) {
        errbuf_set(err, "federation name must be 1 to %d bytes of UTF-8 "
            "text without control characters", X509_FEDERATION_MAX);
        return -1;
    }
    if (s_raw_ed25519(sign_key, pk, "the signing", err) != 0)
        return -1;
    if (memcmp(pk, pub->sign_pk, sizeof pk) != 0) {
        errbuf_set(err, "the sign key is not the one in %s's public keys",
            pub->owner);
        return -1;
    }
    if ((req = X509_REQ_new()) == NULL
        || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1
        || (name = s_name(pub->owner, federation)) == NULL
        || X509_REQ_set_subject_name(req, name) != 1
        || X509_REQ_set_pubkey(req, sign_key) != 1
        || (ext = s_binding_new(pub)) == NULL
        || (exts = sk_X509_EXTENSION_new_null()) == NULL
        || sk_X509_EXTENSION_push(exts, ext) <= 0) {
        s_ossl(err, "cannot build the request");
        goto cleanup;
    }
    ext = NULL; /* owned by exts */
    if (X509_REQ_add_extensions(req, exts) != 1
        || X509_REQ_sign(req, sign_key, NULL) <= 0) {
        s_ossl(err, "cannot sign the request");
        goto cleanup;
    }
    *out = req;
    req = NULL;
    rc = 0;
cleanup:
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_NAME_free(name);
    X509_REQ_free(req);
    ERR_clear_error();
    return rc;
}

int
x509_enroll_request(const char *key_dir, const char *id,
    const char *federation, const char *passphrase, size_t passphrase_len,
    const char *out_path, errbuf_t *err)
{
    char           path[PATH_MAX];
    keys_public_t  pub;
    keys_secret_t *secret = NULL;
    EVP_PKEY      *key = NULL;
    X509_REQ      *req = NULL;
    char          *pem = NULL;
    size_t         pem_len = 0;
    int            rc = -1;

    if (!x509_id_valid(id)) {
        errbuf_set(err, "\"%s\" cannot enroll: give a state code (three "
            "capital letters such as ARG) or \"hub\"", id == NULL ? "" : id);
        return -1;
    }
    if (!x509_federation_valid(federation)) {
        errbuf_set(err, "federation name must be 1 to %d bytes of UTF-8 "
            "text without control characters", X509_FEDERATION_MAX);
        return -1;
    }
    if (keys_path(path, sizeof path, key_dir, id, 0) != 0) {
        errbuf_set(err, "%s: key directory path too long", key_dir);
        return -1;
    }
    if (keys_public_load(path, &pub, err) != 0)
        return -1;
    if (strcmp(pub.owner, id) != 0) {
        errbuf_set(err, "%s holds the keys of %s, not of %s", path, pub.owner,
            id);
        return -1;
    }
    if (keys_path(path, sizeof path, key_dir, id, KEYS_SIGN) != 0) {
        errbuf_set(err, "%s: key directory path too long", key_dir);
        return -1;
    }
    if ((secret = keys_secret_load(path, KEYS_SIGN, passphrase,
             passphrase_len, err)) == NULL
        || (key = x509_key_from_secret(secret, err)) == NULL
        || x509_request_new(key, &pub, federation, &req, err) != 0
        || x509_request_pem(req, &pem, &pem_len, err) != 0
        || fileio_write(out_path, pem, pem_len, 0644, 0, err) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    keys_secret_destroy(&secret);
    EVP_PKEY_free(key);
    X509_REQ_free(req);
    free(pem);
    return rc;
}

/* Decode and check a request; on success *req_out (may be NULL) holds it. */
static int
s_request_check(const char *pem, size_t len, const char *expected,
    x509_identity_t *id, X509_REQ **req_out, errbuf_t *err)
{
    X509_REQ                 *req = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    EVP_PKEY                 *key;
    uint8_t                   pk[32];
    int                       rc = -1;

    if (s_request_decode(pem, len, &req, err) != 0)
        return -1;
    key = X509_REQ_get0_pubkey(req);
    if (s_raw_ed25519(key, pk, "the request's", err) != 0)
        goto cleanup;
    if (X509_REQ_verify(req, key) != 1) {
        errbuf_set(err, "request signature does not verify: the request was "
            "changed after it was signed (or was not signed by the key it "
            "carries); ask for a new one");
        goto cleanup;
    }
    if (X509_REQ_get_version(req) != X509_REQ_VERSION_1) {
        errbuf_set(err, "request version %ld is unknown (expected a v1 "
            "request)", X509_REQ_get_version(req) + 1);
        goto cleanup;
    }
    exts = X509_REQ_get_extensions(req);
    ERR_clear_error();
    if (s_identity(X509_REQ_get_subject_name(req), key, exts, "the request",
            id, err) != 0)
        goto cleanup;
    if (expected != NULL && strcmp(id->pub.owner, expected) != 0) {
        errbuf_set(err, "request is for %s but was expected for %s",
            id->pub.owner, expected);
        goto cleanup;
    }
    if (req_out != NULL) {
        *req_out = req;
        req = NULL;
    }
    rc = 0;
cleanup:
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    X509_REQ_free(req);
    ERR_clear_error();
    return rc;
}

int
x509_request_check(const char *pem, size_t len, const char *expected,
    x509_identity_t *out, errbuf_t *err)
{
    x509_identity_t id;
    int             rc;

    memset(&id, 0, sizeof id);
    rc = s_request_check(pem, len, expected, &id, NULL, err);
    if (rc == 0 && out != NULL)
        *out = id;
    return rc;
}

int
x509_request_check_file(const char *path, const char *expected,
    x509_identity_t *out, errbuf_t *err)
{
    uint8_t *buf = NULL;
    size_t   len = 0;
    int      rc;

    if (fileio_read(path, X509_PEM_MAX, &buf, &len, err) != 0)
        return -1;
    rc = x509_request_check((const char *)buf, len, expected, out, err);
    free(buf);
    if (rc != 0)
        errbuf_prefix(err, "%s", path);
    return rc;
}

/* ---------------------------------------------------------------------
 * Issuance
 */

int
x509_issue(const x509_ca_t *ca, const char *csr_pem, size_t csr_len,
    const char *expected, int64_t not_before, int64_t not_after, X509 **out,
    errbuf_t *err)
{
    x509_identity_t id;
    X509_REQ       *req = NULL;
    X509           *cert = NULL;
    X509_NAME      *name = NULL;
    X509_EXTENSION *ext = NULL;
    X509V3_CTX      ctx;
    char            t1[32], t2[32];
    int             rc = -1;

    *out = NULL;
    if (s_request_check(csr_pem, csr_len, expected, &id, &req, err) != 0)
        return -1;
    if (strcmp(id.federation, ca->federation) != 0) {
        errbuf_set(err, "request is for federation \"%s\" but this CA is "
            "the root of \"%s\"", id.federation, ca->federation);
        goto cleanup;
    }
    if (s_check_period(not_before, not_after, err) != 0)
        goto cleanup;
    if (not_before < ca->not_before || not_after > ca->not_after) {
        s_time(ca->not_before, t1);
        s_time(ca->not_after, t2);
        errbuf_set(err, "the certificate must lie within the root's own "
            "validity (%s to %s); choose a shorter period", t1, t2);
        goto cleanup;
    }
    if ((cert = X509_new()) == NULL
        || X509_set_version(cert, X509_VERSION_3) != 1 || s_serial(cert) != 0
        || X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) != 1
        || (name = s_name(id.pub.owner, ca->federation)) == NULL
        || X509_set_subject_name(cert, name) != 1
        || s_time_set(X509_getm_notBefore(cert), not_before) != 0
        || s_time_set(X509_getm_notAfter(cert), not_after) != 0
        || X509_set_pubkey(cert, X509_REQ_get0_pubkey(req)) != 1) {
        s_ossl(err, "cannot build the certificate");
        goto cleanup;
    }
    X509V3_set_ctx(&ctx, ca->cert, cert, NULL, NULL, 0);
    if (s_add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0
        || s_add_ext(cert, &ctx, NID_key_usage, "critical,digitalSignature")
            != 0
        || s_add_ext(cert, &ctx, NID_subject_key_identifier, "hash") != 0
        || s_add_ext(cert, &ctx, NID_authority_key_identifier,
               "keyid:always") != 0
        || (ext = s_binding_new(&id.pub)) == NULL
        || X509_add_ext(cert, ext, -1) != 1) {
        s_ossl(err, "cannot add the certificate's extensions");
        goto cleanup;
    }
    if (X509_sign(cert, ca->key, NULL) <= 0) {
        s_ossl(err, "cannot sign the certificate");
        goto cleanup;
    }
    /* What we hand out must pass the checks every node will apply. */
    if (x509_cert_verify(ca->cert, cert, not_before, NULL, err) != 0) {
        errbuf_prefix(err, "the new certificate does not verify");
        goto cleanup;
    }
    *out = cert;
    cert = NULL;
    rc = 0;
cleanup:
    X509_EXTENSION_free(ext);
    X509_NAME_free(name);
    X509_free(cert);
    X509_REQ_free(req);
    ERR_clear_error();
    return rc;
}

int
x509_issue_file(const x509_ca_t *ca, const char *csr_path,
    const char *expected, int days, const char *cert_path, errbuf_t *err)
{
    uint8_t *csr = NULL;
    size_t   csr_len = 0, pem_len = 0;
    char    *pem = NULL;
    X509    *cert = NULL;
    int64_t  now = (int64_t)time(NULL);
    int      rc = -1;

    if (days < 1 || days > X509_MAX_DAYS) {
        errbuf_set(err, "certificate validity of %d days; use 1 to %d", days,
            X509_MAX_DAYS);
        return -1;
    }
    if (fileio_read(csr_path, X509_PEM_MAX, &csr, &csr_len, err) != 0)
        return -1;
    if (x509_issue(ca, (const char *)csr, csr_len, expected, now,
            now + (int64_t)days * 86400, &cert, err) != 0) {
        errbuf_prefix(err, "%s", csr_path);
        goto cleanup;
    }
    if (x509_cert_pem(cert, &pem, &pem_len, err) != 0
        || fileio_write(cert_path, pem, pem_len, 0644, 1, err) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    free(csr);
    free(pem);
    X509_free(cert);
    return rc;
}

/* ---------------------------------------------------------------------
 * Verification
 */

static void
s_verify_error(X509_STORE_CTX *ctx, X509 *cert, int64_t at, errbuf_t *err)
{
    int         e = X509_STORE_CTX_get_error(ctx);
    int         depth = X509_STORE_CTX_get_error_depth(ctx);
    X509       *bad = X509_STORE_CTX_get_current_cert(ctx);
    const char *why = X509_verify_cert_error_string(e);
    char        who[64], cn[32], t_at[32], t[32], extra[80];
    int64_t     bound;

    if (bad == NULL)
        bad = cert;
    s_cn_shown(cert, cn);
    if (depth > 0)
        snprintf(who, sizeof who, "the root certificate (checking %s)", cn);
    else
        snprintf(who, sizeof who, "certificate of %s", cn);
    s_time(at, t_at);
    extra[0] = '\0';
    if (e == X509_V_ERR_CERT_HAS_EXPIRED
        && s_time_get(X509_get0_notAfter(bad), &bound) == 0) {
        s_time(bound, t);
        snprintf(extra, sizeof extra, "; it was valid until %s", t);
    } else if (e == X509_V_ERR_CERT_NOT_YET_VALID
        && s_time_get(X509_get0_notBefore(bad), &bound) == 0) {
        s_time(bound, t);
        snprintf(extra, sizeof extra, "; it is valid from %s", t);
    } else if (e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        || e == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) {
        snprintf(extra, sizeof extra, "; it was not issued by this "
            "federation's root");
    }
    errbuf_set(err, "%s does not verify as of %s: %s%s", who, t_at, why,
        extra);
}

int
x509_cert_times(X509 *cert, int64_t *not_before, int64_t *not_after,
    errbuf_t *err)
{
    if (s_time_get(X509_get0_notBefore(cert), not_before) != 0
        || s_time_get(X509_get0_notAfter(cert), not_after) != 0) {
        ERR_clear_error();
        errbuf_set(err, "the certificate's validity period cannot be read");
        return -1;
    }
    return 0;
}

int
x509_cert_verify(X509 *root, X509 *cert, int64_t at, x509_identity_t *out,
    errbuf_t *err)
{
    X509_STORE        *store = NULL;
    X509_STORE_CTX    *ctx = NULL;
    X509_VERIFY_PARAM *param;
    x509_identity_t    id;
    uint32_t           ku;
    char               cn[32];
    ASN1_INTEGER      *serial;
    BIGNUM            *bn = NULL;
    char              *hex = NULL;
    size_t             i;
    int                rc = -1;

    if (at < 0 || at > S_TIME_MAX) {
        errbuf_set(err, "verification time %lld is out of range",
            (long long)at);
        return -1;
    }
    if ((store = X509_STORE_new()) == NULL
        || X509_STORE_add_cert(store, root) != 1
        || (ctx = X509_STORE_CTX_new()) == NULL
        || X509_STORE_CTX_init(ctx, store, cert, NULL) != 1) {
        s_ossl(err, "cannot set up certificate verification");
        goto cleanup;
    }
    param = X509_STORE_CTX_get0_param(ctx);
    X509_VERIFY_PARAM_set_time(param, (time_t)at);
    X509_VERIFY_PARAM_set_depth(param, 0);
    X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_X509_STRICT);
    if (X509_verify_cert(ctx) != 1) {
        s_verify_error(ctx, cert, at, err);
        goto cleanup;
    }
    s_cn_shown(cert, cn);
    if (X509_check_ca(cert) != 0) {
        errbuf_set(err, "certificate of %s is a CA certificate, not a "
            "participant's", cn);
        goto cleanup;
    }
    ku = X509_get_key_usage(cert);
    if (ku == UINT32_MAX || (ku & KU_DIGITAL_SIGNATURE) == 0) {
        errbuf_set(err, "certificate of %s is not for digital signatures "
            "(keyUsage)", cn);
        goto cleanup;
    }
    if (s_identity(X509_get_subject_name(cert), X509_get0_pubkey(cert),
            X509_get0_extensions(cert), "the certificate", &id, err) != 0)
        goto cleanup;
    if (s_time_get(X509_get0_notBefore(cert), &id.not_before) != 0
        || s_time_get(X509_get0_notAfter(cert), &id.not_after) != 0) {
        errbuf_set(err, "certificate of %s: validity cannot be read", cn);
        goto cleanup;
    }
    serial = X509_get_serialNumber(cert);
    if ((bn = ASN1_INTEGER_to_BN(serial, NULL)) == NULL
        || (hex = BN_bn2hex(bn)) == NULL) {
        s_ossl(err, "cannot read the serial number");
        goto cleanup;
    }
    for (i = 0; hex[i] != '\0' && i + 1 < sizeof id.serial; i++)
        id.serial[i] = (char)(hex[i] >= 'A' && hex[i] <= 'F'
                ? hex[i] - 'A' + 'a' : hex[i]);
    id.serial[i] = '\0';
    if (out != NULL)
        *out = id;
    rc = 0;
cleanup:
    OPENSSL_free(hex);
    BN_free(bn);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    ERR_clear_error();
    return rc;
}

int
x509_cert_verify_file(const char *cert_path, const char *root_path,
    int64_t at, x509_identity_t *out, errbuf_t *err)
{
    X509 *root = NULL, *cert = NULL;
    int   rc = -1;

    if (x509_root_load(root_path, &root, err) != 0)
        return -1;
    if (x509_cert_load(cert_path, &cert, err) != 0)
        goto cleanup;
    if (x509_cert_verify(root, cert, at, out, err) != 0) {
        errbuf_prefix(err, "%s", cert_path);
        goto cleanup;
    }
    rc = 0;
cleanup:
    X509_free(cert);
    X509_free(root);
    return rc;
}
