/*
 * keys: identity key pairs, their passphrase-encrypted secret files and
 * their public .pub files (see keys.h; byte layouts in docs/FORMAT.md).
 *
 * The secret file parser checks every byte it can before the key
 * derivation (magic, kind, owner, exact length, KDF settings), so malformed
 * and truncated files are refused cheaply; what remains (a wrong
 * passphrase, a changed salt, nonce or ciphertext) is caught by the AEAD.
 */
#include "crypto/keys.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "crypto/fileio.h"

#define S_MAGIC         "CSBMSEC1"
#define S_MAGIC_LEN     8
#define S_KDF_ARGON2ID  1
#define S_SALT_BYTES    crypto_pwhash_argon2id_SALTBYTES
#define S_NONCE_BYTES   crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define S_TAG_BYTES     crypto_aead_xchacha20poly1305_ietf_ABYTES
#define S_KEY_BYTES     crypto_aead_xchacha20poly1305_ietf_KEYBYTES
/* magic | kind | owner length | (owner) | kdf | ops | mem | salt | nonce */
#define S_HEADER_FIXED  (S_MAGIC_LEN + 1 + 1 + 1 + 8 + 8 + S_SALT_BYTES \
                         + S_NONCE_BYTES)
#define S_PLAIN_MAX     (KEYS_SIGN_SK_BYTES + 32)
#define S_FILE_MAX      (S_HEADER_FIXED + KEYS_OWNER_MAX + S_PLAIN_MAX \
                         + S_TAG_BYTES)
/* Read bound: larger than any valid file, so an oversized one is reported
 * as such rather than cut. */
#define S_READ_MAX      1024

/* Stored KDF settings are accepted between libsodium's interactive
 * settings (below them a file has been downgraded) and its sensitive ones
 * (above them loading it would be a denial of service). */
#define S_OPS_MIN       crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE
#define S_OPS_MAX       crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE
#define S_MEM_MIN       crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE
#define S_MEM_MAX       crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE

static const char s_id_label[] = "CSBM-key-id-v1";

struct keys_secret {
    uint8_t     sk[KEYS_SIGN_SK_BYTES]; /* 64 (sign) or first 32 used */
    uint8_t     pk[32];
    uint8_t     id[KEYS_ID_BYTES];
    char        owner[KEYS_OWNER_MAX + 1];
    keys_kind_t kind;
};

static size_t
s_sk_bytes(int kind)
{
    return kind == KEYS_SIGN ? KEYS_SIGN_SK_BYTES : KEYS_BOX_SK_BYTES;
}

static void
s_store_u64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t
s_load_u64(const uint8_t *p)
{
    uint64_t v = 0;
    int      i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void
keys_id(const uint8_t pk[32], uint8_t id[KEYS_ID_BYTES])
{
    crypto_generichash_state st;
    uint8_t                  h[crypto_generichash_BYTES];

    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)s_id_label,
        sizeof s_id_label - 1);
    crypto_generichash_update(&st, pk, 32);
    crypto_generichash_final(&st, h, sizeof h);
    memcpy(id, h, KEYS_ID_BYTES);
}

void
keys_id_hex(const uint8_t id[KEYS_ID_BYTES], char out[2 * KEYS_ID_BYTES + 1])
{
    sodium_bin2hex(out, 2 * KEYS_ID_BYTES + 1, id, KEYS_ID_BYTES);
}

int
keys_owner_valid(const char *owner)
{
    size_t i;

    if (owner == NULL || owner[0] == '\0')
        return 0;
    for (i = 0; owner[i] != '\0'; i++) {
        char c = owner[i];
        int  alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9');
        if (i >= KEYS_OWNER_MAX)
            return 0;
        if (!alnum && (i == 0 || (c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

const char *
keys_kind_name(int kind)
{
    switch (kind) {
    case KEYS_SIGN: return "sign";
    case KEYS_BOX: return "box";
    case KEYS_TRANSPORT: return "transport";
    default: return NULL;
    }
}

int
keys_path(char *out, size_t cap, const char *dir, const char *owner,
    int kind)
{
    int n;

    if (kind == 0)
        n = snprintf(out, cap, "%s/%s.pub", dir, owner);
    else if (keys_kind_name(kind) != NULL)
        n = snprintf(out, cap, "%s/%s.%s.key", dir, owner,
            keys_kind_name(kind));
    else
        return -1;
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int
keys_z85(const uint8_t key[32], char out[KEYS_Z85_BYTES])
{
    return zmq_z85_encode(out, key, 32) == NULL ? -1 : 0;
}

/* ---------------------------------------------------------------------
 * Secret key files
 */

static size_t
s_header_len(size_t owner_len)
{
    return S_HEADER_FIXED + owner_len;
}

static size_t
s_file_len(int kind, size_t owner_len)
{
    return s_header_len(owner_len) + s_sk_bytes(kind) + 32 + S_TAG_BYTES;
}

/* Derive the file key; out is S_KEY_BYTES of sodium_malloc'd memory. */
static int
s_derive(uint8_t *out, const char *pass, size_t pass_len, const uint8_t *salt,
    uint64_t ops, uint64_t mem, const char *path, errbuf_t *err)
{
    if (crypto_pwhash(out, S_KEY_BYTES, pass, pass_len, salt, ops,
            (size_t)mem, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        errbuf_set(err, "%s: key derivation failed: out of memory (Argon2id "
            "needs %llu MiB)", path, (unsigned long long)(mem >> 20));
        return -1;
    }
    return 0;
}

/* Build a secret key file in out (S_FILE_MAX bytes). */
static int
s_secret_seal(int kind, const char *owner, const uint8_t *sk,
    const uint8_t pk[32], const char *pass, size_t pass_len,
    const char *path, uint8_t *out, size_t *out_len, errbuf_t *err)
{
    size_t   owner_len = strlen(owner), sk_len = s_sk_bytes(kind);
    size_t   hlen = s_header_len(owner_len), p = 0;
    uint8_t *key = NULL, *plain = NULL;
    uint8_t *salt, *nonce;
    int      rc = -1;

    memcpy(out + p, S_MAGIC, S_MAGIC_LEN);
    p += S_MAGIC_LEN;
    out[p++] = (uint8_t)kind;
    out[p++] = (uint8_t)owner_len;
    memcpy(out + p, owner, owner_len);
    p += owner_len;
    out[p++] = S_KDF_ARGON2ID;
    s_store_u64(out + p, S_OPS_MIN);
    p += 8;
    s_store_u64(out + p, S_MEM_MIN);
    p += 8;
    salt = out + p;
    randombytes_buf(salt, S_SALT_BYTES);
    p += S_SALT_BYTES;
    nonce = out + p;
    randombytes_buf(nonce, S_NONCE_BYTES);
    p += S_NONCE_BYTES;

    key = sodium_malloc(S_KEY_BYTES);
    plain = sodium_malloc(S_PLAIN_MAX);
    if (key == NULL || plain == NULL) {
        errbuf_set(err, "%s: out of memory", path);
        goto cleanup;
    }
    if (s_derive(key, pass, pass_len, salt, S_OPS_MIN, S_MEM_MIN, path, err)
        != 0)
        goto cleanup;
    memcpy(plain, sk, sk_len);
    memcpy(plain + sk_len, pk, 32);
    crypto_aead_xchacha20poly1305_ietf_encrypt(out + hlen, NULL, plain,
        sk_len + 32, out, hlen, NULL, nonce, key);
    *out_len = hlen + sk_len + 32 + S_TAG_BYTES;
    rc = 0;
cleanup:
    if (key != NULL) {
        sodium_memzero(key, S_KEY_BYTES);
        sodium_free(key);
    }
    if (plain != NULL) {
        sodium_memzero(plain, S_PLAIN_MAX);
        sodium_free(plain);
    }
    return rc;
}

/* The directory holding a key file must be private too, or anyone could
 * swap the file. */
static int
s_check_parent(const char *path, errbuf_t *err)
{
    char        dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    struct stat st;

    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir) {
        errbuf_set(err, "%s: path too long", path);
        return -1;
    } else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    if (stat(dir, &st) != 0) {
        errbuf_set(err, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if ((st.st_mode & 077) != 0) {
        errbuf_set(err, "%s: key directory is accessible by other users "
            "(mode %03o); run: chmod 700 %s", dir,
            (unsigned)(st.st_mode & 0777), dir);
        return -1;
    }
    return 0;
}

/* A file named "<stem>.<kind>.key" must hold that kind for that owner, so
 * a renamed or swapped file is noticed. Other names are not judged. */
static int
s_check_name(const char *path, int kind, const char *owner, errbuf_t *err)
{
    const char *base = strrchr(path, '/');
    size_t      blen, slen;
    int         k;

    base = base == NULL ? path : base + 1;
    blen = strlen(base);
    for (k = KEYS_SIGN; k <= KEYS_TRANSPORT; k++) {
        char suffix[32];

        snprintf(suffix, sizeof suffix, ".%s.key", keys_kind_name(k));
        slen = strlen(suffix);
        if (blen <= slen || strcmp(base + blen - slen, suffix) != 0)
            continue;
        if (k != kind) {
            errbuf_set(err, "%s: the file name says %s key but the file "
                "holds a %s key; restore the right file", path,
                keys_kind_name(k), keys_kind_name(kind));
            return -1;
        }
        if (blen - slen != strlen(owner)
            || strncmp(base, owner, blen - slen) != 0) {
            errbuf_set(err, "%s: the file holds a key of %s, not of the "
                "identity its name says; restore the right file", path,
                owner);
            return -1;
        }
    }
    return 0;
}

/* Check everything that can be checked without the passphrase. On success
 * *owner_out holds the owner and *ops / *mem the KDF settings. */
static int
s_secret_parse(const uint8_t *buf, size_t len, keys_kind_t want,
    const char *path, char owner_out[KEYS_OWNER_MAX + 1], uint64_t *ops,
    uint64_t *mem, errbuf_t *err)
{
    size_t owner_len, expect, p;
    int    kind;

    if (len < S_MAGIC_LEN + 2) {
        errbuf_set(err, "%s: truncated secret key file (%zu bytes); restore "
            "it from a backup", path, len);
        return -1;
    }
    if (memcmp(buf, S_MAGIC, S_MAGIC_LEN) != 0) {
        errbuf_set(err, "%s: not a csbm secret key file (bad magic)", path);
        return -1;
    }
    kind = buf[S_MAGIC_LEN];
    if (keys_kind_name(kind) == NULL) {
        errbuf_set(err, "%s: unknown key kind %d in the file (1 sign, 2 box, "
            "3 transport)", path, kind);
        return -1;
    }
    if (kind != (int)want) {
        errbuf_set(err, "%s: holds a %s key, but a %s key was asked for",
            path, keys_kind_name(kind), keys_kind_name((int)want));
        return -1;
    }
    owner_len = buf[S_MAGIC_LEN + 1];
    if (owner_len < 1 || owner_len > KEYS_OWNER_MAX) {
        errbuf_set(err, "%s: owner length %zu is out of range 1..%d", path,
            owner_len, KEYS_OWNER_MAX);
        return -1;
    }
    expect = s_file_len(kind, owner_len);
    if (len != expect) {
        errbuf_set(err, "%s: %s (%zu bytes; a %s key file of a %zu-character "
            "owner is %zu bytes); restore it from a backup", path,
            len < expect ? "truncated secret key file"
                         : "trailing bytes after the secret key",
            len, keys_kind_name(kind), owner_len, expect);
        return -1;
    }
    p = S_MAGIC_LEN + 2;
    /* A NUL inside would make the owner shorter than its stored length,
     * and every offset computed from it afterwards wrong. */
    if (memchr(buf + p, '\0', owner_len) != NULL) {
        errbuf_set(err, "%s: the owner stored in the file holds a NUL byte; "
            "the key file is damaged", path);
        return -1;
    }
    memcpy(owner_out, buf + p, owner_len);
    owner_out[owner_len] = '\0';
    if (!keys_owner_valid(owner_out)) {
        errbuf_set(err, "%s: the owner stored in the file is not a valid "
            "identity name", path);
        return -1;
    }
    if (s_check_name(path, kind, owner_out, err) != 0)
        return -1;
    p += owner_len;
    if (buf[p] != S_KDF_ARGON2ID) {
        errbuf_set(err, "%s: unknown key derivation algorithm %u (this "
            "version knows 1 = Argon2id)", path, (unsigned)buf[p]);
        return -1;
    }
    p++;
    *ops = s_load_u64(buf + p);
    *mem = s_load_u64(buf + p + 8);
    if (*ops < S_OPS_MIN || *mem < S_MEM_MIN) {
        errbuf_set(err, "%s: key derivation settings (opslimit %llu, "
            "memlimit %llu) are weaker than the minimum (%u, %u): the file "
            "may have been downgraded; restore it from a backup or create a "
            "new identity", path, (unsigned long long)*ops,
            (unsigned long long)*mem, (unsigned)S_OPS_MIN,
            (unsigned)S_MEM_MIN);
        return -1;
    }
    if (*ops > S_OPS_MAX || *mem > S_MEM_MAX) {
        errbuf_set(err, "%s: key derivation settings (opslimit %llu, "
            "memlimit %llu) exceed the maximum (%u, %u); refusing to spend "
            "that much time or memory", path, (unsigned long long)*ops,
            (unsigned long long)*mem, (unsigned)S_OPS_MAX,
            (unsigned)S_MEM_MAX);
        return -1;
    }
    /* libsodium's presets are all powers of two; anything else is damage. */
    if ((*mem & (*mem - 1)) != 0) {
        errbuf_set(err, "%s: key derivation memlimit %llu is not a power of "
            "two; the key file is damaged", path, (unsigned long long)*mem);
        return -1;
    }
    return 0;
}

/* Does the decrypted secret belong to the stored public key? */
static int
s_pair_matches(int kind, const uint8_t *sk, const uint8_t pk[32])
{
    uint8_t *tmp = sodium_malloc(KEYS_SIGN_SK_BYTES + 32);
    int      ok = 0;

    if (tmp == NULL)
        return 0;
    if (kind == KEYS_SIGN) {
        /* An Ed25519 sk is seed || pk; recompute both halves from the seed
         * rather than trusting the copy of pk inside it. */
        if (crypto_sign_seed_keypair(tmp + KEYS_SIGN_SK_BYTES, tmp, sk) == 0)
            ok = sodium_memcmp(tmp, sk, KEYS_SIGN_SK_BYTES) == 0
                && sodium_memcmp(tmp + KEYS_SIGN_SK_BYTES, pk, 32) == 0;
    } else {
        if (crypto_scalarmult_base(tmp, sk) == 0)
            ok = sodium_memcmp(tmp, pk, 32) == 0;
    }
    sodium_memzero(tmp, KEYS_SIGN_SK_BYTES + 32);
    sodium_free(tmp);
    return ok;
}

keys_secret_t *
keys_secret_load(const char *path, keys_kind_t kind, const char *passphrase,
    size_t passphrase_len, errbuf_t *err)
{
    uint8_t       *buf = NULL, *key = NULL, *plain = NULL;
    size_t         len = 0, hlen, sk_len, ct_len;
    char           owner[KEYS_OWNER_MAX + 1];
    uint64_t       ops = 0, mem = 0;
    keys_secret_t *self = NULL;

    if (sodium_init() < 0) {
        errbuf_set(err, "libsodium failed to initialise");
        return NULL;
    }
    if (keys_kind_name((int)kind) == NULL) {
        errbuf_set(err, "%s: unknown key kind %d", path, (int)kind);
        return NULL;
    }
    if (passphrase_len > KEYS_PASSPHRASE_MAX) {
        errbuf_set(err, "passphrase longer than %d bytes", KEYS_PASSPHRASE_MAX);
        return NULL;
    }
    if (fileio_read_private(path, S_READ_MAX, &buf, &len, err) != 0)
        return NULL;
    if (s_check_parent(path, err) != 0)
        goto cleanup;
    if (s_secret_parse(buf, len, kind, path, owner, &ops, &mem, err) != 0)
        goto cleanup;

    hlen = s_header_len(strlen(owner));
    sk_len = s_sk_bytes((int)kind);
    ct_len = len - hlen;
    key = sodium_malloc(S_KEY_BYTES);
    plain = sodium_malloc(S_PLAIN_MAX);
    if (key == NULL || plain == NULL) {
        errbuf_set(err, "%s: out of memory", path);
        goto cleanup;
    }
    if (s_derive(key, passphrase, passphrase_len, buf + hlen - S_NONCE_BYTES
            - S_SALT_BYTES, ops, mem, path, err) != 0)
        goto cleanup;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL,
            buf + hlen, ct_len, buf, hlen, buf + hlen - S_NONCE_BYTES, key)
        != 0) {
        errbuf_set(err, "%s: wrong passphrase, or the key file is damaged",
            path);
        goto cleanup;
    }
    if (!s_pair_matches((int)kind, plain, plain + sk_len)) {
        errbuf_set(err, "%s: the secret key does not match its public key; "
            "the key file is damaged", path);
        goto cleanup;
    }
    if ((self = sodium_malloc(sizeof *self)) == NULL) {
        errbuf_set(err, "%s: out of memory", path);
        goto cleanup;
    }
    memset(self, 0, sizeof *self);
    memcpy(self->sk, plain, sk_len);
    memcpy(self->pk, plain + sk_len, 32);
    keys_id(self->pk, self->id);
    memcpy(self->owner, owner, sizeof owner);
    self->kind = kind;
    sodium_mprotect_readonly(self);
cleanup:
    if (key != NULL) {
        sodium_memzero(key, S_KEY_BYTES);
        sodium_free(key);
    }
    if (plain != NULL) {
        sodium_memzero(plain, S_PLAIN_MAX);
        sodium_free(plain);
    }
    sodium_memzero(buf, len);
    free(buf);
    return self;
}

void
keys_secret_destroy(keys_secret_t **self_p)
{
    if (self_p == NULL || *self_p == NULL)
        return;
    sodium_mprotect_readwrite(*self_p);
    sodium_memzero(*self_p, sizeof **self_p);
    sodium_free(*self_p);
    *self_p = NULL;
}

keys_kind_t
keys_secret_kind(const keys_secret_t *self)
{
    return self->kind;
}

const char *
keys_secret_owner(const keys_secret_t *self)
{
    return self->owner;
}

const uint8_t *
keys_secret_public(const keys_secret_t *self)
{
    return self->pk;
}

const uint8_t *
keys_secret_key_id(const keys_secret_t *self)
{
    return self->id;
}

const uint8_t *
keys_secret_bytes(const keys_secret_t *self)
{
    return self->sk;
}

int
keys_sign(const keys_secret_t *self, const uint8_t *msg, size_t len,
    uint8_t sig[KEYS_SIG_BYTES])
{
    if (self == NULL || self->kind != KEYS_SIGN)
        return -1;
    return crypto_sign_detached(sig, NULL, msg, len, self->sk);
}

/* ---------------------------------------------------------------------
 * Public identities
 */

/* Is an X25519 public key usable (not of small order)? libsodium refuses
 * small-order points in crypto_scalarmult; the scalar is arbitrary. */
static int
s_x25519_usable(const uint8_t pk[32])
{
    static const uint8_t scalar[32] = {9};
    uint8_t              q[32];
    int                  ok = crypto_scalarmult(q, scalar, pk) == 0;

    sodium_memzero(q, sizeof q);
    return ok;
}

int
keys_public_check(const keys_public_t *pub, errbuf_t *err)
{
    uint8_t id[KEYS_ID_BYTES];

    if (sodium_init() < 0) {
        errbuf_set(err, "libsodium failed to initialise");
        return -1;
    }
    if (memchr(pub->owner, '\0', sizeof pub->owner) == NULL
        || !keys_owner_valid(pub->owner)) {
        errbuf_set(err, "field \"owner\": not a valid identity (1 to %d "
            "letters, digits, '_' or '-', such as ARG or hub)", KEYS_OWNER_MAX);
        return -1;
    }
    if (!crypto_core_ed25519_is_valid_point(pub->sign_pk)) {
        errbuf_set(err, "field \"sign\": not a usable Ed25519 public key "
            "(not a point of the main subgroup, or of small order)");
        return -1;
    }
    if (!s_x25519_usable(pub->box_pk)) {
        errbuf_set(err, "field \"box\": not a usable X25519 public key "
            "(a point of small order)");
        return -1;
    }
    if (!s_x25519_usable(pub->transport_pk)) {
        errbuf_set(err, "field \"transport\": not a usable Curve25519 public "
            "key (a point of small order)");
        return -1;
    }
    keys_id(pub->sign_pk, id);
    if (memcmp(id, pub->sign_key_id, KEYS_ID_BYTES) != 0) {
        errbuf_set(err, "field \"sign_key_id\": does not match the sign key");
        return -1;
    }
    keys_id(pub->box_pk, id);
    if (memcmp(id, pub->box_key_id, KEYS_ID_BYTES) != 0) {
        errbuf_set(err, "field \"box_key_id\": does not match the box key");
        return -1;
    }
    return 0;
}

int
keys_public_init(keys_public_t *pub, const char *owner,
    const uint8_t sign_pk[32], const uint8_t box_pk[32],
    const uint8_t transport_pk[32], errbuf_t *err)
{
    memset(pub, 0, sizeof *pub);
    if (!keys_owner_valid(owner)) {
        errbuf_set(err, "field \"owner\": not a valid identity (1 to %d "
            "letters, digits, '_' or '-', such as ARG or hub)", KEYS_OWNER_MAX);
        return -1;
    }
    memcpy(pub->owner, owner, strlen(owner) + 1);
    memcpy(pub->sign_pk, sign_pk, 32);
    memcpy(pub->box_pk, box_pk, 32);
    memcpy(pub->transport_pk, transport_pk, 32);
    keys_id(sign_pk, pub->sign_key_id);
    keys_id(box_pk, pub->box_key_id);
    return keys_public_check(pub, err);
}

/* Copy s into out for a message, replacing anything unprintable so a
 * hostile file cannot put terminal escapes into our output. */
static void
s_printable(const char *s, char *out, size_t cap)
{
    size_t i;

    for (i = 0; s[i] != '\0' && i + 4 < cap; i++)
        out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    if (s[i] != '\0' && cap >= 4) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

/* A string field of the .pub object, with no embedded NUL. */
static const char *
s_field_string(json_t *root, const char *name, size_t *len, errbuf_t *err)
{
    json_t *v = json_object_get(root, name);

    if (v == NULL) {
        errbuf_set(err, "missing field \"%s\"", name);
        return NULL;
    }
    if (!json_is_string(v)) {
        errbuf_set(err, "field \"%s\": must be a string", name);
        return NULL;
    }
    *len = json_string_length(v);
    if (strlen(json_string_value(v)) != *len) {
        errbuf_set(err, "field \"%s\": contains a NUL character", name);
        return NULL;
    }
    return json_string_value(v);
}

/* Standard base64 (with padding) of exactly 32 bytes. libsodium refuses
 * non-zero unused bits in the last character, so the encoding is
 * canonical. */
static int
s_field_key(json_t *root, const char *name, uint8_t out[32], errbuf_t *err)
{
    const size_t want = sodium_base64_ENCODED_LEN(32,
        sodium_base64_VARIANT_ORIGINAL) - 1;
    const char  *s, *end = NULL;
    size_t       len = 0, bin_len = 0;

    if ((s = s_field_string(root, name, &len, err)) == NULL)
        return -1;
    if (len != want
        || sodium_base642bin(out, 32, s, len, NULL, &bin_len, &end,
               sodium_base64_VARIANT_ORIGINAL) != 0
        || bin_len != 32 || end != s + len) {
        errbuf_set(err, "field \"%s\": not the base64 of a 32-byte key "
            "(expected %zu characters, standard alphabet, with padding)",
            name, want);
        return -1;
    }
    return 0;
}

/* Exactly 32 lower-case hex digits. */
static int
s_field_id(json_t *root, const char *name, uint8_t out[KEYS_ID_BYTES],
    errbuf_t *err)
{
    const char *s;
    size_t      len = 0, i, bin_len = 0;

    if ((s = s_field_string(root, name, &len, err)) == NULL)
        return -1;
    for (i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            break;
    if (len != 2 * KEYS_ID_BYTES || i != len
        || sodium_hex2bin(out, KEYS_ID_BYTES, s, len, NULL, &bin_len, NULL)
            != 0
        || bin_len != KEYS_ID_BYTES) {
        errbuf_set(err, "field \"%s\": expected %d lower-case hex digits",
            name, 2 * KEYS_ID_BYTES);
        return -1;
    }
    return 0;
}

int
keys_public_parse(const char *json, size_t len, keys_public_t *out,
    errbuf_t *err)
{
    static const char *const known[] = {"format", "owner", "sign", "box",
        "transport", "sign_key_id", "box_key_id"};
    json_error_t jerr;
    json_t      *root, *v;
    const char  *name, *s;
    size_t       slen = 0, i;
    int          rc = -1;

    memset(out, 0, sizeof *out);
    if (sodium_init() < 0) {
        errbuf_set(err, "libsodium failed to initialise");
        return -1;
    }
    if (len > KEYS_PUBLIC_MAX) {
        errbuf_set(err, "%zu bytes is larger than the limit of %u bytes", len,
            KEYS_PUBLIC_MAX);
        return -1;
    }
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        /* jansson quotes the offending bytes: keep them out of terminals */
        char shown[sizeof jerr.text];

        s_printable(jerr.text, shown, sizeof shown);
        errbuf_set(err, "not valid JSON (line %d, column %d: %s)", jerr.line,
            jerr.column, shown);
        return -1;
    }
    if (!json_is_object(root)) {
        errbuf_set(err, "expected a JSON object with the fields format, "
            "owner, sign, box, transport, sign_key_id, box_key_id");
        goto cleanup;
    }
    json_object_foreach(root, name, v) {
        char shown[64];

        for (i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(name, known[i]) == 0)
                break;
        if (i == sizeof known / sizeof known[0]) {
            s_printable(name, shown, sizeof shown);
            errbuf_set(err, "unknown field \"%s\" (a .pub file has only "
                "format, owner, sign, box, transport, sign_key_id, "
                "box_key_id)", shown);
            goto cleanup;
        }
    }
    if ((s = s_field_string(root, "format", &slen, err)) == NULL)
        goto cleanup;
    if (strcmp(s, KEYS_PUBLIC_FORMAT) != 0) {
        char shown[64];

        s_printable(s, shown, sizeof shown);
        errbuf_set(err, "field \"format\": \"%s\" is not \"%s\" (a file from "
            "another program or a newer version?)", shown, KEYS_PUBLIC_FORMAT);
        goto cleanup;
    }
    if ((s = s_field_string(root, "owner", &slen, err)) == NULL)
        goto cleanup;
    if (!keys_owner_valid(s)) {
        errbuf_set(err, "field \"owner\": not a valid identity (1 to %d "
            "letters, digits, '_' or '-', such as ARG or hub)", KEYS_OWNER_MAX);
        goto cleanup;
    }
    memcpy(out->owner, s, slen + 1);
    if (s_field_key(root, "sign", out->sign_pk, err) != 0
        || s_field_key(root, "box", out->box_pk, err) != 0
        || s_field_key(root, "transport", out->transport_pk, err) != 0
        || s_field_id(root, "sign_key_id", out->sign_key_id, err) != 0
        || s_field_id(root, "box_key_id", out->box_key_id, err) != 0
        || keys_public_check(out, err) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    json_decref(root);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

int
keys_public_encode(const keys_public_t *pub, char **out, size_t *out_len,
    errbuf_t *err)
{
    char    sign[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];
    char    box[sizeof sign], transport[sizeof sign];
    char    sid[2 * KEYS_ID_BYTES + 1], bid[sizeof sid];
    json_t *root;
    char   *text, *grown;
    size_t  n;

    *out = NULL;
    *out_len = 0;
    if (keys_public_check(pub, err) != 0)
        return -1;
    sodium_bin2base64(sign, sizeof sign, pub->sign_pk, 32,
        sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(box, sizeof box, pub->box_pk, 32,
        sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(transport, sizeof transport, pub->transport_pk, 32,
        sodium_base64_VARIANT_ORIGINAL);
    keys_id_hex(pub->sign_key_id, sid);
    keys_id_hex(pub->box_key_id, bid);
    root = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "format",
        KEYS_PUBLIC_FORMAT, "owner", pub->owner, "sign", sign, "box", box,
        "transport", transport, "sign_key_id", sid, "box_key_id", bid);
    text = NULL;
    if (root != NULL)
        text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (text == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    n = strlen(text);
    if ((grown = realloc(text, n + 2)) == NULL) {
        free(text);
        errbuf_set(err, "out of memory");
        return -1;
    }
    grown[n] = '\n';
    grown[n + 1] = '\0';
    *out = grown;
    *out_len = n + 1;
    return 0;
}

int
keys_public_load(const char *path, keys_public_t *out, errbuf_t *err)
{
    uint8_t *buf = NULL;
    size_t   len = 0;
    int      rc;

    memset(out, 0, sizeof *out);
    if (fileio_read(path, KEYS_PUBLIC_MAX, &buf, &len, err) != 0)
        return -1;
    rc = keys_public_parse((const char *)buf, len, out, err);
    if (rc != 0)
        errbuf_prefix(err, "%s", path);
    free(buf);
    return rc;
}

int
keys_public_save(const char *path, const keys_public_t *pub, errbuf_t *err)
{
    char  *text = NULL;
    size_t len = 0;
    int    rc;

    if (keys_public_encode(pub, &text, &len, err) != 0) {
        errbuf_prefix(err, "%s", path);
        return -1;
    }
    rc = fileio_write(path, text, len, 0644, 1, err);
    free(text);
    return rc;
}

/* ---------------------------------------------------------------------
 * New identities
 */

int
keys_generate(const char *dir, const char *owner, const char *passphrase,
    size_t passphrase_len, errbuf_t *err)
{
    char          paths[4][PATH_MAX];
    int           written[4] = {0};
    uint8_t       pks[4][32];
    uint8_t      *sks = NULL, *file = NULL;
    size_t        file_len = 0;
    char         *json = NULL;
    size_t        json_len = 0;
    keys_public_t pub;
    struct stat   st;
    int           k, rc = -1;

    if (sodium_init() < 0) {
        errbuf_set(err, "libsodium failed to initialise");
        return -1;
    }
    if (!keys_owner_valid(owner)) {
        errbuf_set(err, "\"%s\" is not a valid identity (1 to %d letters, "
            "digits, '_' or '-', such as ARG or hub)",
            owner == NULL ? "" : owner, KEYS_OWNER_MAX);
        return -1;
    }
    if (passphrase_len == 0) {
        errbuf_set(err, "empty passphrase; the key files need one");
        return -1;
    }
    if (passphrase_len > KEYS_PASSPHRASE_MAX) {
        errbuf_set(err, "passphrase longer than %d bytes", KEYS_PASSPHRASE_MAX);
        return -1;
    }
    if (fileio_private_dir(dir, err) != 0)
        return -1;
    /* Refuse before the slow part: an identity is never replaced. */
    for (k = 0; k <= KEYS_TRANSPORT; k++) {
        if (keys_path(paths[k], sizeof paths[k], dir, owner, k) != 0) {
            errbuf_set(err, "%s: key directory path too long", dir);
            return -1;
        }
        if (lstat(paths[k], &st) == 0) {
            errbuf_set(err, "%s: already exists; refusing to overwrite an "
                "identity (use another --keys directory, or move the old "
                "identity away first)", paths[k]);
            return -1;
        }
        if (errno != ENOENT) {
            errbuf_set(err, "%s: %s", paths[k], strerror(errno));
            return -1;
        }
    }
    sks = sodium_malloc(3 * KEYS_SIGN_SK_BYTES);
    file = malloc(S_FILE_MAX);
    if (sks == NULL || file == NULL) {
        errbuf_set(err, "out of memory");
        goto cleanup;
    }
    crypto_sign_keypair(pks[KEYS_SIGN], sks);
    crypto_box_keypair(pks[KEYS_BOX], sks + KEYS_SIGN_SK_BYTES);
    crypto_box_keypair(pks[KEYS_TRANSPORT], sks + 2 * KEYS_SIGN_SK_BYTES);
    if (keys_public_init(&pub, owner, pks[KEYS_SIGN], pks[KEYS_BOX],
            pks[KEYS_TRANSPORT], err) != 0)
        goto cleanup;
    for (k = KEYS_SIGN; k <= KEYS_TRANSPORT; k++) {
        if (s_secret_seal(k, owner, sks + (size_t)(k - 1) * KEYS_SIGN_SK_BYTES,
                pks[k], passphrase, passphrase_len, paths[k], file, &file_len,
                err) != 0
            || fileio_write(paths[k], file, file_len, 0600, 1, err) != 0)
            goto cleanup;
        written[k] = 1;
    }
    if (keys_public_encode(&pub, &json, &json_len, err) != 0
        || fileio_write(paths[0], json, json_len, 0644, 1, err) != 0)
        goto cleanup;
    written[0] = 1;
    rc = 0;
cleanup:
    if (rc != 0)
        for (k = 0; k <= KEYS_TRANSPORT; k++)
            if (written[k])
                unlink(paths[k]);
    if (sks != NULL) {
        sodium_memzero(sks, 3 * KEYS_SIGN_SK_BYTES);
        sodium_free(sks);
    }
    free(file);
    free(json);
    return rc;
}
