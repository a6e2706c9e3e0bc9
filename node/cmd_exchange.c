/*
 * cmd_exchange: the verbs that talk to the hub — push, sync, pull, the
 * node daemon — and the views of the node's store — outbox, inbox. Each
 * parses its arguments and calls node/member or node/mailbox.
 */
#include <errno.h>
#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/fileio.h"
#include "crypto/package.h"
#include "crypto/receipt.h"
#include "node/cli.h"
#include "node/log.h"
#include "node/cmd_exchange.h"
#include "node/member.h"
#include "proto/json_codec.h"
#include "proto/validate.h"

#define COMMON_LONGOPTS                                                       \
    {"keys", required_argument, NULL, 'K'},                                   \
        {"keyring", required_argument, NULL, 'R'},                            \
        {"as", required_argument, NULL, 'a'},                                 \
        {"passphrase-file", required_argument, NULL, 'P'},                    \
        {"federation", required_argument, NULL, 'F'},                         \
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},   \
        {"data", required_argument, NULL, 'D'}, CLI_REGISTRY_LONGOPTS

#define HUB_LONGOPTS                                                          \
    {"hub", required_argument, NULL, 'H'},                                    \
        {"hub-notify", required_argument, NULL, 'N'},                         \
        {"timeout-ms", required_argument, NULL, 'T'}

/* The verbs that check the hub's log and cosign its heads. */
#define WITNESS_LONGOPTS {"no-witness", no_argument, NULL, 'W'}

static const char s_common_help[] =
    "  --data FILE.db        this node's store (default $CSBM_DATA or\n"
    "                        ./" MEMBER_DEFAULT_DATA ")\n"
    "  --keys DIR            key directory (default $CSBM_KEYS or ./keys)\n"
    "  --keyring DIR         public keys of the others and hub.pub, as ID.pub\n"
    "                        files (default $CSBM_KEYRING, else --keys)\n"
    "  --as ID               act as this identity (default: the only one)\n"
    "  --passphrase-file F   passphrase file (else $CSBM_PASSPHRASE or a prompt)\n"
    "  --federation NAME     federation (default $CSBM_FEDERATION or "
    CLI_DEFAULT_FEDERATION ")\n"
    CLI_REGISTRY_HELP
    "  --json                machine-readable output\n";

static const char s_hub_help[] =
    "  --hub tcp://HOST:PORT the hub's request endpoint (default $CSBM_HUB)\n"
    "  --timeout-ms N        wait at most N ms for each answer (default "
    "10000)\n";

static const char s_witness_help[] =
    "  --no-witness          do not cosign the hub's tree heads (by default\n"
    "                        this node cosigns, with its signing key, every\n"
    "                        head it verified as extending the one before)\n";

static const char s_queued_hint[] =
    "the package is queued in the outbox and will be sent by 'csbm sync' or "
    "a running 'csbm node'";

/* Everything any exchange verb accepts; each verb's long options say which
 * of them it takes. */
typedef struct {
    cli_common_t    c;
    member_config_t cfg;
    const char     *to;
    char            to_buf[MAILBOX_RECIPIENTS_MAX]; /* repeated --to */
    const char     *out;
    const char     *export_id;
    const char     *open_id;
    const char     *receipt_id;
    int             export_receipt; /* --export-receipt: the receipt file */
    size_t          max;
    int             no_send;
    int             retry_refused;
    int             refused;
    int             foreground;
    int             verbose;
    int             no_witness; /* --no-witness: do not cosign tree heads */
    char            data_buf[CONFIG_PATH_MAX + 32]; /* data_dir/store */
} xargs_t;

static int
s_number(const char *arg, unsigned long long lo, unsigned long long hi,
    unsigned long long *out)
{
    char *end;

    if (arg == NULL || arg[0] < '0' || arg[0] > '9')
        return -1;
    errno = 0;
    *out = strtoull(arg, &end, 10);
    return errno == 0 && *end == '\0' && *out >= lo && *out <= hi ? 0 : -1;
}

/* Parse options into a. Returns -1 after printing usage for bad usage, 1
 * for --help, 0 to go on. */
static int
s_parse(int argc, char **argv, const struct option *longopts, xargs_t *a,
    void (*usage)(FILE *))
{
    const char        *config = cli_config_path(argc, argv);
    const config_t    *ini;
    errbuf_t           err = {{0}};
    unsigned long long n;
    int                opt;

    memset(a, 0, sizeof *a);
    cli_common_init(&a->c);
    member_config_init(&a->cfg);
    if (config != NULL) {
        if ((ini = cli_config_apply(config, &a->c, &err)) == NULL) {
            cli_error("%s", err.msg);
            return -1;
        }
        if (config_is_hub(ini)) {
            cli_error("%s is the hub's configuration; the member verbs need "
                "a member's (see config/member.ini.sample)", config);
            return -1;
        }
        a->cfg.hub = ini->member.hub_endpoint;
        if (ini->member.hub_notify_endpoint[0] != '\0')
            a->cfg.hub_notify = ini->member.hub_notify_endpoint;
        if (snprintf(a->data_buf, sizeof a->data_buf, "%s/%s",
                ini->node.data_dir, MEMBER_DEFAULT_DATA)
            >= (int)sizeof a->data_buf) {
            cli_error("%s: data_dir too long", config);
            return -1;
        }
        a->cfg.data_path = a->data_buf;
    }
    optind = 1;
    while ((opt = getopt_long(argc, argv, "ho:v", longopts, NULL)) != -1) {
        if (cli_common_option(&a->c, opt, optarg))
            continue;
        switch (opt) {
        case 'h': usage(stdout); return 1;
        case 'D': a->cfg.data_path = optarg; continue;
        case 'H': a->cfg.hub = optarg; continue;
        case 'N': a->cfg.hub_notify = optarg; continue;
        case 't':
            /* Repeated --to lists add up: --to CHL --to PER is CHL,PER. */
            if (a->to != NULL
                && snprintf(a->to_buf, sizeof a->to_buf, "%s,%s",
                       a->to == a->to_buf ? a->to_buf : a->to, optarg)
                    >= (int)sizeof a->to_buf) {
                cli_error("--to: too many recipients");
                return -1;
            }
            a->to = a->to != NULL ? a->to_buf : optarg;
            continue;
        case 'o': a->out = optarg; continue;
        case 'x': a->export_id = optarg; continue;
        case 'O': a->open_id = optarg; continue;
        case 'r': a->receipt_id = optarg; continue;
        case 'E': a->receipt_id = optarg; a->export_receipt = 1; continue;
        case 'n': a->no_send = 1; continue;
        case 'z': a->refused = 1; continue;
        case 'y': a->retry_refused = 1; continue;
        case 'f': a->foreground = 1; continue;
        case 'v': a->verbose = 1; continue;
        case 'W': a->no_witness = 1; continue;
        case 'T':
            if (s_number(optarg, 1, 3600000, &n) != 0) {
                cli_error("--timeout-ms %s: give milliseconds, 1 to 3600000",
                    optarg);
                return -1;
            }
            a->cfg.timeout_ms = (int)n;
            continue;
        case 'm':
            if (s_number(optarg, 1, 100000000, &n) != 0) {
                cli_error("--max %s: give a number of packages, at least 1",
                    optarg);
                return -1;
            }
            a->max = (size_t)n;
            continue;
        case 'p':
            if (s_number(optarg, 1, 86400, &n) != 0) {
                cli_error("--pull-every %s: give seconds, 1 to 86400", optarg);
                return -1;
            }
            a->cfg.pull_every_s = (int)n;
            continue;
        default:
            usage(stderr);
            return -1;
        }
    }
    if (cli_common_finish(&a->c, &err) != 0) {
        cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

int
cmd_exchange_load_keys(const cli_common_t *c, const char *owner, const keys_kind_t *kinds,
    keys_secret_t **out, size_t n, errbuf_t *err)
{
    char   path[4096];
    char  *pass;
    size_t len = 0, i;
    int    rc = 0;

    for (i = 0; i < n; i++)
        out[i] = NULL;
    if ((pass = sodium_malloc(KEYS_PASSPHRASE_MAX + 1)) == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    if (keys_passphrase_get(c->passphrase_file, 0, pass, &len, err) != 0)
        rc = -1;
    for (i = 0; rc == 0 && i < n; i++) {
        if (keys_path(path, sizeof path, c->key_dir, owner, (int)kinds[i])
            != 0) {
            errbuf_set(err, "%s: key directory path too long", c->key_dir);
            rc = -1;
        } else if ((out[i] = keys_secret_load(path, kinds[i], pass, len, err))
                   == NULL) {
            rc = -1;
        }
    }
    sodium_memzero(pass, KEYS_PASSPHRASE_MAX + 1);
    sodium_free(pass);
    for (i = 0; rc != 0 && i < n; i++)
        keys_secret_destroy(&out[i]);
    return rc;
}

/* The keys a networked node needs, with one passphrase: the transport
 * key and, unless --no-witness, the signing key it cosigns heads with. */
static int
s_load_network_keys(const xargs_t *a, const char *owner, keys_secret_t **tk,
    keys_secret_t **wk, errbuf_t *err)
{
    static const keys_kind_t kinds[] = {KEYS_TRANSPORT, KEYS_SIGN};
    keys_secret_t           *k[2] = {NULL, NULL};

    *tk = *wk = NULL;
    if (cmd_exchange_load_keys(&a->c, owner, kinds, k, a->no_witness ? 1 : 2, err)
        != 0) {
        if (!a->no_witness) {
            char why[ERRBUF_SIZE];
            snprintf(why, sizeof why, "%s", err->msg);
            errbuf_set(err, "%s (the node cosigns the hub's tree heads with "
                "its signing key; --no-witness does without it)", why);
        }
        return -1;
    }
    *tk = k[0];
    *wk = k[1];
    return 0;
}

/* The node for this identity, with its transport key (and, as a witness
 * of the hub's log, its signing key) if network is set. */
static member_t *
s_member(const xargs_t *a, const char *owner, int network, errbuf_t *err)
{
    keyring_t     *kr = NULL;
    keys_secret_t *tk = NULL, *wk = NULL;
    member_t      *m;

    if (network && (a->cfg.hub == NULL || a->cfg.hub[0] == '\0')) {
        errbuf_set(err, "no hub: pass --hub tcp://HOST:PORT or set CSBM_HUB");
        return NULL;
    }
    if ((kr = cli_load_keyring(&a->c, err)) == NULL)
        return NULL;
    if (network && s_load_network_keys(a, owner, &tk, &wk, err) != 0) {
        keyring_destroy(&kr);
        return NULL;
    }
    m = member_new(&a->cfg, owner, a->c.federation, &kr,
        network ? &tk : NULL, err);
    if (m != NULL && wk != NULL)
        member_set_witness_key(m, &wk);
    keys_secret_destroy(&wk);
    return m;
}

static int
s_store_exists(const char *path, errbuf_t *err)
{
    struct stat sb;

    if (stat(path, &sb) != 0) {
        errbuf_set(err, "%s: no store here (%s); nothing was pushed or "
            "pulled with it yet, or pass --data FILE.db", path,
            strerror(errno));
        return -1;
    }
    return 0;
}

static json_t *
s_delivery_json(const member_delivery_t *d)
{
    char    hex[33];
    json_t *o;

    envelope_id_hex(d->package_id, hex);
    o = json_pack("{s:s,s:I,s:s}", "package_id", hex, "sequence",
        (json_int_t)d->sequence, "type", package_type_name(d->package_type));
    switch (d->outcome) {
    case MEMBER_DELIVERED:
        json_object_set_new(o, "status", json_string("delivered"));
        json_object_set_new(o, "position",
            json_integer((json_int_t)d->position));
        json_object_set_new(o, "duplicate", json_boolean(d->duplicate));
        break;
    case MEMBER_REJECTED:
        json_object_set_new(o, "status", json_string("rejected"));
        json_object_set_new(o, "reason",
            json_string(receipt_reason_name(d->reason)));
        json_object_set_new(o, "message", json_string(d->message));
        break;
    default:
        json_object_set_new(o, "status", json_string("pending"));
        json_object_set_new(o, "message", json_string(d->message));
        break;
    }
    return o;
}

/* One line per delivery attempt, for push and sync. */
static void
s_print_delivery(const member_delivery_t *d, void *ctx)
{
    const xargs_t *a = ctx;
    char           hex[33];

    if (a->c.json)
        return;
    envelope_id_hex(d->package_id, hex);
    switch (d->outcome) {
    case MEMBER_DELIVERED:
        printf("delivered %s (%s, sequence %llu): archive position %llu, "
            "receipt verified%s\n", hex, package_type_name(d->package_type),
            (unsigned long long)d->sequence, (unsigned long long)d->position,
            d->duplicate ? " (the hub had it already)" : "");
        break;
    case MEMBER_REJECTED:
        cli_error("the hub rejected %s (%s, sequence %llu): %s: %s", hex,
            package_type_name(d->package_type),
            (unsigned long long)d->sequence, receipt_reason_name(d->reason),
            d->message);
        break;
    default:
        cli_error("%s not delivered: %s", hex, d->message);
        break;
    }
}

static void
s_print_json(json_t *o)
{
    json_dumpf(o, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(o);
}

/* ---------------------------------------------------------------- push --- */

static void
s_push_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm push FILE.json --to IDS [--no-send] [--hub tcp://HOST:PORT]\n"
        "                 [--timeout-ms N] [common options]\n"
        "\n"
        "Validate a package, seal it to the recipients as this state, store it\n"
        "in the outbox and deliver it to the hub. The sealed package is written\n"
        "to disk before anything is sent, so it is never lost: if the hub does\n"
        "not answer it stays queued for 'csbm sync' or a running 'csbm node'.\n"
        "Older packages still pending are delivered first, in sequence order;\n"
        "if one of them cannot be delivered, the new one waits behind it.\n"
        "Delivered means the hub's signed receipt was checked and stored.\n"
        "\n"
        "Exit status: 0 delivered (or queued with --no-send), 1 the package is\n"
        "not valid or the hub rejected it (the reason is printed), 2 not\n"
        "delivered: the hub did not answer or a usage or system error (a\n"
        "package that was queued is still safe in the outbox).\n"
        "\n"
        "Options:\n"
        "  --to IDS              recipients: state codes, 'hub' or 'all'\n"
        "  --no-send             only queue it; send later with csbm sync\n"
        "%s%s"
        "\n"
        "Examples:\n"
        "  csbm push examples/milex-standardized-ARG-2025.json --to CHL,PER,hub \\\n"
        "       --hub tcp://hub.example.org:7400\n"
        "  csbm push notice.json --to all --no-send\n",
        s_hub_help, s_common_help);
}

static Csbm__Package *
s_load_json(const char *path, errbuf_t *err)
{
    uint8_t          *text = NULL;
    size_t            len = 0;
    ProtobufCMessage *m;

    if (fileio_read(path, JSON_CODEC_MAX_INPUT, &text, &len, err) != 0)
        return NULL;
    m = json_codec_decode(&csbm__package__descriptor, (const char *)text, len,
        err);
    free(text);
    if (m == NULL)
        errbuf_prefix(err, "%s", path);
    return (Csbm__Package *)m;
}

/* Print the validation problems; returns 0 if the package is valid. */
static int
s_validate(const char *path, const Csbm__Package *pkg)
{
    validate_report_t *rep = calloc(1, sizeof *rep);
    size_t             k;

    if (rep == NULL) {
        cli_error("out of memory");
        return -1;
    }
    if (validate_package(pkg, rep) == 0) {
        free(rep);
        return 0;
    }
    cli_error("%s is not valid (%zu problem%s):", path, rep->total,
        rep->total == 1 ? "" : "s");
    for (k = 0; k < rep->count; k++)
        fprintf(stderr, "  %s: %s\n", rep->problems[k].path,
            rep->problems[k].message);
    free(rep);
    return -1;
}

int
cmd_push(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS, HUB_LONGOPTS,
        {"to", required_argument, NULL, 't'},
        {"no-send", no_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
    static const keys_kind_t kinds[] = {KEYS_SIGN, KEYS_TRANSPORT};
    xargs_t            a;
    errbuf_t           err = {{0}};
    Csbm__Package     *pkg = NULL;
    keyring_t         *kr = NULL;
    keys_secret_t     *keys[2] = {NULL, NULL};
    member_t          *m = NULL;
    member_delivery_t  d;
    char             **to = NULL;
    size_t             n_to = 0;
    char               owner[KEYS_OWNER_MAX + 1];
    int                p, rc = CLI_ERROR;

    if ((p = s_parse(argc, argv, longopts, &a, s_push_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind != argc - 1 || a.to == NULL) {
        cli_error("push needs one FILE.json and --to IDS");
        s_push_usage(stderr);
        return CLI_ERROR;
    }
    if (!a.no_send && (a.cfg.hub == NULL || a.cfg.hub[0] == '\0')) {
        cli_error("no hub: pass --hub tcp://HOST:PORT or set CSBM_HUB (or "
            "--no-send to only queue the package)");
        return CLI_ERROR;
    }
    /* A mistyped endpoint fails here, before anything is sealed. */
    if (!a.no_send && member_endpoint_check(a.cfg.hub, &err) != 0) {
        cli_error("%s; nothing was queued", err.msg);
        return CLI_ERROR;
    }
    if ((pkg = s_load_json(argv[optind], &err)) == NULL) {
        cli_error("%s", err.msg);
        return CLI_REJECTED;
    }
    /* Cheap failures before the passphrase. */
    if (s_validate(argv[optind], pkg) != 0) {
        rc = CLI_REJECTED;
        goto done;
    }
    if (cli_identity(&a.c, owner, sizeof owner, &err) != 0
        || (kr = cli_load_keyring(&a.c, &err)) == NULL
        || cmd_exchange_load_keys(&a.c, owner, kinds, keys, a.no_send ? 1 : 2, &err) != 0
        || (m = member_new(&a.cfg, owner, a.c.federation, &kr,
                a.no_send ? NULL : &keys[1], &err)) == NULL
        || (to = cli_split_list(a.to, &n_to)) == NULL) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (member_push(m, pkg, (const char *const *)to, n_to, keys[0],
            !a.no_send, &d, &err) != 0) {
        if (d.sequence != 0) /* stored, then the store failed */
            cli_error("%s; %s", err.msg, s_queued_hint);
        else
            cli_error("%s: not queued: %s", argv[optind], err.msg);
        goto done;
    }
    keys_secret_destroy(&keys[0]);
    if (a.c.json) {
        s_print_json(s_delivery_json(&d));
    } else if (d.outcome == MEMBER_QUEUED && a.no_send) {
        char hex[33];
        envelope_id_hex(d.package_id, hex);
        printf("queued %s (%s, sequence %llu) to %s; 'csbm sync' or a "
            "running 'csbm node' will send it\n", hex,
            package_type_name(d.package_type),
            (unsigned long long)d.sequence, a.to);
    } else if (d.outcome == MEMBER_QUEUED) {
        cli_error("%s; %s", d.message, s_queued_hint);
    } else {
        s_print_delivery(&d, &a);
    }
    rc = d.outcome == MEMBER_DELIVERED ? CLI_OK
       : d.outcome == MEMBER_REJECTED  ? CLI_REJECTED
       : a.no_send                     ? CLI_OK
                                       : CLI_ERROR;
done:
    member_destroy(&m);
    keys_secret_destroy(&keys[0]);
    keys_secret_destroy(&keys[1]);
    keyring_destroy(&kr);
    cli_free_list(to, n_to);
    if (pkg != NULL)
        protobuf_c_message_free_unpacked(&pkg->base, NULL);
    return rc;
}

/* ---------------------------------------------------------------- pull --- */

typedef struct {
    const xargs_t *a;
    json_t        *refused; /* --json: the refused items */
} pull_ctx_t;

static void
s_pull_progress(const member_pull_report_t *so_far, uint64_t position,
    const char *refused, void *ctx)
{
    pull_ctx_t *pc = ctx;

    if (refused != NULL) {
        if (pc->refused != NULL)
            json_array_append_new(pc->refused, json_pack("{s:I,s:s}",
                "position", (json_int_t)position, "reason", refused));
        cli_error("refused the package at archive position %llu: %s",
            (unsigned long long)position, refused);
        return;
    }
    if (so_far->more && !pc->a->c.json)
        fprintf(stderr, "csbm: pulled %zu/… (archive position %llu)\n",
            so_far->received, (unsigned long long)so_far->cursor);
}

/* What the log check after a pull found, for --json. */
static json_t *
s_log_json(const member_log_report_t *l)
{
    json_t *o = json_pack("{s:b,s:I,s:I,s:b,s:b,s:I,s:b,s:I}", "checked",
        l->checked, "old_size", (json_int_t)l->old_size, "size",
        (json_int_t)l->new_size, "consistent",
        !l->inconsistent && l->forks == 0, "cosigned", l->cosigned,
        "witnesses", (json_int_t)l->witnesses, "witnessed", l->witnessed,
        "forks", (json_int_t)l->forks);

    if (o != NULL && l->cosign_refused[0] != '\0')
        json_object_set_new(o, "cosign_refused",
            json_string(l->cosign_refused));
    return o;
}

/* The log check in one line. */
static void
s_print_log(const member_log_report_t *l)
{
    if (!l->checked)
        return;
    if (l->cosigned)
        printf("hub's log: tree head of size %llu verified and cosigned; "
            "%lu witness%s at the hub: %s\n",
            (unsigned long long)l->new_size, (unsigned long)l->witnesses,
            l->witnesses == 1 ? "" : "es",
            l->witnessed ? "witnessed (the hub's quorum)"
                         : "not yet witnessed by the hub's quorum");
    else
        printf("hub's log: tree head of size %llu verified (not cosigned)\n",
            (unsigned long long)l->new_size);
}

/* Pull and report. Returns the exit code. */
static int
s_pull(member_t *m, const xargs_t *a, json_t *result)
{
    member_pull_report_t rep;
    errbuf_t             err = {{0}};
    pull_ctx_t           pc = {a, a->c.json ? json_array() : NULL};
    int                  rc;

    rc = member_pull(m, a->max, s_pull_progress, &pc, &rep, &err);
    /* Not a failure of the pull: the head was verified all the same. */
    if (rep.log.cosign_refused[0] != '\0')
        cli_error("warning: the hub refused this node's cosignature: %s",
            rep.log.cosign_refused);
    if (rc != 0) {
        cli_error("%s", err.msg);
        if (result != NULL)
            json_object_set_new(result, "pull_error", json_string(err.msg));
        /* Evidence against the hub's log is a failed verification. */
        rc = rep.log.inconsistent || rep.log.forks > 0 ? CLI_REJECTED
                                                       : CLI_ERROR;
    } else {
        rc = rep.refused > 0 ? CLI_REJECTED : CLI_OK;
    }
    if (result != NULL) {
        json_object_set_new(result, "received",
            json_integer((json_int_t)rep.received));
        json_object_set_new(result, "added",
            json_integer((json_int_t)rep.added));
        json_object_set_new(result, "refused", pc.refused);
        json_object_set_new(result, "cursor",
            json_integer((json_int_t)rep.cursor));
        json_object_set_new(result, "more", json_boolean(rep.more));
        json_object_set_new(result, "log", s_log_json(&rep.log));
    } else {
        json_decref(pc.refused);
        if (rc == CLI_OK || (rc == CLI_REJECTED && rep.refused > 0))
            printf("pulled %zu new package%s (%zu received, %zu refused); "
                "inbox at archive position %llu%s\n", rep.added,
                rep.added == 1 ? "" : "s", rep.received, rep.refused,
                (unsigned long long)rep.cursor,
                rep.more ? "; more waiting (pull again)" : "");
        if (rc == CLI_OK || (rc == CLI_REJECTED && rep.refused > 0))
            s_print_log(&rep.log);
    }
    return rc;
}

static void
s_pull_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm pull [--max N] [--retry-refused] [--hub tcp://HOST:PORT]\n"
        "                 [--timeout-ms N] [common options]\n"
        "\n"
        "Fetch the packages addressed to this state that arrived at the hub\n"
        "since the last pull, page by page. Each one is checked before it\n"
        "enters the inbox: the sender's signature with the key valid when it\n"
        "was created, this state among its recipients, and the hub's signed\n"
        "receipt for its archive position. Packages that fail are refused,\n"
        "listed, and kept aside ('csbm inbox --refused'). Each page is stored\n"
        "together with the position reached, so an interrupted pull resumes.\n"
        "\n"
        "After the pull the node checks the hub's log: its newest signed tree\n"
        "head must extend the one verified before (consistency proof), and no\n"
        "head another member cosigned may contradict it; the node then\n"
        "cosigns that head as a witness. A failed check keeps both heads as\n"
        "evidence ('csbm log').\n"
        "\n"
        "Exit status: 0 pulled, 1 some packages were refused or the hub's log\n"
        "is not consistent, 2 the hub did not answer or a usage or system\n"
        "error.\n"
        "\n"
        "Options:\n"
        "  --max N               pull at most N packages\n"
        "  --retry-refused       pull again from the earliest refused package\n"
        "                        (after its sender's key was added to the\n"
        "                        keyring, say)\n"
        "%s%s%s"
        "\n"
        "Example:\n"
        "  csbm pull --hub tcp://hub.example.org:7400 && csbm inbox\n",
        s_hub_help, s_witness_help, s_common_help);
}

int
cmd_pull(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS, HUB_LONGOPTS,
        {"max", required_argument, NULL, 'm'},
        {"retry-refused", no_argument, NULL, 'y'}, WITNESS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    xargs_t   a;
    errbuf_t  err = {{0}};
    member_t *m = NULL;
    json_t   *result;
    char      owner[KEYS_OWNER_MAX + 1];
    int       p, rc;

    if ((p = s_parse(argc, argv, longopts, &a, s_pull_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind != argc) {
        s_pull_usage(stderr);
        return CLI_ERROR;
    }
    if (cli_identity(&a.c, owner, sizeof owner, &err) != 0
        || (m = s_member(&a, owner, 1, &err)) == NULL) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    if (a.retry_refused) {
        uint64_t from = 0;
        int      again = mailbox_refused_rewind(member_mailbox(m), &from, &err);
        if (again < 0) {
            cli_error("%s", err.msg);
            member_destroy(&m);
            return CLI_ERROR;
        }
        if (!a.c.json && again)
            fprintf(stderr, "csbm: pulling again after archive position "
                "%llu\n", (unsigned long long)from);
        else if (!a.c.json)
            fprintf(stderr, "csbm: no refused packages to retry\n");
    }
    result = a.c.json ? json_object() : NULL;
    rc = s_pull(m, &a, result);
    if (result != NULL)
        s_print_json(result);
    member_destroy(&m);
    return rc;
}

/* ---------------------------------------------------------------- sync --- */

typedef struct {
    const xargs_t *a;
    json_t        *list;
} sync_ctx_t;

static void
s_sync_delivery(const member_delivery_t *d, void *ctx)
{
    sync_ctx_t *sc = ctx;

    if (sc->list != NULL)
        json_array_append_new(sc->list, s_delivery_json(d));
    s_print_delivery(d, (void *)(uintptr_t)sc->a);
}

static void
s_sync_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm sync [--max N] [--hub tcp://HOST:PORT] [--timeout-ms N]\n"
        "                 [common options]\n"
        "\n"
        "Deliver every package still pending in the outbox, in sequence order,\n"
        "then pull (as 'csbm pull'). A package the hub already archived is\n"
        "answered with its original receipt and is not archived twice. If a\n"
        "package cannot be delivered the later ones wait, and the attempt is\n"
        "counted with a growing delay before a running 'csbm node' tries again\n"
        "('csbm sync' itself always tries at once).\n"
        "\n"
        "Exit status: 0 everything delivered and pulled, 1 the hub rejected a\n"
        "package or a pulled package was refused, 2 some package is still\n"
        "pending, the hub did not answer, or a usage or system error.\n"
        "\n"
        "Options:\n"
        "  --max N               pull at most N packages\n"
        "%s%s%s"
        "\n"
        "Example:\n"
        "  csbm sync --hub tcp://hub.example.org:7400\n",
        s_hub_help, s_witness_help, s_common_help);
}

int
cmd_sync(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS, HUB_LONGOPTS,
        {"max", required_argument, NULL, 'm'}, WITNESS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    xargs_t              a;
    errbuf_t             err = {{0}};
    member_t            *m = NULL;
    member_sync_report_t rep;
    sync_ctx_t           sc;
    json_t              *result = NULL;
    char                 owner[KEYS_OWNER_MAX + 1];
    int                  p, rc = CLI_OK, prc;

    if ((p = s_parse(argc, argv, longopts, &a, s_sync_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind != argc) {
        s_sync_usage(stderr);
        return CLI_ERROR;
    }
    if (cli_identity(&a.c, owner, sizeof owner, &err) != 0
        || (m = s_member(&a, owner, 1, &err)) == NULL) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    if (a.c.json)
        result = json_object();
    sc.a = &a;
    sc.list = a.c.json ? json_array() : NULL;
    if (member_sync(m, 0, s_sync_delivery, &sc, &rep, &err) != 0) {
        cli_error("%s", err.msg);
        json_decref(sc.list);
        json_decref(result);
        member_destroy(&m);
        return CLI_ERROR;
    }
    if (result != NULL) {
        json_object_set_new(result, "outbox", sc.list);
        json_object_set_new(result, "pending", json_integer(rep.pending));
    } else if (rep.delivered + rep.rejected == 0 && !rep.stalled) {
        printf("outbox: nothing pending\n");
    }
    if (rep.rejected > 0)
        rc = CLI_REJECTED;
    if (rep.stalled || rep.pending > 0) {
        if (!a.c.json)
            cli_error("%lld package%s still pending in the outbox",
                (long long)rep.pending, rep.pending == 1 ? "" : "s");
        rc = CLI_ERROR;
    }
    if (rep.unanswered) {
        /* The hub is not there: a pull would only wait as long again. */
        if (!a.c.json)
            cli_error("not pulling: the hub did not answer");
        else
            json_object_set_new(result, "pull_error",
                json_string("not pulled: the hub did not answer"));
    } else {
        prc = s_pull(m, &a, result);
        if (prc == CLI_ERROR || (prc == CLI_REJECTED && rc == CLI_OK))
            rc = prc;
    }
    if (result != NULL)
        s_print_json(result);
    member_destroy(&m);
    return rc;
}

/* -------------------------------------------------------------- outbox --- */

static void
s_outbox_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm outbox [--json] [--data FILE.db]\n"
        "       csbm outbox --receipt ID -o FILE.receipt [--data FILE.db]\n"
        "       csbm outbox --export ID -o FILE.csbm [--data FILE.db]\n"
        "\n"
        "List the packages this node has sent or queued: package id, type,\n"
        "recipients, creation time, status (pending, delivered, rejected),\n"
        "failed delivery attempts, the archive position from the hub's\n"
        "receipt, and for a rejected package the hub's reason.\n"
        "\n"
        "With --receipt, write the proof that the hub archived package ID: a\n"
        "self-contained receipt file (the hub's signed receipt with its\n"
        "inclusion proof in the hub's signed log) that 'csbm verify-receipt'\n"
        "checks offline; for a rejected package, the hub's signed rejection.\n"
        "With --export, write the sealed package as it was sent.\n"
        "ID is a package id or its first digits (at least 6).\n"
        "\n"
        "Options:\n"
        "  --receipt ID          write the receipt of package ID (alias:\n"
        "                        --export-receipt ID)\n"
        "  --export ID           write the sealed package ID\n"
        "  -o, --output FILE     where to write it (required with --receipt\n"
        "                        and --export)\n"
        "%s"
        "\n"
        "Examples:\n"
        "  csbm outbox --data arg-node.db\n"
        "  csbm outbox --receipt 3f2a9c -o milex.receipt\n"
        "  csbm outbox --export 3f2a9c -o milex.csbm\n"
        "  csbm verify-receipt milex.receipt --hub-key hub.pub "
        "--package milex.csbm\n",
        s_common_help);
}

typedef struct {
    json_t *list;
    size_t  n;
} list_ctx_t;

static int
s_outbox_row(const mailbox_outbox_entry_t *e, void *ctx)
{
    list_ctx_t *lc = ctx;
    char        hex[33], created[32], reason[64] = "";

    envelope_id_hex(e->package_id, hex);
    cli_format_time(e->created_at, created);
    if (e->status == MAILBOX_REJECTED)
        snprintf(reason, sizeof reason, "%s", receipt_reason_name(e->reason));
    if (lc->list != NULL) {
        char    **to;
        size_t    n_to = 0, i;
        json_t   *o, *rc = json_array();
        to = cli_split_list(e->recipients, &n_to);
        for (i = 0; to != NULL && i < n_to; i++)
            json_array_append_new(rc, json_string(to[i]));
        cli_free_list(to, n_to);
        o = json_pack("{s:s,s:I,s:s,s:o,s:s,s:s,s:I}", "package_id", hex,
            "sequence", (json_int_t)e->sequence, "type",
            package_type_name(e->package_type), "recipients", rc,
            "created_at", created, "status", mailbox_status_name(e->status),
            "attempts", (json_int_t)e->attempts);
        if (e->status == MAILBOX_DELIVERED) {
            char accepted[32];
            cli_format_time(e->accepted_at, accepted);
            json_object_set_new(o, "position",
                json_integer((json_int_t)e->position));
            json_object_set_new(o, "accepted_at", json_string(accepted));
        }
        if (e->status == MAILBOX_REJECTED) {
            json_object_set_new(o, "reason", json_string(reason));
            json_object_set_new(o, "message", json_string(e->last_error));
        }
        if (e->status == MAILBOX_PENDING && e->attempts > 0) {
            char next[32];
            cli_format_time(e->next_attempt_at, next);
            json_object_set_new(o, "last_error", json_string(e->last_error));
            json_object_set_new(o, "next_attempt_at", json_string(next));
        }
        json_array_append_new(lc->list, o);
    } else {
        char pos[24] = "-";
        if (lc->n == 0)
            printf("%-32s %5s %-22s %-20s %-20s %-9s %6s %8s %s\n",
                "PACKAGE ID", "SEQ", "TYPE", "TO", "CREATED", "STATUS",
                "FAILED", "POSITION", "REASON");
        if (e->status == MAILBOX_DELIVERED)
            snprintf(pos, sizeof pos, "%llu",
                (unsigned long long)e->position);
        {
            const char *why = e->status != MAILBOX_DELIVERED ? e->last_error
                                                             : "";
            printf("%-32s %5llu %-22s %-20s %-20s %-9s %6u %8s %s%s%s\n",
                hex, (unsigned long long)e->sequence,
                package_type_name(e->package_type), e->recipients, created,
                mailbox_status_name(e->status), e->attempts, pos, reason,
                reason[0] && why[0] ? ": " : "", why);
        }
    }
    lc->n++;
    return 0;
}

/* Resolve an outbox package id given in full or by its first digits. */
typedef struct {
    const char *prefix;
    size_t      len;
    size_t      matches;
    uint8_t     id[ENVELOPE_ID_BYTES];
} resolve_ctx_t;

static int
s_resolve_row(const mailbox_outbox_entry_t *e, void *ctx)
{
    resolve_ctx_t *rc = ctx;
    char           hex[33];

    envelope_id_hex(e->package_id, hex);
    if (strncasecmp(hex, rc->prefix, rc->len) == 0) {
        memcpy(rc->id, e->package_id, ENVELOPE_ID_BYTES);
        rc->matches++;
    }
    return 0;
}

static int
s_outbox_resolve(mailbox_t *mb, const char *text,
    uint8_t id[ENVELOPE_ID_BYTES], errbuf_t *err)
{
    resolve_ctx_t rc = {text, strlen(text), 0, {0}};
    size_t        i;

    for (i = 0; i < rc.len; i++)
        if (!isxdigit((unsigned char)text[i]))
            break;
    if (i != rc.len || rc.len < 6 || rc.len > 32) {
        errbuf_set(err, "%s: give a package id, or at least its first 6 hex "
            "digits (see 'csbm outbox')", text);
        return -1;
    }
    if (mailbox_outbox_foreach(mb, s_resolve_row, &rc, err) != 0)
        return -1;
    if (rc.matches != 1) {
        errbuf_set(err, rc.matches == 0
            ? "%s: no package in the outbox has this id (see 'csbm outbox')"
            : "%s: more than one package id starts with these digits; give "
              "more of them", text);
        return -1;
    }
    memcpy(id, rc.id, ENVELOPE_ID_BYTES);
    return 0;
}

int
cmd_outbox(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS,
        {"receipt", required_argument, NULL, 'r'},
        {"export-receipt", required_argument, NULL, 'E'},
        {"export", required_argument, NULL, 'x'},
        {"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    xargs_t    a;
    errbuf_t   err = {{0}};
    mailbox_t *mb = NULL;
    list_ctx_t lc = {NULL, 0};
    int        p, rc = CLI_ERROR;

    if ((p = s_parse(argc, argv, longopts, &a, s_outbox_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind != argc) {
        s_outbox_usage(stderr);
        return CLI_ERROR;
    }
    if (a.receipt_id != NULL && a.export_id != NULL) {
        cli_error("give either --receipt or --export, not both");
        return CLI_ERROR;
    }
    if ((a.receipt_id != NULL || a.export_id != NULL) && a.out == NULL) {
        cli_error("--%s %s: say where to write it with -o FILE",
            a.receipt_id != NULL ? "receipt" : "export",
            a.receipt_id != NULL ? a.receipt_id : a.export_id);
        return CLI_ERROR;
    }
    if (a.out != NULL && a.receipt_id == NULL && a.export_id == NULL) {
        cli_error("-o %s: nothing to write; give --receipt ID or --export ID",
            a.out);
        return CLI_ERROR;
    }
    if (s_store_exists(a.cfg.data_path, &err) != 0
        || (mb = mailbox_open(a.cfg.data_path, NULL, NULL, &err)) == NULL) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    if (a.export_id != NULL) {
        uint8_t                id[ENVELOPE_ID_BYTES], *env = NULL;
        size_t                 len = 0;
        mailbox_outbox_entry_t e;
        if (s_outbox_resolve(mb, a.export_id, id, &err) != 0
            || mailbox_outbox_get(mb, id, &e, &env, &len, &err) != 1
            || fileio_write(a.out, env, len, 0644, 0, &err) != 0) {
            cli_error("%s", err.msg[0] ? err.msg : "package not found");
        } else {
            char hex[33];
            envelope_id_hex(id, hex);
            fprintf(stderr, "csbm: exported %s %s (%s) -> %s (%zu bytes)\n",
                package_type_name(e.package_type), hex,
                mailbox_status_name(e.status), a.out, len);
            rc = CLI_OK;
        }
        free(env);
        goto done;
    }
    if (a.receipt_id != NULL) {
        uint8_t                id[ENVELOPE_ID_BYTES], *buf = NULL;
        size_t                 len = 0;
        int                    found;
        mailbox_outbox_entry_t e;
        if (s_outbox_resolve(mb, a.receipt_id, id, &err) != 0
            || mailbox_outbox_get(mb, id, &e, NULL, NULL, &err) != 1) {
            cli_error("%s", err.msg);
            goto done;
        }
        /* A delivered package: the self-contained receipt file; a rejected
         * one: the hub's signed rejection (there is no log entry). */
        found = e.status == MAILBOX_DELIVERED
            ? member_export_receipt(mb, id, &buf, &len, &err)
            : mailbox_outbox_statement(mb, id, &buf, &len, &err);
        if (found == 0)
            cli_error("%s: no receipt or rejection stored for it yet (it is "
                "%s; see 'csbm outbox')", a.receipt_id,
                mailbox_status_name(e.status));
        else if (found < 0 || fileio_write(a.out, buf, len, 0644, 0, &err)
                 != 0)
            cli_error("%s", err.msg);
        else
            rc = CLI_OK;
        free(buf);
        goto done;
    }
    lc.list = a.c.json ? json_array() : NULL;
    if (mailbox_outbox_foreach(mb, s_outbox_row, &lc, &err) != 0) {
        cli_error("%s", err.msg);
        json_decref(lc.list);
        goto done;
    }
    if (lc.list != NULL)
        s_print_json(lc.list);
    else if (lc.n == 0)
        printf("outbox is empty\n");
    rc = CLI_OK;
done:
    mailbox_destroy(&mb);
    return rc;
}

/* --------------------------------------------------------------- inbox --- */

static void
s_inbox_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm inbox [--json] [--refused] [--data FILE.db]\n"
        "       csbm inbox --open ID [-o OUT.json] [common options]\n"
        "       csbm inbox --export ID [-o FILE.csbm] [--data FILE.db]\n"
        "\n"
        "List the packages pulled from the hub: archive position, package id,\n"
        "sender, type, year, when it was received and whether it was opened.\n"
        "ID is a package id or its first digits (at least %d).\n"
        "\n"
        "Options:\n"
        "  --refused             list the pulled packages that were refused\n"
        "  --open ID             verify and decrypt the package, print it as\n"
        "                        JSON (or write it to -o), mark it opened\n"
        "  --export ID           write the sealed package to a file (default\n"
        "                        ID.csbm), e.g. for 'csbm open' or an archive\n"
        "  -o, --output FILE     where to write\n"
        "%s"
        "\n"
        "Examples:\n"
        "  csbm inbox\n"
        "  csbm inbox --open 3f2a9c --as CHL -o milex-ARG-2025.json\n"
        "  csbm inbox --export 3f2a9c -o milex.csbm && csbm verify milex.csbm\n",
        MAILBOX_MIN_PREFIX, s_common_help);
}

static int
s_inbox_row(const mailbox_inbox_entry_t *e, void *ctx)
{
    list_ctx_t *lc = ctx;
    char        hex[33], created[32], received[32];

    envelope_id_hex(e->package_id, hex);
    cli_format_time(e->created_at, created);
    cli_format_time(e->received_at, received);
    if (lc->list != NULL) {
        json_array_append_new(lc->list,
            json_pack("{s:I,s:s,s:s,s:s,s:i,s:s,s:s,s:b}", "position",
                (json_int_t)e->position, "package_id", hex, "sender",
                e->sender, "type", package_type_name(e->package_type), "year",
                (int)e->year, "created_at", created, "received_at", received,
                "opened", e->opened));
    } else {
        if (lc->n == 0)
            printf("%8s %-32s %-6s %-22s %4s %-20s %s\n", "POSITION",
                "PACKAGE ID", "FROM", "TYPE", "YEAR", "RECEIVED", "OPENED");
        printf("%8llu %-32s %-6s %-22s %4u %-20s %s\n",
            (unsigned long long)e->position, hex, e->sender,
            package_type_name(e->package_type), e->year, received,
            e->opened ? "yes" : "no");
    }
    lc->n++;
    return 0;
}

static int
s_refused_row(const mailbox_refused_entry_t *e, void *ctx)
{
    list_ctx_t *lc = ctx;
    char        hex[33], when[32];

    envelope_id_hex(e->package_id, hex);
    cli_format_time(e->refused_at, when);
    if (lc->list != NULL) {
        json_array_append_new(lc->list,
            json_pack("{s:I,s:s,s:s,s:s,s:s}", "position",
                (json_int_t)e->position, "package_id", hex, "sender",
                e->sender, "refused_at", when, "reason", e->reason));
    } else {
        printf("%8llu %s from %s, refused %s: %s\n",
            (unsigned long long)e->position, hex,
            e->sender[0] ? e->sender : "?", when, e->reason);
    }
    lc->n++;
    return 0;
}

static int
s_inbox_open(const xargs_t *a)
{
    static const keys_kind_t kind = KEYS_BOX;
    errbuf_t              err = {{0}};
    member_t             *m = NULL;
    keys_secret_t        *bk = NULL;
    Csbm__Package        *pkg = NULL;
    mailbox_inbox_entry_t e;
    char                  owner[KEYS_OWNER_MAX + 1], hex[33];
    char                 *json = NULL;
    int                   rc = CLI_ERROR, orc;

    if (cli_identity(&a->c, owner, sizeof owner, &err) != 0
        || s_store_exists(a->cfg.data_path, &err) != 0
        || (m = s_member(a, owner, 0, &err)) == NULL
        || cmd_exchange_load_keys(&a->c, owner, &kind, &bk, 1, &err) != 0) {
        cli_error("%s", err.msg);
        goto done;
    }
    orc = member_inbox_open(m, a->open_id, bk, &pkg, &e, &err);
    if (orc != 0) {
        cli_error("%s: %s", a->open_id, err.msg);
        rc = orc > 0 ? CLI_REJECTED : CLI_ERROR;
        goto done;
    }
    if ((json = json_codec_encode(&pkg->base, &err)) == NULL
        || fileio_write(a->out ? a->out : "-", json, strlen(json), 0600, 0,
               &err) != 0) {
        cli_error("%s", err.msg);
        goto done;
    }
    envelope_id_hex(e.package_id, hex);
    fprintf(stderr, "csbm: opened %s %s from %s (signature valid)\n",
        package_type_name(e.package_type), hex, e.sender);
    rc = CLI_OK;
done:
    if (json != NULL) {
        sodium_memzero(json, strlen(json));
        free(json);
    }
    package_free(&pkg);
    keys_secret_destroy(&bk);
    member_destroy(&m);
    return rc;
}

static int
s_inbox_export(const xargs_t *a, mailbox_t *mb)
{
    mailbox_inbox_entry_t e;
    errbuf_t              err = {{0}};
    uint8_t              *env = NULL;
    size_t                len = 0;
    char                  hex[33], path[64];
    int                   found, rc = CLI_ERROR;

    found = mailbox_inbox_find(mb, a->export_id, &e, &env, &len, NULL, NULL,
        &err);
    if (found == 0)
        cli_error("no package %s in the inbox; see 'csbm inbox'",
            a->export_id);
    if (found <= 0) {
        if (found < 0)
            cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    envelope_id_hex(e.package_id, hex);
    snprintf(path, sizeof path, "%s.csbm", hex);
    if (fileio_write(a->out ? a->out : path, env, len, 0644, 0, &err) != 0) {
        cli_error("%s", err.msg);
    } else {
        fprintf(stderr, "csbm: exported %s %s from %s -> %s (%zu bytes)\n",
            package_type_name(e.package_type), hex, e.sender,
            a->out ? a->out : path, len);
        rc = CLI_OK;
    }
    free(env);
    return rc;
}

int
cmd_inbox(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS,
        {"refused", no_argument, NULL, 'z'},
        {"open", required_argument, NULL, 'O'},
        {"export", required_argument, NULL, 'x'},
        {"output", required_argument, NULL, 'o'}, {NULL, 0, NULL, 0}};
    xargs_t    a;
    errbuf_t   err = {{0}};
    mailbox_t *mb = NULL;
    list_ctx_t lc = {NULL, 0};
    int        p, rc = CLI_ERROR;
    int64_t    refused;

    if ((p = s_parse(argc, argv, longopts, &a, s_inbox_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind != argc || (a.open_id != NULL && a.export_id != NULL)
        || (a.out != NULL && a.open_id == NULL && a.export_id == NULL)) {
        s_inbox_usage(stderr);
        return CLI_ERROR;
    }
    if (a.open_id != NULL)
        return s_inbox_open(&a);
    if (s_store_exists(a.cfg.data_path, &err) != 0
        || (mb = mailbox_open(a.cfg.data_path, NULL, NULL, &err)) == NULL) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    if (a.export_id != NULL) {
        rc = s_inbox_export(&a, mb);
        goto done;
    }
    lc.list = a.c.json ? json_array() : NULL;
    if ((a.refused ? mailbox_refused_foreach(mb, s_refused_row, &lc, &err)
                   : mailbox_inbox_foreach(mb, s_inbox_row, &lc, &err))
        != 0) {
        cli_error("%s", err.msg);
        json_decref(lc.list);
        goto done;
    }
    if (lc.list != NULL)
        s_print_json(lc.list);
    else if (lc.n == 0)
        printf("%s\n", a.refused ? "no refused packages" : "inbox is empty");
    if (!a.refused && !a.c.json
        && (refused = mailbox_refused_count(mb, &err)) > 0)
        cli_error("%lld pulled package%s refused; see 'csbm inbox "
            "--refused'", (long long)refused, refused == 1 ? " was" : "s were");
    rc = CLI_OK;
done:
    mailbox_destroy(&mb);
    return rc;
}

/* ---------------------------------------------------------------- node --- */

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void
s_node_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm node [--foreground] [--hub tcp://HOST:PORT]\n"
        "                 [--hub-notify tcp://HOST:PORT] [--pull-every S]\n"
        "                 [--timeout-ms N] [-v] [common options]\n"
        "\n"
        "Run this state's node: deliver what 'csbm push' queues (the outbox\n"
        "is looked at every second), retrying with a growing delay while the\n"
        "hub is away; pull as soon as the hub announces a package for this\n"
        "state, and every S seconds anyway. Stops cleanly on SIGINT or\n"
        "SIGTERM. Without --foreground it detaches and logs to syslog.\n"
        "\n"
        "Options:\n"
        "  --foreground          stay attached, log to standard error\n"
        "  --hub-notify tcp://HOST:PORT  the hub's notification endpoint\n"
        "                        (default $CSBM_HUB_NOTIFY)\n"
        "  --pull-every S        pull at least every S seconds (default %d)\n"
        "  -v, --verbose         log debug messages too\n"
        "%s%s%s"
        "\n"
        "Example:\n"
        "  csbm node --foreground --hub tcp://hub.example.org:7400 \\\n"
        "       --hub-notify tcp://hub.example.org:7401 --passphrase-file pass\n",
        MEMBER_DEFAULT_PULL_EVERY, s_hub_help, s_witness_help, s_common_help);
}

int
cmd_node(int argc, char **argv)
{
    static const struct option longopts[] = {COMMON_LONGOPTS, HUB_LONGOPTS,
        {"foreground", no_argument, NULL, 'f'},
        {"pull-every", required_argument, NULL, 'p'},
        {"verbose", no_argument, NULL, 'v'}, WITNESS_LONGOPTS,
        {NULL, 0, NULL, 0}};
    xargs_t          a;
    errbuf_t         err = {{0}};
    keyring_t       *kr = NULL;
    keys_secret_t   *tk = NULL, *wk = NULL;
    mailbox_t       *mb = NULL;
    member_t        *m = NULL;
    struct sigaction sa;
    char             owner[KEYS_OWNER_MAX + 1];
    int              p, rc = CLI_ERROR;

    if ((p = s_parse(argc, argv, longopts, &a, s_node_usage)))
        return p > 0 ? CLI_OK : CLI_ERROR;
    if (optind != argc) {
        s_node_usage(stderr);
        return CLI_ERROR;
    }
    if (a.cfg.hub == NULL || a.cfg.hub[0] == '\0') {
        cli_error("no hub: pass --hub tcp://HOST:PORT or set CSBM_HUB");
        return CLI_ERROR;
    }
    /* Everything that can fail on the user's mistake fails here, on the
     * terminal, before the node detaches. */
    if (cli_identity(&a.c, owner, sizeof owner, &err) != 0
        || (kr = cli_load_keyring(&a.c, &err)) == NULL
        || keyring_recipient(kr, MEMBER_HUB_OWNER, (int64_t)time(NULL), &err)
               == NULL
        || (mb = mailbox_open(a.cfg.data_path, owner, a.c.federation, &err))
               == NULL
        || s_load_network_keys(&a, owner, &tk, &wk, &err) != 0) {
        cli_error("%s", err.msg);
        goto done;
    }
    /* The store is reopened after the fork: SQLite connections and their
     * POSIX locks must not cross it. */
    mailbox_destroy(&mb);
    if (!a.foreground) {
        fprintf(stderr, "csbm: node %s detaching; it logs to syslog (run "
            "with --foreground to watch it)\n", owner);
        if (daemon(1, 0) != 0) {
            cli_error("cannot detach: %s", strerror(errno));
            goto done;
        }
        log_open("csbm-node", a.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 1);
    } else {
        log_open("csbm-node", a.verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO, 0);
    }
    if ((m = member_new(&a.cfg, owner, a.c.federation, &kr, &tk, &err))
        == NULL) {
        log_error("%s", err.msg);
        goto done;
    }
    if (wk != NULL) /* loaded once: every verified head is cosigned */
        member_set_witness_key(m, &wk);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (member_run(m, &s_stop, &err) != 0) {
        log_error("%s", err.msg);
        goto done;
    }
    rc = CLI_OK;
done:
    member_destroy(&m);
    mailbox_destroy(&mb);
    keys_secret_destroy(&tk);
    keys_secret_destroy(&wk);
    keyring_destroy(&kr);
    return rc;
}
