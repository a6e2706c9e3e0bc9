/*
 * test_package: a CSBM package bound to its envelope. Every sample is
 * sealed, verified and opened by each recipient; "all" expands to the
 * active members; package_seal and package_verify refuse what they must;
 * and package_open checks that the inner package agrees with the signed
 * header, tried with envelopes built directly by envelope_seal whose
 * header says something else than the package inside.
 *
 * Identities are raw keys (itest_member) in an in-memory keyring. The
 * package API takes loaded secret keys, and keys_secret_load is the only
 * way to get one, so the secret files are written here from the raw keys
 * (layout of docs/FORMAT-keys.md, at the lowest key derivation settings the
 * loader accepts, every file under one file key derived once) and loaded
 * once for the whole group.
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
#include <unistd.h>

#include "config/keyring.h"
#include "crypto/envelope.h"
#include "crypto/fileio.h"
#include "crypto/keys.h"
#include "crypto/package.h"
#include "proto/json_codec.h"
#include "proto/package.pb-c.h"
#include "proto/validate.h"
#include "tests/support/itest.h"

#define T_FED       "OAS-CSBM"
#define T_PASS      "test_package passphrase"
#define T_SEQUENCE  42u
#define T_PAST      INT64_C(1780272000) /* 2026-06-01T00:00:00Z */
#define T_EXPIRED   INT64_C(1793491200) /* 2026-11-01T00:00:00Z */
#define T_NOW       INT64_C(1796083200) /* 2026-12-01T00:00:00Z */
#define T_LATER     INT64_C(1803859200) /* 2027-03-01T00:00:00Z */
#define T_MAX_FILES 64
#define T_MAX_REFS  4

/* The secret key file, written out here rather than taken from keys.c. */
#define T_SEC_MAGIC "CSBMSEC1"
#define T_SEC_KDF   1

/* The states of the samples sign; ECU and PRY are the recipients. */
static const char *const s_senders[] = {"ARG", "BRA", "CHL", "COL", "CRI",
    "GTM", "MEX", "PER", "URY"};
static const char *const s_readers[] = {"ECU", "PRY"};

/* The rest of the keyring: PAN is suspended only from T_LATER (still
 * active now), BOL suspended and VEN withdrawn since T_PAST, HND's only
 * key retired at T_PAST. */
static const char *const s_others[] = {"PAN", "BOL", "VEN", "HND", "hub"};

typedef struct {
    itest_member_t m;
    keys_secret_t *sign; /* the senders' */
    keys_secret_t *box;  /* the readers' */
} s_party_t;

#define T_PARTIES 24

static struct {
    char       dir[PATH_MAX];
    s_party_t  p[T_PARTIES];
    size_t     n;
    keyring_t *kr;
} s_fx;

/* ------------------------------------------------------ small helpers */

/* This test program's own sodium_memzero (the library's calls bind to it):
 * it wipes like libsodium's and, while armed, records what it wiped, so a
 * test can check that freeing an opened package wipes every block. */
#define T_MAX_WIPES 4096

static struct {
    int       armed;
    size_t    n;
    uintptr_t start[T_MAX_WIPES];
    size_t    len[T_MAX_WIPES];
} s_wipes;

void
sodium_memzero(void *const pnt, const size_t len)
{
    volatile unsigned char *p = pnt;
    size_t                  i;

    for (i = 0; i < len; i++)
        p[i] = 0;
    if (s_wipes.armed && s_wipes.n < T_MAX_WIPES) {
        s_wipes.start[s_wipes.n] = (uintptr_t)pnt;
        s_wipes.len[s_wipes.n++] = len;
    }
}

/* Were all n bytes at p wiped while the recorder was armed? */
static int
s_was_wiped(const void *p, size_t n)
{
    uintptr_t a = (uintptr_t)p;
    size_t    i;

    for (i = 0; i < s_wipes.n; i++)
        if (a >= s_wipes.start[i] && a - s_wipes.start[i] <= s_wipes.len[i]
            && n <= s_wipes.len[i] - (a - s_wipes.start[i]))
            return 1;
    return 0;
}

static void
s_assert_contains(const char *msg, const char *want)
{
    if (strstr(msg, want) == NULL)
        fail_msg("expected \"%s\" in the message \"%s\"", want, msg);
}

static s_party_t *
s_party(const char *owner)
{
    size_t i = 0;

    while (i < s_fx.n && strcmp(s_fx.p[i].m.owner, owner) != 0)
        i++;
    if (i == s_fx.n)
        fail_msg("no party %s in the fixture", owner);
    return &s_fx.p[i];
}

static const keys_secret_t *
s_sign(const char *owner)
{
    const keys_secret_t *k = s_party(owner)->sign;

    if (k == NULL)
        fail_msg("no signing key loaded for %s", owner);
    return k;
}

static const keys_secret_t *
s_box(const char *owner)
{
    const keys_secret_t *k = s_party(owner)->box;

    if (k == NULL)
        fail_msg("no encryption key loaded for %s", owner);
    return k;
}

static void
s_key_hex(const uint8_t pk[32], char hex[2 * KEYS_ID_BYTES + 1])
{
    uint8_t id[KEYS_ID_BYTES];

    keys_id(pk, id);
    keys_id_hex(id, hex);
}

static void
s_be64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

/* Write <dir>/<owner>.<kind>.key (mode 0600) holding sk || pk under the
 * file key fkey, salt in the header, and load it. */
static keys_secret_t *
s_secret(const uint8_t fkey[32], const uint8_t salt[16], const char *owner,
    keys_kind_t kind, const uint8_t *sk, size_t sk_len, const uint8_t pk[32])
{
    uint8_t            buf[256], plain[96], *nonce;
    size_t             p = 0, olen = strlen(owner);
    unsigned long long clen = 0;
    char               path[PATH_MAX];
    keys_secret_t     *k;
    errbuf_t           err = {{0}};
    int                fd;

    memcpy(buf, T_SEC_MAGIC, 8);
    p = 8;
    buf[p++] = (uint8_t)kind;
    buf[p++] = (uint8_t)olen;
    memcpy(buf + p, owner, olen);
    p += olen;
    buf[p++] = T_SEC_KDF;
    s_be64(buf + p, crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE);
    p += 8;
    s_be64(buf + p, crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE);
    p += 8;
    memcpy(buf + p, salt, 16);
    p += 16;
    nonce = buf + p;
    randombytes_buf(nonce, 24);
    p += 24;
    memcpy(plain, sk, sk_len);
    memcpy(plain + sk_len, pk, 32);
    crypto_aead_xchacha20poly1305_ietf_encrypt(buf + p, &clen, plain,
        sk_len + 32, buf, p, NULL, nonce, fkey);
    sodium_memzero(plain, sizeof plain);
    p += (size_t)clen;

    if (keys_path(path, sizeof path, s_fx.dir, owner, (int)kind) != 0)
        return NULL;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0 || write(fd, buf, p) != (ssize_t)p) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    close(fd);
    sodium_memzero(buf, sizeof buf);
    k = keys_secret_load(path, kind, T_PASS, strlen(T_PASS), &err);
    if (k == NULL)
        fprintf(stderr, "test_package: %s\n", err.msg);
    return k;
}

static s_party_t *
s_add_party(const char *owner, int64_t until, int status, int64_t since)
{
    s_party_t *p;

    if (s_fx.n >= T_PARTIES)
        return NULL;
    p = &s_fx.p[s_fx.n];
    if (itest_member(&p->m, owner) != 0
        || itest_keyring_bind(s_fx.kr, &p->m, 0, until, status, since) != 0)
        return NULL;
    s_fx.n++;
    return p;
}

/* Remove the key files and the directory (files only, no subdirectories). */
static void
s_rm_dir(const char *dir)
{
    DIR           *d = opendir(dir);
    struct dirent *e;
    char           path[PATH_MAX];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name)
            < (int)sizeof path)
            unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static int
s_group_setup(void **state)
{
    uint8_t fkey[32], salt[16];
    size_t  i;
    int     rc = -1;

    (void)state;
    if (sodium_init() < 0)
        return -1;
    memset(&s_fx, 0, sizeof s_fx);
    snprintf(s_fx.dir, sizeof s_fx.dir, "/tmp/test_package.XXXXXX");
    if (mkdtemp(s_fx.dir) == NULL || (s_fx.kr = keyring_new()) == NULL)
        return -1;
    randombytes_buf(salt, sizeof salt);
    if (crypto_pwhash(fkey, sizeof fkey, T_PASS, strlen(T_PASS), salt,
            crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
            crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE,
            crypto_pwhash_ALG_ARGON2ID13)
        != 0)
        return -1;
    for (i = 0; i < sizeof s_senders / sizeof s_senders[0]; i++) {
        s_party_t *p = s_add_party(s_senders[i], KEYRING_FOREVER,
            KEYRING_ACTIVE, 0);
        if (p == NULL
            || (p->sign = s_secret(fkey, salt, p->m.owner, KEYS_SIGN,
                    p->m.sign_sk, sizeof p->m.sign_sk, p->m.sign_pk))
                == NULL)
            goto cleanup;
    }
    for (i = 0; i < sizeof s_readers / sizeof s_readers[0]; i++) {
        s_party_t *p = s_add_party(s_readers[i], KEYRING_FOREVER,
            KEYRING_ACTIVE, 0);
        if (p == NULL
            || (p->box = s_secret(fkey, salt, p->m.owner, KEYS_BOX,
                    p->m.box_sk, sizeof p->m.box_sk, p->m.box_pk))
                == NULL)
            goto cleanup;
    }
    if (s_add_party(s_others[0], KEYRING_FOREVER, KEYRING_SUSPENDED, T_LATER)
            == NULL
        || s_add_party(s_others[1], KEYRING_FOREVER, KEYRING_SUSPENDED, T_PAST)
            == NULL
        || s_add_party(s_others[2], KEYRING_FOREVER, KEYRING_WITHDRAWN, T_PAST)
            == NULL
        || s_add_party(s_others[3], T_PAST, KEYRING_ACTIVE, 0) == NULL
        || s_add_party(s_others[4], KEYRING_FOREVER, KEYRING_ACTIVE, 0)
            == NULL)
        goto cleanup;
    rc = 0;
cleanup:
    sodium_memzero(fkey, sizeof fkey);
    return rc;
}

static int
s_group_teardown(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < s_fx.n; i++) {
        keys_secret_destroy(&s_fx.p[i].sign);
        keys_secret_destroy(&s_fx.p[i].box);
        sodium_memzero(&s_fx.p[i].m, sizeof s_fx.p[i].m);
    }
    keyring_destroy(&s_fx.kr);
    s_rm_dir(s_fx.dir);
    return 0;
}

/* ------------------------------------------------- packages and JSON */

static char *
s_read_source(const char *rel, size_t *len)
{
    const char *root = getenv("CSBM_SOURCE_DIR");
    char        path[PATH_MAX];
    uint8_t    *buf = NULL;
    errbuf_t    err = {{0}};
    int         n;

    n = snprintf(path, sizeof path, "%s/%s", root != NULL ? root : ".", rel);
    assert_true(n > 0 && (size_t)n < sizeof path);
    if (fileio_read(path, 8u << 20, &buf, len, &err) != 0)
        fail_msg("%s", err.msg);
    return (char *)buf;
}

static Csbm__Package *
s_decode(const char *text, size_t len, const char *what)
{
    errbuf_t          err = {{0}};
    ProtobufCMessage *m =
        json_codec_decode(&csbm__package__descriptor, text, len, &err);

    if (m == NULL)
        fail_msg("%s: %s", what, err.msg);
    return (Csbm__Package *)m;
}

/* A sample, "examples/<name>", decoded. */
static Csbm__Package *
s_sample(const char *name)
{
    char           rel[PATH_MAX];
    char          *text;
    size_t         len = 0;
    Csbm__Package *pkg;

    snprintf(rel, sizeof rel, "examples/%s", name);
    text = s_read_source(rel, &len);
    pkg = s_decode(text, len, rel);
    free(text);
    return pkg;
}

static void
s_pkg_free(Csbm__Package **pkg)
{
    if (*pkg != NULL)
        protobuf_c_message_free_unpacked(&(*pkg)->base, NULL);
    *pkg = NULL;
}

static char *
s_json(const Csbm__Package *pkg)
{
    errbuf_t err = {{0}};
    char    *s = json_codec_encode(&pkg->base, &err);

    if (s == NULL)
        fail_msg("json_codec_encode: %s", err.msg);
    return s;
}

static uint8_t *
s_pack(const Csbm__Package *pkg, size_t *len)
{
    uint8_t *buf;

    *len = protobuf_c_message_get_packed_size(&pkg->base);
    buf = malloc(*len + 1);
    assert_non_null(buf);
    assert_int_equal(protobuf_c_message_pack(&pkg->base, buf), *len);
    return buf;
}

/* Protobuf equality by serialization, and the JSON text. */
static void
s_assert_same_package(const Csbm__Package *a, const Csbm__Package *b)
{
    size_t   la = 0, lb = 0;
    uint8_t *pa = s_pack(a, &la), *pb = s_pack(b, &lb);
    char    *ja = s_json(a), *jb = s_json(b);

    assert_int_equal(la, lb);
    assert_memory_equal(pa, pb, la);
    assert_string_equal(ja, jb);
    free(pa);
    free(pb);
    free(ja);
    free(jb);
}

/* What the header must say of pkg, worked out here from the body. */
static Csbm__PackageType
s_type_of(const Csbm__Package *pkg)
{
    switch (pkg->body_case) {
    case CSBM__PACKAGE__BODY_MILEX: return CSBM__PACKAGE_TYPE__MILEX_REPORT;
    case CSBM__PACKAGE__BODY_ARMS_REGISTER:
        return CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN;
    case CSBM__PACKAGE__BODY_ACQUISITION_REPORT:
        return CSBM__PACKAGE_TYPE__ACQUISITION_REPORT;
    case CSBM__PACKAGE__BODY_ACQUISITION:
        return CSBM__PACKAGE_TYPE__ACQUISITION_NOTIFICATION;
    case CSBM__PACKAGE__BODY_EXERCISE:
        return CSBM__PACKAGE_TYPE__EXERCISE_NOTIFICATION;
    case CSBM__PACKAGE__BODY_DOCUMENT: return CSBM__PACKAGE_TYPE__DOCUMENT;
    default: fail_msg("sample without a body"); break;
    }
    return CSBM__PACKAGE_TYPE__PACKAGE_TYPE_UNSPECIFIED;
}

static const char *
s_subject_of(const Csbm__Package *pkg)
{
    if (pkg->body_case == CSBM__PACKAGE__BODY_ACQUISITION)
        return pkg->acquisition->incorporation_date;
    if (pkg->body_case == CSBM__PACKAGE__BODY_EXERCISE)
        return pkg->exercise->start_date;
    return "";
}

static Csbm__DocumentKind
s_kind_of(const Csbm__Package *pkg)
{
    return pkg->body_case == CSBM__PACKAGE__BODY_DOCUMENT
        ? pkg->document->kind
        : CSBM__DOCUMENT_KIND__DOCUMENT_KIND_UNSPECIFIED;
}

static void
s_ref_bytes(const char *hex, uint8_t out[ENVELOPE_ID_BYTES])
{
    size_t got = 0;

    assert_int_equal(sodium_hex2bin(out, ENVELOPE_ID_BYTES, hex, strlen(hex),
                         NULL, &got, NULL),
        0);
    assert_int_equal(got, ENVELOPE_ID_BYTES);
}

/* ------------------------------------------------ sealing and opening */

/* A keyring holding one binding of m. Caller destroys it. */
static keyring_t *
s_keyring_of(const itest_member_t *m, int64_t from, int64_t until,
    int status, int64_t since)
{
    keyring_t *kr = keyring_new();

    assert_non_null(kr);
    assert_int_equal(itest_keyring_bind(kr, m, from, until, status, since),
        0);
    return kr;
}

static package_seal_opts_t
s_opts(const char *signer, const char *const *to, size_t n_to,
    const keyring_t *kr)
{
    package_seal_opts_t o;

    memset(&o, 0, sizeof o);
    o.federation = T_FED;
    o.sign_key = signer != NULL ? s_sign(signer) : NULL;
    o.keyring = kr;
    o.to = to;
    o.n_to = n_to;
    o.sequence = T_SEQUENCE;
    o.now = T_NOW;
    return o;
}

static envelope_t *
s_parse(uint8_t *buf, size_t len)
{
    errbuf_t    err = {{0}};
    envelope_t *env = envelope_parse(buf, len, &err);

    if (env == NULL)
        fail_msg("envelope_parse: %s", err.msg);
    free(buf);
    return env;
}

/* Seal pkg as signer to `to` with the fixture's keyring; must succeed.
 * Caller owns the (not yet verified) envelope. */
static envelope_t *
s_seal(const Csbm__Package *pkg, const char *signer, const char *const *to,
    size_t n_to)
{
    package_seal_opts_t o = s_opts(signer, to, n_to, s_fx.kr);
    uint8_t            *buf = NULL;
    size_t              len = 0;
    errbuf_t            err = {{0}};

    if (package_seal(pkg, &o, &buf, &len, &err) != 0)
        fail_msg("package_seal as %s: %s", signer, err.msg);
    assert_non_null(buf);
    assert_true(len > 0);
    return s_parse(buf, len);
}

/* package_seal must refuse: no output, and exactly this message. */
static void
s_seal_refused(const Csbm__Package *pkg, const package_seal_opts_t *o,
    const char *want)
{
    uint8_t *buf = (uint8_t *)&buf;
    size_t   len = 1;
    errbuf_t err = {{0}};

    assert_int_equal(package_seal(pkg, o, &buf, &len, &err), -1);
    assert_null(buf);
    assert_int_equal(len, 0);
    assert_string_equal(err.msg, want);
}

static void
s_verify(const envelope_t *env)
{
    const keyring_key_t *k = NULL;
    errbuf_t             err = {{0}};

    if (package_verify(env, s_fx.kr, T_FED, &k, &err) != 0)
        fail_msg("package_verify: %s", err.msg);
    assert_non_null(k);
    assert_string_equal(k->pub.owner, envelope_header(env)->sender);
    assert_memory_equal(k->pub.sign_pk,
        s_party(envelope_header(env)->sender)->m.sign_pk, 32);
    assert_true(envelope_is_verified(env));
}

static Csbm__Package *
s_open(const envelope_t *env, const char *reader)
{
    Csbm__Package *pkg = NULL;
    errbuf_t       err = {{0}};

    if (package_open(env, s_box(reader), &pkg, &err) != 0)
        fail_msg("package_open as %s: %s", reader, err.msg);
    assert_non_null(pkg);
    return pkg;
}

/* package_open as reader must refuse with a message containing want. */
static void
s_open_refused(const envelope_t *env, const char *reader, const char *want)
{
    Csbm__Package *pkg = (Csbm__Package *)&pkg;
    errbuf_t       err = {{0}};

    assert_int_equal(package_open(env, s_box(reader), &pkg, &err), -1);
    assert_null(pkg);
    s_assert_contains(err.msg, want);
}

static void
s_assert_recipients(const Csbm__EnvelopeHeader *h, const char *const *want,
    size_t n)
{
    size_t i;

    if (h->n_recipients != n) {
        char got[512] = "";
        for (i = 0; i < h->n_recipients; i++) {
            strncat(got, h->recipients[i]->id, sizeof got - strlen(got) - 1);
            strncat(got, " ", sizeof got - strlen(got) - 1);
        }
        fail_msg("%zu recipients (%s), expected %zu", h->n_recipients, got,
            n);
    }
    for (i = 0; i < n; i++) {
        uint8_t id[KEYS_ID_BYTES];

        assert_string_equal(h->recipients[i]->id, want[i]);
        keys_id(s_party(want[i])->m.box_pk, id);
        assert_int_equal(h->recipients[i]->key_id.len, KEYS_ID_BYTES);
        assert_memory_equal(h->recipients[i]->key_id.data, id, KEYS_ID_BYTES);
    }
}

/* ------------------------------------------------------- round trips */

static int
s_cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the examples/<name>.json files, sorted. Caller frees each
 * name and the array. */
static char **
s_sample_names(size_t *n)
{
    const char    *root = getenv("CSBM_SOURCE_DIR");
    char           dir[PATH_MAX];
    char         **names = calloc(T_MAX_FILES, sizeof *names);
    DIR           *d;
    struct dirent *e;

    assert_non_null(names);
    snprintf(dir, sizeof dir, "%s/examples", root != NULL ? root : ".");
    d = opendir(dir);
    if (d == NULL)
        fail_msg("cannot list %s (is CSBM_SOURCE_DIR set?)", dir);
    *n = 0;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".json") != 0)
            continue;
        assert_true(*n < T_MAX_FILES);
        names[*n] = strdup(e->d_name);
        assert_non_null(names[*n]);
        (*n)++;
    }
    closedir(d);
    qsort(names, *n, sizeof *names, s_cmp_name);
    return names;
}

static void
s_assert_header_matches(const Csbm__EnvelopeHeader *h,
    const Csbm__Package *pkg, const char *name)
{
    size_t i;

    assert_string_equal(h->federation, T_FED);
    assert_string_equal(h->sender, pkg->state);
    if ((int)h->package_type != (int)s_type_of(pkg))
        fail_msg("%s: header type %d, expected %d", name,
            (int)h->package_type, (int)s_type_of(pkg));
    assert_int_equal(h->year, pkg->year);
    assert_int_equal(h->nil_report ? 1 : 0, pkg->nil_report ? 1 : 0);
    assert_int_equal(h->document_kind, s_kind_of(pkg));
    assert_string_equal(h->subject_date, s_subject_of(pkg));
    assert_int_equal(h->created_at, (uint64_t)T_NOW);
    assert_int_equal(h->sequence, T_SEQUENCE);
    assert_int_equal(h->distribution, CSBM__DISTRIBUTION__DIRECT);
    assert_int_equal(h->n_references, pkg->n_references);
    for (i = 0; i < pkg->n_references; i++) {
        uint8_t id[ENVELOPE_ID_BYTES];

        s_ref_bytes(pkg->references[i], id);
        assert_int_equal(h->references[i].len, ENVELOPE_ID_BYTES);
        assert_memory_equal(h->references[i].data, id, ENVELOPE_ID_BYTES);
    }
}

static void
test_package_round_trips_every_sample(void **state)
{
    static const char *const to[] = {"PRY", "ECU"}; /* header sorts them */
    static const char *const sorted[] = {"ECU", "PRY"};
    unsigned types = 0, kinds = 0;
    int      nil = 0, refs = 0, dated = 0;
    size_t   n = 0, i, r;
    char   **names = s_sample_names(&n);

    (void)state;
    assert_true(n >= 14);
    for (i = 0; i < n; i++) {
        char           rel[PATH_MAX];
        size_t         len = 0;
        char          *text, *json;
        Csbm__Package *pkg;
        envelope_t    *env;

        snprintf(rel, sizeof rel, "examples/%s", names[i]);
        text = s_read_source(rel, &len);
        pkg = s_decode(text, len, rel);
        /* The samples are written as the codec writes them. */
        json = s_json(pkg);
        assert_string_equal(json, text);
        free(json);

        env = s_seal(pkg, pkg->state, to, 2);
        s_assert_header_matches(envelope_header(env), pkg, names[i]);
        s_assert_recipients(envelope_header(env), sorted, 2);
        s_verify(env);
        for (r = 0; r < 2; r++) {
            Csbm__Package *got = s_open(env, sorted[r]);

            s_assert_same_package(got, pkg);
            json = s_json(got);
            assert_string_equal(json, text);
            free(json);
            package_free(&got);
        }

        types |= 1u << s_type_of(pkg);
        kinds |= 1u << s_kind_of(pkg);
        nil += pkg->nil_report ? 1 : 0;
        refs += pkg->n_references > 0;
        dated += s_subject_of(pkg)[0] != '\0';
        envelope_destroy(&env);
        s_pkg_free(&pkg);
        free(text);
        free(names[i]);
    }
    free(names);
    /* Every package type, the three document kinds of the samples, nil
     * reports, follow-ups and dated packages went through. */
    assert_int_equal(types, 0x7eu);
    assert_int_equal(kinds, (1u << 0) | (1u << 1) | (1u << 2) | (1u << 3));
    assert_true(nil >= 2);
    assert_true(refs >= 2);
    assert_true(dated >= 2);
}

/* ------------------------------------------------------------- "all" */

static void
test_package_to_all_expands_to_active_members(void **state)
{
    /* Not ARG itself, the hub, BOL (suspended), VEN (withdrawn) nor HND
     * (no current key); PAN is suspended only from T_LATER. */
    static const char *const active[] = {"BRA", "CHL", "COL", "CRI", "ECU",
        "GTM", "MEX", "PAN", "PER", "PRY", "URY"};
    static const char *const with_hub[] = {"BRA", "CHL", "COL", "CRI", "ECU",
        "GTM", "MEX", "PAN", "PER", "PRY", "URY", "hub"};
    static const char *const from_ury[] = {"ARG", "BRA", "CHL", "COL", "CRI",
        "ECU", "GTM", "MEX", "PAN", "PER", "PRY"};
    static const char *const all[] = {"all"};
    static const char *const all_hub[] = {"all", "hub"};
    static const char *const all_bra[] = {"BRA", "all", "ECU"};
    static const char *const all_bol[] = {"all", "BOL"};
    static const char *const hub[] = {"hub"};
    Csbm__Package      *pkg = s_sample("milex-standardized-ARG-2025.json");
    Csbm__Package      *nil = s_sample("milex-nil-URY-2025.json");
    Csbm__Package      *got;
    envelope_t         *env;
    package_seal_opts_t o;
    keyring_t          *lonely;

    (void)state;
    env = s_seal(pkg, "ARG", all, 1);
    s_assert_recipients(envelope_header(env), active, 11);
    assert_int_equal(envelope_header(env)->distribution,
        CSBM__DISTRIBUTION__ALL_MEMBERS);
    s_verify(env);
    got = s_open(env, "ECU");
    s_assert_same_package(got, pkg);
    package_free(&got);
    envelope_destroy(&env);

    /* The hub only when named; a state named beside "all" counts once. */
    env = s_seal(pkg, "ARG", all_hub, 2);
    s_assert_recipients(envelope_header(env), with_hub, 12);
    assert_int_equal(envelope_header(env)->distribution,
        CSBM__DISTRIBUTION__ALL_MEMBERS);
    envelope_destroy(&env);
    env = s_seal(pkg, "ARG", all_bra, 3);
    s_assert_recipients(envelope_header(env), active, 11);
    envelope_destroy(&env);
    env = s_seal(pkg, "ARG", hub, 1);
    s_assert_recipients(envelope_header(env), hub, 1);
    assert_int_equal(envelope_header(env)->distribution,
        CSBM__DISTRIBUTION__DIRECT);
    envelope_destroy(&env);

    /* "all" named twice, and beside "all" again: each member once. (It
     * once filled the recipient array twice over.) */
    {
        static const char *const all_all[] = {"all", "all", "BRA", "all"};
        env = s_seal(pkg, "ARG", all_all, 4);
        s_assert_recipients(envelope_header(env), active, 11);
        envelope_destroy(&env);
    }

    /* Every active member but the sender, whoever sends. */
    env = s_seal(nil, "URY", all, 1);
    s_assert_recipients(envelope_header(env), from_ury, 11);
    envelope_destroy(&env);

    /* "all" skips the inactive; naming one is refused. */
    o = s_opts("ARG", all_bol, 2, s_fx.kr);
    s_seal_refused(pkg, &o,
        "recipient BOL: BOL is suspended since 2026-06-01T00:00:00Z");

    /* No other active member: nobody to seal to. */
    lonely = s_keyring_of(&s_party("ARG")->m, 0, KEYRING_FOREVER,
        KEYRING_ACTIVE, 0);
    assert_int_equal(itest_keyring_bind(lonely, &s_party("hub")->m, 0,
                         KEYRING_FOREVER, KEYRING_ACTIVE, 0),
        0);
    assert_int_equal(itest_keyring_bind(lonely, &s_party("BOL")->m, 0,
                         KEYRING_FOREVER, KEYRING_SUSPENDED, T_PAST),
        0);
    o = s_opts("ARG", all, 1, lonely);
    s_seal_refused(pkg, &o,
        "no recipients: name at least one with --to (state codes, \"hub\" "
        "or \"all\")");

    keyring_destroy(&lonely);
    s_pkg_free(&pkg);
    s_pkg_free(&nil);
}

/* ------------------------------------------------- refused at sealing */

static void
test_package_seal_refuses_package_of_another_state(void **state)
{
    static const char *const to[] = {"ECU", "PRY"};
    Csbm__Package      *pkg = s_sample("milex-standardized-ARG-2025.json");
    package_seal_opts_t o = s_opts("CHL", to, 2, s_fx.kr);

    (void)state;
    s_seal_refused(pkg, &o,
        "$.state: the package is from ARG but the signing key belongs to "
        "CHL; seal it with ARG's key");
    s_pkg_free(&pkg);
}

static void
test_package_seal_refuses_invalid_samples(void **state)
{
    static const struct {
        const char *file;
        const char *count;
        const char *rule;
    } cases[] = {
        {"invalid/milex-matrix-mismatch.json",
            "package is not valid (2 problems):",
            "\n  $.milex.matrix.active_military.total: row total 1803500 "
            "differs from sum of cells 1803550"},
        {"invalid/arms-register-negative-quantity.json",
            "package is not valid (",
            "\n  $.arms_register.exports[0].quantity: negative quantity -6: "
            "counts are never negative"},
        {"invalid/exercise-cancellation-without-reference.json",
            "package is not valid (1 problem):",
            "\n  $.references: missing: a cancellation must refer to the "
            "package it cancels"},
        {"invalid/acquisition-unknown-country.json",
            "package is not valid (",
            "\n  $.acquisition.exporter_state: unknown state code \"GER\""},
    };
    static const char *const to[] = {"ECU"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Csbm__Package      *pkg = s_sample(cases[i].file);
        package_seal_opts_t o = s_opts(pkg->state, to, 1, s_fx.kr);
        uint8_t            *buf = (uint8_t *)&buf;
        size_t              len = 1;
        errbuf_t            err = {{0}};

        assert_int_equal(package_seal(pkg, &o, &buf, &len, &err), -1);
        assert_null(buf);
        assert_int_equal(len, 0);
        if (strncmp(err.msg, cases[i].count, strlen(cases[i].count)) != 0)
            fail_msg("%s: message \"%s\" does not start with \"%s\"",
                cases[i].file, err.msg, cases[i].count);
        s_assert_contains(err.msg, cases[i].rule);
        s_pkg_free(&pkg);
    }
}

static void
test_package_seal_refuses_unknown_or_inactive_recipient(void **state)
{
    static const char *const unknown[] = {"ECU", "XYZ"};
    static const char *const withdrawn[] = {"VEN"};
    static const char *const expired[] = {"PRY", "HND"};
    static const char *const bad_name[] = {"-rf"};
    Csbm__Package      *pkg = s_sample("milex-single-figure-PER-2025.json");
    package_seal_opts_t o;
    char                hex[2 * KEYS_ID_BYTES + 1], want[256];

    (void)state;
    o = s_opts("PER", unknown, 2, s_fx.kr);
    s_seal_refused(pkg, &o,
        "recipient XYZ: no key for XYZ in the registry (not a known "
        "participant)");
    o = s_opts("PER", withdrawn, 1, s_fx.kr);
    s_seal_refused(pkg, &o,
        "recipient VEN: VEN is withdrawn since 2026-06-01T00:00:00Z");
    s_key_hex(s_party("HND")->m.sign_pk, hex);
    snprintf(want, sizeof want, "recipient HND: HND has no key valid at "
        "2026-12-01T00:00:00Z: its latest key %s was retired at "
        "2026-06-01T00:00:00Z", hex);
    o = s_opts("PER", expired, 2, s_fx.kr);
    s_seal_refused(pkg, &o, want);
    o = s_opts("PER", bad_name, 1, s_fx.kr);
    s_seal_refused(pkg, &o,
        "recipient -rf: the recipient is not a valid identity name");
    o = s_opts("PER", NULL, 0, s_fx.kr);
    s_seal_refused(pkg, &o,
        "no recipients: name at least one with --to (state codes, \"hub\" "
        "or \"all\")");
    s_pkg_free(&pkg);
}

static void
test_package_seal_and_open_need_the_right_key_kind(void **state)
{
    static const char *const to[] = {"ECU"};
    Csbm__Package      *pkg = s_sample("milex-single-figure-PER-2025.json");
    Csbm__Package      *got = (Csbm__Package *)&got;
    package_seal_opts_t o = s_opts(NULL, to, 1, s_fx.kr);
    envelope_t         *env;
    errbuf_t            err = {{0}};

    (void)state;
    o.sign_key = s_box("ECU");
    s_seal_refused(pkg, &o, "sealing needs the sender's signing key");

    env = s_seal(pkg, "PER", to, 1);
    s_verify(env);
    assert_int_equal(package_open(env, s_sign("PER"), &got, &err), -1);
    assert_null(got);
    assert_string_equal(err.msg,
        "opening needs the recipient's encryption key");
    envelope_destroy(&env);
    s_pkg_free(&pkg);
}

/* ------------------------------------------------- refused at opening */

static void
test_package_open_refuses_non_recipient_and_unverified(void **state)
{
    static const char *const to[] = {"ECU"};
    Csbm__Package *pkg = s_sample("arms-register-BRA-2025.json");
    envelope_t    *env = s_seal(pkg, "BRA", to, 1), *copy;
    const uint8_t *bytes;
    size_t         len = 0;
    errbuf_t       err = {{0}};

    (void)state;
    bytes = envelope_bytes(env, &len);
    copy = envelope_parse(bytes, len, &err);
    assert_non_null(copy);
    s_open_refused(copy, "ECU",
        "envelope not verified: check the sender's signature");

    s_verify(env);
    s_open_refused(env, "PRY", "package is not addressed to PRY");
    envelope_destroy(&copy);
    envelope_destroy(&env);
    s_pkg_free(&pkg);
}

/* -------------------------------------------------- refused at verify */

/* package_verify of env against kr must fail with exactly want. */
static void
s_verify_refused(const envelope_t *env, const keyring_t *kr, const char *fed,
    const char *want)
{
    const keyring_key_t *k = NULL;
    errbuf_t             err = {{0}};

    assert_int_equal(package_verify(env, kr, fed, &k, &err), -1);
    assert_null(k);
    assert_false(envelope_is_verified(env));
    assert_string_equal(err.msg, want);
}

static envelope_t *
s_arg_milex(void)
{
    static const char *const to[] = {"ECU"};
    Csbm__Package *pkg = s_sample("milex-standardized-ARG-2025.json");
    envelope_t    *env = s_seal(pkg, "ARG", to, 1);

    s_pkg_free(&pkg);
    return env;
}

static void
test_package_verify_refuses_signer_key_not_valid_then(void **state)
{
    const itest_member_t *arg = &s_party("ARG")->m;
    const keyring_key_t  *k = NULL;
    envelope_t           *env = s_arg_milex();
    keyring_t            *kr;
    char                  hex[2 * KEYS_ID_BYTES + 1], want[512];
    errbuf_t              err = {{0}};

    (void)state;
    s_key_hex(arg->sign_pk, hex);

    /* Retired before the package was created. */
    kr = s_keyring_of(arg, 0, T_EXPIRED, KEYRING_ACTIVE, 0);
    snprintf(want, sizeof want, "sender ARG not trusted: ARG key %s was "
        "retired at 2026-11-01T00:00:00Z; the package was created at "
        "2026-12-01T00:00:00Z", hex);
    s_verify_refused(env, kr, T_FED, want);
    keyring_destroy(&kr);

    /* Not valid yet when the package was created. */
    kr = s_keyring_of(arg, T_LATER, KEYRING_FOREVER, KEYRING_ACTIVE, 0);
    snprintf(want, sizeof want, "sender ARG not trusted: ARG key %s is valid "
        "only from 2027-03-01T00:00:00Z; the package was created at "
        "2026-12-01T00:00:00Z", hex);
    s_verify_refused(env, kr, T_FED, want);
    keyring_destroy(&kr);

    /* Suspended before it. */
    kr = s_keyring_of(arg, 0, KEYRING_FOREVER, KEYRING_SUSPENDED, T_PAST);
    s_verify_refused(env, kr, T_FED,
        "sender ARG not trusted: ARG is suspended since "
        "2026-06-01T00:00:00Z; the package was created at "
        "2026-12-01T00:00:00Z");
    keyring_destroy(&kr);

    /* A suspension after it leaves what ARG signed before valid. */
    kr = s_keyring_of(arg, 0, KEYRING_FOREVER, KEYRING_SUSPENDED, T_LATER);
    if (package_verify(env, kr, T_FED, &k, &err) != 0)
        fail_msg("package_verify: %s", err.msg);
    assert_non_null(k);
    assert_string_equal(k->pub.owner, "ARG");
    keyring_destroy(&kr);
    envelope_destroy(&env);
}

static void
test_package_verify_refuses_unknown_signer(void **state)
{
    envelope_t    *env = s_arg_milex();
    keyring_t     *kr;
    itest_member_t moved;
    char           hex[2 * KEYS_ID_BYTES + 1], want[512];

    (void)state;
    s_key_hex(s_party("ARG")->m.sign_pk, hex);
    kr = s_keyring_of(&s_party("ECU")->m, 0, KEYRING_FOREVER, KEYRING_ACTIVE,
        0);
    snprintf(want, sizeof want, "sender ARG not trusted: no key %s for ARG "
        "in the registry (ARG has no key at all: not a known participant)",
        hex);
    s_verify_refused(env, kr, T_FED, want);
    keyring_destroy(&kr);

    /* ARG's key registered as someone else's. */
    moved = s_party("ARG")->m;
    snprintf(moved.owner, sizeof moved.owner, "CHL");
    kr = s_keyring_of(&moved, 0, KEYRING_FOREVER, KEYRING_ACTIVE, 0);
    snprintf(want, sizeof want, "sender ARG not trusted: key %s belongs to "
        "CHL, not to ARG", hex);
    s_verify_refused(env, kr, T_FED, want);
    sodium_memzero(&moved, sizeof moved);
    keyring_destroy(&kr);
    envelope_destroy(&env);
}

static void
test_package_verify_refuses_other_federation(void **state)
{
    envelope_t    *env = s_arg_milex();
    keyring_t     *kr;
    itest_member_t other;
    char           hex[2 * KEYS_ID_BYTES + 1], want[512];

    (void)state;
    /* The keyring of another federation knows an ARG, with other keys. */
    assert_int_equal(itest_member(&other, "ARG"), 0);
    kr = s_keyring_of(&other, 0, KEYRING_FOREVER, KEYRING_ACTIVE, 0);
    s_key_hex(s_party("ARG")->m.sign_pk, hex);
    snprintf(want, sizeof want, "sender ARG not trusted: no key %s for ARG "
        "in the registry", hex);
    s_verify_refused(env, kr, T_FED, want);
    keyring_destroy(&kr);

    /* The right keyring, but the package names another federation. */
    s_verify_refused(env, s_fx.kr, "OTHER-FED",
        "package belongs to federation \"OAS-CSBM\", not \"OTHER-FED\"");
    sodium_memzero(&other, sizeof other);
    envelope_destroy(&env);
}

/* ------------------------------------------ the binding, crafted header */

/* What a crafted header says, and who signs it. */
typedef struct {
    const char        *sender;
    Csbm__PackageType  type;
    uint32_t           year;
    int                nil_report;
    Csbm__DocumentKind kind;
    uint8_t            refs[T_MAX_REFS][ENVELOPE_ID_BYTES];
    size_t             n_refs;
    const char        *subject_date;
} s_hdr_t;

/* The header package_seal would write for pkg. */
static s_hdr_t
s_hdr_of(const Csbm__Package *pkg)
{
    s_hdr_t h;
    size_t  i;

    memset(&h, 0, sizeof h);
    h.sender = pkg->state;
    h.type = s_type_of(pkg);
    h.year = pkg->year;
    h.nil_report = pkg->nil_report ? 1 : 0;
    h.kind = s_kind_of(pkg);
    assert_true(pkg->n_references <= T_MAX_REFS);
    for (i = 0; i < pkg->n_references; i++)
        s_ref_bytes(pkg->references[i], h.refs[i]);
    h.n_refs = pkg->n_references;
    h.subject_date = s_subject_of(pkg);
    return h;
}

/* An envelope to ECU of plain under header h, signed by h->sender's key
 * with envelope_seal and verified: its header is authentic. */
static envelope_t *
s_craft_plain(const uint8_t *plain, size_t plain_len, const s_hdr_t *h)
{
    const s_party_t       *s = s_party(h->sender);
    envelope_recipient_t   r = {"ECU", s_party("ECU")->m.box_pk};
    envelope_seal_params_t p;
    uint8_t               *buf = NULL;
    size_t                 len = 0;
    errbuf_t               err = {{0}};
    envelope_t            *env;

    memset(&p, 0, sizeof p);
    p.federation = T_FED;
    p.sender = h->sender;
    p.sign_sk = s->m.sign_sk;
    p.package_type = h->type;
    p.distribution = CSBM__DISTRIBUTION__DIRECT;
    p.recipients = &r;
    p.n_recipients = 1;
    p.created_at = (uint64_t)T_NOW;
    p.sequence = T_SEQUENCE;
    p.references = (const uint8_t(*)[ENVELOPE_ID_BYTES])h->refs;
    p.n_references = h->n_refs;
    p.year = h->year;
    p.nil_report = h->nil_report;
    p.subject_date = h->subject_date;
    p.document_kind = h->kind;
    if (envelope_seal(&p, plain, plain_len, &buf, &len, &err) != 0)
        fail_msg("envelope_seal: %s", err.msg);
    env = s_parse(buf, len);
    s_verify(env);
    return env;
}

static envelope_t *
s_craft(const Csbm__Package *pkg, const s_hdr_t *h)
{
    size_t      len = 0;
    uint8_t    *plain = s_pack(pkg, &len);
    envelope_t *env = s_craft_plain(plain, len, h);

    free(plain);
    return env;
}

/* The crafted envelope must be refused by ECU with exactly want. */
static void
s_binding_refused(const Csbm__Package *pkg, const s_hdr_t *h,
    const char *want)
{
    envelope_t    *env = s_craft(pkg, h);
    Csbm__Package *got = (Csbm__Package *)&got;
    errbuf_t       err = {{0}};

    assert_int_equal(package_open(env, s_box("ECU"), &got, &err), -1);
    assert_null(got);
    assert_string_equal(err.msg, want);
    envelope_destroy(&env);
}

static void
test_package_open_accepts_crafted_header_that_agrees(void **state)
{
    static const char *const samples[] = {
        "exercise-cancellation-ARG.json", "acquisition-notification-CHL.json",
        "document-white-paper-MEX.json", "milex-nil-URY-2025.json"};
    size_t i;

    (void)state;
    /* The crafting is right: a header that agrees opens. */
    for (i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        Csbm__Package *pkg = s_sample(samples[i]);
        s_hdr_t        h = s_hdr_of(pkg);
        envelope_t    *env = s_craft(pkg, &h);
        Csbm__Package *got = s_open(env, "ECU");

        s_assert_same_package(got, pkg);
        package_free(&got);
        envelope_destroy(&env);
        s_pkg_free(&pkg);
    }
}

static void
test_package_open_refuses_package_of_another_sender(void **state)
{
    Csbm__Package *pkg = s_sample("milex-standardized-ARG-2025.json");
    s_hdr_t        h = s_hdr_of(pkg);

    (void)state;
    /* CHL re-seals ARG's plaintext under its own name. */
    h.sender = "CHL";
    s_binding_refused(pkg, &h,
        "the package inside says it is from ARG but CHL signed it: refusing "
        "a forwarded or re-sealed package");
    s_pkg_free(&pkg);
}

static void
test_package_open_refuses_other_package_type(void **state)
{
    Csbm__Package *pkg = s_sample("milex-standardized-ARG-2025.json");
    Csbm__Package *doc = s_sample("document-csbm-inventory-GTM.json");
    s_hdr_t        h = s_hdr_of(pkg);

    (void)state;
    h.type = CSBM__PACKAGE_TYPE__ARMS_REGISTER_RETURN;
    s_binding_refused(pkg, &h,
        "the package inside is a MILEX_REPORT but the signed header says "
        "ARMS_REGISTER_RETURN");
    h = s_hdr_of(doc);
    h.type = CSBM__PACKAGE_TYPE__EXERCISE_NOTIFICATION;
    h.kind = CSBM__DOCUMENT_KIND__DOCUMENT_KIND_UNSPECIFIED;
    s_binding_refused(doc, &h,
        "the package inside is a DOCUMENT but the signed header says "
        "EXERCISE_NOTIFICATION");
    s_pkg_free(&doc);
    s_pkg_free(&pkg);
}

static void
test_package_open_refuses_other_year_or_nil_flag(void **state)
{
    static const char want[] = "the package's year or nil-report flag "
                               "differs from the signed header";
    Csbm__Package *figure = s_sample("milex-single-figure-PER-2025.json");
    Csbm__Package *nil = s_sample("milex-nil-URY-2025.json");
    s_hdr_t        h = s_hdr_of(figure);

    (void)state;
    h.year = figure->year - 1;
    s_binding_refused(figure, &h, want);
    h = s_hdr_of(figure);
    h.nil_report = 1;
    s_binding_refused(figure, &h, want);
    h = s_hdr_of(nil);
    assert_int_equal(h.nil_report, 1);
    h.nil_report = 0;
    s_binding_refused(nil, &h, want);
    s_pkg_free(&nil);
    s_pkg_free(&figure);
}

static void
test_package_open_refuses_other_document_kind(void **state)
{
    static const char want[] =
        "the package's document kind differs from the signed header";
    Csbm__Package *paper = s_sample("document-white-paper-MEX.json");
    Csbm__Package *inventory = s_sample("document-csbm-inventory-GTM.json");
    s_hdr_t        h = s_hdr_of(paper);

    (void)state;
    /* A white paper announced as the inventory the compliance report
     * counts, and the other way round. */
    h.kind = CSBM__DOCUMENT_KIND__CSBM_INVENTORY;
    s_binding_refused(paper, &h, want);
    h = s_hdr_of(inventory);
    h.kind = CSBM__DOCUMENT_KIND__OTHER_DOCUMENT;
    s_binding_refused(inventory, &h, want);
    s_pkg_free(&inventory);
    s_pkg_free(&paper);
}

/* The date deadlines are counted from is signed in the header, so a
 * sender cannot sign a later one than the package holds. */
static void
test_package_open_refuses_other_subject_date(void **state)
{
    Csbm__Package *notice = s_sample("acquisition-notification-CHL.json");
    Csbm__Package *milex = s_sample("milex-standardized-ARG-2025.json");
    s_hdr_t        h = s_hdr_of(notice);

    (void)state;
    assert_non_null(h.subject_date);
    h.subject_date = "2099-12-31";
    s_binding_refused(notice, &h, "the package's date (incorporation or "
        "exercise start, \"2026-09-15\") differs from the signed header's "
        "\"2099-12-31\", which deadlines are counted from");
    h = s_hdr_of(notice);
    h.subject_date = NULL;
    s_binding_refused(notice, &h, "the package's date (incorporation or "
        "exercise start, \"2026-09-15\") differs from the signed header's "
        "\"\", which deadlines are counted from");
    h = s_hdr_of(milex);
    h.subject_date = "2025-01-01";
    s_binding_refused(milex, &h, "the package's date (incorporation or "
        "exercise start, \"\") differs from the signed header's "
        "\"2025-01-01\", which deadlines are counted from");
    s_pkg_free(&milex);
    s_pkg_free(&notice);
}

static void
test_package_open_refuses_other_references(void **state)
{
    Csbm__Package *cancel = s_sample("exercise-cancellation-ARG.json");
    Csbm__Package *milex = s_sample("milex-standardized-ARG-2025.json");
    s_hdr_t        h = s_hdr_of(cancel);

    (void)state;
    assert_int_equal(h.n_refs, 1);
    h.n_refs = 0;
    s_binding_refused(cancel, &h,
        "the package's references differ from the signed header");
    h = s_hdr_of(cancel);
    memset(h.refs[1], 0x5a, ENVELOPE_ID_BYTES);
    h.n_refs = 2;
    s_binding_refused(cancel, &h,
        "the package's references differ from the signed header");
    h = s_hdr_of(cancel);
    h.refs[0][ENVELOPE_ID_BYTES - 1] ^= 0x01;
    s_binding_refused(cancel, &h, "reference 0 differs from the signed header");

    /* A follow-up header on a package that refers to nothing. */
    h = s_hdr_of(milex);
    memset(h.refs[0], 0x3f, ENVELOPE_ID_BYTES);
    h.n_refs = 1;
    s_binding_refused(milex, &h,
        "the package's references differ from the signed header");
    s_pkg_free(&milex);
    s_pkg_free(&cancel);
}

static void
test_package_open_refuses_undecodable_or_newer_package(void **state)
{
    /* Field 1 (state) claims five bytes and has one. */
    static const uint8_t cut[] = {0x0a, 0x05, 'A'};
    /* Field 99, a varint this version does not know. */
    static const uint8_t field99[] = {0x98, 0x06, 0x01};
    Csbm__Package *pkg = s_sample("milex-single-figure-PER-2025.json");
    s_hdr_t        h = s_hdr_of(pkg);
    size_t         len = 0;
    uint8_t       *plain = s_pack(pkg, &len), *longer;
    envelope_t    *env;

    (void)state;
    env = s_craft_plain(cut, sizeof cut, &h);
    s_open_refused(env, "ECU",
        "the decrypted package is not a valid csbm.Package");
    envelope_destroy(&env);

    longer = malloc(len + sizeof field99);
    assert_non_null(longer);
    memcpy(longer, plain, len);
    memcpy(longer + len, field99, sizeof field99);
    env = s_craft_plain(longer, len + sizeof field99, &h);
    s_open_refused(env, "ECU",
        "the decrypted package has fields this version does not know; "
        "upgrade csbm to read it");
    envelope_destroy(&env);
    free(longer);
    free(plain);
    s_pkg_free(&pkg);
}

/* ---------------------------------- unpacking the decrypted plaintext */

/* A sender can seal any plaintext with envelope_seal. Empty repeated
 * entries cost two bytes each on the wire and tens of bytes unpacked: a
 * million of them must hit the unpack budget, not be unpacked whole and
 * refused only afterwards by the binding check. */
static void
test_package_open_refuses_plaintext_beyond_its_memory_budget(void **state)
{
    /* field 7 (references), length-delimited, empty */
    static const uint8_t empty_ref[] = {0x3a, 0x00};
    const size_t   n = 1024 * 1024;
    Csbm__Package *pkg = s_sample("milex-single-figure-PER-2025.json");
    s_hdr_t        h = s_hdr_of(pkg);
    size_t         len = 0, i;
    uint8_t       *plain = s_pack(pkg, &len), *big;
    envelope_t    *env;

    (void)state;
    big = malloc(len + n * sizeof empty_ref);
    assert_non_null(big);
    memcpy(big, plain, len);
    for (i = 0; i < n; i++)
        memcpy(big + len + i * sizeof empty_ref, empty_ref, sizeof empty_ref);
    env = s_craft_plain(big, len + n * sizeof empty_ref, &h);
    s_open_refused(env, "ECU", "would take more than its memory budget");
    envelope_destroy(&env);

    /* As many empty lines in an arms register body (field 11; field 3,
     * exports): the budget counts every level. */
    free(big);
    big = malloc(len + 5 + n * sizeof empty_ref);
    assert_non_null(big);
    memcpy(big, plain, len);
    big[len] = 0x5a;
    big[len + 1] = 0x80; /* varint 2 MiB */
    big[len + 2] = 0x80;
    big[len + 3] = 0x80;
    big[len + 4] = 0x01;
    for (i = 0; i < n; i++) {
        big[len + 5 + 2 * i] = 0x1a;
        big[len + 5 + 2 * i + 1] = 0x00;
    }
    env = s_craft_plain(big, len + 5 + n * sizeof empty_ref, &h);
    s_open_refused(env, "ECU", "would take more than its memory budget");
    envelope_destroy(&env);
    free(big);
    free(plain);
    s_pkg_free(&pkg);
}

static char **
s_places(size_t n)
{
    char **v = calloc(n, sizeof *v);
    size_t i;

    assert_non_null(v);
    for (i = 0; i < n; i++)
        assert_non_null(v[i] = strdup("x"));
    return v;
}

static Csbm__TransferLine **
s_transfer_lines(size_t n)
{
    Csbm__TransferLine **v = calloc(n, sizeof *v);
    size_t               i;

    assert_non_null(v);
    for (i = 0; i < n; i++) {
        assert_non_null(v[i] = malloc(sizeof *v[i]));
        csbm__transfer_line__init(v[i]);
        v[i]->category = CSBM__ARMS_CATEGORY__COMBAT_AIRCRAFT;
        v[i]->withheld = 1;
        v[i]->n_intermediate_locations = VALIDATE_MAX_LOCATIONS;
        v[i]->intermediate_locations = s_places(VALIDATE_MAX_LOCATIONS);
    }
    return v;
}

static Csbm__SalwLine **
s_salw_lines(size_t n)
{
    Csbm__SalwLine **v = calloc(n, sizeof *v);
    size_t           i;

    assert_non_null(v);
    for (i = 0; i < n; i++) {
        assert_non_null(v[i] = malloc(sizeof *v[i]));
        csbm__salw_line__init(v[i]);
        v[i]->type = CSBM__SALW_TYPE__RIFLES_CARBINES;
        v[i]->withheld = 1;
        v[i]->n_intermediate_locations = VALIDATE_MAX_LOCATIONS;
        v[i]->intermediate_locations = s_places(VALIDATE_MAX_LOCATIONS);
    }
    return v;
}

/* The budget must not refuse what package_seal accepts: the valid package
 * with the most memory per byte of plaintext is an arms register return
 * with every list full of withheld lines, each through the most
 * intermediate locations of one byte. */
static void
test_package_open_accepts_the_largest_valid_package(void **state)
{
    static const char *const to[] = {"ECU"};
    const size_t   n = VALIDATE_MAX_LIST;
    Csbm__Package *pkg = s_sample("arms-register-BRA-2025.json");
    Csbm__Package *got;
    Csbm__ArmsRegisterReturn *a;
    envelope_t    *env;

    (void)state;
    assert_int_equal(pkg->body_case, CSBM__PACKAGE__BODY_ARMS_REGISTER);
    protobuf_c_message_free_unpacked(&pkg->arms_register->base, NULL);
    assert_non_null(a = malloc(sizeof *a));
    csbm__arms_register_return__init(a);
    a->n_exports = a->n_imports = n;
    a->exports = s_transfer_lines(n);
    a->imports = s_transfer_lines(n);
    a->n_salw_exports = a->n_salw_imports = n;
    a->salw_exports = s_salw_lines(n);
    a->salw_imports = s_salw_lines(n);
    pkg->arms_register = a;

    env = s_seal(pkg, "BRA", to, 1);
    s_verify(env);
    got = s_open(env, "ECU");
    assert_int_equal(got->arms_register->n_salw_imports, n);
    s_assert_same_package(got, pkg);
    package_free(&got);
    assert_null(got);
    package_free(&got); /* again, and with NULL: no-ops */
    package_free(NULL);
    envelope_destroy(&env);
    s_pkg_free(&pkg);
}

/* What package_open would refuse for its memory budget, package_seal
 * refuses first: a valid but absurd package of hundreds of thousands of
 * bare withheld lines (six bytes each, over a hundred unpacked). */
static void
test_package_seal_refuses_package_beyond_the_unpack_budget(void **state)
{
    static const char *const to[] = {"ECU"};
    const size_t        n = 256 * 1024;
    Csbm__Package      *pkg = s_sample("arms-register-BRA-2025.json");
    package_seal_opts_t o = s_opts("BRA", to, 1, s_fx.kr);
    Csbm__ArmsRegisterReturn *a;
    size_t              i;

    (void)state;
    protobuf_c_message_free_unpacked(&pkg->arms_register->base, NULL);
    assert_non_null(a = malloc(sizeof *a));
    csbm__arms_register_return__init(a);
    a->nil_imports = 1;
    assert_non_null(a->exports = calloc(n, sizeof *a->exports));
    a->n_exports = n;
    for (i = 0; i < n; i++) {
        assert_non_null(a->exports[i] = malloc(sizeof *a->exports[i]));
        csbm__transfer_line__init(a->exports[i]);
        a->exports[i]->category = CSBM__ARMS_CATEGORY__WARSHIPS;
        a->exports[i]->withheld = 1;
    }
    pkg->arms_register = a;
    {
        uint8_t *buf = (uint8_t *)&buf;
        size_t   len = 1;
        errbuf_t err = {{0}};

        assert_int_equal(package_seal(pkg, &o, &buf, &len, &err), -1);
        assert_null(buf);
        assert_int_equal(len, 0);
        s_assert_contains(err.msg, "bytes of memory to unpack, more than "
            "recipients accept; split it into several packages");
    }
    s_pkg_free(&pkg);
}

/* Fields this version does not know are refused at any depth, not only
 * at the top: a newer sender's data must not be silently dropped. */
static void
test_package_open_refuses_unknown_fields_in_nested_messages(void **state)
{
    static uint8_t              value[] = {0x01};
    ProtobufCMessageUnknownField field99 = {99, PROTOBUF_C_WIRE_TYPE_VARINT,
        sizeof value, value};
    Csbm__Package              *pkg = s_sample("milex-standardized-ARG-2025.json");
    s_hdr_t                     h = s_hdr_of(pkg);
    ProtobufCMessage           *where[3];
    envelope_t                 *env;
    size_t                      i;

    (void)state;
    assert_non_null(pkg->milex);
    assert_non_null(pkg->milex->matrix);
    assert_non_null(pkg->milex->matrix->personnel);
    where[0] = &pkg->milex->base;
    where[1] = &pkg->milex->matrix->base;
    where[2] = &pkg->milex->matrix->personnel->base;
    for (i = 0; i < sizeof where / sizeof where[0]; i++) {
        where[i]->n_unknown_fields = 1;
        where[i]->unknown_fields = &field99;
        env = s_craft(pkg, &h);
        where[i]->n_unknown_fields = 0;
        where[i]->unknown_fields = NULL;
        s_open_refused(env, "ECU",
            "the decrypted package has fields this version does not know; "
            "upgrade csbm to read it");
        envelope_destroy(&env);
    }
    /* And in a repeated message: an arms register line. */
    s_pkg_free(&pkg);
    pkg = s_sample("arms-register-BRA-2025.json");
    h = s_hdr_of(pkg);
    assert_true(pkg->arms_register->n_imports > 1);
    where[0] = &pkg->arms_register->imports[1]->base;
    where[0]->n_unknown_fields = 1;
    where[0]->unknown_fields = &field99;
    env = s_craft(pkg, &h);
    where[0]->n_unknown_fields = 0;
    where[0]->unknown_fields = NULL;
    s_open_refused(env, "ECU",
        "the decrypted package has fields this version does not know; "
        "upgrade csbm to read it");
    envelope_destroy(&env);
    /* The same package without it opens. */
    env = s_craft(pkg, &h);
    {
        Csbm__Package *got = s_open(env, "ECU");

        s_assert_same_package(got, pkg);
        package_free(&got);
    }
    envelope_destroy(&env);
    s_pkg_free(&pkg);
}

/* Decrypted content is confidential: package_free wipes every block of
 * the package, the message itself, its strings and its submessages. */
static void
test_package_free_wipes_the_opened_package(void **state)
{
    Csbm__Package *pkg = s_sample("arms-register-BRA-2025.json");
    s_hdr_t        h = s_hdr_of(pkg);
    envelope_t    *env = s_craft(pkg, &h);
    Csbm__Package *got = s_open(env, "ECU");
    const void    *blocks[6];
    size_t         sizes[6], i;
    const Csbm__TransferLine *line;

    (void)state;
    line = got->arms_register->exports[0];
    blocks[0] = got, sizes[0] = sizeof *got;
    blocks[1] = got->remarks, sizes[1] = strlen(got->remarks) + 1;
    blocks[2] = got->arms_register, sizes[2] = sizeof *got->arms_register;
    blocks[3] = line, sizes[3] = sizeof *line;
    blocks[4] = line->description, sizes[4] = strlen(line->description) + 1;
    blocks[5] = line->intermediate_locations[0],
    sizes[5] = strlen(line->intermediate_locations[0]) + 1;
    memset(&s_wipes, 0, sizeof s_wipes);
    s_wipes.armed = 1;
    package_free(&got);
    s_wipes.armed = 0;
    assert_null(got);
    for (i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        if (!s_was_wiped(blocks[i], sizes[i]))
            fail_msg("block %zu (%zu bytes) was freed without being wiped", i,
                sizes[i]);
    envelope_destroy(&env);
    s_pkg_free(&pkg);
}

static void
test_package_type_names(void **state)
{
    (void)state;
    assert_string_equal(package_type_name(CSBM__PACKAGE_TYPE__MILEX_REPORT),
        "MILEX_REPORT");
    assert_string_equal(package_type_name(CSBM__PACKAGE_TYPE__DOCUMENT),
        "DOCUMENT");
    assert_string_equal(package_type_name(0), "PACKAGE_TYPE_UNSPECIFIED");
    assert_string_equal(package_type_name(99), "UNKNOWN");
    assert_string_equal(package_type_name(-1), "UNKNOWN");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_package_round_trips_every_sample),
        cmocka_unit_test(test_package_to_all_expands_to_active_members),
        cmocka_unit_test(test_package_seal_refuses_package_of_another_state),
        cmocka_unit_test(test_package_seal_refuses_invalid_samples),
        cmocka_unit_test(
            test_package_seal_refuses_unknown_or_inactive_recipient),
        cmocka_unit_test(test_package_seal_and_open_need_the_right_key_kind),
        cmocka_unit_test(
            test_package_open_refuses_non_recipient_and_unverified),
        cmocka_unit_test(test_package_verify_refuses_signer_key_not_valid_then),
        cmocka_unit_test(test_package_verify_refuses_unknown_signer),
        cmocka_unit_test(test_package_verify_refuses_other_federation),
        cmocka_unit_test(test_package_open_accepts_crafted_header_that_agrees),
        cmocka_unit_test(test_package_open_refuses_package_of_another_sender),
        cmocka_unit_test(test_package_open_refuses_other_package_type),
        cmocka_unit_test(test_package_open_refuses_other_year_or_nil_flag),
        cmocka_unit_test(test_package_open_refuses_other_document_kind),
        cmocka_unit_test(test_package_open_refuses_other_subject_date),
        cmocka_unit_test(test_package_open_refuses_other_references),
        cmocka_unit_test(
            test_package_open_refuses_undecodable_or_newer_package),
        cmocka_unit_test(
            test_package_open_refuses_plaintext_beyond_its_memory_budget),
        cmocka_unit_test(test_package_open_accepts_the_largest_valid_package),
        cmocka_unit_test(
            test_package_seal_refuses_package_beyond_the_unpack_budget),
        cmocka_unit_test(
            test_package_open_refuses_unknown_fields_in_nested_messages),
        cmocka_unit_test(test_package_free_wipes_the_opened_package),
        cmocka_unit_test(test_package_type_names),
    };

    return cmocka_run_group_tests_name("package", tests, s_group_setup,
        s_group_teardown);
}
