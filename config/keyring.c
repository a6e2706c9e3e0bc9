/*
 * keyring: the public keys of every participant and when each may speak
 * for its owner (see keyring.h).
 *
 * Bindings are few (at most KEYRING_MAX_KEYS) and looked up rarely, so a
 * linear scan is enough; each binding is allocated on its own so the
 * pointers handed out stay valid while more are added.
 */
#include "config/keyring.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

struct keyring {
    keyring_key_t **keys;
    size_t          n_keys, cap_keys;
    char (*owners)[KEYS_OWNER_MAX + 1]; /* sorted, distinct */
    size_t n_owners, cap_owners;
};

keyring_t *
keyring_new(void)
{
    return calloc(1, sizeof(keyring_t));
}

void
keyring_destroy(keyring_t **self_p)
{
    keyring_t *self;
    size_t     i;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    for (i = 0; i < self->n_keys; i++)
        free(self->keys[i]);
    free(self->keys);
    free(self->owners);
    free(self);
    *self_p = NULL;
}

/* RFC 3339 UTC, or "@<seconds>" for a time gmtime cannot show. */
static void
s_time(int64_t t, char out[32])
{
    time_t    tt = (time_t)t;
    struct tm tm;

    if ((int64_t)tt != t || gmtime_r(&tt, &tm) == NULL
        || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "@%lld", (long long)t);
}

static const char *
s_status_name(keyring_status_t s)
{
    switch (s) {
    case KEYRING_ACTIVE: return "active";
    case KEYRING_SUSPENDED: return "suspended";
    case KEYRING_WITHDRAWN: return "withdrawn";
    default: return "unknown";
    }
}

/* " (reason)" or "", with anything unprintable replaced. */
static void
s_reason(const keyring_key_t *k, char *out, size_t cap)
{
    size_t i, n;

    if (k->reason[0] == '\0') {
        out[0] = '\0';
        return;
    }
    n = (size_t)snprintf(out, cap, " (%s)", k->reason);
    for (i = 0; i < n && i < cap; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            out[i] = '?';
}

static int
s_owner_active_at(const keyring_key_t *k, int64_t at)
{
    return k->status == KEYRING_ACTIVE || at < k->status_since;
}

static const keyring_key_t *
s_first_of(const keyring_t *self, const char *owner)
{
    size_t i;

    for (i = 0; i < self->n_keys; i++)
        if (strcmp(self->keys[i]->pub.owner, owner) == 0)
            return self->keys[i];
    return NULL;
}

static int
s_add_owner(keyring_t *self, const char *owner)
{
    size_t lo = 0, hi = self->n_owners, mid;
    int    c;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        c = strcmp(self->owners[mid], owner);
        if (c == 0)
            return 0;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (self->n_owners == self->cap_owners) {
        size_t cap = self->cap_owners ? 2 * self->cap_owners : 16;
        void  *grown = realloc(self->owners, cap * sizeof *self->owners);
        if (grown == NULL)
            return -1;
        self->owners = grown;
        self->cap_owners = cap;
    }
    memmove(self->owners + lo + 1, self->owners + lo,
        (self->n_owners - lo) * sizeof *self->owners);
    snprintf(self->owners[lo], sizeof self->owners[lo], "%s", owner);
    self->n_owners++;
    return 0;
}

static int
s_check_binding(const keyring_key_t *key, errbuf_t *err)
{
    if (keys_public_check(&key->pub, err) != 0)
        return -1;
    if (key->valid_from < 0 || key->valid_from >= key->valid_until) {
        errbuf_set(err, "validity period is empty or negative (valid_from "
            "%lld, valid_until %lld)", (long long)key->valid_from,
            (long long)key->valid_until);
        return -1;
    }
    if (key->revoked && key->valid_until == KEYRING_FOREVER) {
        errbuf_set(err, "a revoked key needs its revocation time");
        return -1;
    }
    if (memchr(key->reason, '\0', sizeof key->reason) == NULL) {
        errbuf_set(err, "reason is not terminated");
        return -1;
    }
    if (key->status != KEYRING_ACTIVE && key->status != KEYRING_SUSPENDED
        && key->status != KEYRING_WITHDRAWN) {
        errbuf_set(err, "unknown member status %d", (int)key->status);
        return -1;
    }
    if (key->status_since < 0) {
        errbuf_set(err, "status_since is negative");
        return -1;
    }
    return 0;
}

int
keyring_add(keyring_t *self, const keyring_key_t *key, errbuf_t *err)
{
    const char          *owner = key->pub.owner;
    const keyring_key_t *same;
    keyring_key_t       *copy;
    char                 hex[2 * KEYS_ID_BYTES + 1];
    size_t               i;

    if (s_check_binding(key, err) != 0) {
        errbuf_prefix(err, "key of %s", keys_owner_valid(owner) ? owner : "?");
        return -1;
    }
    if (self->n_keys >= KEYRING_MAX_KEYS) {
        errbuf_set(err, "more than %d keys in the keyring", KEYRING_MAX_KEYS);
        return -1;
    }
    for (i = 0; i < self->n_keys; i++) {
        const keyring_key_t *k = self->keys[i];

        if (memcmp(k->pub.sign_key_id, key->pub.sign_key_id, KEYS_ID_BYTES)
            == 0) {
            keys_id_hex(key->pub.sign_key_id, hex);
            errbuf_set(err, "sign key %s of %s is already in the keyring "
                "(bound to %s); a key may be listed only once", hex, owner,
                k->pub.owner);
            return -1;
        }
        if (memcmp(k->pub.transport_pk, key->pub.transport_pk, 32) == 0
            && strcmp(k->pub.owner, owner) != 0) {
            errbuf_set(err, "transport key of %s is already bound to %s; a "
                "transport key belongs to one owner (an enrollment proves "
                "possession of the signing key only, so a copied transport "
                "key would lock its owner out)", owner, k->pub.owner);
            return -1;
        }
        if (memcmp(k->pub.box_key_id, key->pub.box_key_id, KEYS_ID_BYTES) == 0
            && strcmp(k->pub.owner, owner) != 0) {
            keys_id_hex(key->pub.box_key_id, hex);
            errbuf_set(err, "box key %s of %s is already bound to %s; an "
                "encryption key belongs to one owner", hex, owner,
                k->pub.owner);
            return -1;
        }
    }
    same = s_first_of(self, owner);
    if (same != NULL
        && (same->status != key->status
            || same->status_since != key->status_since)) {
        errbuf_set(err, "key of %s: member status (%s) differs from the one "
            "its other keys carry (%s)", owner, s_status_name(key->status),
            s_status_name(same->status));
        return -1;
    }
    if (self->n_keys == self->cap_keys) {
        size_t cap = self->cap_keys ? 2 * self->cap_keys : 16;
        void  *grown = realloc(self->keys, cap * sizeof *self->keys);
        if (grown == NULL) {
            errbuf_set(err, "out of memory");
            return -1;
        }
        self->keys = grown;
        self->cap_keys = cap;
    }
    if ((copy = malloc(sizeof *copy)) == NULL
        || s_add_owner(self, owner) != 0) {
        free(copy);
        errbuf_set(err, "out of memory");
        return -1;
    }
    memcpy(copy, key, sizeof *copy);
    self->keys[self->n_keys++] = copy;
    return 0;
}

int
keyring_signer(const keyring_t *self, const char *owner,
    const uint8_t key_id[KEYS_ID_BYTES], int64_t at, const keyring_key_t **out,
    errbuf_t *err)
{
    const keyring_key_t *k = NULL, *other = NULL;
    char                 hex[2 * KEYS_ID_BYTES + 1], t1[32], t2[32], why[140];
    size_t               i;

    *out = NULL;
    if (!keys_owner_valid(owner)) {
        errbuf_set(err, "the sender is not a valid identity name");
        return -1;
    }
    keys_id_hex(key_id, hex);
    for (i = 0; i < self->n_keys; i++) {
        if (memcmp(self->keys[i]->pub.sign_key_id, key_id, KEYS_ID_BYTES)
            != 0)
            continue;
        if (strcmp(self->keys[i]->pub.owner, owner) == 0)
            k = self->keys[i];
        else
            other = self->keys[i];
    }
    if (k == NULL) {
        if (other != NULL)
            errbuf_set(err, "key %s belongs to %s, not to %s", hex,
                other->pub.owner, owner);
        else if (s_first_of(self, owner) == NULL)
            errbuf_set(err, "no key %s for %s in the registry (%s has no key "
                "at all: not a known participant)", hex, owner, owner);
        else
            errbuf_set(err, "no key %s for %s in the registry", hex, owner);
        return -1;
    }
    s_time(at, t2);
    if (at < k->valid_from) {
        s_time(k->valid_from, t1);
        errbuf_set(err, "%s key %s is valid only from %s; the package was "
            "created at %s", owner, hex, t1, t2);
        return -1;
    }
    if (at >= k->valid_until) {
        s_time(k->valid_until, t1);
        s_reason(k, why, sizeof why);
        errbuf_set(err, "%s key %s was %s at %s%s; the package was created "
            "at %s", owner, hex, k->revoked ? "revoked" : "retired", t1, why,
            t2);
        return -1;
    }
    if (!s_owner_active_at(k, at)) {
        s_time(k->status_since, t1);
        errbuf_set(err, "%s is %s since %s; the package was created at %s",
            owner, s_status_name(k->status), t1, t2);
        return -1;
    }
    *out = k;
    return 0;
}

const keyring_key_t *
keyring_recipient(const keyring_t *self, const char *owner, int64_t at,
    errbuf_t *err)
{
    const keyring_key_t *best = NULL, *ended = NULL, *future = NULL, *k;
    char                 hex[2 * KEYS_ID_BYTES + 1], t1[32], t2[32], why[140];
    size_t               i;

    if (!keys_owner_valid(owner)) {
        errbuf_set(err, "the recipient is not a valid identity name");
        return NULL;
    }
    if ((k = s_first_of(self, owner)) == NULL) {
        errbuf_set(err, "no key for %s in the registry (not a known "
            "participant)", owner);
        return NULL;
    }
    if (!s_owner_active_at(k, at)) {
        s_time(k->status_since, t1);
        errbuf_set(err, "%s is %s since %s", owner, s_status_name(k->status),
            t1);
        return NULL;
    }
    for (i = 0; i < self->n_keys; i++) {
        k = self->keys[i];
        if (strcmp(k->pub.owner, owner) != 0)
            continue;
        if (at < k->valid_from) {
            if (future == NULL || k->valid_from < future->valid_from)
                future = k;
        } else if (at >= k->valid_until) {
            if (ended == NULL || k->valid_until >= ended->valid_until)
                ended = k;
        } else if (best == NULL || k->valid_from >= best->valid_from) {
            best = k;
        }
    }
    if (best != NULL)
        return best;
    s_time(at, t2);
    if (ended != NULL) {
        keys_id_hex(ended->pub.sign_key_id, hex);
        s_time(ended->valid_until, t1);
        s_reason(ended, why, sizeof why);
        errbuf_set(err, "%s has no key valid at %s: its latest key %s was %s "
            "at %s%s", owner, t2, hex, ended->revoked ? "revoked" : "retired",
            t1, why);
    } else {
        keys_id_hex(future->pub.sign_key_id, hex);
        s_time(future->valid_from, t1);
        errbuf_set(err, "%s has no key valid at %s: its first key %s is "
            "valid from %s", owner, t2, hex, t1);
    }
    return NULL;
}

size_t
keyring_owner_count(const keyring_t *self)
{
    return self->n_owners;
}

const char *
keyring_owner_at(const keyring_t *self, size_t i)
{
    return i < self->n_owners ? self->owners[i] : NULL;
}

size_t
keyring_key_count(const keyring_t *self)
{
    return self->n_keys;
}

const keyring_key_t *
keyring_key_at(const keyring_t *self, size_t i)
{
    return i < self->n_keys ? self->keys[i] : NULL;
}

/* ---------------------------------------------------------------------
 * Loading a directory of .pub files
 */

static int
s_cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
s_free_names(char **names, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* The sorted names of dir's entries that end in ".pub". */
static int
s_list_pub(const char *dir, char ***out, size_t *n_out, errbuf_t *err)
{
    DIR           *d;
    struct dirent *e;
    char         **names = NULL;
    size_t         n = 0, cap = 0, len;

    *out = NULL;
    *n_out = 0;
    if ((d = opendir(dir)) == NULL) {
        errbuf_set(err, "%s: cannot open the keyring directory: %s", dir,
            strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".pub") != 0)
            continue;
        if (n == KEYRING_MAX_KEYS) {
            errbuf_set(err, "%s: more than %d .pub files", dir,
                KEYRING_MAX_KEYS);
            goto fail;
        }
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            void  *grown = realloc(names, ncap * sizeof *names);
            if (grown == NULL)
                goto oom;
            names = grown;
            cap = ncap;
        }
        if ((names[n] = strdup(e->d_name)) == NULL)
            goto oom;
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, s_cmp_name);
    *out = names;
    *n_out = n;
    return 0;
oom:
    errbuf_set(err, "out of memory");
fail:
    closedir(d);
    s_free_names(names, n);
    return -1;
}

static int
s_load_one(keyring_t *self, const char *dir, const char *name, errbuf_t *err)
{
    char          path[PATH_MAX], stem[KEYS_OWNER_MAX + 1], shown[64];
    size_t        slen = strlen(name) - 4, i;
    struct stat   st;
    keyring_key_t k;

    if (slen == 0 || slen > KEYS_OWNER_MAX) {
        stem[0] = '\0';
    } else {
        memcpy(stem, name, slen);
        stem[slen] = '\0';
    }
    if (!keys_owner_valid(stem)) {
        for (i = 0; name[i] != '\0' && i + 1 < sizeof shown; i++)
            shown[i] = name[i] > 0x20 && name[i] < 0x7f ? name[i] : '?';
        shown[i] = '\0';
        errbuf_set(err, "%s/%s: a keyring file is named <ID>.pub, where ID "
            "is an identity such as ARG or hub; rename or remove it", dir,
            shown);
        return -1;
    }
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name)
        >= sizeof path) {
        errbuf_set(err, "%s: path too long", dir);
        return -1;
    }
    if (stat(path, &st) != 0) {
        errbuf_set(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        errbuf_set(err, "%s: not a regular file", path);
        return -1;
    }
    if ((st.st_mode & S_IWOTH) != 0) {
        errbuf_set(err, "%s: writable by any user (mode %03o), so anyone "
            "could replace the key; run: chmod o-w %s", path,
            (unsigned)(st.st_mode & 0777), path);
        return -1;
    }
    memset(&k, 0, sizeof k);
    if (keys_public_load(path, &k.pub, err) != 0)
        return -1;
    if (strcmp(k.pub.owner, stem) != 0) {
        errbuf_set(err, "%s: the file is the key of %s, but its name says "
            "%s; a keyring file must be named after its owner", path,
            k.pub.owner, stem);
        return -1;
    }
    k.valid_from = 0;
    k.valid_until = KEYRING_FOREVER;
    k.status = KEYRING_ACTIVE;
    if (keyring_add(self, &k, err) != 0) {
        errbuf_prefix(err, "%s", path);
        return -1;
    }
    return 0;
}

int
keyring_load_dir(keyring_t *self, const char *dir, errbuf_t *err)
{
    struct stat st;
    char      **names = NULL;
    size_t      n = 0, i;
    int         rc = -1;

    if (stat(dir, &st) != 0) {
        errbuf_set(err, "%s: cannot use the keyring directory: %s", dir,
            strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        errbuf_set(err, "%s: the keyring is not a directory", dir);
        return -1;
    }
    if ((st.st_mode & S_IWOTH) != 0) {
        errbuf_set(err, "%s: the keyring directory is writable by any user "
            "(mode %03o), so anyone could add a key; run: chmod o-w %s", dir,
            (unsigned)(st.st_mode & 0777), dir);
        return -1;
    }
    if (s_list_pub(dir, &names, &n, err) != 0)
        return -1;
    if (n == 0) {
        errbuf_set(err, "%s: no .pub files; copy the participants' <ID>.pub "
            "files into it", dir);
        goto cleanup;
    }
    for (i = 0; i < n; i++)
        if (s_load_one(self, dir, names[i], err) != 0)
            goto cleanup;
    rc = 0;
cleanup:
    s_free_names(names, n);
    return rc;
}
