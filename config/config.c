/*
 * config: INI configuration, table-driven (see config.h).
 *
 * libinih does the INI syntax; we feed it lines through our own reader so
 * that we know the line number of every key (Debian's libinih is built
 * without INI_HANDLER_LINENO), can refuse over-long lines instead of
 * letting them be split, and can strip indentation so that no line is
 * ever taken as the continuation of the previous one.
 *
 * A new key is one line in s_keys plus its field in config_t.
 */
#include "config/config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/fileio.h"

typedef enum {
    S_FEDERATION, /* federation name */
    S_PATH,       /* file or directory; relative to the file's directory */
    S_ID,         /* state code or "hub" */
    S_ENDPOINT,   /* tcp://HOST:PORT or ipc://PATH */
    S_U64,        /* decimal number in [min, max] */
    S_DEADLINE,   /* a rule of config/deadlines, set by deadlines_set() */
} s_type_t;

typedef enum {
    S_OPTIONAL = 0,
    S_REQUIRED,        /* on every node */
    S_REQUIRED_HUB,    /* on the hub */
    S_REQUIRED_MEMBER, /* on a member */
} s_need_t;

typedef enum {
    S_ANY_NODE = 0,
    S_HUB_ONLY,
    S_MEMBER_ONLY,
} s_role_t;

typedef struct {
    const char *name;
    s_role_t    role;
} s_section_t;

typedef struct {
    const char *section;
    const char *key;
    s_type_t    type;
    size_t      offset;
    size_t      size;
    uint64_t    min, max;
    s_need_t    need;
} s_key_t;

static const s_section_t s_sections[] = {
    {"federation", S_ANY_NODE},
    {"node", S_ANY_NODE},
    {"hub", S_HUB_ONLY},
    {"member", S_MEMBER_ONLY},
    {"deadlines", S_ANY_NODE},
};
#define S_N_SECTIONS (sizeof s_sections / sizeof s_sections[0])

#define S_FIELD(f) offsetof(config_t, f), sizeof(((config_t *)0)->f)

static const s_key_t s_keys[] = {
    {"federation", "name", S_FEDERATION, S_FIELD(federation.name), 0, 0,
        S_REQUIRED},
    {"federation", "root_cert", S_PATH, S_FIELD(federation.root_cert), 0, 0,
        S_REQUIRED},
    {"node", "id", S_ID, S_FIELD(node.id), 0, 0, S_REQUIRED},
    {"node", "key_dir", S_PATH, S_FIELD(node.key_dir), 0, 0, S_REQUIRED},
    {"node", "data_dir", S_PATH, S_FIELD(node.data_dir), 0, 0, S_REQUIRED},
    {"node", "registry", S_PATH, S_FIELD(node.registry), 0, 0, S_OPTIONAL},
    {"node", "passphrase_file", S_PATH, S_FIELD(node.passphrase_file), 0, 0,
        S_OPTIONAL},
    {"hub", "bind", S_ENDPOINT, S_FIELD(hub.bind), 0, 0, S_REQUIRED_HUB},
    {"hub", "pub_bind", S_ENDPOINT, S_FIELD(hub.pub_bind), 0, 0, S_OPTIONAL},
    {"hub", "max_message_bytes", S_U64, S_FIELD(hub.max_message_bytes),
        1024, 1024u * 1024 * 1024, S_OPTIONAL},
    {"hub", "heartbeat_ms", S_U64, S_FIELD(hub.heartbeat_ms), 100, 3600000,
        S_OPTIONAL},
    {"member", "hub_endpoint", S_ENDPOINT, S_FIELD(member.hub_endpoint), 0, 0,
        S_REQUIRED_MEMBER},
    {"member", "hub_notify_endpoint", S_ENDPOINT,
        S_FIELD(member.hub_notify_endpoint), 0, 0, S_OPTIONAL},
    {"deadlines", "milex", S_DEADLINE, S_FIELD(deadlines), 0, 0, S_OPTIONAL},
    {"deadlines", "arms_register", S_DEADLINE, S_FIELD(deadlines), 0, 0,
        S_OPTIONAL},
    {"deadlines", "acquisition_report", S_DEADLINE, S_FIELD(deadlines), 0, 0,
        S_OPTIONAL},
    {"deadlines", "csbm_inventory", S_DEADLINE, S_FIELD(deadlines), 0, 0,
        S_OPTIONAL},
    {"deadlines", "acquisition_notice_days", S_DEADLINE, S_FIELD(deadlines),
        0, 0, S_OPTIONAL},
};
#define S_N_KEYS (sizeof s_keys / sizeof s_keys[0])

typedef struct {
    config_t   *cfg;
    const char *name;               /* shown in messages */
    char        base[CONFIG_PATH_MAX]; /* directory for relative paths */
    const char *text;
    size_t      len, pos;
    int         lineno;             /* of the line last handed to inih */
    int         section_line;       /* of the last [section] header */
    int         err_line;           /* 0 = no error yet */
    int         seen[S_N_KEYS];     /* line where each key was set */
    errbuf_t   *err;
} s_ctx_t;

void
config_defaults(config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->hub.max_message_bytes = CONFIG_DEFAULT_MAX_MESSAGE_BYTES;
    cfg->hub.heartbeat_ms = CONFIG_DEFAULT_HEARTBEAT_MS;
    deadlines_default(&cfg->deadlines);
}

int
config_is_hub(const config_t *cfg)
{
    return strcmp(cfg->node.id, X509_HUB_ID) == 0;
}

/* ---------------------------------------------------------------------
 * Values
 */

/* s for a message: printable ASCII only, cut at 60 characters. */
static void
s_shown(const char *s, char out[64])
{
    size_t i;

    for (i = 0; s[i] != '\0' && i < 60; i++)
        out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i] != '\0') {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = '\0';
}

static int
s_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return n > 0;
}

int
config_endpoint_valid(const char *ep)
{
    const char        *host, *colon;
    char              *end;
    unsigned long long port;
    size_t             i;

    if (ep == NULL || strlen(ep) >= CONFIG_ENDPOINT_MAX)
        return 0;
    for (i = 0; ep[i] != '\0'; i++)
        if (ep[i] <= 0x20 || ep[i] == 0x7f)
            return 0;
    if (strncmp(ep, "ipc://", 6) == 0)
        return ep[6] != '\0';
    if (strncmp(ep, "tcp://", 6) != 0)
        return 0;
    host = ep + 6;
    if ((colon = strrchr(host, ':')) == NULL || colon == host)
        return 0;
    if (!s_digits(colon + 1, strlen(colon + 1)))
        return 0;
    errno = 0;
    port = strtoull(colon + 1, &end, 10);
    return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

/* Set key k from value. On failure, fill why: a phrase to follow "bad
 * value ...: " (-1), or a whole message (-2). */
static int
s_set(s_ctx_t *ctx, const s_key_t *k, const char *value, char *why,
    size_t cap)
{
    void              *dst = (char *)ctx->cfg + k->offset;
    size_t             len = strlen(value), i;
    unsigned long long u;
    char              *end;
    int                n;
    errbuf_t           e = {{0}};

    switch (k->type) {
    case S_FEDERATION:
        if (!x509_federation_valid(value)) {
            snprintf(why, cap, "a federation name is 1 to %d bytes of "
                "printable UTF-8", X509_FEDERATION_MAX);
            return -1;
        }
        break;
    case S_ID:
        if (!x509_id_valid(value)) {
            snprintf(why, cap, "expected a state code (three capital "
                "letters, ISO 3166-1 alpha-3 such as ARG) or hub");
            return -1;
        }
        break;
    case S_ENDPOINT:
        if (!config_endpoint_valid(value)) {
            snprintf(why, cap, "expected an endpoint tcp://HOST:PORT (port "
                "1 to 65535) or ipc://PATH");
            return -1;
        }
        break;
    case S_PATH:
        for (i = 0; i < len; i++)
            if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f) {
                snprintf(why, cap, "a path may not hold control "
                    "characters");
                return -1;
            }
        if (value[0] == '/')
            n = snprintf(dst, k->size, "%s", value);
        else
            n = snprintf(dst, k->size, "%s/%s", ctx->base, value);
        if (n < 0 || (size_t)n >= k->size) {
            snprintf(why, cap, "path longer than %zu bytes", k->size - 1);
            return -1;
        }
        return 0;
    case S_U64:
        errno = 0;
        u = strtoull(value, &end, 10);
        if (!(value[0] >= '0' && value[0] <= '9') || *end != '\0'
            || (errno != 0 && errno != ERANGE)) {
            snprintf(why, cap, "expected a whole number");
            return -1;
        }
        if (errno == ERANGE || u < k->min || u > k->max) {
            snprintf(why, cap, "must be %llu to %llu",
                (unsigned long long)k->min, (unsigned long long)k->max);
            return -1;
        }
        *(uint64_t *)dst = (uint64_t)u;
        return 0;
    case S_DEADLINE:
        if (deadlines_set(dst, k->key, value, &e) != 0) {
            snprintf(why, cap, "%s", e.msg);
            return -2;
        }
        return 0;
    }
    if (len >= k->size) {
        snprintf(why, cap, "longer than %zu bytes", k->size - 1);
        return -1;
    }
    memcpy(dst, value, len + 1);
    return 0;
}

/* ---------------------------------------------------------------------
 * Parsing
 */

static void
s_fail(s_ctx_t *ctx, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
s_fail(s_ctx_t *ctx, int line, const char *fmt, ...)
{
    char    msg[ERRBUF_SIZE];
    va_list ap;

    if (ctx->err_line != 0)
        return; /* the first error is the one to fix first */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    errbuf_set(ctx->err, "%s:%d: %s", ctx->name, line, msg);
    ctx->err_line = line;
}

static const s_section_t *
s_section(const char *name)
{
    size_t i;

    for (i = 0; i < S_N_SECTIONS; i++)
        if (strcmp(s_sections[i].name, name) == 0)
            return &s_sections[i];
    return NULL;
}

static void
s_list(char *out, size_t cap, const char *section)
{
    size_t i, n = 0;

    out[0] = '\0';
    for (i = 0; i < (section != NULL ? S_N_KEYS : S_N_SECTIONS); i++) {
        const char *name = section != NULL ? s_keys[i].key : s_sections[i].name;

        if (section != NULL && strcmp(s_keys[i].section, section) != 0)
            continue;
        if (n < cap)
            n += (size_t)snprintf(out + n, cap - n, "%s%s",
                out[0] != '\0' ? ", " : "", name);
    }
}

static int
s_handler(void *user, const char *section, const char *name,
    const char *value)
{
    s_ctx_t *ctx = user;
    char     shown[64], shown2[64], known[256], why[ERRBUF_SIZE];
    size_t   i;

    if (ctx->err_line != 0)
        return 1;
    s_shown(name, shown);
    if (section[0] == '\0') {
        s_fail(ctx, ctx->lineno, "key '%s' before any [section]", shown);
        return 0;
    }
    s_shown(section, shown2);
    if (s_section(section) == NULL) {
        s_list(known, sizeof known, NULL);
        s_fail(ctx, ctx->section_line, "unknown section [%s] (known "
            "sections: %s)", shown2, known);
        return 0;
    }
    for (i = 0; i < S_N_KEYS; i++)
        if (strcmp(s_keys[i].section, section) == 0
            && strcmp(s_keys[i].key, name) == 0)
            break;
    if (i == S_N_KEYS) {
        s_list(known, sizeof known, section);
        s_fail(ctx, ctx->lineno, "unknown key '%s' in [%s] (known keys: "
            "%s)", shown, shown2, known);
        return 0;
    }
    if (ctx->seen[i] != 0) {
        s_fail(ctx, ctx->lineno, "duplicate key '%s' in [%s] (first set on "
            "line %d)", shown, shown2, ctx->seen[i]);
        return 0;
    }
    if (value == NULL || value[0] == '\0') {
        s_fail(ctx, ctx->lineno, "empty value for '%s' in [%s]; remove the "
            "line or give a value", shown, shown2);
        return 0;
    }
    switch (s_set(ctx, &s_keys[i], value, why, sizeof why)) {
    case 0:
        break;
    case -2:
        s_fail(ctx, ctx->lineno, "%s", why);
        return 0;
    default:
        s_shown(value, known);
        s_fail(ctx, ctx->lineno, "bad value '%s' for '%s' in [%s]: %s", known,
            shown, shown2, why);
        return 0;
    }
    ctx->seen[i] = ctx->lineno;
    return 1;
}

/* fgets-like: one line per call, without its indentation. */
static char *
s_reader(char *str, int num, void *stream)
{
    s_ctx_t    *ctx = stream;
    const char *line, *nl;
    size_t      n;

    if (ctx->err_line != 0 || ctx->pos >= ctx->len)
        return NULL;
    line = ctx->text + ctx->pos;
    nl = memchr(line, '\n', ctx->len - ctx->pos);
    n = nl != NULL ? (size_t)(nl - line) : ctx->len - ctx->pos;
    ctx->pos += n + (nl != NULL);
    ctx->lineno++;
    while (n > 0 && (*line == ' ' || *line == '\t')) {
        line++;
        n--;
    }
    if (n > 0 && line[n - 1] == '\r')
        n--;
    if (num < 3 || n > (size_t)num - 3 || n > CONFIG_LINE_MAX) {
        s_fail(ctx, ctx->lineno, "line longer than %d characters",
            num - 3 < CONFIG_LINE_MAX ? num - 3 : CONFIG_LINE_MAX);
        return NULL;
    }
    if (n > 0 && line[0] == '[')
        ctx->section_line = ctx->lineno;
    memcpy(str, line, n);
    str[n] = '\n';
    str[n + 1] = '\0';
    return str;
}

static int
s_index(const char *section, const char *key)
{
    size_t i;

    for (i = 0; i < S_N_KEYS; i++)
        if (strcmp(s_keys[i].section, section) == 0
            && strcmp(s_keys[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* A required key that is missing: "path: [s] k is missing ...". */
static int
s_missing(s_ctx_t *ctx, s_need_t need, int hub)
{
    size_t i;

    for (i = 0; i < S_N_KEYS; i++) {
        const s_key_t *k = &s_keys[i];

        if (ctx->seen[i] != 0 || k->need != need)
            continue;
        errbuf_set(ctx->err, "%s: [%s] %s is missing%s; add it (see "
            "config/%s.ini.sample)", ctx->name, k->section, k->key,
            need == S_REQUIRED_HUB ? " (required on the hub)"
            : need == S_REQUIRED_MEMBER ? " (required on a member)" : "",
            hub ? "hub" : "member");
        return -1;
    }
    return 0;
}

/* Required keys, and keys that belong to the other kind of node. */
static int
s_check_roles(s_ctx_t *ctx)
{
    int    hub = config_is_hub(ctx->cfg);
    size_t i;

    if (s_missing(ctx, S_REQUIRED, hub) != 0)
        return -1;
    for (i = 0; i < S_N_KEYS; i++) {
        const s_key_t     *k = &s_keys[i];
        const s_section_t *sec = s_section(k->section);

        if (ctx->seen[i] != 0 && sec != NULL
            && ((sec->role == S_HUB_ONLY && !hub)
                || (sec->role == S_MEMBER_ONLY && hub))) {
            s_fail(ctx, ctx->seen[i], "[%s] %s is a setting of %s, but "
                "[node] id (line %d) makes this node %s", k->section, k->key,
                hub ? "member nodes" : "the hub",
                ctx->seen[s_index("node", "id")],
                hub ? "the hub" : "a member");
            return -1;
        }
    }
    return s_missing(ctx, hub ? S_REQUIRED_HUB : S_REQUIRED_MEMBER, hub);
}

int
config_parse(const char *text, size_t len, const char *name, config_t *cfg,
    errbuf_t *err)
{
    s_ctx_t     ctx;
    const char *slash;
    int         rc, n;

    config_defaults(cfg);
    memset(&ctx, 0, sizeof ctx);
    ctx.cfg = cfg;
    ctx.name = name;
    ctx.text = text;
    ctx.len = len;
    ctx.err = err;
    if ((slash = strrchr(name, '/')) == NULL)
        n = snprintf(ctx.base, sizeof ctx.base, ".");
    else if (slash == name)
        n = snprintf(ctx.base, sizeof ctx.base, "/");
    else
        n = snprintf(ctx.base, sizeof ctx.base, "%.*s", (int)(slash - name),
            name);
    if (n < 0 || (size_t)n >= sizeof ctx.base) {
        errbuf_set(err, "%s: path too long", name);
        return -1;
    }
    if (memchr(text, '\0', len) != NULL) {
        errbuf_set(err, "%s: not a text file (it holds a NUL byte)", name);
        return -1;
    }
    rc = ini_parse_stream(s_reader, &ctx, s_handler, &ctx);
    if (rc == -2) {
        errbuf_set(err, "%s: out of memory", name);
        return -1;
    }
    if (rc > 0 && (ctx.err_line == 0 || rc < ctx.err_line)) {
        ctx.err_line = 0;
        s_fail(&ctx, rc, "expected [section], key = value, or a comment "
            "starting with # or ;");
    }
    if (ctx.err_line != 0 || rc != 0)
        return -1;
    return s_check_roles(&ctx);
}

int
config_load(const char *path, config_t *cfg, errbuf_t *err)
{
    uint8_t *buf = NULL;
    size_t   len = 0;
    int      rc;

    config_defaults(cfg);
    if (fileio_read(path, CONFIG_FILE_MAX, &buf, &len, err) != 0)
        return -1;
    rc = config_parse((const char *)buf, len, path, cfg, err);
    free(buf);
    return rc;
}
