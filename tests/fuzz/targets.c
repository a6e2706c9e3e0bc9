/*
 * targets: the fuzz entry points (see targets.h for the contract).
 *
 * Beside "does not crash, hang or leak", every target checks what the
 * parser promises its callers:
 *   - a refusal always comes with a message, and the message has no
 *     control characters (it is printed to terminals and logs);
 *   - what parses re-encodes, and the re-encoding reads back to the same
 *     thing (JSON packages, public keys, Merkle frontiers);
 *   - an envelope whose header parsed is re-signed with the fixed sender
 *     key (fuzz_envelope_resigned) and must then verify, so the fuzzer
 *     reaches the recipient lookup, key unwrapping and chunk decryption
 *     that a forged signature would otherwise hide; the registry target
 *     re-signs its payload with the fixed root key the same way.
 */
#include "tests/fuzz/targets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "config/keyring.h"
#include "config/registry.h"
#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "crypto/merkle.h"
#include "crypto/x509.h"
#include "proto/json_codec.h"
#include "proto/package.pb-c.h"
#include "proto/validate.h"
#include "tests/fuzz/fixture.h"

const fuzz_target_t fuzz_targets[] = {
    {"envelope", fuzz_envelope, 0},
    {"envelope_resigned", fuzz_envelope_resigned, 0},
    {"json_package", fuzz_json_package, 0},
    {"package_pb", fuzz_package_pb, 0},
    {"keys_public", fuzz_keys_public, 0},
    /* magic, kind, owner length, owner "KAT", kdf: the bytes before the
     * Argon2id settings */
    {"keys_secret", fuzz_keys_secret, 14},
    {"registry", fuzz_registry, 0},
    {"x509_request", fuzz_x509_request, 0},
    {"config", fuzz_config, 0},
    {"merkle", fuzz_merkle, 0},
    {NULL, NULL, 0},
};

const fuzz_target_t *
fuzz_target_find(const char *name)
{
    const fuzz_target_t *t;

    for (t = fuzz_targets; t->name != NULL; t++)
        if (strcmp(t->name, name) == 0)
            return t;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Invariants */

static void
s_fail(const char *target, const char *what, const char *detail)
{
    fprintf(stderr, "fuzz target %s: %s%s%s\n", target, what,
            detail != NULL ? ": " : "", detail != NULL ? detail : "");
    abort();
}

/* A refusal must say why, in printable text. Multi-byte UTF-8 is fine. */
static void
s_check_refusal(const char *target, const errbuf_t *err)
{
    const unsigned char *p;

    if (err->msg[0] == '\0')
        s_fail(target, "refused without an error message", NULL);
    for (p = (const unsigned char *)err->msg; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            s_fail(target, "error message holds a control character", err->msg);
}

/* ------------------------------------------------------------------ */
/* Envelopes */

static void
s_envelope_run(const char *target, const envelope_t *env)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    size_t                i;

    for (i = 0; i < FUZZ_N_RECIPIENTS; i++) {
        uint8_t *plain = NULL;
        size_t   plain_len = 0;
        errbuf_t err = {{0}};

        if (envelope_open(env, fx->recipient[i], fx->box_sk[i], fx->box_pk[i],
                          &plain, &plain_len, &err) != 0) {
            s_check_refusal(target, &err);
            if (plain != NULL)
                s_fail(target, "failed open left a plaintext", NULL);
            continue;
        }
        sodium_memzero(plain, plain_len);
        free(plain);
    }
}

void
fuzz_envelope(const uint8_t *data, size_t size)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    envelope_t           *env;
    const uint8_t        *bytes;
    size_t                len = 0;
    errbuf_t              err = {{0}};

    if ((env = envelope_parse(data, size, &err)) == NULL) {
        s_check_refusal("envelope", &err);
        return;
    }
    bytes = envelope_bytes(env, &len);
    if (len != size || memcmp(bytes, data, size) != 0)
        s_fail("envelope", "envelope_bytes differ from the input", NULL);
    if (envelope_verify(env, fx->sign_pk, &err) != 0)
        s_check_refusal("envelope", &err);
    else
        s_envelope_run("envelope", env);
    envelope_destroy(&env);
}

/* Put a valid signature (and body hash) on the parsed header, as the fixed
 * sender would have. Caller frees. NULL if it cannot be done. */
static uint8_t *
s_envelope_resign(const envelope_t *env, size_t *out_len)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    Csbm__EnvelopeHeader *h;
    const uint8_t        *hb, *all;
    size_t                hl = 0, len = 0, body_len, new_hl, total, msg_len;
    uint8_t              *out = NULL, *msg = NULL;
    static const char     label[] = ENVELOPE_SIG_LABEL;

    hb = envelope_header_bytes(env, &hl);
    all = envelope_bytes(env, &len);
    body_len = len - ENVELOPE_PREFIX_BYTES - hl - ENVELOPE_SIG_BYTES;
    h = csbm__envelope_header__unpack(NULL, hl, hb);
    if (h == NULL || h->body_hash.len != ENVELOPE_HASH_BYTES ||
        h->sender_key_id.len != KEYS_ID_BYTES)
        goto done;
    crypto_generichash(h->body_hash.data, ENVELOPE_HASH_BYTES,
                       all + len - body_len, body_len, NULL, 0);
    memcpy(h->sender_key_id.data, fx->sign_key_id, KEYS_ID_BYTES);
    new_hl = csbm__envelope_header__get_packed_size(h);
    total = ENVELOPE_PREFIX_BYTES + new_hl + ENVELOPE_SIG_BYTES + body_len;
    if ((out = malloc(total)) == NULL)
        goto done;
    memcpy(out, ENVELOPE_MAGIC, 4);
    out[4] = ENVELOPE_VERSION;
    out[5] = (uint8_t)(new_hl >> 24);
    out[6] = (uint8_t)(new_hl >> 16);
    out[7] = (uint8_t)(new_hl >> 8);
    out[8] = (uint8_t)new_hl;
    csbm__envelope_header__pack(h, out + ENVELOPE_PREFIX_BYTES);
    memcpy(out + ENVELOPE_PREFIX_BYTES + new_hl + ENVELOPE_SIG_BYTES,
           all + len - body_len, body_len);
    msg_len = sizeof label + 5 + new_hl;
    if ((msg = malloc(msg_len)) == NULL) {
        free(out);
        out = NULL;
        goto done;
    }
    memcpy(msg, label, sizeof label);
    memcpy(msg + sizeof label, out + 4, 5 + new_hl);
    crypto_sign_detached(out + ENVELOPE_PREFIX_BYTES + new_hl, NULL, msg,
                         msg_len, fx->sign_sk);
    *out_len = total;
done:
    free(msg);
    if (h != NULL)
        csbm__envelope_header__free_unpacked(h, NULL);
    return out;
}

void
fuzz_envelope_resigned(const uint8_t *data, size_t size)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    envelope_t           *env, *again;
    uint8_t              *signed_buf;
    size_t                signed_len = 0;
    errbuf_t              err = {{0}};

    if ((env = envelope_parse(data, size, &err)) == NULL) {
        s_check_refusal("envelope_resigned", &err);
        return;
    }
    signed_buf = s_envelope_resign(env, &signed_len);
    envelope_destroy(&env);
    if (signed_buf == NULL)
        return;
    /* Only the body hash and the sender key id changed, both fixed-size
     * fields of a header that parsed: it must parse and verify. */
    if ((again = envelope_parse(signed_buf, signed_len, &err)) == NULL)
        s_fail("envelope_resigned", "re-signed header no longer parses",
               err.msg);
    if (envelope_verify(again, fx->sign_pk, &err) != 0)
        s_fail("envelope_resigned", "re-signed envelope does not verify",
               err.msg);
    s_envelope_run("envelope_resigned", again);
    envelope_destroy(&again);
    free(signed_buf);
}

/* ------------------------------------------------------------------ */
/* Packages: JSON and protobuf */

/* Validate pkg, render it, read the rendering back and render that: the
 * two renderings must be the same text. */
static void
s_package_roundtrip(const char *target, const Csbm__Package *pkg,
                    int must_encode)
{
    validate_report_t *report = malloc(sizeof *report);
    ProtobufCMessage  *back;
    char              *text, *text2;
    size_t             i;
    errbuf_t           err = {{0}};

    if (report == NULL)
        return;
    if (validate_package(pkg, report) != report->total)
        s_fail(target, "validate_package count differs from its report", NULL);
    for (i = 0; i < report->count; i++) {
        errbuf_t e = {{0}};

        snprintf(e.msg, sizeof e.msg, "%s: %s", report->problems[i].path,
                 report->problems[i].message);
        s_check_refusal(target, &e);
    }
    free(report);
    (void)validate_package_type(pkg);
    if ((text = json_codec_encode(&pkg->base, &err)) == NULL) {
        if (must_encode)
            s_fail(target, "a decoded package does not encode", err.msg);
        s_check_refusal(target, &err);
        return;
    }
    back =
        json_codec_decode(&csbm__package__descriptor, text, strlen(text), &err);
    if (back == NULL)
        s_fail(target, "an encoded package does not decode", err.msg);
    if ((text2 = json_codec_encode(back, &err)) == NULL)
        s_fail(target, "a re-decoded package does not encode", err.msg);
    if (strcmp(text, text2) != 0)
        s_fail(target, "JSON round trip changed the package", NULL);
    free(text2);
    free(text);
    protobuf_c_message_free_unpacked(back, NULL);
}

void
fuzz_json_package(const uint8_t *data, size_t size)
{
    ProtobufCMessage *msg;
    errbuf_t          err = {{0}};

    msg = json_codec_decode(&csbm__package__descriptor, (const char *)data,
                            size, &err);
    if (msg == NULL) {
        s_check_refusal("json_package", &err);
        return;
    }
    s_package_roundtrip("json_package", (const Csbm__Package *)msg, 1);
    protobuf_c_message_free_unpacked(msg, NULL);
}

/* What envelope_open hands to package_open: protobuf bytes of a package. */
void
fuzz_package_pb(const uint8_t *data, size_t size)
{
    Csbm__Package *pkg = csbm__package__unpack(NULL, size, data);

    if (pkg == NULL)
        return;
    s_package_roundtrip("package_pb", pkg, 0);
    csbm__package__free_unpacked(pkg, NULL);
}

/* ------------------------------------------------------------------ */
/* Key files */

void
fuzz_keys_public(const uint8_t *data, size_t size)
{
    keys_public_t pub, again;
    char         *text = NULL;
    size_t        len = 0;
    errbuf_t      err = {{0}};

    memset(&pub, 0, sizeof pub);
    memset(&again, 0, sizeof again);
    if (keys_public_parse((const char *)data, size, &pub, &err) != 0) {
        s_check_refusal("keys_public", &err);
        return;
    }
    if (keys_public_encode(&pub, &text, &len, &err) != 0)
        s_fail("keys_public", "a parsed public key does not encode", err.msg);
    if (keys_public_parse(text, len, &again, &err) != 0)
        s_fail("keys_public", "an encoded public key does not parse", err.msg);
    if (memcmp(&pub, &again, sizeof pub) != 0)
        s_fail("keys_public", "public key round trip changed it", NULL);
    free(text);
}

void
fuzz_keys_secret(const uint8_t *data, size_t size)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    keys_secret_t        *key;
    keys_kind_t           kind = KEYS_SIGN;
    errbuf_t              err = {{0}};
    int                   fd;

    if (fx->secret_path[0] == '\0')
        return;
    /* Ask for the kind the file says, so all three kinds are reached. */
    if (size > 8 && data[8] >= KEYS_SIGN && data[8] <= KEYS_TRANSPORT)
        kind = (keys_kind_t)data[8];
    fd = open(fx->secret_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return;
    if (size > 0 && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return;
    }
    close(fd);
    key = keys_secret_load(fx->secret_path, kind, FUZZ_PASSPHRASE,
                           strlen(FUZZ_PASSPHRASE), &err);
    if (key == NULL) {
        s_check_refusal("keys_secret", &err);
        return;
    }
    if (keys_secret_kind(key) != kind)
        s_fail("keys_secret", "loaded a key of another kind", NULL);
    keys_secret_destroy(&key);
}

/* ------------------------------------------------------------------ */
/* Registry and certificates */

static void
s_registry_run(const uint8_t *data, size_t size)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    registry_t           *reg = NULL;
    keyring_t            *kr;
    errbuf_t              err = {{0}};

    if (registry_parse(data, size, fx->root, &reg, &err) != 0) {
        s_check_refusal("registry", &err);
        if (reg != NULL)
            s_fail("registry", "failed parse left a registry", NULL);
        return;
    }
    (void)registry_federation(reg);
    (void)registry_member_count(reg);
    if ((kr = keyring_new()) != NULL) {
        if (registry_to_keyring(reg, kr, &err) != 0)
            s_check_refusal("registry", &err);
        keyring_destroy(&kr);
    }
    registry_destroy(&reg);
}

void
fuzz_registry(const uint8_t *data, size_t size)
{
    const fuzz_fixture_t *fx = fuzz_fixture();
    static const char     ctx[] = REGISTRY_SIG_CONTEXT;
    uint8_t              *copy, *msg;
    size_t                body;

    s_registry_run(data, size);
    if (fx->root == NULL || size < REGISTRY_HEADER_BYTES + KEYS_SIG_BYTES ||
        size > REGISTRY_MAX_BYTES)
        return;
    /* The same bytes under a valid root signature: reaches the payload. */
    body = size - KEYS_SIG_BYTES;
    copy = malloc(size);
    msg = malloc(sizeof ctx + body);
    if (copy != NULL && msg != NULL) {
        memcpy(copy, data, size);
        memcpy(msg, ctx, sizeof ctx);
        memcpy(msg + sizeof ctx, data, body);
        crypto_sign_detached(copy + body, NULL, msg, sizeof ctx + body,
                             fx->root_sk);
        s_registry_run(copy, size);
    }
    free(msg);
    free(copy);
}

/* A request as PEM, or DER that the target wraps in PEM armour so that the
 * fuzzer can work on the ASN.1 directly. */
void
fuzz_x509_request(const uint8_t *data, size_t size)
{
    static const char begin[] = "-----BEGIN CERTIFICATE REQUEST-----\n";
    static const char end[] = "-----END CERTIFICATE REQUEST-----\n";
    x509_identity_t   id;
    char             *pem = NULL, *b64 = NULL;
    size_t            pem_len, b64_len, i, p;
    errbuf_t          err = {{0}};

    if (size >= 5 && memcmp(data, "-----", 5) == 0) {
        if (x509_request_check((const char *)data, size, NULL, &id, &err) != 0)
            s_check_refusal("x509_request", &err);
        if (x509_request_check((const char *)data, size, "ARG", NULL, &err) !=
            0)
            s_check_refusal("x509_request", &err);
        return;
    }
    if (size > X509_PEM_MAX)
        return;
    b64_len = sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL);
    pem_len = sizeof begin + b64_len + b64_len / 64 + 1 + sizeof end;
    b64 = malloc(b64_len);
    pem = malloc(pem_len);
    if (b64 == NULL || pem == NULL)
        goto done;
    sodium_bin2base64(b64, b64_len, data, size, sodium_base64_VARIANT_ORIGINAL);
    p = 0;
    memcpy(pem, begin, sizeof begin - 1);
    p += sizeof begin - 1;
    for (i = 0; b64[i] != '\0'; i++) {
        pem[p++] = b64[i];
        if (i % 64 == 63)
            pem[p++] = '\n';
    }
    if (p == 0 || pem[p - 1] != '\n')
        pem[p++] = '\n';
    memcpy(pem + p, end, sizeof end - 1);
    p += sizeof end - 1;
    if (x509_request_check(pem, p, NULL, &id, &err) != 0)
        s_check_refusal("x509_request", &err);
done:
    free(b64);
    free(pem);
}

/* ------------------------------------------------------------------ */
/* Configuration */

void
fuzz_config(const uint8_t *data, size_t size)
{
    config_t *cfg = malloc(sizeof *cfg);
    errbuf_t  err = {{0}};

    if (cfg == NULL)
        return;
    config_defaults(cfg);
    if (config_parse((const char *)data, size, "/etc/csbm/node.ini", cfg,
                     &err) != 0)
        s_check_refusal("config", &err);
    free(cfg);
}

/* ------------------------------------------------------------------ */
/* Merkle tree */

static uint64_t
s_u64(const uint8_t *p)
{
    uint64_t v = 0;
    int      i;

    for (i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

/* Byte 0 picks the operation:
 *   0  frontier: the rest is a serialized frontier;
 *   1  inclusion: index (u64 BE), tree size, leaf hash, root, proof hashes;
 *   2  consistency: old size, new size, old root, new root, proof hashes.
 * A trailing partial hash is ignored. */
void
fuzz_merkle(const uint8_t *data, size_t size)
{
    const size_t fixed = 8 + 8 + 2 * MERKLE_HASH_BYTES;
    errbuf_t     err = {{0}};

    if (size < 1)
        return;
    switch (data[0] % 3) {
    case 0: {
        merkle_frontier_t f, g;
        uint8_t           out[MERKLE_FRONTIER_MAX_BYTES], leaf[32] = {0};
        uint8_t           root[MERKLE_HASH_BYTES];
        size_t            out_len = 0;

        if (merkle_frontier_parse(&f, data + 1, size - 1, &err) != 0) {
            s_check_refusal("merkle", &err);
            if (merkle_frontier_size(&f) != 0)
                s_fail("merkle", "failed parse left a non-empty frontier",
                       NULL);
            return;
        }
        if (merkle_frontier_serialize(&f, out, sizeof out, &out_len, &err) != 0)
            s_fail("merkle", "a parsed frontier does not serialize", err.msg);
        if (out_len != size - 1 || memcmp(out, data + 1, out_len) != 0)
            s_fail("merkle", "frontier round trip changed it", NULL);
        if (merkle_frontier_serialized_len(&f) != out_len)
            s_fail("merkle", "serialized_len differs from serialize", NULL);
        g = f;
        if (merkle_frontier_append(&g, leaf, &err) != 0)
            s_check_refusal("merkle", &err);
        merkle_frontier_root(&g, root);
        break;
    }
    case 1:
    case 2: {
        uint8_t(*proof)[MERKLE_HASH_BYTES] = NULL;
        uint64_t a, b;
        size_t   n;
        int      rc;

        if (size < 1 + fixed)
            return;
        a = s_u64(data + 1);
        b = s_u64(data + 9);
        n = (size - 1 - fixed) / MERKLE_HASH_BYTES;
        /* a copy: the verifiers take an array of hashes */
        if (n > 0 && (proof = malloc(n * MERKLE_HASH_BYTES)) == NULL)
            return;
        if (n > 0)
            memcpy(proof, data + 1 + fixed, n * MERKLE_HASH_BYTES);
        if (data[0] % 3 == 1)
            rc = merkle_inclusion_verify(
                data + 17, a, b, (const uint8_t(*)[MERKLE_HASH_BYTES])proof, n,
                data + 17 + MERKLE_HASH_BYTES, &err);
        else
            rc = merkle_consistency_verify(
                a, b, data + 17, data + 17 + MERKLE_HASH_BYTES,
                (const uint8_t(*)[MERKLE_HASH_BYTES])proof, n, &err);
        free(proof);
        if (rc != 0)
            s_check_refusal("merkle", &err);
        break;
    }
    }
}
