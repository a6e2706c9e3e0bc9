/*
 * registry: the signed member registry, for nodes (verify, roll-back
 * protection, keyring) and for the operator (publish a changed version).
 * See registry.h; byte layout in docs/REGISTRY.md.
 *
 * The payload is verified as carried and never re-encoded on the node
 * side. Decoded values are copied into plain C structs so that the
 * operator's edits never touch protobuf-c's allocations; publication
 * re-encodes those structs and, before writing, runs the node's own
 * checks on the result.
 */
#include "config/registry.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "crypto/fileio.h"
#include "proto/registry.pb-c.h"

#define S_SIG_BYTES   KEYS_SIG_BYTES
#define S_HASH_BYTES  32
#define S_STATE_MAGIC "csbm-registry-state-1"

typedef struct {
    uint8_t        *der;
    size_t          der_len;
    X509           *cert;
    x509_identity_t id;
    int64_t         valid_from, retired_at, revoked_at;
    char            reason[REGISTRY_REASON_MAX + 1];
} s_binding_t;

typedef struct {
    char              state[KEYS_OWNER_MAX + 1];
    char              name[REGISTRY_NAME_MAX + 1];
    registry_status_t status;
    int64_t           status_since;
    s_binding_t      *keys;
    size_t            n_keys;
} s_member_t;

struct registry {
    char        federation[X509_FEDERATION_MAX + 1];
    uint64_t    version;
    int64_t     issued_at;
    s_member_t *members;
    size_t      n_members;
    s_member_t *hub; /* NULL until the hub enrolls */
    uint8_t     hash[S_HASH_BYTES];
};

/* ---------------------------------------------------------------------
 * Helpers
 */

static void
s_time(int64_t t, char out[32])
{
    time_t    tt = (time_t)t;
    struct tm tm;

    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL
        || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "@%lld", (long long)t);
}

static void
s_store_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t
s_load_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16)
        | ((uint32_t)p[2] << 8) | p[3];
}

static int
s_time_in(uint64_t v, int64_t *out)
{
    if (v > (uint64_t)INT64_MAX)
        return -1;
    *out = (int64_t)v;
    return 0;
}

static void
s_member_clear(s_member_t *m)
{
    size_t i;

    if (m == NULL)
        return;
    for (i = 0; i < m->n_keys; i++) {
        free(m->keys[i].der);
        X509_free(m->keys[i].cert);
    }
    free(m->keys);
    m->keys = NULL;
    m->n_keys = 0;
}

void
registry_destroy(registry_t **self_p)
{
    registry_t *self;
    size_t      i;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    for (i = 0; i < self->n_members; i++)
        s_member_clear(&self->members[i]);
    free(self->members);
    s_member_clear(self->hub);
    free(self->hub);
    free(self);
    *self_p = NULL;
}

const char *
registry_federation(const registry_t *self)
{
    return self->federation;
}

uint64_t
registry_version(const registry_t *self)
{
    return self->version;
}

int64_t
registry_issued_at(const registry_t *self)
{
    return self->issued_at;
}

size_t
registry_member_count(const registry_t *self)
{
    return self->n_members;
}

const char *
registry_status_name(registry_status_t status)
{
    switch (status) {
    case REGISTRY_ACTIVE: return "active";
    case REGISTRY_SUSPENDED: return "suspended";
    case REGISTRY_WITHDRAWN: return "withdrawn";
    default: return "unknown";
    }
}

int
registry_status_parse(const char *name, registry_status_t *out)
{
    registry_status_t s;

    for (s = REGISTRY_ACTIVE; s <= REGISTRY_WITHDRAWN; s++)
        if (name != NULL && strcmp(name, registry_status_name(s)) == 0) {
            *out = s;
            return 0;
        }
    return -1;
}

static s_member_t *
s_find(registry_t *self, const char *state)
{
    size_t i;

    if (strcmp(state, X509_HUB_ID) == 0)
        return self->hub;
    for (i = 0; i < self->n_members; i++)
        if (strcmp(self->members[i].state, state) == 0)
            return &self->members[i];
    return NULL;
}

/* ---------------------------------------------------------------------
 * Decoding and checking
 */

static int
s_no_unknown(const ProtobufCMessage *m, const char *what, errbuf_t *err)
{
    if (m->n_unknown_fields != 0) {
        errbuf_set(err, "%s carries field number %u, which this version "
            "does not know; install a newer version of this program",
            what, (unsigned)m->unknown_fields[0].tag);
        return -1;
    }
    return 0;
}

static int
s_binding_from_pb(const Csbm__KeyBinding *pb, const char *state, size_t idx,
    X509 *root, s_binding_t *b, errbuf_t *err)
{
    int64_t nb, na, at;

    if (s_no_unknown(&pb->base, "a key binding", err) != 0)
        goto fail;
    if (s_time_in(pb->valid_from, &b->valid_from) != 0
        || s_time_in(pb->retired_at, &b->retired_at) != 0
        || s_time_in(pb->revoked_at, &b->revoked_at) != 0) {
        errbuf_set(err, "a time is out of range");
        goto fail;
    }
    if (pb->reason == NULL || strlen(pb->reason) > REGISTRY_REASON_MAX
        || (pb->reason[0] != '\0'
            && !x509_text_valid(pb->reason, REGISTRY_REASON_MAX))) {
        errbuf_set(err, "reason is not 0 to %d bytes of printable UTF-8",
            REGISTRY_REASON_MAX);
        goto fail;
    }
    snprintf(b->reason, sizeof b->reason, "%s", pb->reason);
    if (pb->certificate.len == 0 || pb->certificate.len > REGISTRY_CERT_MAX) {
        errbuf_set(err, "certificate of %zu bytes (expected 1 to %u)",
            pb->certificate.len, REGISTRY_CERT_MAX);
        goto fail;
    }
    if ((b->der = malloc(pb->certificate.len)) == NULL) {
        errbuf_set(err, "out of memory");
        goto fail;
    }
    memcpy(b->der, pb->certificate.data, pb->certificate.len);
    b->der_len = pb->certificate.len;
    if (x509_cert_from_der(b->der, b->der_len, &b->cert, err) != 0
        || x509_cert_times(b->cert, &nb, &na, err) != 0)
        goto fail;
    /* A retired key's certificate may since have expired; what matters is
     * that it chained to the root when the key took office. */
    at = b->valid_from > nb ? b->valid_from : nb;
    if (x509_cert_verify(root, b->cert, at, &b->id, err) != 0)
        goto fail;
    if (strcmp(b->id.pub.owner, state) != 0) {
        errbuf_set(err, "the certificate is for %s, not for %s",
            b->id.pub.owner, state);
        goto fail;
    }
    return 0;
fail:
    errbuf_prefix(err, "registry: %s key %zu", state, idx + 1);
    return -1;
}

static int
s_member_from_pb(const Csbm__Member *pb, int is_hub, X509 *root,
    s_member_t *m, errbuf_t *err)
{
    char   shown[16];
    size_t i;

    memset(m, 0, sizeof *m);
    snprintf(shown, sizeof shown, "%s", is_hub ? X509_HUB_ID : "a member");
    if (s_no_unknown(&pb->base, "a member", err) != 0)
        goto fail;
    if (pb->state == NULL
        || (is_hub ? strcmp(pb->state, X509_HUB_ID) != 0
                   : (!x509_id_valid(pb->state)
                       || strcmp(pb->state, X509_HUB_ID) == 0))) {
        errbuf_set(err, is_hub ? "the hub entry must have state \"hub\""
                               : "state is not a state code (three capital "
                                 "letters, ISO 3166-1 alpha-3)");
        goto fail;
    }
    snprintf(m->state, sizeof m->state, "%s", pb->state);
    snprintf(shown, sizeof shown, "%s", m->state);
    if (pb->name == NULL || !x509_text_valid(pb->name, REGISTRY_NAME_MAX)) {
        errbuf_set(err, "name is not 1 to %d bytes of printable UTF-8",
            REGISTRY_NAME_MAX);
        goto fail;
    }
    snprintf(m->name, sizeof m->name, "%s", pb->name);
    if ((int)pb->status < REGISTRY_ACTIVE
        || (int)pb->status > REGISTRY_WITHDRAWN) {
        errbuf_set(err, "status %d is unknown", (int)pb->status);
        goto fail;
    }
    m->status = (registry_status_t)pb->status;
    if (s_time_in(pb->status_since, &m->status_since) != 0) {
        errbuf_set(err, "status_since is out of range");
        goto fail;
    }
    if (pb->n_keys == 0 || pb->n_keys > REGISTRY_MAX_KEYS) {
        errbuf_set(err, "%zu keys (expected 1 to %d)", pb->n_keys,
            REGISTRY_MAX_KEYS);
        goto fail;
    }
    if ((m->keys = calloc(pb->n_keys, sizeof *m->keys)) == NULL) {
        errbuf_set(err, "out of memory");
        goto fail;
    }
    for (i = 0; i < pb->n_keys; i++) {
        m->n_keys = i + 1;
        if (s_binding_from_pb(pb->keys[i], m->state, i, root, &m->keys[i],
                err) != 0)
            return -1;
    }
    return 0;
fail:
    errbuf_prefix(err, "registry: %s", shown);
    return -1;
}

static int
s_decode(const uint8_t *payload, size_t len, X509 *root, const char *root_fed,
    registry_t *reg, errbuf_t *err)
{
    Csbm__Registry *pb;
    size_t          i, j;
    int             rc = -1;

    pb = csbm__registry__unpack(NULL, len, payload);
    if (pb == NULL) {
        errbuf_set(err, "registry: the signed payload is not a valid "
            "Registry message");
        return -1;
    }
    if (s_no_unknown(&pb->base, "registry", err) != 0)
        goto cleanup;
    if (pb->federation == NULL || strcmp(pb->federation, root_fed) != 0) {
        char shown[X509_FEDERATION_MAX + 1];

        snprintf(shown, sizeof shown, "%s",
            x509_federation_valid(pb->federation) ? pb->federation : "?");
        errbuf_set(err, "registry is for federation \"%s\" but the root "
            "certificate is for \"%s\"", shown, root_fed);
        goto cleanup;
    }
    snprintf(reg->federation, sizeof reg->federation, "%s", pb->federation);
    if (pb->version == 0 || s_time_in(pb->issued_at, &reg->issued_at) != 0
        || reg->issued_at == 0) {
        errbuf_set(err, "registry: version and issued_at must be set");
        goto cleanup;
    }
    reg->version = pb->version;
    if (pb->n_members > REGISTRY_MAX_MEMBERS) {
        errbuf_set(err, "registry: %zu members, more than the limit of %d",
            pb->n_members, REGISTRY_MAX_MEMBERS);
        goto cleanup;
    }
    if (pb->n_members > 0
        && (reg->members = calloc(pb->n_members, sizeof *reg->members))
            == NULL) {
        errbuf_set(err, "out of memory");
        goto cleanup;
    }
    for (i = 0; i < pb->n_members; i++) {
        reg->n_members = i + 1;
        if (s_member_from_pb(pb->members[i], 0, root, &reg->members[i], err)
            != 0)
            goto cleanup;
        for (j = 0; j < i; j++)
            if (strcmp(reg->members[j].state, reg->members[i].state) == 0) {
                errbuf_set(err, "registry: %s is listed twice",
                    reg->members[i].state);
                goto cleanup;
            }
    }
    if (pb->hub != NULL) {
        if ((reg->hub = calloc(1, sizeof *reg->hub)) == NULL) {
            errbuf_set(err, "out of memory");
            goto cleanup;
        }
        if (s_member_from_pb(pb->hub, 1, root, reg->hub, err) != 0)
            goto cleanup;
    }
    rc = 0;
cleanup:
    csbm__registry__free_unpacked(pb, NULL);
    return rc;
}

/* The bytes the root signs: context, NUL, framing header, payload. */
static uint8_t *
s_signed_message(const uint8_t *framed, size_t framed_len, size_t *out_len)
{
    size_t   ctx_len = sizeof REGISTRY_SIG_CONTEXT; /* with its NUL */
    uint8_t *msg = malloc(ctx_len + framed_len);

    if (msg == NULL)
        return NULL;
    memcpy(msg, REGISTRY_SIG_CONTEXT, ctx_len);
    memcpy(msg + ctx_len, framed, framed_len);
    *out_len = ctx_len + framed_len;
    return msg;
}

int
registry_parse(const uint8_t *buf, size_t len, X509 *root, registry_t **out,
    errbuf_t *err)
{
    char        fed[X509_FEDERATION_MAX + 1];
    uint8_t     pk[KEYS_SIGN_PK_BYTES], *msg = NULL;
    size_t      payload_len, msg_len = 0;
    registry_t *reg = NULL;
    keyring_t  *kr = NULL;
    int         rc = -1;

    *out = NULL;
    if (sodium_init() < 0) {
        errbuf_set(err, "libsodium failed to initialise");
        return -1;
    }
    if (len > REGISTRY_MAX_BYTES) {
        errbuf_set(err, "registry file larger than %u bytes",
            REGISTRY_MAX_BYTES);
        return -1;
    }
    if (len < REGISTRY_MAGIC_LEN
        || memcmp(buf, REGISTRY_MAGIC, REGISTRY_MAGIC_LEN) != 0) {
        errbuf_set(err, "not a registry file (it does not start with "
            "\"%s\")", REGISTRY_MAGIC);
        return -1;
    }
    if (len < REGISTRY_HEADER_BYTES + S_SIG_BYTES) {
        errbuf_set(err, "registry file truncated: %zu bytes, less than a "
            "header and a signature", len);
        return -1;
    }
    if (buf[REGISTRY_MAGIC_LEN] != REGISTRY_FORMAT_VERSION) {
        errbuf_set(err, "registry format version %u is not supported (this "
            "program reads version %d)", (unsigned)buf[REGISTRY_MAGIC_LEN],
            REGISTRY_FORMAT_VERSION);
        return -1;
    }
    payload_len = s_load_u32(buf + REGISTRY_MAGIC_LEN + 1);
    if (payload_len == 0
        || payload_len > REGISTRY_MAX_BYTES - REGISTRY_HEADER_BYTES
            - S_SIG_BYTES) {
        errbuf_set(err, "registry header claims a payload of %zu bytes",
            payload_len);
        return -1;
    }
    if (len != REGISTRY_HEADER_BYTES + payload_len + S_SIG_BYTES) {
        errbuf_set(err, "registry file %s: %zu bytes, but its header "
            "announces %zu (payload %zu and a %d-byte signature)",
            len < REGISTRY_HEADER_BYTES + payload_len + S_SIG_BYTES
                ? "truncated" : "has extra bytes",
            len, REGISTRY_HEADER_BYTES + payload_len + S_SIG_BYTES,
            payload_len, S_SIG_BYTES);
        return -1;
    }
    if (x509_root_check(root, fed, pk, err) != 0)
        return -1;
    if ((msg = s_signed_message(buf, REGISTRY_HEADER_BYTES + payload_len,
             &msg_len)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    if (crypto_sign_verify_detached(buf + REGISTRY_HEADER_BYTES + payload_len,
            msg, msg_len, pk) != 0) {
        errbuf_set(err, "registry signature does not verify under the root "
            "key of \"%s\": the file was changed, or it was not published "
            "by this federation's operator", fed);
        goto cleanup;
    }
    if ((reg = calloc(1, sizeof *reg)) == NULL) {
        errbuf_set(err, "out of memory");
        goto cleanup;
    }
    if (s_decode(buf + REGISTRY_HEADER_BYTES, payload_len, root, fed, reg,
            err) != 0)
        goto cleanup;
    /* The keyring's own rules (one owner per key, a status per owner) are
     * part of a valid registry. */
    if ((kr = keyring_new()) == NULL) {
        errbuf_set(err, "out of memory");
        goto cleanup;
    }
    if (registry_to_keyring(reg, kr, err) != 0)
        goto cleanup;
    crypto_hash_sha256(reg->hash, buf, len);
    *out = reg;
    reg = NULL;
    rc = 0;
cleanup:
    keyring_destroy(&kr);
    registry_destroy(&reg);
    free(msg);
    return rc;
}

/* ---------------------------------------------------------------------
 * Roll-back protection
 */

typedef struct {
    char     federation[X509_FEDERATION_MAX + 1];
    uint64_t version;
    int64_t  issued_at;
    uint8_t  hash[S_HASH_BYTES];
} s_seen_t;

static int
s_state_parse(char *text, const char *path, s_seen_t *st, errbuf_t *err)
{
    char              *line, *save = NULL, *end, *v;
    int                n = 0, got = 0;
    unsigned long long u;
    long long          s;
    size_t             hex_len;

    memset(st, 0, sizeof *st);
    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        n++;
        if (n == 1) {
            if (strcmp(line, S_STATE_MAGIC) != 0)
                goto bad;
            continue;
        }
        if ((v = strchr(line, ' ')) == NULL)
            goto bad;
        *v++ = '\0';
        if (strcmp(line, "federation") == 0 && x509_federation_valid(v)) {
            snprintf(st->federation, sizeof st->federation, "%s", v);
            got |= 1;
        } else if (strcmp(line, "version") == 0) {
            errno = 0;
            u = strtoull(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || v[0] == '-')
                goto bad;
            st->version = u;
            got |= 2;
        } else if (strcmp(line, "issued_at") == 0) {
            errno = 0;
            s = strtoll(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || s < 0)
                goto bad;
            st->issued_at = s;
            got |= 4;
        } else if (strcmp(line, "sha256") == 0) {
            if (strlen(v) != 2 * S_HASH_BYTES
                || sodium_hex2bin(st->hash, sizeof st->hash, v, strlen(v),
                       NULL, &hex_len, NULL) != 0
                || hex_len != S_HASH_BYTES)
                goto bad;
            got |= 8;
        } else {
            goto bad;
        }
    }
    if (got == 15)
        return 0;
bad:
    errbuf_set(err, "%s: not a registry state file (line %d); it records "
        "the newest registry seen, to refuse old ones: restore it from a "
        "backup, or remove it to trust the next registry as new", path, n);
    return -1;
}

static int
s_state_write(const registry_t *reg, const char *path, errbuf_t *err)
{
    char text[512], hex[2 * S_HASH_BYTES + 1];
    int  n;

    sodium_bin2hex(hex, sizeof hex, reg->hash, sizeof reg->hash);
    n = snprintf(text, sizeof text, "%s\nfederation %s\nversion %llu\n"
        "issued_at %lld\nsha256 %s\n", S_STATE_MAGIC, reg->federation,
        (unsigned long long)reg->version, (long long)reg->issued_at, hex);
    if (n < 0 || (size_t)n >= sizeof text) {
        errbuf_set(err, "%s: state too long", path);
        return -1;
    }
    if (fileio_write(path, text, (size_t)n, 0644, 0, err) != 0) {
        /* fileio_write names its temporary file: name the real target. */
        int e = errno;
        errbuf_set(err, "%s: cannot write the registry state file (%s); "
            "pass --registry-state F with a file in a writable directory",
            path, e != 0 ? strerror(e) : "write failed");
        return -1;
    }
    return 0;
}

static int
s_state_check(const registry_t *reg, const char *path, errbuf_t *err)
{
    struct stat st;
    uint8_t    *buf = NULL;
    size_t      len = 0;
    s_seen_t    seen;
    char        t[32], t2[32];
    int         rc = -1;

    if (stat(path, &st) != 0) {
        if (errno != ENOENT) {
            errbuf_set(err, "%s: %s", path, strerror(errno));
            return -1;
        }
        return s_state_write(reg, path, err);
    }
    if (fileio_read(path, REGISTRY_STATE_MAX, &buf, &len, err) != 0)
        return -1;
    if (memchr(buf, '\0', len) != NULL) {
        errbuf_set(err, "%s: not a registry state file", path);
        goto cleanup;
    }
    if (s_state_parse((char *)buf, path, &seen, err) != 0)
        goto cleanup;
    s_time(seen.issued_at, t);
    if (strcmp(seen.federation, reg->federation) != 0) {
        errbuf_set(err, "registry is for \"%s\" but this node has followed "
            "the registry of \"%s\" (%s); refusing to switch federations",
            reg->federation, seen.federation, path);
        goto cleanup;
    }
    if (reg->version < seen.version) {
        errbuf_set(err, "registry version %llu is older than version %llu "
            "(issued %s) already seen; refusing to roll back",
            (unsigned long long)reg->version,
            (unsigned long long)seen.version, t);
        goto cleanup;
    }
    if (reg->version == seen.version) {
        if (sodium_memcmp(reg->hash, seen.hash, S_HASH_BYTES) != 0) {
            errbuf_set(err, "registry version %llu differs from the version "
                "%llu already seen (issued %s): two different registries "
                "carry the same version; refusing it, report this to the "
                "operator", (unsigned long long)reg->version,
                (unsigned long long)seen.version, t);
            goto cleanup;
        }
        rc = 0;
        goto cleanup;
    }
    if (reg->issued_at < seen.issued_at) {
        s_time(reg->issued_at, t2);
        errbuf_set(err, "registry version %llu was issued at %s, before "
            "version %llu (issued %s) already seen; refusing it",
            (unsigned long long)reg->version, t2,
            (unsigned long long)seen.version, t);
        goto cleanup;
    }
    rc = s_state_write(reg, path, err);
cleanup:
    free(buf);
    return rc;
}

int
registry_load(const char *path, const char *root_path,
    const char *state_file, registry_t **out, errbuf_t *err)
{
    X509    *root = NULL;
    uint8_t *buf = NULL;
    size_t   len = 0;
    int      rc = -1;

    *out = NULL;
    if (x509_root_load(root_path, &root, err) != 0)
        return -1;
    if (fileio_read(path, REGISTRY_MAX_BYTES, &buf, &len, err) != 0)
        goto cleanup;
    if (registry_parse(buf, len, root, out, err) != 0) {
        errbuf_prefix(err, "%s", path);
        goto cleanup;
    }
    if (state_file != NULL && s_state_check(*out, state_file, err) != 0) {
        errbuf_prefix(err, "%s", path);
        registry_destroy(out);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(buf);
    X509_free(root);
    return rc;
}

/* ---------------------------------------------------------------------
 * Keyring
 */

static keyring_status_t
s_keyring_status(registry_status_t s)
{
    switch (s) {
    case REGISTRY_SUSPENDED: return KEYRING_SUSPENDED;
    case REGISTRY_WITHDRAWN: return KEYRING_WITHDRAWN;
    default: return KEYRING_ACTIVE;
    }
}

/* The keyring entry of a binding; 0 if it has an empty period. */
static int
s_binding_key(const s_member_t *m, const s_binding_t *b, keyring_key_t *k)
{
    memset(k, 0, sizeof *k);
    k->pub = b->id.pub;
    k->valid_from = b->valid_from > b->id.not_before ? b->valid_from
                                                     : b->id.not_before;
    /* X509_verify_cert finds a certificate expired at notAfter itself. */
    k->valid_until = b->id.not_after;
    snprintf(k->reason, sizeof k->reason, "certificate expired");
    if (b->retired_at != 0 && b->retired_at < k->valid_until) {
        k->valid_until = b->retired_at;
        snprintf(k->reason, sizeof k->reason, "%s", b->reason);
    }
    if (b->revoked_at != 0 && b->revoked_at <= k->valid_until) {
        k->valid_until = b->revoked_at;
        k->revoked = 1;
        snprintf(k->reason, sizeof k->reason, "%s", b->reason);
    }
    k->status = s_keyring_status(m->status);
    k->status_since = m->status_since;
    return k->valid_from < k->valid_until;
}

static int
s_member_to_keyring(const s_member_t *m, keyring_t *kr, errbuf_t *err)
{
    keyring_key_t k;
    size_t        i;

    for (i = 0; i < m->n_keys; i++) {
        if (!s_binding_key(m, &m->keys[i], &k))
            continue;
        if (keyring_add(kr, &k, err) != 0) {
            errbuf_prefix(err, "registry: %s key %zu", m->state, i + 1);
            return -1;
        }
    }
    return 0;
}

int
registry_to_keyring(const registry_t *self, keyring_t *kr, errbuf_t *err)
{
    size_t i;

    for (i = 0; i < self->n_members; i++)
        if (s_member_to_keyring(&self->members[i], kr, err) != 0)
            return -1;
    if (self->hub != NULL && s_member_to_keyring(self->hub, kr, err) != 0)
        return -1;
    return 0;
}

int
registry_verify_signer(const registry_t *self, const char *state,
    const uint8_t key_id[KEYS_ID_BYTES], int64_t at, errbuf_t *err)
{
    keyring_t           *kr = keyring_new();
    const keyring_key_t *k;
    int                  rc = -1;

    if (kr == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    if (registry_to_keyring(self, kr, err) == 0
        && keyring_signer(kr, state, key_id, at, &k, err) == 0)
        rc = 0;
    keyring_destroy(&kr);
    return rc;
}

/* ---------------------------------------------------------------------
 * Listing
 */

static const char *
s_key_state(const s_binding_t *b, int64_t now, int64_t *until)
{
    keyring_key_t k;
    s_member_t    m;

    memset(&m, 0, sizeof m);
    m.status = REGISTRY_ACTIVE;
    if (!s_binding_key(&m, b, &k)) {
        *until = k.valid_until;
        return k.revoked ? "revoked" : "retired";
    }
    *until = k.valid_until;
    if (now < k.valid_from)
        return "pending";
    if (now < k.valid_until)
        return "current";
    if (k.revoked)
        return "revoked";
    return b->retired_at != 0 && b->retired_at == k.valid_until ? "retired"
                                                                : "expired";
}

static json_t *
s_json_time(int64_t t)
{
    char buf[32];

    if (t == 0)
        return json_null();
    s_time(t, buf);
    return json_string(buf);
}

static json_t *
s_member_json(const s_member_t *m, int64_t now)
{
    json_t *o = json_object(), *keys = json_array(), *k;
    char    hex[2 * KEYS_ID_BYTES + 1], t[32];
    int64_t until;
    size_t  i;

    if (o == NULL || keys == NULL) {
        json_decref(o);
        json_decref(keys);
        return NULL;
    }
    s_time(m->status_since, t);
    json_object_set_new(o, "state", json_string(m->state));
    json_object_set_new(o, "name", json_string(m->name));
    json_object_set_new(o, "status", json_string(registry_status_name(
        m->status)));
    json_object_set_new(o, "status_since", json_string(t));
    for (i = 0; i < m->n_keys; i++) {
        const s_binding_t *b = &m->keys[i];

        if ((k = json_object()) == NULL)
            break;
        keys_id_hex(b->id.pub.sign_key_id, hex);
        json_object_set_new(k, "key_id", json_string(hex));
        json_object_set_new(k, "key_state", json_string(s_key_state(b, now,
            &until)));
        json_object_set_new(k, "serial", json_string(b->id.serial));
        json_object_set_new(k, "valid_from", s_json_time(b->valid_from));
        json_object_set_new(k, "not_before", s_json_time(b->id.not_before));
        json_object_set_new(k, "not_after", s_json_time(b->id.not_after));
        json_object_set_new(k, "retired_at", s_json_time(b->retired_at));
        json_object_set_new(k, "revoked_at", s_json_time(b->revoked_at));
        json_object_set_new(k, "reason", json_string(b->reason));
        json_array_append_new(keys, k);
    }
    json_object_set_new(o, "keys", keys);
    return o;
}

static int
s_list_json(const registry_t *self, FILE *out, int64_t now)
{
    json_t *root = json_object(), *members = json_array();
    char    t[32];
    size_t  i;
    int     rc;

    if (root == NULL || members == NULL) {
        json_decref(root);
        json_decref(members);
        return -1;
    }
    s_time(self->issued_at, t);
    json_object_set_new(root, "federation", json_string(self->federation));
    json_object_set_new(root, "version", json_integer(
        (json_int_t)self->version));
    json_object_set_new(root, "issued_at", json_string(t));
    for (i = 0; i < self->n_members; i++)
        json_array_append_new(members, s_member_json(&self->members[i], now));
    json_object_set_new(root, "members", members);
    json_object_set_new(root, "hub", self->hub != NULL
            ? s_member_json(self->hub, now) : json_null());
    rc = json_dumpf(root, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0 || fputc('\n', out) == EOF)
        return -1;
    return 0;
}

static void
s_list_member(const s_member_t *m, FILE *out, int64_t now)
{
    char        hex[2 * KEYS_ID_BYTES + 1], t1[32], t2[32];
    const char *state;
    int64_t     until, from;
    size_t      i;

    s_time(m->status_since, t1);
    fprintf(out, "%-5s  %-9s  %-20s  %s\n", m->state,
        registry_status_name(m->status), t1, m->name);
    for (i = 0; i < m->n_keys; i++) {
        const s_binding_t *b = &m->keys[i];

        state = s_key_state(b, now, &until);
        from = b->valid_from > b->id.not_before ? b->valid_from
                                                : b->id.not_before;
        keys_id_hex(b->id.pub.sign_key_id, hex);
        s_time(from, t1);
        s_time(until, t2);
        fprintf(out, "       key %s  %-8s  %s .. %s%s%s%s\n", hex, state, t1,
            t2, b->reason[0] != '\0' ? "  (" : "", b->reason,
            b->reason[0] != '\0' ? ")" : "");
    }
}

int
registry_list(const registry_t *self, FILE *out, int json)
{
    int64_t now = (int64_t)time(NULL);
    char    t[32];
    size_t  i;

    if (json)
        return s_list_json(self, out, now);
    s_time(self->issued_at, t);
    fprintf(out, "Registry of %s, version %llu, issued %s: %zu member%s\n",
        self->federation, (unsigned long long)self->version, t,
        self->n_members, self->n_members == 1 ? "" : "s");
    fprintf(out, "%-5s  %-9s  %-20s  %s\n", "STATE", "STATUS", "SINCE",
        "NAME");
    for (i = 0; i < self->n_members; i++)
        s_list_member(&self->members[i], out, now);
    if (self->hub != NULL)
        s_list_member(self->hub, out, now);
    else
        fprintf(out, "(no hub enrolled yet)\n");
    return ferror(out) ? -1 : 0;
}

/* ---------------------------------------------------------------------
 * Operator side: encode, sign, publish
 */

typedef struct {
    Csbm__Member       msg;
    Csbm__KeyBinding  *keys;
    Csbm__KeyBinding **key_ptrs;
} s_pb_member_t;

static int
s_pb_member(s_member_t *m, s_pb_member_t *pm)
{
    size_t i;

    csbm__member__init(&pm->msg);
    pm->keys = calloc(m->n_keys, sizeof *pm->keys);
    pm->key_ptrs = calloc(m->n_keys, sizeof *pm->key_ptrs);
    if (pm->keys == NULL || pm->key_ptrs == NULL)
        return -1;
    pm->msg.state = m->state;
    pm->msg.name = m->name;
    pm->msg.status = (Csbm__MemberStatus)m->status;
    pm->msg.status_since = (uint64_t)m->status_since;
    for (i = 0; i < m->n_keys; i++) {
        Csbm__KeyBinding *kb = &pm->keys[i];

        csbm__key_binding__init(kb);
        kb->certificate.data = m->keys[i].der;
        kb->certificate.len = m->keys[i].der_len;
        kb->valid_from = (uint64_t)m->keys[i].valid_from;
        kb->retired_at = (uint64_t)m->keys[i].retired_at;
        kb->revoked_at = (uint64_t)m->keys[i].revoked_at;
        kb->reason = m->keys[i].reason;
        pm->key_ptrs[i] = kb;
    }
    pm->msg.n_keys = m->n_keys;
    pm->msg.keys = pm->key_ptrs;
    return 0;
}

static void
s_pb_member_free(s_pb_member_t *pm)
{
    free(pm->keys);
    free(pm->key_ptrs);
}

/* The signed file for reg: header, payload, signature. */
static int
s_encode(registry_t *reg, const x509_ca_t *ca, uint8_t **out, size_t *out_len,
    errbuf_t *err)
{
    Csbm__Registry  pb;
    s_pb_member_t  *pms = NULL, hub;
    Csbm__Member  **ptrs = NULL;
    uint8_t        *file = NULL, *msg = NULL;
    size_t          i, payload_len, total, msg_len = 0;
    int             rc = -1;

    *out = NULL;
    *out_len = 0;
    memset(&hub, 0, sizeof hub);
    csbm__registry__init(&pb);
    pb.federation = reg->federation;
    pb.version = reg->version;
    pb.issued_at = (uint64_t)reg->issued_at;
    if (reg->n_members > 0
        && ((pms = calloc(reg->n_members, sizeof *pms)) == NULL
            || (ptrs = calloc(reg->n_members, sizeof *ptrs)) == NULL))
        goto oom;
    for (i = 0; i < reg->n_members; i++) {
        if (s_pb_member(&reg->members[i], &pms[i]) != 0)
            goto oom;
        ptrs[i] = &pms[i].msg;
    }
    pb.n_members = reg->n_members;
    pb.members = ptrs;
    if (reg->hub != NULL) {
        if (s_pb_member(reg->hub, &hub) != 0)
            goto oom;
        pb.hub = &hub.msg;
    }
    payload_len = csbm__registry__get_packed_size(&pb);
    total = REGISTRY_HEADER_BYTES + payload_len + S_SIG_BYTES;
    if (total > REGISTRY_MAX_BYTES) {
        errbuf_set(err, "the registry would be %zu bytes, more than the "
            "limit of %u", total, REGISTRY_MAX_BYTES);
        goto cleanup;
    }
    if ((file = malloc(total)) == NULL)
        goto oom;
    memcpy(file, REGISTRY_MAGIC, REGISTRY_MAGIC_LEN);
    file[REGISTRY_MAGIC_LEN] = REGISTRY_FORMAT_VERSION;
    s_store_u32(file + REGISTRY_MAGIC_LEN + 1, (uint32_t)payload_len);
    csbm__registry__pack(&pb, file + REGISTRY_HEADER_BYTES);
    if ((msg = s_signed_message(file, REGISTRY_HEADER_BYTES + payload_len,
             &msg_len)) == NULL)
        goto oom;
    if (x509_ca_sign(ca, msg, msg_len, file + REGISTRY_HEADER_BYTES
            + payload_len, err) != 0)
        goto cleanup;
    *out = file;
    *out_len = total;
    file = NULL;
    rc = 0;
    goto cleanup;
oom:
    errbuf_set(err, "out of memory");
cleanup:
    if (pms != NULL)
        for (i = 0; i < reg->n_members; i++)
            s_pb_member_free(&pms[i]);
    s_pb_member_free(&hub);
    free(pms);
    free(ptrs);
    free(file);
    free(msg);
    return rc;
}

static int
s_edit_open(const char *path, const x509_ca_t *ca, int64_t now,
    registry_t **out, errbuf_t *err)
{
    uint8_t *buf = NULL;
    size_t   len = 0;
    char     t1[32], t2[32];
    int      rc;

    *out = NULL;
    if (fileio_read(path, REGISTRY_MAX_BYTES, &buf, &len, err) != 0)
        return -1;
    rc = registry_parse(buf, len, x509_ca_cert(ca), out, err);
    free(buf);
    if (rc != 0) {
        errbuf_prefix(err, "%s", path);
        return -1;
    }
    if (now < (*out)->issued_at) {
        s_time(now, t1);
        s_time((*out)->issued_at, t2);
        errbuf_set(err, "%s: the clock reads %s but version %llu was issued "
            "at %s; refusing to publish with an earlier time (fix the "
            "system clock)", path, t1,
            (unsigned long long)(*out)->version, t2);
        registry_destroy(out);
        return -1;
    }
    return 0;
}

static int
s_edit_commit(const char *path, const x509_ca_t *ca, registry_t *reg,
    int64_t now, int exclusive, errbuf_t *err)
{
    uint8_t    *file = NULL;
    size_t      len = 0;
    registry_t *check = NULL;
    int         rc = -1;

    if (reg->version == UINT64_MAX) {
        errbuf_set(err, "%s: the version number is exhausted", path);
        return -1;
    }
    if (now <= 0) {
        errbuf_set(err, "the current time is not set");
        return -1;
    }
    reg->version++;
    reg->issued_at = now;
    if (s_encode(reg, ca, &file, &len, err) != 0)
        goto cleanup;
    /* Never publish what a node would refuse. */
    if (registry_parse(file, len, x509_ca_cert(ca), &check, err) != 0) {
        errbuf_prefix(err, "refusing to publish");
        goto cleanup;
    }
    if (fileio_write(path, file, len, 0644, exclusive, err) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    registry_destroy(&check);
    free(file);
    return rc;
}

int
registry_init(const char *path, const x509_ca_t *ca, int64_t now,
    errbuf_t *err)
{
    registry_t reg;
    struct stat st;

    if (lstat(path, &st) == 0) {
        errbuf_set(err, "%s: already exists; refusing to start a new "
            "registry over it", path);
        return -1;
    }
    memset(&reg, 0, sizeof reg);
    snprintf(reg.federation, sizeof reg.federation, "%s",
        x509_ca_federation(ca));
    return s_edit_commit(path, ca, &reg, now, 1, err);
}

/* A member certificate lies within the root's validity: say which end
 * the requested period crosses, with both times, before anything else. */
static int
s_period_check(const x509_ca_t *ca, int64_t not_before, int64_t not_after,
    errbuf_t *err)
{
    int64_t start, end;
    char    t[32], t1[32], t2[32];

    if (x509_cert_times(x509_ca_cert(ca), &start, &end, err) != 0)
        return -1;
    s_time(start, t1);
    s_time(end, t2);
    if (not_before < start) {
        s_time(not_before, t);
        errbuf_set(err, "the certificate would start at %s, before the "
            "root's start (%s); choose a time from %s to %s", t, t1, t1, t2);
        return -1;
    }
    if (not_before >= end) {
        s_time(not_before, t);
        errbuf_set(err, "the certificate would start at %s, after its "
            "root's end (%s); choose a time from %s to %s", t, t2, t1, t2);
        return -1;
    }
    if (not_after > end) {
        s_time(not_after, t);
        errbuf_set(err, "the certificate would end at %s, after its root's "
            "end (%s); choose a shorter period (--days or --until)", t, t2);
        return -1;
    }
    return 0;
}

/* Issue a certificate for the request at csr_path and fill b. */
static int
s_issue_binding(const x509_ca_t *ca, const char *state, const char *csr_path,
    int64_t not_before, int64_t not_after, s_binding_t *b, errbuf_t *err)
{
    uint8_t *csr = NULL;
    size_t   csr_len = 0;
    int      rc = -1;

    memset(b, 0, sizeof *b);
    if (s_period_check(ca, not_before, not_after, err) != 0)
        return -1;
    if (fileio_read(csr_path, X509_PEM_MAX, &csr, &csr_len, err) != 0)
        return -1;
    if (x509_issue(ca, (const char *)csr, csr_len, state, not_before,
            not_after, &b->cert, err) != 0) {
        errbuf_prefix(err, "%s", csr_path);
        goto cleanup;
    }
    if (x509_cert_der(b->cert, &b->der, &b->der_len, err) != 0
        || x509_cert_verify(x509_ca_cert(ca), b->cert, not_before, &b->id,
               err) != 0)
        goto cleanup;
    b->valid_from = not_before;
    rc = 0;
cleanup:
    if (rc != 0) {
        X509_free(b->cert);
        free(b->der);
        memset(b, 0, sizeof *b);
    }
    free(csr);
    return rc;
}

/* Append b (taking ownership) to m's keys. */
static int
s_append_binding(s_member_t *m, s_binding_t *b, errbuf_t *err)
{
    s_binding_t *grown;

    if (m->n_keys >= REGISTRY_MAX_KEYS) {
        errbuf_set(err, "%s already has %d keys, the most a member may "
            "have", m->state, REGISTRY_MAX_KEYS);
        return -1;
    }
    grown = realloc(m->keys, (m->n_keys + 1) * sizeof *m->keys);
    if (grown == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    m->keys = grown;
    m->keys[m->n_keys++] = *b;
    memset(b, 0, sizeof *b);
    return 0;
}

static s_member_t *
s_find_existing(registry_t *reg, const char *state, const char *path,
    errbuf_t *err)
{
    s_member_t *m;

    if (state == NULL || !x509_id_valid(state)) {
        errbuf_set(err, "\"%s\" is not a state code (three capital letters "
            "such as ARG) or \"hub\"", state == NULL ? "" : state);
        return NULL;
    }
    if ((m = s_find(reg, state)) == NULL)
        errbuf_set(err, "%s: %s is not in the registry; enroll it first",
            path, state);
    return m;
}

int
registry_add_member(const char *path, const x509_ca_t *ca, const char *state,
    const char *name, const char *csr_path, int64_t not_before,
    int64_t not_after, int64_t now, errbuf_t *err)
{
    registry_t *reg = NULL;
    s_member_t  m, *grown;
    s_binding_t b;
    int         rc = -1;

    memset(&m, 0, sizeof m);
    memset(&b, 0, sizeof b);
    if (state == NULL || !x509_id_valid(state)) {
        errbuf_set(err, "\"%s\" is not a state code (three capital letters "
            "such as ARG) or \"hub\"", state == NULL ? "" : state);
        return -1;
    }
    if (name == NULL || name[0] == '\0')
        name = state;
    if (!x509_text_valid(name, REGISTRY_NAME_MAX)) {
        errbuf_set(err, "member name must be 1 to %d bytes of printable "
            "UTF-8 without outer spaces", REGISTRY_NAME_MAX);
        return -1;
    }
    if (s_edit_open(path, ca, now, &reg, err) != 0)
        return -1;
    if (s_find(reg, state) != NULL) {
        errbuf_set(err, "%s: %s is already in the registry; to give it a "
            "new key, rotate", path, state);
        goto cleanup;
    }
    if (strcmp(state, X509_HUB_ID) != 0
        && reg->n_members >= REGISTRY_MAX_MEMBERS) {
        errbuf_set(err, "%s: the registry already has %d members", path,
            REGISTRY_MAX_MEMBERS);
        goto cleanup;
    }
    snprintf(m.state, sizeof m.state, "%s", state);
    snprintf(m.name, sizeof m.name, "%s", name);
    m.status = REGISTRY_ACTIVE;
    m.status_since = now;
    if (s_issue_binding(ca, state, csr_path, not_before, not_after, &b, err)
            != 0
        || s_append_binding(&m, &b, err) != 0)
        goto cleanup;
    if (strcmp(state, X509_HUB_ID) == 0) {
        if ((reg->hub = malloc(sizeof *reg->hub)) == NULL) {
            errbuf_set(err, "out of memory");
            goto cleanup;
        }
        *reg->hub = m;
    } else {
        grown = realloc(reg->members, (reg->n_members + 1) * sizeof *grown);
        if (grown == NULL) {
            errbuf_set(err, "out of memory");
            goto cleanup;
        }
        reg->members = grown;
        reg->members[reg->n_members++] = m;
    }
    memset(&m, 0, sizeof m); /* now owned by reg */
    rc = s_edit_commit(path, ca, reg, now, 0, err);
cleanup:
    s_member_clear(&m);
    X509_free(b.cert);
    free(b.der);
    registry_destroy(&reg);
    return rc;
}

int
registry_rotate(const char *path, const x509_ca_t *ca, const char *state,
    const char *csr_path, int64_t at, int64_t not_after, int64_t now,
    errbuf_t *err)
{
    registry_t *reg = NULL;
    s_member_t *m;
    s_binding_t b;
    char        hex[2 * KEYS_ID_BYTES + 1];
    size_t      i, n_old;
    int         rc = -1;

    memset(&b, 0, sizeof b);
    if (s_edit_open(path, ca, now, &reg, err) != 0)
        return -1;
    if ((m = s_find_existing(reg, state, path, err)) == NULL)
        goto cleanup;
    if (s_issue_binding(ca, state, csr_path, at, not_after, &b, err) != 0)
        goto cleanup;
    keys_id_hex(b.id.pub.sign_key_id, hex);
    for (i = 0; i < m->n_keys; i++)
        if (memcmp(m->keys[i].id.pub.sign_key_id, b.id.pub.sign_key_id,
                KEYS_ID_BYTES) == 0) {
            errbuf_set(err, "%s: key %s is already %s's key %zu; a rotation "
                "needs a new key (generate one with keygen in a new key "
                "directory and send its request)", csr_path, hex, state, i + 1);
            goto cleanup;
        }
    n_old = m->n_keys;
    for (i = 0; i < n_old; i++) {
        s_binding_t *o = &m->keys[i];

        if (o->retired_at != 0 || o->revoked_at != 0)
            continue;
        o->retired_at = at;
        snprintf(o->reason, sizeof o->reason, "replaced by key %s", hex);
    }
    if (s_append_binding(m, &b, err) != 0)
        goto cleanup;
    rc = s_edit_commit(path, ca, reg, now, 0, err);
cleanup:
    X509_free(b.cert);
    free(b.der);
    registry_destroy(&reg);
    return rc;
}

int
registry_set_status(const char *path, const x509_ca_t *ca, const char *state,
    registry_status_t status, int64_t since, int64_t now, errbuf_t *err)
{
    registry_t *reg = NULL;
    s_member_t *m;
    int         rc = -1;

    if (status < REGISTRY_ACTIVE || status > REGISTRY_WITHDRAWN) {
        errbuf_set(err, "unknown member status %d (use active, suspended or "
            "withdrawn)", (int)status);
        return -1;
    }
    if (since < 0) {
        errbuf_set(err, "the status time is negative");
        return -1;
    }
    if (s_edit_open(path, ca, now, &reg, err) != 0)
        return -1;
    if ((m = s_find_existing(reg, state, path, err)) == NULL)
        goto cleanup;
    m->status = status;
    m->status_since = since;
    rc = s_edit_commit(path, ca, reg, now, 0, err);
cleanup:
    registry_destroy(&reg);
    return rc;
}

int
registry_revoke(const char *path, const x509_ca_t *ca, const char *state,
    const char *key_id_hex, int64_t at, const char *reason, int64_t now,
    errbuf_t *err)
{
    registry_t  *reg = NULL;
    s_member_t  *m;
    s_binding_t *b = NULL;
    uint8_t      id[KEYS_ID_BYTES];
    size_t       id_len = 0, i;
    char         t[32];
    int          rc = -1;

    if (key_id_hex == NULL || strlen(key_id_hex) != 2 * KEYS_ID_BYTES
        || sodium_hex2bin(id, sizeof id, key_id_hex, strlen(key_id_hex),
               NULL, &id_len, NULL) != 0
        || id_len != KEYS_ID_BYTES) {
        errbuf_set(err, "a key id is %d hex digits (as registry list shows "
            "it)", 2 * KEYS_ID_BYTES);
        return -1;
    }
    if (reason == NULL || !x509_text_valid(reason, REGISTRY_REASON_MAX)) {
        errbuf_set(err, "give the reason for the revocation (1 to %d bytes "
            "of printable UTF-8)", REGISTRY_REASON_MAX);
        return -1;
    }
    if (at <= 0) {
        errbuf_set(err, "the revocation time is not set");
        return -1;
    }
    if (s_edit_open(path, ca, now, &reg, err) != 0)
        return -1;
    if ((m = s_find_existing(reg, state, path, err)) == NULL)
        goto cleanup;
    for (i = 0; i < m->n_keys; i++)
        if (memcmp(m->keys[i].id.pub.sign_key_id, id, KEYS_ID_BYTES) == 0)
            b = &m->keys[i];
    if (b == NULL) {
        errbuf_set(err, "%s: %s has no key %s (registry list shows its "
            "keys)", path, state, key_id_hex);
        goto cleanup;
    }
    if (b->revoked_at != 0) {
        s_time(b->revoked_at, t);
        errbuf_set(err, "%s: key %s of %s was already revoked at %s (%s)",
            path, key_id_hex, state, t, b->reason);
        goto cleanup;
    }
    b->revoked_at = at;
    snprintf(b->reason, sizeof b->reason, "%s", reason);
    rc = s_edit_commit(path, ca, reg, now, 0, err);
cleanup:
    registry_destroy(&reg);
    return rc;
}
