/*
 * cmd_package: the verbs on single packages — validate, seal, open, verify,
 * inspect. They work offline on files; the exchange verbs build on them.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/fileio.h"
#include "crypto/package.h"
#include "node/cli.h"
#include "proto/json_codec.h"
#include "proto/validate.h"

#define COMMON_LONGOPTS                                                       \
    {"keys", required_argument, NULL, 'K'},                                   \
        {"keyring", required_argument, NULL, 'R'},                            \
        {"as", required_argument, NULL, 'a'},                                 \
        {"passphrase-file", required_argument, NULL, 'P'},                    \
        {"federation", required_argument, NULL, 'F'},                         \
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, \
        CLI_REGISTRY_LONGOPTS

static const char s_common_help[] =
    "  --keys DIR            key directory (default $CSBM_KEYS or ./keys)\n"
    "  --keyring DIR         public keys of the others, as ID.pub files\n"
    "                        (default $CSBM_KEYRING, else the key directory)\n"
    "  --as ID               act as this identity (default: the only one)\n"
    "  --passphrase-file F   passphrase file (else $CSBM_PASSPHRASE or a prompt)\n"
    "  --federation NAME     federation (default $CSBM_FEDERATION or "
    CLI_DEFAULT_FEDERATION ")\n"
    CLI_REGISTRY_HELP
    "  --json                machine-readable output\n";

/* Parse options: the verb's own ones go to own(), common ones to c. Returns
 * -1 after printing usage for bad usage, 1 for --help, 0 to go on. */
typedef int (*own_opt_fn)(int opt, const char *arg, void *ctx);

static int
s_parse(int argc, char **argv, const struct option *longopts, cli_common_t *c,
    own_opt_fn own, void *ctx, void (*usage)(FILE *))
{
    const char *config = cli_config_path(argc, argv);
    errbuf_t    err = {{0}};
    int         opt;

    cli_common_init(c);
    if (config != NULL && cli_config_apply(config, c, &err) == NULL) {
        cli_error("%s", err.msg);
        return -1;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "ho:", longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 1;
        }
        if (cli_common_option(c, opt, optarg))
            continue;
        if (own != NULL && own(opt, optarg, ctx) == 0)
            continue;
        usage(stderr);
        return -1;
    }
    if (cli_common_finish(c, &err) != 0) {
        cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

/* Read a package JSON file and decode it. *exit_code says what a NULL
 * means: CLI_ERROR when the file could not be read (a usage or system
 * error), CLI_REJECTED when it was read and is not a package. */
static Csbm__Package *
s_load_json(const char *path, int *exit_code, errbuf_t *err)
{
    uint8_t         *text = NULL;
    size_t           len = 0;
    ProtobufCMessage *m;

    *exit_code = CLI_ERROR;
    if (fileio_read(path, JSON_CODEC_MAX_INPUT, &text, &len, err) != 0)
        return NULL;
    *exit_code = CLI_REJECTED;
    m = json_codec_decode(&csbm__package__descriptor, (const char *)text, len,
        err);
    free(text);
    if (m == NULL)
        errbuf_prefix(err, "%s", path);
    return (Csbm__Package *)m;
}

/* Read and parse a sealed package; *exit_code as for s_load_json. */
static envelope_t *
s_load_envelope(const char *path, int *exit_code, errbuf_t *err)
{
    uint8_t    *buf = NULL;
    size_t      len = 0;
    envelope_t *env;

    *exit_code = CLI_ERROR;
    if (fileio_read(path, CLI_MAX_PACKAGE_FILE, &buf, &len, err) != 0)
        return NULL;
    *exit_code = CLI_REJECTED;
    env = envelope_parse(buf, len, err);
    free(buf);
    if (env == NULL)
        errbuf_prefix(err, "%s", path);
    return env;
}

/* ------------------------------------------------------------ validate --- */

static void
s_validate_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm validate [--json] FILE.json...\n"
        "\n"
        "Check packages written as JSON against the schema and the domain\n"
        "rules (known codes, ordered dates, non-negative quantities, MILEX\n"
        "totals, references of follow-up messages). Each problem is printed\n"
        "with its JSON path. Exit 0 if all are valid, 1 if any is not.\n"
        "\n"
        "Example:\n"
        "  csbm validate examples/*.json\n");
}

int
cmd_validate(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    cli_common_t c;
    int          i, rc = CLI_OK, p;
    json_t      *all;

    if ((p = s_parse(argc, argv, longopts, &c, NULL, NULL, s_validate_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind >= argc) {
        cli_error("validate needs at least one FILE.json");
        s_validate_usage(stderr);
        return CLI_ERROR;
    }
    all = json_array();
    for (i = optind; i < argc; i++) {
        errbuf_t           err = {{0}};
        validate_report_t *rep = calloc(1, sizeof *rep);
        int                why;
        Csbm__Package     *pkg = s_load_json(argv[i], &why, &err);
        json_t            *item = json_pack("{s:s}", "file", argv[i]);
        json_t            *problems = json_array();
        size_t             k;

        if (pkg == NULL && why == CLI_ERROR) {
            /* Not read: nothing to judge. Exit 2 whatever the others. */
            cli_error("%s", err.msg);
            json_object_set_new(item, "error", json_string(err.msg));
            rc = CLI_ERROR;
        } else if (pkg == NULL) {
            json_array_append_new(problems, json_string(err.msg));
            if (!c.json)
                printf("%s: INVALID\n  %s\n", argv[i], err.msg);
            if (rc == CLI_OK)
                rc = CLI_REJECTED;
        } else if (rep != NULL && validate_package(pkg, rep) != 0) {
            if (!c.json)
                printf("%s: INVALID (%zu problem%s)\n", argv[i], rep->total,
                    rep->total == 1 ? "" : "s");
            for (k = 0; k < rep->count; k++) {
                if (!c.json)
                    printf("  %s: %s\n", rep->problems[k].path,
                        rep->problems[k].message);
                json_array_append_new(problems,
                    json_sprintf("%s: %s", rep->problems[k].path,
                        rep->problems[k].message));
            }
            if (rc == CLI_OK)
                rc = CLI_REJECTED;
        } else if (!c.json) {
            printf("%s: valid %s for %s, %u\n", argv[i],
                package_type_name(validate_package_type(pkg)), pkg->state,
                pkg->year);
        }
        json_object_set_new(item, "valid", json_boolean(pkg != NULL
            && json_array_size(problems) == 0));
        json_object_set_new(item, "problems", problems);
        json_array_append_new(all, item);
        if (pkg != NULL)
            protobuf_c_message_free_unpacked(&pkg->base, NULL);
        free(rep);
    }
    if (c.json)
        json_dumpf(all, stdout, JSON_INDENT(2)), putchar('\n');
    json_decref(all);
    return rc;
}

/* ---------------------------------------------------------------- seal --- */

typedef struct {
    const char *to;
    const char *out;
    const char *attach;
} seal_args_t;

static void
s_seal_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm seal FILE.json --to IDS [-o OUT.csbm] [--attach FILE]\n"
        "                 [common options]\n"
        "\n"
        "Validate a package, encrypt it to the recipients and sign it as this\n"
        "state. IDS is a comma-separated list of state codes, 'hub', or 'all'\n"
        "(every active member). The sealed package goes to OUT (default:\n"
        "FILE with .csbm in place of .json).\n"
        "\n"
        "Options:\n"
        "  --to IDS              recipients, e.g. CHL,PER,hub\n"
        "  -o, --output OUT      where to write the sealed package ('-' = stdout)\n"
        "  --attach FILE         put FILE into a document package's attachment\n"
        "%s"
        "\n"
        "Examples:\n"
        "  csbm seal examples/milex-standardized-ARG-2025.json --to CHL,PER,hub\n"
        "  csbm seal report.json --to all -o report.csbm --as ARG\n",
        s_common_help);
}

static int
s_seal_opt(int opt, const char *arg, void *ctx)
{
    seal_args_t *a = ctx;

    switch (opt) {
    case 't': a->to = arg; return 0;
    case 'o': a->out = arg; return 0;
    case 'A': a->attach = arg; return 0;
    default: return -1;
    }
}

/* The sender's next sequence number, kept in <keydir>/<owner>.seq. */
static int
s_next_sequence(const cli_common_t *c, const char *owner, uint64_t *seq,
    errbuf_t *err)
{
    char     path[4096];
    uint8_t *buf = NULL;
    size_t   len = 0;
    char     text[32];
    uint64_t cur = 0;

    snprintf(path, sizeof path, "%s/%s.seq", c->key_dir, owner);
    if (fileio_read(path, 64, &buf, &len, NULL) == 0) {
        char *end;
        errno = 0;
        cur = strtoull((const char *)buf, &end, 10);
        if (errno != 0 || end == (char *)buf || (*end != '\n' && *end != '\0')) {
            free(buf);
            errbuf_set(err, "%s: not a sequence number; fix or remove it",
                path);
            return -1;
        }
        free(buf);
    }
    *seq = cur + 1;
    snprintf(text, sizeof text, "%llu\n", (unsigned long long)*seq);
    return fileio_write(path, text, strlen(text), 0600, 0, err);
}

static int
s_attach(Csbm__Package *pkg, const char *path, errbuf_t *err)
{
    uint8_t     *buf = NULL;
    size_t       len = 0;
    const char  *base = strrchr(path, '/');
    Csbm__Attachment *a;

    if (pkg->body_case != CSBM__PACKAGE__BODY_DOCUMENT || pkg->document == NULL) {
        errbuf_set(err, "--attach works only on document packages");
        return -1;
    }
    if (fileio_read(path, 32u * 1024 * 1024, &buf, &len, err) != 0)
        return -1;
    a = pkg->document->attachment;
    if (a == NULL) {
        if ((a = malloc(sizeof *a)) == NULL) {
            free(buf);
            errbuf_set(err, "out of memory");
            return -1;
        }
        csbm__attachment__init(a);
        a->media_type = strdup("application/octet-stream");
        pkg->document->attachment = a;
    } else {
        free(a->content.data);
        if (a->filename != protobuf_c_empty_string)
            free(a->filename);
    }
    a->filename = strdup(base ? base + 1 : path);
    a->content.data = buf;
    a->content.len = len;
    return 0;
}

int
cmd_seal(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS,
        {"to", required_argument, NULL, 't'},
        {"output", required_argument, NULL, 'o'},
        {"attach", required_argument, NULL, 'A'}, {NULL, 0, NULL, 0}};
    cli_common_t        c;
    seal_args_t         a = {0};
    errbuf_t            err = {{0}};
    Csbm__Package      *pkg = NULL;
    keyring_t          *kr = NULL;
    keys_secret_t      *sk = NULL;
    char              **to = NULL;
    size_t              n_to = 0, out_len = 0;
    uint8_t            *out = NULL;
    char                owner[KEYS_OWNER_MAX + 1], outpath[4096];
    package_seal_opts_t o;
    int                 p, rc = CLI_ERROR;

    if ((p = s_parse(argc, argv, longopts, &c, s_seal_opt, &a, s_seal_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind != argc - 1 || a.to == NULL) {
        cli_error("seal needs one FILE.json and --to IDS");
        s_seal_usage(stderr);
        return CLI_ERROR;
    }
    if (a.out != NULL) {
        snprintf(outpath, sizeof outpath, "%s", a.out);
    } else {
        const char *in = argv[optind], *slash = strrchr(in, '/');
        size_t      n;
        in = slash ? slash + 1 : in;
        n = strlen(in);
        if (n > 5 && strcmp(in + n - 5, ".json") == 0)
            n -= 5;
        snprintf(outpath, sizeof outpath, "%.*s.csbm", (int)n, in);
    }
    if ((pkg = s_load_json(argv[optind], &p, &err)) == NULL) {
        cli_error("%s", err.msg);
        return p;
    }
    if (a.attach != NULL && s_attach(pkg, a.attach, &err) != 0)
        goto fail;
    if (cli_identity(&c, owner, sizeof owner, &err) != 0
        || (kr = cli_load_keyring(&c, &err)) == NULL)
        goto fail;
    to = cli_split_list(a.to, &n_to);
    if (to == NULL) {
        errbuf_set(&err, "out of memory");
        goto fail;
    }
    if (cli_recipients_known(&c, kr, (const char *const *)to, n_to, &err)
        != 0)
        goto fail; /* a usage error: exit 2 */
    memset(&o, 0, sizeof o);
    o.federation = c.federation;
    o.keyring = kr;
    o.to = (const char *const *)to;
    o.n_to = n_to;
    o.now = (int64_t)time(NULL);
    {
        /* Validate before asking for the passphrase: cheap failures first. */
        validate_report_t *rep = calloc(1, sizeof *rep);
        if (rep != NULL && validate_package(pkg, rep) != 0) {
            size_t k;
            fprintf(stderr, "csbm: %s is not valid (%zu problem%s):\n",
                argv[optind], rep->total, rep->total == 1 ? "" : "s");
            for (k = 0; k < rep->count; k++)
                fprintf(stderr, "  %s: %s\n", rep->problems[k].path,
                    rep->problems[k].message);
            free(rep);
            rc = CLI_REJECTED;
            goto done;
        }
        free(rep);
    }
    if ((sk = cli_load_secret(&c, owner, KEYS_SIGN, &err)) == NULL)
        goto fail;
    o.sign_key = sk;
    if (s_next_sequence(&c, owner, &o.sequence, &err) != 0)
        goto fail;
    if (package_seal(pkg, &o, &out, &out_len, &err) != 0) {
        cli_error("%s", err.msg);
        rc = CLI_REJECTED;
        goto done;
    }
    if (fileio_write(outpath, out, out_len, 0644, 0, &err) != 0)
        goto fail;
    {
        envelope_t *env = envelope_parse(out, out_len, NULL);
        char        id[33] = "?";
        if (env != NULL)
            envelope_id_hex(envelope_header(env)->package_id.data, id);
        fprintf(stderr, "csbm: sealed %s %s from %s to %s -> %s (%zu bytes)\n",
            package_type_name(validate_package_type(pkg)), id, owner, a.to,
            outpath, out_len);
        envelope_destroy(&env);
    }
    rc = CLI_OK;
    goto done;
fail:
    cli_error("%s", err.msg);
done:
    free(out);
    keys_secret_destroy(&sk);
    keyring_destroy(&kr);
    cli_free_list(to, n_to);
    protobuf_c_message_free_unpacked(&pkg->base, NULL);
    return rc;
}

/* --------------------------------------------------- header description --- */

static json_t *
s_header_json(const envelope_t *env)
{
    const Csbm__EnvelopeHeader *h = envelope_header(env);
    char                        hex[65], t[32];
    json_t                     *o = json_object(), *arr;
    size_t                      i;
    const ProtobufCEnumValue   *dv =
        protobuf_c_enum_descriptor_get_value(&csbm__distribution__descriptor,
            h->distribution);

    json_object_set_new(o, "format_version", json_integer(h->version));
    json_object_set_new(o, "federation", json_string(h->federation));
    envelope_id_hex(h->package_id.data, hex);
    json_object_set_new(o, "package_id", json_string(hex));
    json_object_set_new(o, "type", json_string(package_type_name(h->package_type)));
    json_object_set_new(o, "sender", json_string(h->sender));
    cli_hex(h->sender_key_id.data, h->sender_key_id.len, hex);
    json_object_set_new(o, "sender_key_id", json_string(hex));
    json_object_set_new(o, "distribution", json_string(dv ? dv->name : "?"));
    arr = json_array();
    for (i = 0; i < h->n_recipients; i++) {
        cli_hex(h->recipients[i]->key_id.data, h->recipients[i]->key_id.len, hex);
        json_array_append_new(arr, json_pack("{s:s,s:s}", "id",
            h->recipients[i]->id, "key_id", hex));
    }
    json_object_set_new(o, "recipients", arr);
    cli_format_time((int64_t)h->created_at, t);
    json_object_set_new(o, "created_at", json_string(t));
    json_object_set_new(o, "sequence", json_integer((json_int_t)h->sequence));
    arr = json_array();
    for (i = 0; i < h->n_references; i++) {
        envelope_id_hex(h->references[i].data, hex);
        json_array_append_new(arr, json_string(hex));
    }
    json_object_set_new(o, "references", arr);
    json_object_set_new(o, "year", json_integer(h->year));
    json_object_set_new(o, "nil_report", json_boolean(h->nil_report));
    if (h->subject_date[0] != '\0')
        json_object_set_new(o, "subject_date", json_string(h->subject_date));
    if (h->document_kind != CSBM__DOCUMENT_KIND__DOCUMENT_KIND_UNSPECIFIED) {
        const ProtobufCEnumValue *kv = protobuf_c_enum_descriptor_get_value(
            &csbm__document_kind__descriptor, h->document_kind);
        json_object_set_new(o, "document_kind",
            json_string(kv != NULL ? kv->name : "?"));
    }
    json_object_set_new(o, "body_bytes", json_integer((json_int_t)h->body_size));
    cli_hex(h->body_hash.data, h->body_hash.len, hex);
    json_object_set_new(o, "body_hash", json_string(hex));
    return o;
}

static void
s_print_header(const envelope_t *env, FILE *out)
{
    json_t     *o = s_header_json(env);
    const char *key;
    json_t     *v;
    size_t      i;

    json_object_foreach(o, key, v) {
        if (strcmp(key, "recipients") == 0) {
            fprintf(out, "  %-16s", "recipients:");
            for (i = 0; i < json_array_size(v); i++)
                fprintf(out, "%s%s", i ? ", " : "",
                    json_string_value(json_object_get(json_array_get(v, i), "id")));
            fputc('\n', out);
        } else if (json_is_array(v)) {
            fprintf(out, "  %-16s", "references:");
            for (i = 0; i < json_array_size(v); i++)
                fprintf(out, "%s%s", i ? ", " : "",
                    json_string_value(json_array_get(v, i)));
            fprintf(out, "%s\n", json_array_size(v) ? "" : "none");
        } else {
            char *s = json_dumps(v, JSON_ENCODE_ANY);
            char  label[32];
            snprintf(label, sizeof label, "%s:", key);
            fprintf(out, "  %-16s%s\n", label,
                json_is_string(v) ? json_string_value(v) : (s ? s : "?"));
            free(s);
        }
    }
    json_decref(o);
}

/* ------------------------------------------------------- verify/inspect --- */

static void
s_inspect_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm inspect [--json] FILE.csbm\n"
        "\n"
        "Show a sealed package's header — sender, recipients, type, time,\n"
        "sequence, references — WITHOUT checking the signature. Use\n"
        "'csbm verify' before you rely on any of it.\n"
        "\n"
        "Example:\n"
        "  csbm inspect --json report.csbm\n");
}

int
cmd_inspect(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    cli_common_t c;
    errbuf_t     err = {{0}};
    envelope_t  *env;
    int          p;

    if ((p = s_parse(argc, argv, longopts, &c, NULL, NULL, s_inspect_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind != argc - 1) {
        s_inspect_usage(stderr);
        return CLI_ERROR;
    }
    if ((env = s_load_envelope(argv[optind], &p, &err)) == NULL) {
        cli_error("%s", err.msg);
        return p;
    }
    if (c.json) {
        json_t *o = s_header_json(env);
        json_object_set_new(o, "verified", json_false());
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
    } else {
        printf("%s (signature NOT checked; run csbm verify)\n", argv[optind]);
        s_print_header(env, stdout);
    }
    envelope_destroy(&env);
    return CLI_OK;
}

static void
s_verify_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm verify [--keyring DIR | --registry FILE --root CERT]\n"
        "                   [--json] FILE.csbm\n"
        "\n"
        "Check, without decrypting, that the package was signed by the key\n"
        "its sender held when it was created, that nothing in it was altered,\n"
        "and show who sent it to whom. Anyone with the sender's public key can\n"
        "run it; no secret key is needed. With --registry the sender's key\n"
        "must be certified in the registry, not revoked, retired or expired,\n"
        "and the sender an active member, as of the package's creation time.\n"
        "Exit 0 valid, 1 not valid.\n"
        "\n"
        "Options:\n%s"
        "\n"
        "Example:\n"
        "  csbm verify --keyring keyring/ report.csbm\n"
        "  csbm verify --registry registry.bin --root root.pem report.csbm\n",
        s_common_help);
}

int
cmd_verify(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS, {NULL, 0, NULL, 0}};
    cli_common_t         c;
    errbuf_t             err = {{0}};
    envelope_t          *env = NULL;
    keyring_t           *kr = NULL;
    const keyring_key_t *signer = NULL;
    int                  p, rc;

    if ((p = s_parse(argc, argv, longopts, &c, NULL, NULL, s_verify_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind != argc - 1) {
        s_verify_usage(stderr);
        return CLI_ERROR;
    }
    if ((kr = cli_load_keyring(&c, &err)) == NULL) {
        cli_error("%s", err.msg);
        return cli_keyring_exit(&c);
    }
    if ((env = s_load_envelope(argv[optind], &rc, &err)) == NULL)
        ; /* rc says whether it was read */
    else if (package_verify(env, kr, c.federation, &signer, &err) != 0)
        rc = CLI_REJECTED;
    else
        rc = CLI_OK;
    if (c.json) {
        json_t *o = env ? s_header_json(env) : json_object();
        json_object_set_new(o, "file", json_string(argv[optind]));
        json_object_set_new(o, "verified", json_boolean(rc == CLI_OK));
        if (rc != CLI_OK)
            json_object_set_new(o, "error", json_string(err.msg));
        json_dumpf(o, stdout, JSON_INDENT(2));
        putchar('\n');
        json_decref(o);
    } else if (rc == CLI_OK) {
        printf("%s: VALID, signed by %s\n", argv[optind], signer->pub.owner);
        s_print_header(env, stdout);
    } else if (env == NULL && rc == CLI_ERROR) {
        cli_error("%s", err.msg);
    } else {
        printf("%s: NOT VALID\n  %s\n", argv[optind], err.msg);
    }
    envelope_destroy(&env);
    keyring_destroy(&kr);
    return rc;
}

/* ---------------------------------------------------------------- open --- */

typedef struct {
    const char *out;
} open_args_t;

static int
s_open_opt(int opt, const char *arg, void *ctx)
{
    open_args_t *a = ctx;

    if (opt == 'o') {
        a->out = arg;
        return 0;
    }
    return -1;
}

static void
s_open_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm open FILE.csbm [-o OUT.json] [common options]\n"
        "\n"
        "Verify a package against its sender's key, decrypt it with this\n"
        "identity's encryption key, check that the package inside matches\n"
        "its signed header, and print it as JSON. Exit 0 opened, 1 refused.\n"
        "\n"
        "Options:\n"
        "  -o, --output OUT      write the JSON to OUT instead of stdout\n"
        "%s"
        "\n"
        "Examples:\n"
        "  csbm open report.csbm --as CHL\n"
        "  csbm open report.csbm --passphrase-file pass.txt -o report.json\n",
        s_common_help);
}

int
cmd_open(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS,
        {"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    cli_common_t         c;
    open_args_t          a = {0};
    errbuf_t             err = {{0}};
    envelope_t          *env = NULL;
    keyring_t           *kr = NULL;
    keys_secret_t       *bk = NULL;
    Csbm__Package       *pkg = NULL;
    const keyring_key_t *signer = NULL;
    char                 owner[KEYS_OWNER_MAX + 1];
    char                *json = NULL;
    int                  p, rc = CLI_ERROR;

    if ((p = s_parse(argc, argv, longopts, &c, s_open_opt, &a, s_open_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind != argc - 1) {
        s_open_usage(stderr);
        return CLI_ERROR;
    }
    if (cli_identity(&c, owner, sizeof owner, &err) != 0) {
        cli_error("%s", err.msg);
        goto done;
    }
    if ((kr = cli_load_keyring(&c, &err)) == NULL) {
        cli_error("%s", err.msg);
        rc = cli_keyring_exit(&c);
        goto done;
    }
    if ((env = s_load_envelope(argv[optind], &rc, &err)) == NULL) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (package_verify(env, kr, c.federation, &signer, &err) != 0) {
        cli_error("%s: NOT VALID: %s", argv[optind], err.msg);
        rc = CLI_REJECTED;
        goto done;
    }
    if ((bk = cli_load_secret(&c, owner, KEYS_BOX, &err)) == NULL) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (package_open(env, bk, &pkg, &err) != 0) {
        cli_error("%s: cannot open as %s: %s", argv[optind], owner, err.msg);
        rc = CLI_REJECTED;
        goto done;
    }
    if ((json = json_codec_encode(&pkg->base, &err)) == NULL) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (fileio_write(a.out ? a.out : "-", json, strlen(json), 0600, 0, &err)
        != 0) {
        cli_error("%s", err.msg);
        goto done;
    }
    {
        char id[33];
        envelope_id_hex(envelope_header(env)->package_id.data, id);
        fprintf(stderr, "csbm: opened %s %s from %s (signature valid)\n",
            package_type_name(envelope_header(env)->package_type), id,
            signer->pub.owner);
    }
    rc = CLI_OK;
done:
    if (json != NULL) {
        sodium_memzero(json, strlen(json));
        free(json);
    }
    package_free(&pkg);
    keys_secret_destroy(&bk);
    keyring_destroy(&kr);
    envelope_destroy(&env);
    return rc;
}
