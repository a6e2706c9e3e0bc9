/*
 * cmd_registry: `csbm ca`, `csbm enroll` and `csbm registry` — the
 * federation's root CA, enrollment requests and the signed member
 * registry, from the command line (see cmd_registry.h, docs/REGISTRY.md).
 *
 * Every verb parses one option table; each sub-verb says which options it
 * takes, so an option it would ignore is refused instead. Cheap checks
 * (arguments, times, the request file) come before the CA's passphrase and
 * its key derivation.
 */
#include "node/cmd_registry.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config/registry.h"
#include "crypto/x509.h"
#include "node/cli.h"

#define S_DEFAULT_REGISTRY "registry.bin"
#define S_DEFAULT_ROOT "root.pem"
#define S_DEFAULT_DAYS 365 /* a member certificate */
#define S_DAY 86400

/* Option bits: which options were given, which a verb accepts. */
enum {
    O_KEYS = 1u << 0,
    O_PASS = 1u << 1,
    O_FED = 1u << 2,
    O_JSON = 1u << 3,
    O_REGISTRY = 1u << 4,
    O_ROOT = 1u << 5,
    O_STATE_FILE = 1u << 6,
    O_STATE = 1u << 7,
    O_REQUEST = 1u << 8,
    O_NAME = 1u << 9,
    O_FROM = 1u << 10,
    O_UNTIL = 1u << 11,
    O_DAYS = 1u << 12,
    O_AT = 1u << 13,
    O_SINCE = 1u << 14,
    O_KEY = 1u << 15,
    O_REASON = 1u << 16,
    O_OUTPUT = 1u << 17,
};

/* The operator's options: the CA and the registry it edits. */
#define O_CA (O_KEYS | O_PASS | O_REGISTRY | O_ROOT | O_JSON)

typedef struct {
    unsigned    given;
    const char *key_dir, *passphrase_file, *federation, *registry, *root;
    const char *state_file, *state, *request, *name, *from, *until, *at;
    const char *since, *key, *reason, *output;
    long        days;
    int         json;
    int         npos;
    char      **pos;
    int64_t     now;
} s_args_t;

typedef struct s_verb s_verb_t;
struct s_verb {
    const char *name;
    unsigned    allowed;
    unsigned    required;
    int         min_pos, max_pos;
    int (*run)(s_args_t *a);
    const char *synopsis;
    const char *about;
    const char *examples;
};

static const struct option s_longopts[] = {
    {"keys", required_argument, NULL, 'K'},
    {"passphrase-file", required_argument, NULL, 'P'},
    {"federation", required_argument, NULL, 'F'},
    {"json", no_argument, NULL, 'j'},
    {"registry", required_argument, NULL, CLI_OPT_REGISTRY},
    {"root", required_argument, NULL, CLI_OPT_ROOT},
    {"registry-state", required_argument, NULL, CLI_OPT_REGISTRY_STATE},
    {"state", required_argument, NULL, 's'},
    {"request", required_argument, NULL, 'q'},
    {"name", required_argument, NULL, 'n'},
    {"from", required_argument, NULL, 'f'},
    {"until", required_argument, NULL, 'u'},
    {"days", required_argument, NULL, 'd'},
    {"at", required_argument, NULL, 't'},
    {"since", required_argument, NULL, 'S'},
    {"key", required_argument, NULL, 'k'},
    {"reason", required_argument, NULL, 'r'},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const struct {
    unsigned    bit;
    const char *name;
    const char *help;
} s_opts[] = {
    {O_STATE, "--state",
     "  --state ID            state code (ISO 3166-1 alpha-3, e.g. ARG) or "
     "hub\n"},
    {O_REQUEST, "--request",
     "  --request FILE.req    the member's enrollment request (csbm enroll)\n"},
    {O_NAME, "--name",
     "  --name TEXT           display name (default: the state code)\n"},
    {O_FROM, "--from",
     "  --from TIME           certificate valid from TIME (default now)\n"},
    {O_AT, "--at",
     "  --at TIME             when it takes effect (default now)\n"},
    {O_SINCE, "--since",
     "  --since TIME          status effective from TIME (default now)\n"},
    {O_UNTIL, "--until",
     "  --until TIME          certificate valid until TIME\n"},
    {O_DAYS, "--days",
     "  --days N              validity in days (member certificate: 365, cut\n"
     "                        to the root's end; root: 3650)\n"},
    {O_KEY, "--key",
     "  --key ID              key id (32 hex digits, or a unique prefix of at\n"
     "                        least 8), or 'current'\n"},
    {O_REASON, "--reason",
     "  --reason TEXT         why (recorded in the registry; required)\n"},
    {O_OUTPUT, "--output",
     "  -o, --output FILE     where to write ('-' = standard output)\n"},
    {O_REGISTRY, "--registry",
     "  --registry FILE       the registry (default $CSBM_REGISTRY "
     "or " S_DEFAULT_REGISTRY ")\n"},
    {O_ROOT, "--root",
     "  --root CERT           the root certificate (default $CSBM_ROOT "
     "or " S_DEFAULT_ROOT ")\n"},
    {O_STATE_FILE, "--registry-state",
     "  --registry-state F    also refuse a registry older than the one\n"
     "                        recorded in F (and record this one)\n"},
    {O_KEYS, "--keys",
     "  --keys DIR            key directory (default $CSBM_KEYS or ./keys);\n"
     "                        for the operator: the CA's (ca.sign.key)\n"},
    {O_FED, "--federation",
     "  --federation NAME     federation name (1 to 56 bytes)\n"},
    {O_PASS, "--passphrase-file",
     "  --passphrase-file F   passphrase file (else $CSBM_PASSPHRASE or a "
     "prompt)\n"},
    {O_JSON, "--json", "  --json                machine-readable output\n"},
};

static void
s_verb_usage(const s_verb_t *v, FILE *out)
{
    size_t i;

    fprintf(out, "Usage: %s\n\n%s\nOptions:\n", v->synopsis, v->about);
    for (i = 0; i < sizeof s_opts / sizeof s_opts[0]; i++)
        if (v->allowed & s_opts[i].bit)
            fputs(s_opts[i].help, out);
    fprintf(out,
            "\nTimes are 'now' or RFC 3339 UTC, e.g. 2026-03-01T00:00:00Z.\n"
            "Exit status: 0 success, 1 refused or not valid, 2 usage or system "
            "error.\n\nExamples:\n%s",
            v->examples);
}

static int
s_days(const char *arg, long lo, long hi, long *out)
{
    char *end;

    if (arg[0] < '0' || arg[0] > '9')
        return -1;
    errno = 0;
    *out = strtol(arg, &end, 10);
    return errno == 0 && *end == '\0' && *out >= lo && *out <= hi ? 0 : -1;
}

/* Parse argv (argv[0] is the verb's name) into a. -1 usage error (printed),
 * 1 help printed, 0 go on. */
static int
s_parse(int argc, char **argv, const char *group, const s_verb_t *v,
        s_args_t *a)
{
    unsigned bit;
    int      opt;
    size_t   i;

    memset(a, 0, sizeof *a);
    a->key_dir = getenv("CSBM_KEYS") ? getenv("CSBM_KEYS") : "keys";
    a->federation = getenv("CSBM_FEDERATION");
    a->registry =
        getenv("CSBM_REGISTRY") ? getenv("CSBM_REGISTRY") : S_DEFAULT_REGISTRY;
    a->root = getenv("CSBM_ROOT") ? getenv("CSBM_ROOT") : S_DEFAULT_ROOT;
    a->now = (int64_t)time(NULL);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "ho:", s_longopts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            s_verb_usage(v, stdout);
            return 1;
        case 'K':
            a->key_dir = optarg;
            bit = O_KEYS;
            break;
        case 'P':
            a->passphrase_file = optarg;
            bit = O_PASS;
            break;
        case 'F':
            a->federation = optarg;
            bit = O_FED;
            break;
        case 'j':
            a->json = 1;
            bit = O_JSON;
            break;
        case CLI_OPT_REGISTRY:
            a->registry = optarg;
            bit = O_REGISTRY;
            break;
        case CLI_OPT_ROOT:
            a->root = optarg;
            bit = O_ROOT;
            break;
        case CLI_OPT_REGISTRY_STATE:
            a->state_file = optarg;
            bit = O_STATE_FILE;
            break;
        case 's':
            a->state = optarg;
            bit = O_STATE;
            break;
        case 'q':
            a->request = optarg;
            bit = O_REQUEST;
            break;
        case 'n':
            a->name = optarg;
            bit = O_NAME;
            break;
        case 'f':
            a->from = optarg;
            bit = O_FROM;
            break;
        case 'u':
            a->until = optarg;
            bit = O_UNTIL;
            break;
        case 't':
            a->at = optarg;
            bit = O_AT;
            break;
        case 'S':
            a->since = optarg;
            bit = O_SINCE;
            break;
        case 'k':
            a->key = optarg;
            bit = O_KEY;
            break;
        case 'r':
            a->reason = optarg;
            bit = O_REASON;
            break;
        case 'o':
            a->output = optarg;
            bit = O_OUTPUT;
            break;
        case 'd':
            if (s_days(optarg, 1, X509_MAX_DAYS, &a->days) != 0) {
                cli_error("--days %s: give a number of days, 1 to %d", optarg,
                          X509_MAX_DAYS);
                return -1;
            }
            bit = O_DAYS;
            break;
        default:
            fprintf(stderr, "Run 'csbm %s%s%s --help' for the options.\n",
                    group ? group : "", group ? " " : "", v->name);
            return -1;
        }
        if (!(v->allowed & bit)) {
            for (i = 0; i < sizeof s_opts / sizeof s_opts[0]; i++)
                if (s_opts[i].bit == bit)
                    break;
            cli_error("%s%s%s does not take %s; see its --help",
                      group ? group : "", group ? " " : "", v->name,
                      i < sizeof s_opts / sizeof s_opts[0] ? s_opts[i].name
                                                           : "that option");
            return -1;
        }
        a->given |= bit;
    }
    for (i = 0; i < sizeof s_opts / sizeof s_opts[0]; i++)
        if ((v->required & s_opts[i].bit) && !(a->given & s_opts[i].bit)) {
            cli_error("%s%s%s needs %s", group ? group : "", group ? " " : "",
                      v->name, s_opts[i].name);
            s_verb_usage(v, stderr);
            return -1;
        }
    a->npos = argc - optind;
    a->pos = argv + optind;
    if (a->npos < v->min_pos || a->npos > v->max_pos) {
        cli_error("%s%s%s: wrong number of arguments", group ? group : "",
                  group ? " " : "", v->name);
        s_verb_usage(v, stderr);
        return -1;
    }
    if ((a->given & O_UNTIL) && (a->given & O_DAYS)) {
        cli_error("give --until or --days, not both");
        return -1;
    }
    if ((a->given & O_STATE) && !x509_id_valid(a->state)) {
        cli_error("--state %s: not an identity; use an ISO 3166-1 alpha-3 "
                  "code in capitals such as ARG, or hub",
                  a->state);
        return -1;
    }
    return 0;
}

static int
s_is_file(const char *path)
{
    struct stat st;

    return path != NULL && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A time option, or `now` when absent. */
static int
s_time_opt(const s_args_t *a, const char *opt, const char *arg, int64_t *out)
{
    errbuf_t err = {{0}};

    if (arg == NULL) {
        *out = a->now;
        return 0;
    }
    if (cli_parse_time(arg, a->now, out, &err) != 0) {
        cli_error("%s %s", opt, err.msg);
        return -1;
    }
    return 0;
}

/* The passphrase into a new guarded buffer (sodium_free after wiping). */
static char *
s_passphrase(const s_args_t *a, int confirm, size_t *len, errbuf_t *err)
{
    char *pass = sodium_malloc(KEYS_PASSPHRASE_MAX + 1);

    if (pass == NULL) {
        errbuf_set(err, "out of memory");
        return NULL;
    }
    if (keys_passphrase_get(a->passphrase_file, confirm, pass, len, err) != 0) {
        sodium_memzero(pass, KEYS_PASSPHRASE_MAX + 1);
        sodium_free(pass);
        return NULL;
    }
    return pass;
}

static void
s_passphrase_free(char *pass)
{
    if (pass != NULL) {
        sodium_memzero(pass, KEYS_PASSPHRASE_MAX + 1);
        sodium_free(pass);
    }
}

/* The CA: root certificate and key_dir/ca.sign.key. NULL after printing
 * why. */
static x509_ca_t *
s_ca_load(const s_args_t *a)
{
    errbuf_t   err = {{0}};
    size_t     len = 0;
    char      *pass;
    x509_ca_t *ca = NULL;

    if (!s_is_file(a->root)) {
        cli_error("%s: no root certificate; pass --root CERT (the file "
                  "'csbm ca init' wrote)",
                  a->root);
        return NULL;
    }
    if ((pass = s_passphrase(a, 0, &len, &err)) != NULL)
        ca = x509_ca_load(a->root, a->key_dir, pass, len, &err);
    s_passphrase_free(pass);
    if (ca == NULL)
        cli_error("the CA: %s (the CA's key directory is --keys DIR, "
                  "holding ca.sign.key)",
                  err.msg);
    return ca;
}

/* Verify a registry against the root alone (state_file NULL) or with
 * roll-back protection. NULL after printing why; *rc is the exit code. */
static registry_t *
s_registry_load(const s_args_t *a, const char *path, const char *state_file,
                int *rc)
{
    errbuf_t    err = {{0}};
    registry_t *reg = NULL;

    if (!s_is_file(path)) {
        cli_error("%s: no registry here; pass --registry FILE (the operator "
                  "creates one with 'csbm registry init')",
                  path);
        *rc = CLI_ERROR;
        return NULL;
    }
    if (!s_is_file(a->root)) {
        cli_error("%s: no root certificate; pass --root CERT (from the "
                  "operator)",
                  a->root);
        *rc = CLI_ERROR;
        return NULL;
    }
    if (registry_load(path, a->root, state_file, &reg, &err) != 0) {
        cli_error("%s: NOT VALID: %s", path, err.msg);
        *rc = CLI_REJECTED;
        return NULL;
    }
    *rc = CLI_OK;
    return reg;
}

/* The registry as the JSON registry_list writes. Caller owns it. */
static json_t *
s_registry_json(const registry_t *reg)
{
    char        *buf = NULL;
    size_t       len = 0;
    FILE        *f = open_memstream(&buf, &len);
    json_t      *root = NULL;
    json_error_t jerr;

    if (f == NULL)
        return NULL;
    if (registry_list(reg, f, 1) == 0 && fclose(f) == 0)
        root = json_loadb(buf, len, 0, &jerr);
    else
        fclose(f);
    free(buf);
    return root;
}

/* The member (or hub) entry of state in a registry's JSON, borrowed. */
static json_t *
s_member_find(json_t *root, const char *state)
{
    json_t *m, *hub = json_object_get(root, "hub");
    size_t  i;

    if (strcmp(state, X509_HUB_ID) == 0)
        return json_is_object(hub) ? hub : NULL;
    json_array_foreach(json_object_get(root, "members"), i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "state")), state) == 0)
            return m;
    }
    return NULL;
}

/* After a change: the new version, for the operator to see. */
static int
s_report(const s_args_t *a, const char *what, json_t *extra)
{
    int         rc;
    registry_t *reg = s_registry_load(a, a->registry, NULL, &rc);
    char        t[32];

    if (reg == NULL) {
        json_decref(extra);
        return rc;
    }
    cli_format_time(registry_issued_at(reg), t);
    if (a->json) {
        json_t *o = extra != NULL ? extra : json_object();
        json_object_set_new(o, "registry", json_string(a->registry));
        json_object_set_new(o, "federation",
                            json_string(registry_federation(reg)));
        json_object_set_new(o, "version",
                            json_integer((json_int_t)registry_version(reg)));
        json_object_set_new(o, "issued_at", json_string(t));
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(o);
    } else {
        printf("%s\n%s: version %llu of the registry of %s, issued %s, %zu "
               "member%s; publish it to the members and the hub\n",
               what, a->registry, (unsigned long long)registry_version(reg),
               registry_federation(reg), t, registry_member_count(reg),
               registry_member_count(reg) == 1 ? "" : "s");
        json_decref(extra);
    }
    registry_destroy(&reg);
    return CLI_OK;
}

/* Check the request file before anything slow. *rc: 2 unreadable, 1 not
 * a valid request for state. */
static int
s_request_check(const s_args_t *a, x509_identity_t *id, int *rc)
{
    errbuf_t    err = {{0}};
    struct stat st;

    if (stat(a->request, &st) != 0 || !S_ISREG(st.st_mode)) {
        cli_error("%s: cannot read the enrollment request (%s); the member "
                  "makes it with 'csbm enroll --state %s'",
                  a->request,
                  S_ISDIR(st.st_mode) ? "a directory" : strerror(errno),
                  a->state);
        *rc = CLI_ERROR;
        return -1;
    }
    if (x509_request_check_file(a->request, a->state, id, &err) != 0) {
        cli_error("refused: %s; ask %s for a new request made with "
                  "'csbm enroll --state %s'",
                  err.msg, a->state, a->state);
        *rc = CLI_REJECTED;
        return -1;
    }
    return 0;
}

/* The end of a new member certificate starting at from: --until, else
 * from + --days, else from + S_DEFAULT_DAYS cut to the root's end. */
static int
s_not_after(const s_args_t *a, const x509_ca_t *ca, int64_t from, int64_t *out)
{
    int64_t  nb, na;
    errbuf_t err = {{0}};

    if (a->until != NULL)
        return s_time_opt(a, "--until", a->until, out);
    if (a->given & O_DAYS) {
        *out = from + (int64_t)a->days * S_DAY;
        return 0;
    }
    *out = from + (int64_t)S_DEFAULT_DAYS * S_DAY;
    if (x509_cert_times(x509_ca_cert(ca), &nb, &na, &err) == 0 && *out > na)
        *out = na;
    return 0;
}

static void
s_fingerprint(X509 *cert, char out[96])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int  n = 0, i;
    size_t        p = 0;

    out[0] = '\0';
    if (X509_digest(cert, EVP_sha256(), md, &n) != 1 || n != 32)
        return;
    for (i = 0; i < n; i++)
        p += (size_t)snprintf(out + p, 96 - p, "%s%02X", i ? ":" : "", md[i]);
}

/* ------------------------------------------------------------- ca --- */

static int
s_ca_init(s_args_t *a)
{
    errbuf_t err = {{0}};
    X509    *root = NULL;
    char    *pass;
    size_t   len = 0;
    long     days = (a->given & O_DAYS) ? a->days : X509_ROOT_DAYS;
    char     fp[96] = "", t[32] = "?";
    int64_t  nb, na;
    int      rc;

    if (a->federation == NULL) {
        cli_error("ca init needs --federation NAME");
        return CLI_ERROR;
    }
    if (!x509_federation_valid(a->federation)) {
        cli_error("--federation \"%s\": use 1 to %d bytes of UTF-8 text "
                  "without control characters or outer spaces",
                  a->federation, X509_FEDERATION_MAX);
        return CLI_ERROR;
    }
    if (a->output != NULL)
        a->root = a->output;
    if ((pass = s_passphrase(a, 1, &len, &err)) == NULL) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    fprintf(stderr, "csbm: deriving the key-file key (Argon2id)...\n");
    rc = x509_ca_create(a->key_dir, a->federation, (int)days, pass, len,
                        a->root, &err);
    s_passphrase_free(pass);
    if (rc != 0) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    if (x509_root_load(a->root, &root, &err) == 0) {
        s_fingerprint(root, fp);
        if (x509_cert_times(root, &nb, &na, &err) == 0)
            cli_format_time(na, t);
    }
    X509_free(root);
    if (a->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "federation",
                              a->federation, "root", a->root, "key", a->key_dir,
                              "not_after", t, "sha256", fp);
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(o);
        return CLI_OK;
    }
    printf("created the root CA of %s:\n"
           "  %s/ca.sign.key   root key (secret): keep it offline, back it up\n"
           "  %s   root certificate, valid until %s\n"
           "  SHA-256 %s\n"
           "Give %s to every member and the hub (they should compare the\n"
           "fingerprint by another channel), then: csbm registry init\n",
           a->federation, a->key_dir, a->root, t, fp, a->root);
    return CLI_OK;
}

static int
s_ca_show(s_args_t *a)
{
    errbuf_t err = {{0}};
    X509    *root = NULL;
    char     fed[X509_FEDERATION_MAX + 1], fp[96], t1[32], t2[32];
    uint8_t  pk[KEYS_SIGN_PK_BYTES];
    int64_t  nb = 0, na = 0;

    if (a->npos == 1)
        a->root = a->pos[0];
    if (!s_is_file(a->root)) {
        cli_error("%s: no root certificate here; pass --root CERT", a->root);
        return CLI_ERROR;
    }
    if (x509_root_load(a->root, &root, &err) != 0 ||
        x509_root_check(root, fed, pk, &err) != 0 ||
        x509_cert_times(root, &nb, &na, &err) != 0) {
        X509_free(root);
        cli_error("%s: NOT a valid root certificate: %s", a->root, err.msg);
        return CLI_REJECTED;
    }
    s_fingerprint(root, fp);
    X509_free(root);
    cli_format_time(nb, t1);
    cli_format_time(na, t2);
    if (a->json) {
        json_t *o =
            json_pack("{s:s,s:s,s:s,s:s,s:s}", "root", a->root, "federation",
                      fed, "not_before", t1, "not_after", t2, "sha256", fp);
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(o);
    } else {
        printf("%s: root CA of %s\n  valid    %s .. %s\n  SHA-256  %s\n",
               a->root, fed, t1, t2, fp);
    }
    return CLI_OK;
}

static const s_verb_t s_ca_verbs[] = {
    {"init", O_KEYS | O_PASS | O_FED | O_ROOT | O_OUTPUT | O_DAYS | O_JSON,
     O_FED, 0, 0, s_ca_init,
     "csbm ca init --federation NAME [--keys DIR] [--root CERT] [--days N]\n"
     "                    [--passphrase-file F] [--json]",
     "Create the federation's root certificate authority, once: a new\n"
     "'ca' identity in DIR (its signing key, passphrase-encrypted, mode\n"
     "0600) and the self-signed root certificate CERT (default root.pem),\n"
     "valid for N days (default 3650). An existing CERT is refused.\n",
     "  csbm ca init --federation \"OAS-CSBM\" --keys ca-keys --root root.pem\n"
     "  CSBM_PASSPHRASE=... csbm ca init --federation Test --keys ca --days "
     "30\n"},
    {"show", O_ROOT | O_JSON, 0, 0, 1, s_ca_show,
     "csbm ca show [--root CERT | CERT] [--json]",
     "Check a root certificate and show its federation, validity and\n"
     "SHA-256 fingerprint (to compare with the operator's by phone).\n",
     "  csbm ca show --root root.pem\n"},
};

/* ---------------------------------------------------------- enroll --- */

static int
s_enroll(s_args_t *a)
{
    errbuf_t        err = {{0}};
    char            fed[X509_FEDERATION_MAX + 1], out[4096], hex[33];
    uint8_t         pk[KEYS_SIGN_PK_BYTES];
    x509_identity_t id;
    char           *pass;
    size_t          len = 0;
    int             rc;

    if ((a->given & O_ROOT) || getenv("CSBM_ROOT") != NULL) {
        X509 *root = NULL;
        if (x509_root_load(a->root, &root, &err) != 0 ||
            x509_root_check(root, fed, pk, &err) != 0) {
            X509_free(root);
            cli_error("%s: %s", a->root, err.msg);
            return CLI_ERROR;
        }
        X509_free(root);
        if (a->federation != NULL && strcmp(a->federation, fed) != 0) {
            cli_error("--federation \"%s\" is not the federation of %s "
                      "(\"%s\"); drop one of them",
                      a->federation, a->root, fed);
            return CLI_ERROR;
        }
    } else {
        snprintf(fed, sizeof fed, "%s",
                 a->federation ? a->federation : CLI_DEFAULT_FEDERATION);
    }
    if (!x509_federation_valid(fed)) {
        cli_error("--federation \"%s\": not a federation name", fed);
        return CLI_ERROR;
    }
    if (a->output != NULL)
        snprintf(out, sizeof out, "%s", a->output);
    else
        snprintf(out, sizeof out, "%s.req", a->state);
    if ((pass = s_passphrase(a, 0, &len, &err)) == NULL) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    rc = x509_enroll_request(a->key_dir, a->state, fed, pass, len, out, &err);
    s_passphrase_free(pass);
    if (rc != 0) {
        cli_error("%s (the keys come from 'csbm keygen --state %s --keys "
                  "%s')",
                  err.msg, a->state, a->key_dir);
        return CLI_ERROR;
    }
    if (strcmp(out, "-") == 0)
        return CLI_OK;
    if (x509_request_check_file(out, a->state, &id, &err) != 0) {
        cli_error("%s: the request just written does not check: %s", out,
                  err.msg);
        return CLI_ERROR;
    }
    keys_id_hex(id.pub.sign_key_id, hex);
    if (a->json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "state", a->state,
                              "federation", fed, "request", out, "key_id", hex);
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(o);
    } else {
        printf("wrote %s: enrollment request of %s for %s, signing key %s\n"
               "Send it to the operator, who runs:\n"
               "  csbm registry add --state %s --request %s\n",
               out, a->state, fed, hex, a->state, out);
    }
    return CLI_OK;
}

static const s_verb_t s_enroll_verb = {
    "enroll",
    O_STATE | O_KEYS | O_PASS | O_FED | O_ROOT | O_OUTPUT | O_JSON,
    O_STATE,
    0,
    0,
    s_enroll,
    "csbm enroll --state ID [--keys DIR] [--root CERT | --federation NAME]\n"
    "                   [-o FILE.req] [--passphrase-file F] [--json]",
    "Make this state's (or the hub's) enrollment request from its existing\n"
    "keys ('csbm keygen' makes them): a certificate request signed with its\n"
    "signing key that binds its encryption and transport keys. The\n"
    "federation is the root certificate's (--root) or --federation. Send\n"
    "the request (default ID.req) to the operator; it holds no secret.\n",
    "  csbm keygen --state ARG --keys arg-keys\n"
    "  csbm enroll --state ARG --keys arg-keys --root root.pem -o ARG.req\n"
    "  csbm enroll --state hub --keys hub-keys --root root.pem\n"};

/* -------------------------------------------------------- registry --- */

static int
s_reg_init(s_args_t *a)
{
    errbuf_t   err = {{0}};
    x509_ca_t *ca;
    int        rc;

    if (s_is_file(a->registry)) {
        cli_error(
            "%s: a registry exists already; edit it with 'csbm "
            "registry add|rotate|revoke|status', or choose another --registry",
            a->registry);
        return CLI_REJECTED;
    }
    if ((ca = s_ca_load(a)) == NULL)
        return CLI_ERROR;
    rc = registry_init(a->registry, ca, a->now, &err);
    x509_ca_destroy(&ca);
    if (rc != 0) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    return s_report(a, "created an empty registry (version 1)", NULL);
}

/* The registry must be there before the CA is unlocked. */
static int
s_need_registry(const s_args_t *a)
{
    if (s_is_file(a->registry))
        return 0;
    cli_error("%s: no registry here; create it with 'csbm registry init' "
              "or pass --registry FILE",
              a->registry);
    return -1;
}

static json_t *
s_key_json(const s_args_t *a, const x509_identity_t *id, int64_t from,
           int64_t until)
{
    char hex[33], t1[32], t2[32];

    keys_id_hex(id->pub.sign_key_id, hex);
    cli_format_time(from, t1);
    cli_format_time(until, t2);
    return json_pack("{s:s,s:s,s:s,s:s}", "state", a->state, "key_id", hex,
                     "valid_from", t1, "valid_until", t2);
}

static int
s_reg_add(s_args_t *a)
{
    errbuf_t        err = {{0}};
    x509_identity_t id;
    x509_ca_t      *ca;
    int64_t         from, until;
    char            msg[512], hex[33], t1[32], t2[32];
    int             rc;

    if (s_request_check(a, &id, &rc) != 0)
        return rc;
    if (s_time_opt(a, "--from", a->from, &from) != 0)
        return CLI_ERROR;
    if (a->name != NULL && !x509_text_valid(a->name, REGISTRY_NAME_MAX)) {
        cli_error("--name: 1 to %d bytes of text without control "
                  "characters or outer spaces",
                  REGISTRY_NAME_MAX);
        return CLI_ERROR;
    }
    if (s_need_registry(a) != 0 || (ca = s_ca_load(a)) == NULL)
        return CLI_ERROR;
    if (s_not_after(a, ca, from, &until) != 0) {
        x509_ca_destroy(&ca);
        return CLI_ERROR;
    }
    rc = registry_add_member(a->registry, ca, a->state, a->name, a->request,
                             from, until, a->now, &err);
    x509_ca_destroy(&ca);
    if (rc != 0) {
        cli_error("refused: %s", err.msg);
        return CLI_REJECTED;
    }
    keys_id_hex(id.pub.sign_key_id, hex);
    cli_format_time(from, t1);
    cli_format_time(until, t2);
    snprintf(msg, sizeof msg,
             "enrolled %s%s%s%s: key %s, certificate valid "
             "%s .. %s",
             a->state, a->name ? " (" : "", a->name ? a->name : "",
             a->name ? ")" : "", hex, t1, t2);
    return s_report(a, msg, s_key_json(a, &id, from, until));
}

static int
s_reg_rotate(s_args_t *a)
{
    errbuf_t        err = {{0}};
    x509_identity_t id;
    x509_ca_t      *ca;
    int64_t         at, until;
    char            msg[512], hex[33], t1[32], t2[32];
    int             rc;

    if (s_request_check(a, &id, &rc) != 0)
        return rc;
    if (s_time_opt(a, "--at", a->at, &at) != 0)
        return CLI_ERROR;
    if (s_need_registry(a) != 0 || (ca = s_ca_load(a)) == NULL)
        return CLI_ERROR;
    if (s_not_after(a, ca, at, &until) != 0) {
        x509_ca_destroy(&ca);
        return CLI_ERROR;
    }
    rc = registry_rotate(a->registry, ca, a->state, a->request, at, until,
                         a->now, &err);
    x509_ca_destroy(&ca);
    if (rc != 0) {
        cli_error("refused: %s", err.msg);
        return CLI_REJECTED;
    }
    keys_id_hex(id.pub.sign_key_id, hex);
    cli_format_time(at, t1);
    cli_format_time(until, t2);
    snprintf(msg, sizeof msg,
             "rotated %s to key %s from %s (valid until "
             "%s); its previous keys are retired from then on",
             a->state, hex, t1, t2);
    return s_report(a, msg, s_key_json(a, &id, at, until));
}

/* --key: 32 hex digits, a unique prefix of at least 8, or "current". */
static int
s_resolve_key(const s_args_t *a, char hex[33])
{
    registry_t *reg;
    json_t     *root, *m, *k;
    const char *found = NULL;
    size_t      i, n = strlen(a->key), matches = 0;
    int         rc, current = strcmp(a->key, "current") == 0;

    if (!current) {
        for (i = 0; i < n; i++)
            if (!strchr("0123456789abcdef", a->key[i]))
                break;
        if (i != n || n < 8 || n > 32) {
            cli_error(
                "--key %s: give the key id (32 lower-case hex digits, "
                "or a unique prefix of at least 8, as 'csbm registry show "
                "--state %s' lists them) or 'current'",
                a->key, a->state);
            return CLI_ERROR;
        }
        if (n == 32) {
            memcpy(hex, a->key, 33);
            return CLI_OK;
        }
    }
    if ((reg = s_registry_load(a, a->registry, NULL, &rc)) == NULL)
        return rc;
    root = s_registry_json(reg);
    registry_destroy(&reg);
    if (root == NULL) {
        cli_error("out of memory");
        return CLI_ERROR;
    }
    if ((m = s_member_find(root, a->state)) == NULL) {
        json_decref(root);
        cli_error("%s is not in the registry %s", a->state, a->registry);
        return CLI_REJECTED;
    }
    json_array_foreach(json_object_get(m, "keys"), i, k)
    {
        const char *id = json_string_value(json_object_get(k, "key_id"));
        const char *st = json_string_value(json_object_get(k, "key_state"));
        if (id == NULL || st == NULL)
            continue;
        if (current ? strcmp(st, "current") == 0
                    : strncmp(id, a->key, n) == 0) {
            found = id; /* the newest current key wins: keys are in order */
            matches++;
        }
    }
    if (found != NULL && (current || matches == 1))
        snprintf(hex, 33, "%s", found);
    json_decref(root);
    if (found == NULL || (!current && matches != 1)) {
        cli_error("--key %s: %s of %s in %s; see 'csbm registry show --state "
                  "%s'",
                  a->key, found == NULL ? "no such key" : "more than one key",
                  a->state, a->registry, a->state);
        return CLI_REJECTED;
    }
    return CLI_OK;
}

static int
s_reg_revoke(s_args_t *a)
{
    errbuf_t   err = {{0}};
    x509_ca_t *ca;
    int64_t    at;
    char       hex[33], t[32], msg[512];
    int        rc;

    if (s_time_opt(a, "--at", a->at, &at) != 0)
        return CLI_ERROR;
    if (a->reason[0] == '\0' || strlen(a->reason) > REGISTRY_REASON_MAX) {
        cli_error("--reason: say why in 1 to %d bytes, e.g. \"key "
                  "compromised\"",
                  REGISTRY_REASON_MAX);
        return CLI_ERROR;
    }
    if (s_need_registry(a) != 0)
        return CLI_ERROR;
    if ((rc = s_resolve_key(a, hex)) != CLI_OK)
        return rc;
    if ((ca = s_ca_load(a)) == NULL)
        return CLI_ERROR;
    rc = registry_revoke(a->registry, ca, a->state, hex, at, a->reason, a->now,
                         &err);
    x509_ca_destroy(&ca);
    if (rc != 0) {
        cli_error("refused: %s", err.msg);
        return CLI_REJECTED;
    }
    cli_format_time(at, t);
    snprintf(msg, sizeof msg,
             "revoked %s key %s from %s (%s): packages it "
             "signs from then on are refused",
             a->state, hex, t, a->reason);
    return s_report(a, msg,
                    json_pack("{s:s,s:s,s:s,s:s}", "state", a->state, "key_id",
                              hex, "revoked_at", t, "reason", a->reason));
}

static int
s_reg_status(s_args_t *a)
{
    errbuf_t          err = {{0}};
    registry_status_t st;
    x509_ca_t        *ca;
    int64_t           since;
    char              t[32], msg[256];
    int               rc;

    if (registry_status_parse(a->pos[0], &st) != 0) {
        cli_error("status '%s': say active, suspended or withdrawn", a->pos[0]);
        return CLI_ERROR;
    }
    if (s_time_opt(a, "--since", a->since, &since) != 0)
        return CLI_ERROR;
    if (s_need_registry(a) != 0 || (ca = s_ca_load(a)) == NULL)
        return CLI_ERROR;
    rc =
        registry_set_status(a->registry, ca, a->state, st, since, a->now, &err);
    x509_ca_destroy(&ca);
    if (rc != 0) {
        cli_error("refused: %s", err.msg);
        return CLI_REJECTED;
    }
    cli_format_time(since, t);
    snprintf(msg, sizeof msg, "%s is %s since %s", a->state,
             registry_status_name(st), t);
    return s_report(a, msg,
                    json_pack("{s:s,s:s,s:s}", "state", a->state, "status",
                              registry_status_name(st), "status_since", t));
}

static int
s_reg_list(s_args_t *a)
{
    registry_t *reg;
    int         rc;

    if ((reg = s_registry_load(a, a->registry, NULL, &rc)) == NULL)
        return rc;
    rc = registry_list(reg, stdout, a->json) == 0 ? CLI_OK : CLI_ERROR;
    registry_destroy(&reg);
    return rc;
}

static int
s_reg_show(s_args_t *a)
{
    registry_t *reg;
    json_t     *root, *m, *k;
    size_t      i;
    int         rc;

    if ((reg = s_registry_load(a, a->registry, NULL, &rc)) == NULL)
        return rc;
    root = s_registry_json(reg);
    registry_destroy(&reg);
    if (root == NULL) {
        cli_error("out of memory");
        return CLI_ERROR;
    }
    if ((m = s_member_find(root, a->state)) == NULL) {
        cli_error("%s is not in the registry %s; enroll it with 'csbm "
                  "registry add --state %s --request %s.req'",
                  a->state, a->registry, a->state, a->state);
        json_decref(root);
        return CLI_REJECTED;
    }
    if (a->json) {
        json_dumpf(m, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        printf("%s  %s\n  status   %s since %s\n", a->state,
               json_string_value(json_object_get(m, "name")),
               json_string_value(json_object_get(m, "status")),
               json_string_value(json_object_get(m, "status_since")));
        json_array_foreach(json_object_get(m, "keys"), i, k)
        {
            const char *reason =
                json_string_value(json_object_get(k, "reason"));
            json_t *ret = json_object_get(k, "retired_at");
            json_t *rev = json_object_get(k, "revoked_at");
            printf("  key %s  %s\n    certificate %s, %s .. %s\n"
                   "    valid from %s",
                   json_string_value(json_object_get(k, "key_id")),
                   json_string_value(json_object_get(k, "key_state")),
                   json_string_value(json_object_get(k, "serial")),
                   json_string_value(json_object_get(k, "not_before")),
                   json_string_value(json_object_get(k, "not_after")),
                   json_string_value(json_object_get(k, "valid_from"))
                       ? json_string_value(json_object_get(k, "valid_from"))
                       : json_string_value(json_object_get(k, "not_before")));
            if (json_is_string(ret))
                printf(", retired at %s", json_string_value(ret));
            if (json_is_string(rev))
                printf(", revoked at %s", json_string_value(rev));
            if (reason != NULL && reason[0] != '\0')
                printf(" (%s)", reason);
            putchar('\n');
        }
    }
    json_decref(root);
    return CLI_OK;
}

static int
s_reg_verify(s_args_t *a)
{
    const char *path = a->npos == 1 ? a->pos[0] : a->registry;
    registry_t *reg = NULL;
    errbuf_t    err = {{0}};
    json_t     *o;

    if (!s_is_file(path) || !s_is_file(a->root)) {
        cli_error(
            "%s: no such file; pass the registry (FILE or --registry) "
            "and the root certificate (--root CERT) the operator published",
            s_is_file(path) ? a->root : path);
        return CLI_ERROR;
    }
    if (registry_load(path, a->root, a->state_file, &reg, &err) != 0) {
        if (a->json) {
            o = json_pack("{s:s,s:b,s:s}", "file", path, "valid", 0, "error",
                          err.msg);
            json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            putchar('\n');
            json_decref(o);
        } else {
            printf("%s: NOT VALID\n  %s\n", path, err.msg);
        }
        return CLI_REJECTED;
    }
    if (a->json) {
        if ((o = s_registry_json(reg)) == NULL) {
            registry_destroy(&reg);
            cli_error("out of memory");
            return CLI_ERROR;
        }
        json_object_set_new(o, "file", json_string(path));
        json_object_set_new(o, "valid", json_true());
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(o);
    } else {
        printf("%s: VALID, signed by the root of %s\n", path,
               registry_federation(reg));
        if (registry_list(reg, stdout, 0) != 0) {
            registry_destroy(&reg);
            return CLI_ERROR;
        }
    }
    registry_destroy(&reg);
    return CLI_OK;
}

static int
s_reg_request(s_args_t *a)
{
    errbuf_t        err = {{0}};
    x509_identity_t id;
    char            sign[33], box[33], tr[65];

    if (!s_is_file(a->pos[0])) {
        cli_error("%s: cannot read the request", a->pos[0]);
        return CLI_ERROR;
    }
    if (x509_request_check_file(a->pos[0], a->state, &id, &err) != 0) {
        if (a->json) {
            json_t *o = json_pack("{s:s,s:b,s:s}", "file", a->pos[0], "valid",
                                  0, "error", err.msg);
            json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            putchar('\n');
            json_decref(o);
        } else {
            printf("%s: NOT VALID\n  %s\n", a->pos[0], err.msg);
        }
        return CLI_REJECTED;
    }
    keys_id_hex(id.pub.sign_key_id, sign);
    keys_id_hex(id.pub.box_key_id, box);
    cli_hex(id.pub.transport_pk, sizeof id.pub.transport_pk, tr);
    if (a->json) {
        json_t *o = json_pack("{s:s,s:b,s:s,s:s,s:s,s:s,s:s}", "file",
                              a->pos[0], "valid", 1, "state", id.pub.owner,
                              "federation", id.federation, "key_id", sign,
                              "box_key_id", box, "transport_key", tr);
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        putchar('\n');
        json_decref(o);
    } else {
        printf("%s: valid enrollment request of %s for %s\n"
               "  signing key     %s\n  encryption key  %s\n"
               "  transport key   %s\n",
               a->pos[0], id.pub.owner, id.federation, sign, box, tr);
    }
    return CLI_OK;
}

static const s_verb_t s_reg_verbs[] = {
    {"init", O_CA, 0, 0, 0, s_reg_init,
     "csbm registry init [--registry FILE] [--root CERT] [--keys CA-DIR]\n"
     "                   [--passphrase-file F] [--json]",
     "Create the registry, version 1, with no member, signed by the root\n"
     "CA. An existing file is refused.\n",
     "  csbm registry init --registry registry.bin --root root.pem "
     "--keys ca-keys\n"},
    {"add", O_CA | O_STATE | O_REQUEST | O_NAME | O_FROM | O_UNTIL | O_DAYS,
     O_STATE | O_REQUEST, 0, 0, s_reg_add,
     "csbm registry add --state ID --request FILE.req [--name TEXT]\n"
     "                  [--from TIME] [--until TIME | --days N] [CA options]",
     "Enroll a member state (or the hub, --state hub): check its request,\n"
     "issue its certificate, valid from --from for --days (default 365,\n"
     "at most to the root's end) or --until, and add it, active from now,\n"
     "as a new version of the registry.\n",
     "  csbm registry add --state ARG --name Argentina --request ARG.req \\\n"
     "      --registry registry.bin --root root.pem --keys ca-keys\n"
     "  csbm registry add --state hub --request hub.req --days 730\n"},
    {"rotate", O_CA | O_STATE | O_REQUEST | O_AT | O_UNTIL | O_DAYS,
     O_STATE | O_REQUEST, 0, 0, s_reg_rotate,
     "csbm registry rotate --state ID --request NEW.req [--at TIME]\n"
     "                     [--until TIME | --days N] [CA options]",
     "Replace a member's key: certify the key of NEW.req from --at (default\n"
     "now) and retire its previous keys at that time. Packages signed\n"
     "with an old key before --at stay valid; later ones are refused.\n",
     "  csbm keygen --state ARG --keys arg-keys-new\n"
     "  csbm enroll --state ARG --keys arg-keys-new --root root.pem -o "
     "ARG-new.req\n"
     "  csbm registry rotate --state ARG --request ARG-new.req\n"
     "  csbm registry rotate --state ARG --request ARG-new.req "
     "--at \"$(date -u -d '+30 days' +%FT%TZ)\"\n"},
    {"revoke", O_CA | O_STATE | O_KEY | O_AT | O_REASON,
     O_STATE | O_KEY | O_REASON, 0, 0, s_reg_revoke,
     "csbm registry revoke --state ID --key KEYID|current --reason TEXT\n"
     "                     [--at TIME] [CA options]",
     "Revoke a key from --at (default now), e.g. when it was compromised:\n"
     "packages it signed before stay valid, later ones are refused, and\n"
     "its transport key can no longer connect to the hub.\n",
     "  csbm registry revoke --state ARG --key current --reason \"key "
     "compromised\"\n"
     "  csbm registry revoke --state ARG --key 5f0c2e4a --at "
     "2026-03-02T00:00:00Z --reason \"laptop stolen\"\n"},
    {"status", O_CA | O_STATE | O_SINCE, O_STATE, 1, 1, s_reg_status,
     "csbm registry status --state ID active|suspended|withdrawn\n"
     "                     [--since TIME] [CA options]",
     "Set a member's status from --since (default now). A suspended or\n"
     "withdrawn member can neither sign nor connect from then on; what it\n"
     "signed before stays valid.\n",
     "  csbm registry status --state PER withdrawn\n"
     "  csbm registry status --state PER active --since "
     "2027-01-01T00:00:00Z\n"},
    {"list", O_REGISTRY | O_ROOT | O_JSON, 0, 0, 0, s_reg_list,
     "csbm registry list [--registry FILE] [--root CERT] [--json]",
     "Verify the registry against the root and list the members, their\n"
     "status and their keys (current, pending, retired, revoked, expired).\n",
     "  csbm registry list --json | jq '.members[].status'\n"},
    {"show", O_REGISTRY | O_ROOT | O_JSON | O_STATE, O_STATE, 0, 0, s_reg_show,
     "csbm registry show --state ID [--registry FILE] [--root CERT] "
     "[--json]",
     "Show one member (or the hub): status, and every key with its\n"
     "certificate, period and reason.\n",
     "  csbm registry show --state ARG\n"},
    {"verify", O_REGISTRY | O_ROOT | O_JSON | O_STATE_FILE, 0, 0, 1,
     s_reg_verify,
     "csbm registry verify [FILE | --registry FILE] [--root CERT]\n"
     "                     [--registry-state F] [--json]",
     "Check a registry file against the root certificate alone — the\n"
     "root's signature, every certificate, the rules of docs/REGISTRY.md —\n"
     "and print its version, issue time and members. With\n"
     "--registry-state also refuse an older version than the one seen.\n"
     "Exit 0 valid, 1 not valid.\n",
     "  csbm registry verify registry.bin --root root.pem\n"},
    {"request", O_STATE | O_JSON, 0, 1, 1, s_reg_request,
     "csbm registry request FILE.req [--state ID] [--json]",
     "Check an enrollment request and show whose it is and its keys,\n"
     "before enrolling it. With --state, it must be that state's.\n",
     "  csbm registry request ARG.req --state ARG\n"},
};

/* ------------------------------------------------------ dispatching --- */

static void
s_group_usage(const char *group, const s_verb_t *verbs, size_t n, FILE *out)
{
    size_t i;

    for (i = 0; i < n; i++)
        fprintf(out, "%s%s\n", i == 0 ? "Usage: " : "       ",
                verbs[i].synopsis);
    fprintf(out,
            "\nRun 'csbm %s VERB --help' for each one's options and "
            "examples.\n",
            group);
    fprintf(out, "\nExamples:\n");
    if (strcmp(group, "ca") == 0)
        fprintf(out, "  csbm ca init --federation OAS-CSBM --keys ca-keys "
                     "--root root.pem\n"
                     "  csbm ca show root.pem\n");
    else
        fprintf(out, "  csbm registry list --registry registry.bin --root "
                     "root.pem\n"
                     "  csbm registry add --state ARG --request ARG.req "
                     "--keys ca-keys\n");
    fprintf(out, "\nExit status: 0 success, 1 refused or not valid, 2 usage "
                 "or system error.\n");
}

static int
s_dispatch(const char *group, const s_verb_t *verbs, size_t n, int argc,
           char **argv)
{
    s_args_t a;
    size_t   i;
    int      p;

    if (argc < 2) {
        s_group_usage(group, verbs, n, stderr);
        return CLI_ERROR;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        s_group_usage(group, verbs, n, stdout);
        return CLI_OK;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(argv[1], verbs[i].name) != 0)
            continue;
        if ((p = s_parse(argc - 1, argv + 1, group, &verbs[i], &a)) != 0)
            return p > 0 ? CLI_OK : CLI_ERROR;
        return verbs[i].run(&a);
    }
    cli_error("%s: unknown verb '%s'", group, argv[1]);
    s_group_usage(group, verbs, n, stderr);
    return CLI_ERROR;
}

int
cmd_ca(int argc, char **argv)
{
    return s_dispatch("ca", s_ca_verbs,
                      sizeof s_ca_verbs / sizeof s_ca_verbs[0], argc, argv);
}

int
cmd_registry(int argc, char **argv)
{
    return s_dispatch("registry", s_reg_verbs,
                      sizeof s_reg_verbs / sizeof s_reg_verbs[0], argc, argv);
}

int
cmd_enroll(int argc, char **argv)
{
    s_args_t a;
    int      p;

    if ((p = s_parse(argc, argv, NULL, &s_enroll_verb, &a)) != 0)
        return p > 0 ? CLI_OK : CLI_ERROR;
    return s_enroll(&a);
}
