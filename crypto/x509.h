/*
 * x509: the federation's public key infrastructure, on OpenSSL 3.
 *
 * The operator holds the root CA: a self-signed Ed25519 certificate whose
 * key is kept in the project's own encrypted key file ("ca" identity, see
 * crypto/keys.h). A member (or the hub) enrolls with a certificate request
 * signed by its Ed25519 sign key; the request also carries its X25519 box
 * key and CurveZMQ transport key in a private extension. The operator
 * checks the request and issues a certificate for the same keys. Nodes
 * check every certificate against the root with X509_verify_cert at the
 * time that matters (a package's creation time), never against the clock.
 *
 * Certificate and extension layouts are in docs/REGISTRY.md.
 *
 * Identities: a certificate's CN is a state code (three capital letters,
 * ISO 3166-1 alpha-3 such as "ARG") or "hub"; its O is the federation name.
 *
 * Times are Unix seconds. Every function fills err with a message naming
 * the problem; OpenSSL's error queue is cleared on return.
 */
#ifndef CSBM_X509_H
#define CSBM_X509_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "crypto/keys.h"
#include "proto/errbuf.h"

/* Key-binding extension: OID, payload version and payload length
 * (version byte, box key, transport key). The OID is a placeholder under
 * the IANA private-enterprise arc; see docs/REGISTRY.md before issuing
 * certificates in production. */
#define X509_BINDING_OID     "1.3.6.1.4.1.99999.1.1"
#define X509_BINDING_VERSION 1
#define X509_BINDING_LEN     (1 + KEYS_BOX_PK_BYTES + KEYS_BOX_PK_BYTES)

/* Bytes of UTF-8, so that the root's CN "<name> Root CA" fits X.520's 64. */
#define X509_FEDERATION_MAX  56
#define X509_PEM_MAX         (16u * 1024) /* largest request or cert read */
#define X509_DER_MAX         (16u * 1024)
#define X509_ROOT_DAYS       3650         /* default root validity */
#define X509_MAX_DAYS        36500
#define X509_CA_OWNER        "ca"         /* key file owner of the root key */
#define X509_HUB_ID          "hub"

/* The root CA: its certificate and signing key (opaque). */
typedef struct x509_authority x509_ca_t;

/* What a request or a certificate says about its subject, after checks. */
typedef struct {
    keys_public_t pub;        /* owner = CN; sign key = the subject key */
    char          federation[X509_FEDERATION_MAX + 1]; /* O */
    int64_t       not_before; /* certificates only; 0 for a request */
    int64_t       not_after;  /* certificates only; the first second at
                                 which OpenSSL finds it expired */
    char          serial[41]; /* certificates only: hex, "" for a request */
} x509_identity_t;

/* Is id a certificate identity: three capital letters A-Z, or "hub"? */
int x509_id_valid(const char *id);

/* Is s display text: 1..max bytes of valid UTF-8 with no control
 * characters and no leading or trailing space? */
int x509_text_valid(const char *s, size_t max);

/* Is name a usable federation name: x509_text_valid with at most
 * X509_FEDERATION_MAX bytes? */
int x509_federation_valid(const char *name);

/* ------------------------------------------------------------------
 * Keys
 */

/* An OpenSSL Ed25519 key for a loaded KEYS_SIGN secret (built from the
 * 32-byte seed; OpenSSL wipes it when the key is freed). Caller owns the
 * result (EVP_PKEY_free). NULL with err on a key of another kind. */
EVP_PKEY *x509_key_from_secret(const keys_secret_t *sign_key, errbuf_t *err)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------
 * The root CA
 */

/* A self-signed root for federation, valid [not_before, not_after]:
 * subject and issuer CN="<federation> Root CA", O=<federation>;
 * basicConstraints CA:TRUE and keyUsage keyCertSign, cRLSign (both
 * critical); subject key identifier; a random 128-bit serial. Caller owns
 * *out (X509_free). */
int x509_root_new(EVP_PKEY *key, const char *federation, int64_t not_before,
    int64_t not_after, X509 **out, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The operator's one-time setup: create the "ca" identity in key_dir
 * (keys_generate; only its sign key is used), build a root valid from now
 * for days (1..X509_MAX_DAYS) and write it as PEM to cert_path (mode 0644;
 * an existing file is refused, before the slow key derivation). On failure
 * nothing new is left behind. */
int x509_ca_create(const char *key_dir, const char *federation, int days,
    const char *passphrase, size_t passphrase_len, const char *cert_path,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Load the root CA for issuing: the root certificate (checked as
 * x509_root_load does) and key_dir/ca.sign.key, which must be the key of
 * that certificate. Caller owns the result (x509_ca_destroy). */
x509_ca_t *x509_ca_load(const char *cert_path, const char *key_dir,
    const char *passphrase, size_t passphrase_len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* A CA from a root certificate and its key, both held in memory; takes
 * its own references. Checks as x509_ca_load does. */
x509_ca_t *x509_ca_new(X509 *root, EVP_PKEY *key, errbuf_t *err)
    __attribute__((warn_unused_result));

void x509_ca_destroy(x509_ca_t **self_p);

/* The root certificate (valid as long as the CA) and its federation. */
X509       *x509_ca_cert(const x509_ca_t *self);
const char *x509_ca_federation(const x509_ca_t *self);

/* Ed25519-sign msg with the root key (64-byte signature). */
int x509_ca_sign(const x509_ca_t *self, const uint8_t *msg, size_t len,
    uint8_t sig[KEYS_SIG_BYTES], errbuf_t *err)
    __attribute__((warn_unused_result));

/* Read a root certificate (PEM, at most X509_PEM_MAX bytes) and check it:
 * self-signed with a valid Ed25519 signature, a CA (basicConstraints
 * CA:TRUE) allowed to sign certificates, and a valid federation name as its
 * O. Its validity period is checked later, at the time of each use.
 * Caller owns *out (X509_free). */
int x509_root_load(const char *path, X509 **out, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The root's checks of x509_root_load on a certificate in memory; fills
 * federation (X509_FEDERATION_MAX + 1 bytes) and the raw Ed25519 key. */
int x509_root_check(X509 *root, char *federation,
    uint8_t pk[KEYS_SIGN_PK_BYTES], errbuf_t *err)
    __attribute__((warn_unused_result));

/* ------------------------------------------------------------------
 * Enrollment requests
 */

/* A request for pub (owner = the identity: a state code or "hub"), signed
 * with sign_key, which must be the key of pub->sign_pk: subject CN=owner,
 * O=federation; requested extension: the key binding (box and transport
 * keys). Caller owns *out (X509_REQ_free). */
int x509_request_new(EVP_PKEY *sign_key, const keys_public_t *pub,
    const char *federation, X509_REQ **out, errbuf_t *err)
    __attribute__((warn_unused_result));

/* A request as PEM text (NUL-terminated). Caller owns *out (free()). */
int x509_request_pem(X509_REQ *req, char **out, size_t *out_len,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The member's side of enrollment: read key_dir/<id>.pub and
 * key_dir/<id>.sign.key, build the request and write it as PEM to out_path
 * ("-" for standard output; an existing file is replaced). */
int x509_enroll_request(const char *key_dir, const char *id,
    const char *federation, const char *passphrase, size_t passphrase_len,
    const char *out_path, errbuf_t *err) __attribute__((warn_unused_result));

/* Check a request received as PEM text: it is one PEM certificate request
 * (at most X509_PEM_MAX bytes), its key is Ed25519, its signature verifies
 * under that key (so nothing in it was changed), its CN is a valid identity
 * (equal to expected, unless expected is NULL), its O a valid federation
 * name, and the key-binding extension is present once and well-formed with
 * usable keys. Fills *out (may be NULL). */
int x509_request_check(const char *pem, size_t len, const char *expected,
    x509_identity_t *out, errbuf_t *err) __attribute__((warn_unused_result));

/* The same for a file ("-" for standard input). */
int x509_request_check_file(const char *path, const char *expected,
    x509_identity_t *out, errbuf_t *err) __attribute__((warn_unused_result));

/* ------------------------------------------------------------------
 * Certificates
 */

/* Issue a certificate for a request (checked as x509_request_check does,
 * with expected as there, and its O equal to the CA's federation), valid
 * [not_before, not_after] inside the root's own validity: subject CN=<id>,
 * O=<federation>; the request's Ed25519 key; the key-binding extension;
 * basicConstraints CA:FALSE and keyUsage digitalSignature (critical);
 * subject and authority key identifiers; a random 128-bit serial. Caller
 * owns *out (X509_free). */
int x509_issue(const x509_ca_t *ca, const char *csr_pem, size_t csr_len,
    const char *expected, int64_t not_before, int64_t not_after, X509 **out,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Issue from a request file and write the certificate as PEM (mode 0644;
 * an existing file is refused). Valid from now for days. */
int x509_issue_file(const x509_ca_t *ca, const char *csr_path,
    const char *expected, int days, const char *cert_path, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Encodings of a certificate. Caller owns *out (free()); PEM text is
 * NUL-terminated. */
int x509_cert_der(X509 *cert, uint8_t **out, size_t *out_len, errbuf_t *err)
    __attribute__((warn_unused_result));
int x509_cert_pem(X509 *cert, char **out, size_t *out_len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Decode a certificate: DER (exactly len bytes, at most X509_DER_MAX) or a
 * PEM file. Caller owns *out (X509_free). No trust is implied. */
int x509_cert_from_der(const uint8_t *der, size_t len, X509 **out,
    errbuf_t *err) __attribute__((warn_unused_result));
int x509_cert_load(const char *path, X509 **out, errbuf_t *err)
    __attribute__((warn_unused_result));

/* A certificate's notBefore and notAfter as Unix seconds. */
int x509_cert_times(X509 *cert, int64_t *not_before, int64_t *not_after,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Check that cert was issued by root and was valid at time `at`
 * (X509_verify_cert with a store holding only the root, the verification
 * time set to `at`, no intermediate allowed): the message gives OpenSSL's
 * reason ("certificate has expired", "certificate is not yet valid",
 * "unable to get local issuer certificate" for another CA) and which
 * certificate failed. Then the certificate must be an end-entity
 * certificate (not a CA) for digital signatures, with a valid identity as
 * CN, an Ed25519 key and a well-formed key binding. Fills *out (may be
 * NULL) with the subject's keys. */
int x509_cert_verify(X509 *root, X509 *cert, int64_t at, x509_identity_t *out,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The same for a PEM certificate file and a root certificate file. */
int x509_cert_verify_file(const char *cert_path, const char *root_path,
    int64_t at, x509_identity_t *out, errbuf_t *err)
    __attribute__((warn_unused_result));

#endif
