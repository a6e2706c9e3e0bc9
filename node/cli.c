/* cli: shared pieces of the csbm command's verbs (see cli.h). */
#include "node/cli.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/registry.h"
#include "crypto/x509.h"
#include "proto/codes.h"

/* The configuration file read for this run (cli_config_apply): the
 * options point into it, so it lives as long as the program. */
static config_t s_config;

void
cli_common_init(cli_common_t *c)
{
    memset(c, 0, sizeof *c);
    c->key_dir = getenv("CSBM_KEYS") ? getenv("CSBM_KEYS") : "keys";
    c->keyring_dir = getenv("CSBM_KEYRING");
    c->as = getenv("CSBM_ID");
    c->federation = getenv("CSBM_FEDERATION") ? getenv("CSBM_FEDERATION")
                                              : CLI_DEFAULT_FEDERATION;
    c->federation_set = getenv("CSBM_FEDERATION") != NULL;
    c->registry = getenv("CSBM_REGISTRY");
    c->root = getenv("CSBM_ROOT");
    c->registry_state = getenv("CSBM_REGISTRY_STATE");
}

int
cli_common_option(cli_common_t *c, int opt, const char *arg)
{
    switch (opt) {
    case 'K': c->key_dir = arg; return 1;
    case 'R': c->keyring_dir = arg; return 1;
    case 'a': c->as = arg; return 1;
    case 'P': c->passphrase_file = arg; return 1;
    case 'F': c->federation = arg; c->federation_set = 1; return 1;
    case 'j': c->json = 1; return 1;
    case CLI_OPT_REGISTRY: c->registry = arg; return 1;
    case CLI_OPT_ROOT: c->root = arg; return 1;
    case CLI_OPT_REGISTRY_STATE: c->registry_state = arg; return 1;
    case CLI_OPT_CONFIG: return 1; /* applied before parsing */
    default: return 0;
    }
}

int
cli_common_finish(cli_common_t *c, errbuf_t *err)
{
    X509 *root = NULL;
    char  fed[X509_FEDERATION_MAX + 1];
    uint8_t pk[KEYS_SIGN_PK_BYTES];

    if (c->registry != NULL && c->registry[0] == '\0')
        c->registry = NULL;
    if (c->root != NULL && c->root[0] == '\0')
        c->root = NULL;
    if (c->registry == NULL)
        return 0; /* a root alone (a configuration's) changes nothing */
    if (c->root == NULL) {
        errbuf_set(err, "--registry %s needs the federation's root "
            "certificate to check it: pass --root CERT (or set $CSBM_ROOT)",
            c->registry);
        return -1;
    }
    if (x509_root_load(c->root, &root, err) != 0) /* names the file */
        return -1;
    if (x509_root_check(root, fed, pk, err) != 0) {
        X509_free(root);
        errbuf_prefix(err, "%s", c->root);
        return -1;
    }
    X509_free(root);
    if (c->federation_set && strcmp(c->federation, fed) != 0) {
        errbuf_set(err, "--federation \"%s\" is not the federation of the "
            "root certificate %s (\"%s\"); drop --federation, or use that "
            "federation's root", c->federation, c->root, fed);
        return -1;
    }
    snprintf(c->federation_buf, sizeof c->federation_buf, "%s", fed);
    c->federation = c->federation_buf;
    return 0;
}

const char *
cli_config_path(int argc, char **argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--config") == 0)
            return i + 1 < argc ? argv[i + 1] : NULL;
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return NULL;
}

const config_t *
cli_config_apply(const char *path, cli_common_t *c, errbuf_t *err)
{
    config_defaults(&s_config);
    if (config_load(path, &s_config, err) != 0)
        return NULL;
    c->federation = s_config.federation.name;
    c->federation_set = 1;
    c->root = s_config.federation.root_cert;
    c->key_dir = s_config.node.key_dir;
    c->as = s_config.node.id;
    if (s_config.node.registry[0] != '\0')
        c->registry = s_config.node.registry;
    if (s_config.node.passphrase_file[0] != '\0')
        c->passphrase_file = s_config.node.passphrase_file;
    return &s_config;
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
    return cli_keyring_open(c->registry, c->root, c->registry_state,
        c->key_dir, c->keyring_dir ? c->keyring_dir : c->key_dir, err);
}

/* Can a file be written at path the way fileio_write does it (a new
 * file beside it, renamed over it)? Tried with a probe file, removed at
 * once, so that the answer holds for root as well as for other users. */
static int
s_dir_writable_for(const char *path)
{
    char probe[4200];
    int  fd, n;

    n = snprintf(probe, sizeof probe, "%s.probe.%ld", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof probe)
        return 0;
    fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
        0600);
    if (fd < 0)
        return 0;
    close(fd);
    unlink(probe);
    return 1;
}

/* mkdir -p of a private directory; 0 if it is there afterwards. */
static int
s_mkdirs(char *path)
{
    char *p;

    for (p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        (void)mkdir(path, 0700);
        *p = '/';
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

/* The per-user state file of a registry whose own directory is not
 * writable: $XDG_STATE_HOME/csbm (else ~/.local/state/csbm) and the
 * SHA-256 of the registry's absolute path, so two registries never share
 * one. */
static int
s_user_state_path(const char *registry, char *out, size_t cap)
{
    const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char        dir[4096], *abs;
    uint8_t     h[crypto_hash_sha256_BYTES];
    char        hex[2 * 16 + 1];
    int         n;

    if (xdg != NULL && xdg[0] == '/')
        n = snprintf(dir, sizeof dir, "%s/csbm", xdg);
    else if (home != NULL && home[0] == '/')
        n = snprintf(dir, sizeof dir, "%s/.local/state/csbm", home);
    else
        return -1;
    if (n < 0 || (size_t)n >= sizeof dir || s_mkdirs(dir) != 0
        || (abs = realpath(registry, NULL)) == NULL)
        return -1;
    crypto_hash_sha256(h, (const uint8_t *)abs, strlen(abs));
    free(abs);
    sodium_bin2hex(hex, sizeof hex, h, 16);
    n = snprintf(out, cap, "%s/%s.state", dir, hex);
    return n < 0 || (size_t)n >= cap || !s_dir_writable_for(out) ? -1 : 0;
}

/* The roll-back state file: explicit, else in the key directory, else
 * beside the registry if that directory is writable (or the file is
 * there already and writable), else the per-user one. */
static int
s_state_path(const char *registry, const char *state_file,
    const char *key_dir, char *out, size_t cap, errbuf_t *err)
{
    struct stat st;
    char        dir[4096], *slash;
    int         n;

    if (state_file != NULL && state_file[0] != '\0')
        n = snprintf(out, cap, "%s", state_file);
    else if (key_dir != NULL && stat(key_dir, &st) == 0
             && S_ISDIR(st.st_mode))
        n = snprintf(out, cap, "%s/registry.state", key_dir);
    else {
        n = snprintf(out, cap, "%s.state", registry);
        if (n < 0 || (size_t)n >= cap)
            goto too_long;
        snprintf(dir, sizeof dir, "%s", registry);
        slash = strrchr(dir, '/');
        if (slash == NULL)
            snprintf(dir, sizeof dir, ".");
        else if (slash == dir)
            dir[1] = '\0';
        else
            *slash = '\0';
        if (s_dir_writable_for(out))
            return 0;
        if (s_user_state_path(registry, out, cap) == 0)
            return 0;
        errbuf_set(err, "%s is not writable, so the registry's roll-back "
            "state (%s.state) cannot be kept there; pass --registry-state F "
            "(or set $CSBM_REGISTRY_STATE) with a file in a writable "
            "directory", dir, registry);
        return -1;
    }
    if (n < 0 || (size_t)n >= cap)
        goto too_long;
    if (!s_dir_writable_for(out)) {
        errbuf_set(err, "%s: the registry's roll-back state cannot be "
            "written there (%s); pass --registry-state F with a file in a "
            "writable directory", out, strerror(errno));
        return -1;
    }
    return 0;
too_long:
    errbuf_set(err, "registry state file path too long");
    return -1;
}

/* Set when cli_keyring_open failed for a reason of this machine (where
 * the roll-back state goes), not of the registry: cli_keyring_exit. */
static int s_keyring_system_error;

keyring_t *
cli_keyring_open(const char *registry, const char *root,
    const char *state_file, const char *key_dir, const char *keyring_dir,
    errbuf_t *err)
{
    keyring_t  *kr = keyring_new();
    registry_t *reg = NULL;
    char        state[4096];

    if (kr == NULL) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    if (registry == NULL || registry[0] == '\0') {
        if (keyring_load_dir(kr, keyring_dir, err) != 0)
            keyring_destroy(&kr);
        return kr;
    }
    if (root == NULL || root[0] == '\0') {
        errbuf_set(err, "--registry %s needs the federation's root "
            "certificate: pass --root CERT (or set $CSBM_ROOT)", registry);
        keyring_destroy(&kr);
        return NULL;
    }
    /* registry_load's messages name the file already. */
    if (s_state_path(registry, state_file, key_dir, state, sizeof state, err)
        != 0) {
        s_keyring_system_error = 1;
        keyring_destroy(&kr);
    } else if (registry_load(registry, root, state, &reg, err) != 0)
        keyring_destroy(&kr);
    else if (registry_to_keyring(reg, kr, err) != 0) {
        errbuf_prefix(err, "registry %s", registry);
        keyring_destroy(&kr);
    }
    registry_destroy(&reg);
    return kr;
}

int
cli_state_code_check(const char *option, const char *code, errbuf_t *err)
{
    char   upper[8];
    size_t i, n = strlen(code);

    if (strcmp(code, "hub") == 0
        || (n == 3 && strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 3
            && codes_country_known(code)))
        return 0;
    for (i = 0; i < n && i < sizeof upper - 1; i++)
        upper[i] = (char)toupper((unsigned char)code[i]);
    upper[i] = '\0';
    if (n == 3 && strcmp(upper, code) != 0 && codes_country_known(upper))
        errbuf_set(err, "%s %s: state codes are in capitals: did you mean "
            "%s?", option, code, upper);
    else if (strcmp(upper, "HUB") == 0)
        errbuf_set(err, "%s %s: the hub's identity is written \"hub\", in "
            "lower case", option, code);
    else
        errbuf_set(err, "%s %s: not an ISO 3166-1 alpha-3 state code (such "
            "as ARG, CHL, PER) nor \"hub\"", option, code);
    return -1;
}

int
cli_recipients_known(const cli_common_t *c, const keyring_t *kr,
    const char *const *ids, size_t n, errbuf_t *err)
{
    char   known[512];
    size_t i, j, used = 0;
    int    m;

    if (n == 0) {
        errbuf_set(err, "--to names no recipient: give state codes, 'hub' "
            "or 'all', e.g. --to CHL,PER,hub");
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(ids[i], "all") == 0)
            continue;
        for (j = 0; j < keyring_owner_count(kr); j++)
            if (strcmp(ids[i], keyring_owner_at(kr, j)) == 0)
                break;
        if (j < keyring_owner_count(kr))
            continue;
        known[0] = '\0';
        for (j = 0; j < keyring_owner_count(kr) && used < sizeof known; j++) {
            m = snprintf(known + used, sizeof known - used, "%s%s",
                j ? ", " : "", keyring_owner_at(kr, j));
            if (m < 0 || (size_t)m >= sizeof known - used) {
                snprintf(known + used, sizeof known - used, ", ...");
                break;
            }
            used += (size_t)m;
        }
        if (c->registry != NULL && c->registry[0] != '\0')
            errbuf_set(err, "--to: %s is not in the registry (%s): known: "
                "%s; name recipients from it, or 'all'", ids[i], c->registry,
                known[0] ? known : "nobody");
        else
            errbuf_set(err, "--to: %s is not in the keyring (%s): known: "
                "%s; name recipients from it, or 'all', or add %s.pub to it",
                ids[i], c->keyring_dir ? c->keyring_dir : c->key_dir,
                known[0] ? known : "nobody", ids[i]);
        return -1;
    }
    return 0;
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

int
cli_keyring_exit(const cli_common_t *c)
{
    struct stat st;

    if (c->registry == NULL || c->root == NULL || s_keyring_system_error)
        return CLI_ERROR;
    return stat(c->registry, &st) == 0 && S_ISREG(st.st_mode)
            && stat(c->root, &st) == 0 && S_ISREG(st.st_mode)
        ? CLI_REJECTED
        : CLI_ERROR;
}

/* Exactly n decimal digits at *p, advancing it. */
static int
s_digits(const char **p, int n, int *out)
{
    int v = 0, i;

    for (i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int
cli_parse_time(const char *s, int64_t now, int64_t *out, errbuf_t *err)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30,
        31};
    const char *p = s;
    int         y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
    struct tm   tm;
    time_t      t;

    if (strcmp(s, "now") == 0) {
        *out = now;
        return 0;
    }
    if (s_digits(&p, 4, &y) != 0 || *p++ != '-' || s_digits(&p, 2, &mo) != 0
        || *p++ != '-' || s_digits(&p, 2, &d) != 0)
        goto bad;
    if (*p == 'T' || *p == 't') {
        p++;
        if (s_digits(&p, 2, &h) != 0 || *p++ != ':'
            || s_digits(&p, 2, &mi) != 0 || *p++ != ':'
            || s_digits(&p, 2, &sec) != 0)
            goto bad;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p++ == '+' ? 1 : -1;
            if (s_digits(&p, 2, &oh) != 0 || *p++ != ':'
                || s_digits(&p, 2, &om) != 0 || oh > 23 || om > 59)
                goto bad;
        } else {
            goto bad;
        }
    }
    if (*p != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1
        || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
        goto bad;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        goto bad;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec == 60 ? 59 : sec;
    if ((t = timegm(&tm)) == (time_t)-1)
        goto bad;
    *out = (int64_t)t - (int64_t)sign * (oh * 3600 + om * 60);
    if (*out < 0)
        goto bad;
    return 0;
bad:
    errbuf_set(err, "'%s' is not a time: write 'now' or RFC 3339 UTC such "
        "as 2026-03-01T00:00:00Z (or a date, 2026-03-01)", s);
    return -1;
}
