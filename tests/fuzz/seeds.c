/*
 * seeds: the starting inputs of every fuzz target, built at run time.
 *
 * From the committed vectors and samples (tests/vectors, examples,
 * the config samples) and, where no file exists, generated with the
 * fixture's keys: envelopes of several shapes, a registry with members,
 * an enrollment request (PEM and DER), Merkle frontiers and proofs. Nothing
 * binary is committed for seeding.
 */
#include <dirent.h>
#include <limits.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/registry.h"
#include "crypto/envelope.h"
#include "crypto/fileio.h"
#include "crypto/merkle.h"
#include "crypto/x509.h"
#include "proto/json_codec.h"
#include "proto/package.pb-c.h"
#include "tests/fuzz/fixture.h"
#include "tests/fuzz/targets.h"

#define S_FILE_MAX (1024u * 1024)
#define S_DAY INT64_C(86400)
#define S_YEAR (365 * S_DAY)

typedef struct {
    fuzz_seed_fn fn;
    void        *ctx;
    const char  *src;
    int          count;
    int          stop;
    errbuf_t    *err;
} s_run_t;

static void
s_emit(s_run_t *r, const char *name, const uint8_t *data, size_t size)
{
    if (r->stop)
        return;
    r->count++;
    if (r->fn(r->ctx, name, data, size) != 0)
        r->stop = 1;
}

/* Read a file under the source tree; NULL if it is not there. */
static uint8_t *
s_read(const s_run_t *r, const char *rel, size_t *len)
{
    char     path[PATH_MAX];
    uint8_t *buf = NULL;
    errbuf_t err = {{0}};

    snprintf(path, sizeof path, "%s/%s", r->src, rel);
    if (fileio_read(path, S_FILE_MAX, &buf, len, &err) != 0)
        return NULL;
    return buf;
}

static void
s_file(s_run_t *r, const char *rel)
{
    size_t   len = 0;
    uint8_t *buf = s_read(r, rel, &len);

    if (buf != NULL)
        s_emit(r, rel, buf, len);
    free(buf);
}

/* Call each(r, rel) for every file of dir (under the source tree) whose
 * name ends in suffix, in name order. */
static void
s_each_file(s_run_t *r, const char *dir, const char *suffix,
            void (*each)(s_run_t *, const char *))
{
    char            path[PATH_MAX], rel[PATH_MAX];
    struct dirent **names = NULL;
    int             n, i;
    size_t          sl = strlen(suffix);

    snprintf(path, sizeof path, "%s/%s", r->src, dir);
    if ((n = scandir(path, &names, NULL, alphasort)) < 0)
        return;
    for (i = 0; i < n; i++) {
        size_t nl = strlen(names[i]->d_name);

        if (nl > sl && strcmp(names[i]->d_name + nl - sl, suffix) == 0) {
            snprintf(rel, sizeof rel, "%s/%s", dir, names[i]->d_name);
            each(r, rel);
        }
        free(names[i]);
    }
    free(names);
}

/* ------------------------------------------------------------------ */
/* Envelopes */

static void
s_seal(s_run_t *r, const char *name, size_t plain_len, size_t n_recipients)
{
    const fuzz_fixture_t  *fx = fuzz_fixture();
    envelope_recipient_t   rcp[FUZZ_N_RECIPIENTS];
    envelope_seal_params_t p;
    uint8_t                seed[32], ref[1][ENVELOPE_ID_BYTES];
    uint8_t               *plain = NULL, *out = NULL;
    size_t                 out_len = 0, i;
    errbuf_t               err = {{0}};

    memset(&p, 0, sizeof p);
    memset(seed, 0x80, sizeof seed);
    memset(ref[0], 0xf0, sizeof ref[0]);
    for (i = 0; i < n_recipients; i++) {
        rcp[i].id = fx->recipient[i];
        rcp[i].box_pk = fx->box_pk[i];
    }
    if (plain_len > 0 && (plain = malloc(plain_len)) == NULL)
        return;
    for (i = 0; i < plain_len; i++)
        plain[i] = (uint8_t)(i * 7);
    p.federation = FUZZ_FEDERATION;
    p.sender = "ARG";
    p.sign_sk = fx->sign_sk;
    p.package_type = CSBM__PACKAGE_TYPE__MILEX_REPORT;
    p.distribution = CSBM__DISTRIBUTION__DIRECT;
    p.recipients = rcp;
    p.n_recipients = n_recipients;
    p.created_at = (uint64_t)FUZZ_T_START;
    p.sequence = 7;
    p.references = (const uint8_t(*)[ENVELOPE_ID_BYTES])ref;
    p.n_references = 1;
    p.year = 2024;
    p.subject_date = "2025-04-30";
    p.deterministic_seed = seed;
    if (envelope_seal(&p, plain, plain_len, &out, &out_len, &err) == 0)
        s_emit(r, name, out, out_len);
    else
        fprintf(stderr, "fuzz seeds: %s: %s\n", name, err.msg);
    free(out);
    free(plain);
}

static void
s_envelope_seeds(s_run_t *r)
{
    s_file(r, "tests/vectors/envelope/envelope.csbm");
    s_seal(r, "sealed-empty", 0, 1);
    s_seal(r, "sealed-small", 100, 2);
    /* two body chunks, the last one short */
    s_seal(r, "sealed-two-chunks", ENVELOPE_CHUNK_SIZE + 100, 2);
}

/* ------------------------------------------------------------------ */
/* Packages */

static void
s_json_to_pb(s_run_t *r, const char *rel)
{
    size_t            len = 0, n;
    uint8_t          *text = s_read(r, rel, &len), *pb;
    ProtobufCMessage *msg;

    if (text == NULL)
        return;
    msg = json_codec_decode(&csbm__package__descriptor, (const char *)text, len,
                            NULL);
    free(text);
    if (msg == NULL)
        return;
    n = protobuf_c_message_get_packed_size(msg);
    if ((pb = malloc(n + 1)) != NULL) {
        protobuf_c_message_pack(msg, pb);
        s_emit(r, rel, pb, n);
        free(pb);
    }
    protobuf_c_message_free_unpacked(msg, NULL);
}

static void
s_package_seeds(s_run_t *r, int json)
{
    void (*each)(s_run_t *, const char *) = json ? s_file : s_json_to_pb;

    s_each_file(r, "tests/vectors/json", ".json", each);
    s_each_file(r, "examples", ".json", each);
    s_each_file(r, "examples/invalid", ".json", each);
    if (!json)
        s_file(r, "tests/vectors/envelope/plaintext.bin");
}

/* ------------------------------------------------------------------ */
/* Enrollment requests and the registry */

/* A request for owner with keys from seed byte b. PEM, caller frees. */
static char *
s_request(const char *owner, uint8_t b, size_t *len)
{
    uint8_t seed[32], spk[32], ssk[64], bpk[32], bsk[32], tpk[32], tsk[32];
    keys_public_t pub;
    EVP_PKEY     *key;
    X509_REQ     *req = NULL;
    char         *pem = NULL;
    errbuf_t      err = {{0}};

    memset(seed, b, sizeof seed);
    crypto_sign_seed_keypair(spk, ssk, seed);
    seed[0] ^= 1;
    crypto_box_seed_keypair(bpk, bsk, seed);
    seed[0] ^= 2;
    crypto_box_seed_keypair(tpk, tsk, seed);
    sodium_memzero(ssk, sizeof ssk);
    memset(seed, b, sizeof seed);
    key = fuzz_ed25519_key(seed);
    if (key == NULL ||
        keys_public_init(&pub, owner, spk, bpk, tpk, &err) != 0 ||
        x509_request_new(key, &pub, FUZZ_FEDERATION, &req, &err) != 0 ||
        x509_request_pem(req, &pem, len, &err) != 0) {
        fprintf(stderr, "fuzz seeds: request for %s: %s\n", owner, err.msg);
        pem = NULL;
    }
    X509_REQ_free(req);
    EVP_PKEY_free(key);
    return pem;
}

static void
s_x509_seeds(s_run_t *r)
{
    size_t         len = 0;
    char          *pem = s_request("ARG", 0x31, &len);
    BIO           *bio;
    X509_REQ      *req;
    unsigned char *der = NULL;
    int            n;

    if (pem == NULL)
        return;
    s_emit(r, "request.pem", (const uint8_t *)pem, len);
    if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL) {
        if ((req = PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL)) != NULL) {
            if ((n = i2d_X509_REQ(req, &der)) > 0)
                s_emit(r, "request.der", der, (size_t)n);
            OPENSSL_free(der);
            X509_REQ_free(req);
        }
        BIO_free(bio);
    }
    free(pem);
}

static int
s_write_tmp(const char *path, const char *text, size_t len)
{
    errbuf_t err = {{0}};

    return fileio_write(path, text, len, 0600, 0, &err);
}

static void
s_registry_seeds(s_run_t *r)
{
    static const struct {
        const char *id, *name;
        uint8_t     b;
    } members[] = {
        {"ARG", "Argentina", 0x31},
        {"CHL", "Chile", 0x32},
        {"hub", NULL, 0x33},
    };
    const fuzz_fixture_t *fx = fuzz_fixture();
    char                  dir[64], path[PATH_MAX], csr[PATH_MAX];
    int64_t               now = FUZZ_T_START + 10;
    uint8_t              *buf = NULL;
    size_t                len = 0, i;
    errbuf_t              err = {{0}};
    char                  key_id[2 * KEYS_ID_BYTES + 1];

    if (fx->ca == NULL)
        return;
    snprintf(dir, sizeof dir, "/tmp/csbm-fuzz-seeds.XXXXXX");
    if (mkdtemp(dir) == NULL)
        return;
    snprintf(path, sizeof path, "%s/registry.bin", dir);
    snprintf(csr, sizeof csr, "%s/request.csr", dir);
    if (registry_init(path, fx->ca, now, &err) != 0)
        goto done;
    if (fileio_read(path, REGISTRY_MAX_BYTES, &buf, &len, &err) == 0)
        s_emit(r, "registry-empty", buf, len);
    free(buf);
    buf = NULL;
    for (i = 0; i < sizeof members / sizeof members[0]; i++) {
        size_t plen = 0;
        char  *pem = s_request(members[i].id, members[i].b, &plen);

        if (pem == NULL || s_write_tmp(csr, pem, plen) != 0 ||
            registry_add_member(path, fx->ca, members[i].id, members[i].name,
                                csr, FUZZ_T_START, FUZZ_T_START + 2 * S_YEAR,
                                ++now, &err) != 0) {
            free(pem);
            goto done;
        }
        free(pem);
    }
    /* a rotated and a revoked key, a suspended member */
    {
        size_t  plen = 0;
        char   *pem = s_request("ARG", 0x41, &plen);
        uint8_t spk[32], ssk[64], seed[32], kid[KEYS_ID_BYTES];

        memset(seed, 0x31, sizeof seed);
        crypto_sign_seed_keypair(spk, ssk, seed);
        sodium_memzero(ssk, sizeof ssk);
        keys_id(spk, kid);
        keys_id_hex(kid, key_id);
        if (pem == NULL || s_write_tmp(csr, pem, plen) != 0 ||
            registry_rotate(path, fx->ca, "ARG", csr, FUZZ_T_START + S_YEAR,
                            FUZZ_T_START + 3 * S_YEAR, ++now, &err) != 0 ||
            registry_revoke(path, fx->ca, "ARG", key_id,
                            FUZZ_T_START + S_YEAR / 2, "key compromised", ++now,
                            &err) != 0 ||
            registry_set_status(path, fx->ca, "CHL", REGISTRY_SUSPENDED,
                                FUZZ_T_START + S_YEAR, ++now, &err) != 0)
            fprintf(stderr, "fuzz seeds: registry: %s\n", err.msg);
        free(pem);
    }
    if (fileio_read(path, REGISTRY_MAX_BYTES, &buf, &len, &err) == 0)
        s_emit(r, "registry", buf, len);
    free(buf);
done:
    if (err.msg[0] != '\0' && r->count == 0)
        fprintf(stderr, "fuzz seeds: registry: %s\n", err.msg);
    unlink(csr);
    unlink(path);
    snprintf(path, sizeof path, "%s/registry.bin.state", dir);
    unlink(path);
    rmdir(dir);
}

/* ------------------------------------------------------------------ */
/* Merkle */

static void
s_leaf(uint64_t i, uint8_t out[MERKLE_HASH_BYTES])
{
    uint8_t e[8];
    int     k;

    for (k = 0; k < 8; k++)
        e[k] = (uint8_t)(i >> (56 - 8 * k));
    merkle_leaf_hash(e, sizeof e, out);
}

static void
s_put_u64(uint8_t *p, uint64_t v)
{
    int k;

    for (k = 0; k < 8; k++)
        p[k] = (uint8_t)(v >> (56 - 8 * k));
}

static int
s_leaf_fn(void *ctx, uint64_t index, uint8_t out[MERKLE_HASH_BYTES])
{
    (void)ctx;
    s_leaf(index, out);
    return 0;
}

static void
s_merkle_seeds(s_run_t *r)
{
    static const uint64_t sizes[] = {0, 1, 7, 64, 100, 1000};
    merkle_frontier_t     f;
    uint8_t               buf[1 + 16 + 2 * MERKLE_HASH_BYTES +
                MERKLE_MAX_PROOF * MERKLE_HASH_BYTES];
    uint8_t  proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], root[32], old[32];
    size_t   k, len = 0, n = 0;
    uint64_t i;
    char     name[64];
    errbuf_t err = {{0}};

    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        merkle_frontier_init(&f);
        for (i = 0; i < sizes[k]; i++) {
            uint8_t h[32];

            s_leaf(i, h);
            if (merkle_frontier_append(&f, h, &err) != 0)
                return;
        }
        buf[0] = 0;
        if (merkle_frontier_serialize(&f, buf + 1, sizeof buf - 1, &len,
                                      &err) != 0)
            return;
        snprintf(name, sizeof name, "frontier-%llu",
                 (unsigned long long)sizes[k]);
        s_emit(r, name, buf, len + 1);
    }
    /* inclusion of leaf 5 of 100 and of 999 of 1000 */
    for (k = 0; k < 2; k++) {
        uint64_t size = k ? 1000 : 100, index = k ? 999 : 5;

        if (merkle_inclusion_proof(s_leaf_fn, NULL, index, size, proof, &n,
                                   &err) != 0 ||
            merkle_subtree_root(s_leaf_fn, NULL, 0, size, root, &err) != 0)
            return;
        buf[0] = 1;
        s_put_u64(buf + 1, index);
        s_put_u64(buf + 9, size);
        s_leaf(index, buf + 17);
        memcpy(buf + 17 + 32, root, 32);
        memcpy(buf + 17 + 64, proof, n * 32);
        snprintf(name, sizeof name, "inclusion-%llu-%llu",
                 (unsigned long long)index, (unsigned long long)size);
        s_emit(r, name, buf, 17 + 64 + n * 32);
    }
    /* consistency 7 -> 100 and 64 -> 1000 */
    for (k = 0; k < 2; k++) {
        uint64_t o = k ? 64 : 7, nn = k ? 1000 : 100;

        if (merkle_consistency_proof(s_leaf_fn, NULL, o, nn, proof, &n, &err) !=
                0 ||
            merkle_subtree_root(s_leaf_fn, NULL, 0, o, old, &err) != 0 ||
            merkle_subtree_root(s_leaf_fn, NULL, 0, nn, root, &err) != 0)
            return;
        buf[0] = 2;
        s_put_u64(buf + 1, o);
        s_put_u64(buf + 9, nn);
        memcpy(buf + 17, old, 32);
        memcpy(buf + 17 + 32, root, 32);
        memcpy(buf + 17 + 64, proof, n * 32);
        snprintf(name, sizeof name, "consistency-%llu-%llu",
                 (unsigned long long)o, (unsigned long long)nn);
        s_emit(r, name, buf, 17 + 64 + n * 32);
    }
}

/* ------------------------------------------------------------------ */

int
fuzz_seeds(const char *name, const char *source_dir, fuzz_seed_fn fn, void *ctx,
           errbuf_t *err)
{
    s_run_t r = {fn, ctx, source_dir, 0, 0, err};

    if (fuzz_target_find(name) == NULL) {
        errbuf_set(err, "unknown fuzz target \"%s\"", name);
        return -1;
    }
    if (strcmp(name, "envelope") == 0 || strcmp(name, "envelope_resigned") == 0)
        s_envelope_seeds(&r);
    else if (strcmp(name, "json_package") == 0)
        s_package_seeds(&r, 1);
    else if (strcmp(name, "package_pb") == 0)
        s_package_seeds(&r, 0);
    else if (strcmp(name, "keys_public") == 0)
        s_file(&r, "tests/vectors/keys/KAT.pub");
    else if (strcmp(name, "keys_secret") == 0)
        s_file(&r, "tests/vectors/keys/KAT.sign.key");
    else if (strcmp(name, "registry") == 0)
        s_registry_seeds(&r);
    else if (strcmp(name, "x509_request") == 0)
        s_x509_seeds(&r);
    else if (strcmp(name, "config") == 0) {
        s_file(&r, "config/hub.ini.sample");
        s_file(&r, "config/member.ini.sample");
    } else if (strcmp(name, "merkle") == 0)
        s_merkle_seeds(&r);
    if (r.count == 0) {
        errbuf_set(err,
                   "no seed for fuzz target \"%s\" under %s (is it the "
                   "source directory?)",
                   name, source_dir);
        return -1;
    }
    return r.count;
}
