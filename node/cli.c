/* cli: shared pieces of the csbm command's verbs (see cli.h). */
#include "node/cli.h"

#include <dirent.h>
#include <getopt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void
cli_common_init(cli_common_t *c)
{
    memset(c, 0, sizeof *c);
    c->key_dir = getenv("CSBM_KEYS") ? getenv("CSBM_KEYS") : "keys";
    c->keyring_dir = getenv("CSBM_KEYRING");
    c->as = getenv("CSBM_ID");
    c->federation = getenv("CSBM_FEDERATION") ? getenv("CSBM_FEDERATION")
                                              : CLI_DEFAULT_FEDERATION;
}

int
cli_common_option(cli_common_t *c, int opt, const char *arg)
{
    switch (opt) {
    case 'K': c->key_dir = arg; return 1;
    case 'R': c->keyring_dir = arg; return 1;
    case 'a': c->as = arg; return 1;
    case 'P': c->passphrase_file = arg; return 1;
    case 'F': c->federation = arg; return 1;
    case 'j': c->json = 1; return 1;
    default: return 0;
    }
}

void
cli_error(const char *fmt, ...)
{
    va_list ap;

    fputs("csbm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int
cli_identity(const cli_common_t *c, char *owner, size_t cap, errbuf_t *err)
{
    DIR           *d;
    struct dirent *e;
    char           found[KEYS_OWNER_MAX + 1] = "";
    int            count = 0;

    if (c->as != NULL) {
        if (!keys_owner_valid(c->as)) {
            errbuf_set(err, "--as %s: not a valid identity (a state code "
                "such as ARG, or hub)", c->as);
            return -1;
        }
        snprintf(owner, cap, "%s", c->as);
        return 0;
    }
    if ((d = opendir(c->key_dir)) == NULL) {
        errbuf_set(err, "%s: no key directory; create an identity with "
            "'csbm keygen --state XXX' or pass --keys DIR", c->key_dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        size_t      n = strlen(e->d_name);
        const char *suffix = ".sign.key";
        size_t      sl = strlen(suffix);
        if (n <= sl || strcmp(e->d_name + n - sl, suffix) != 0)
            continue;
        if (n - sl > KEYS_OWNER_MAX)
            continue;
        if (count == 0 || strncmp(found, e->d_name, n - sl) != 0
            || found[n - sl] != '\0') {
            count++;
            memcpy(found, e->d_name, n - sl);
            found[n - sl] = '\0';
        }
    }
    closedir(d);
    if (count != 1) {
        errbuf_set(err, "%s holds %s identity; say which with --as ID",
            c->key_dir, count == 0 ? "no" : "more than one");
        return -1;
    }
    snprintf(owner, cap, "%s", found);
    return 0;
}

keys_secret_t *
cli_load_secret(const cli_common_t *c, const char *owner, keys_kind_t kind,
    errbuf_t *err)
{
    char           path[4096];
    char          *pass;
    size_t         len = 0;
    keys_secret_t *k = NULL;

    if (keys_path(path, sizeof path, c->key_dir, owner, (int)kind) != 0) {
        errbuf_set(err, "%s: key directory path too long", c->key_dir);
        return NULL;
    }
    if ((pass = sodium_malloc(KEYS_PASSPHRASE_MAX + 1)) == NULL) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    if (keys_passphrase_get(c->passphrase_file, 0, pass, &len, err) == 0)
        k = keys_secret_load(path, kind, pass, len, err);
    sodium_memzero(pass, KEYS_PASSPHRASE_MAX + 1);
    sodium_free(pass);
    return k;
}

keyring_t *
cli_load_keyring(const cli_common_t *c, errbuf_t *err)
{
    keyring_t  *kr = keyring_new();
    const char *dir = c->keyring_dir ? c->keyring_dir : c->key_dir;

    if (kr == NULL) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    if (keyring_load_dir(kr, dir, err) != 0) {
        keyring_destroy(&kr);
        return NULL;
    }
    return kr;
}

char **
cli_split_list(const char *list, size_t *n)
{
    char      **out;
    const char *p = list, *comma;
    size_t      cap = 1, i = 0;

    for (comma = list; *comma; comma++)
        cap += (*comma == ',');
    if ((out = calloc(cap, sizeof *out)) == NULL)
        return NULL;
    while (p != NULL) {
        size_t len;
        comma = strchr(p, ',');
        len = comma ? (size_t)(comma - p) : strlen(p);
        if (len > 0 && (out[i] = strndup(p, len)) != NULL)
            i++;
        p = comma ? comma + 1 : NULL;
    }
    *n = i;
    return out;
}

void
cli_free_list(char **list, size_t n)
{
    size_t i;

    if (list == NULL)
        return;
    for (i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

void
cli_format_time(int64_t t, char out[32])
{
    struct tm tm;
    time_t    tt = (time_t)t;

    if (gmtime_r(&tt, &tm) == NULL
        || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", (long long)t);
}

void
cli_hex(const uint8_t *b, size_t len, char *out)
{
    sodium_bin2hex(out, len * 2 + 1, b, len);
}
