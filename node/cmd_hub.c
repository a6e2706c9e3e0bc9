/*
 * cmd_hub: the `csbm hub` verb — load the hub's keys and the members'
 * keyring, then serve until SIGINT or SIGTERM.
 *
 * The options fill a hub_config_t, so a configuration file can fill the
 * same structure before the command line overrides it.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/cli.h"
#include "node/hub.h"
#include "node/wire.h"

static volatile sig_atomic_t s_stop;

/* Where the members' keys come from, besides hub_config_t's keyring_dir. */
typedef struct {
    const char *registry;       /* --registry, $CSBM_REGISTRY */
    const char *root;           /* --root, $CSBM_ROOT */
    const char *registry_state; /* --registry-state, $CSBM_REGISTRY_STATE */
    int         federation_set;
    char        data_buf[CONFIG_PATH_MAX + 16];
    char        federation[X509_FEDERATION_MAX + 1];
} s_trust_t;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void
s_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm hub --bind ENDPOINT [--notify ENDPOINT] [--keys DIR]\n"
        "                [--keyring DIR | --registry FILE --root CERT]\n"
        "                [--config FILE.ini] [--data FILE.db] [--federation NAME]\n"
        "                [--passphrase-file F] [--log-level LEVEL] [--syslog]\n"
        "                [--max-age-days N] [--max-unread-mib N] [--foreground]\n"
        "\n"
        "Run the exchange hub: members push sealed packages over CurveZMQ,\n"
        "the hub verifies each one against the keyring, archives it durably\n"
        "and answers with a signed receipt; members pull the packages\n"
        "addressed to them. Only members whose transport key is in the\n"
        "keyring, valid now, and who are active may connect.\n"
        "\n"
        "Options:\n"
        "  --bind ENDPOINT       where members send requests, e.g.\n"
        "                        tcp://0.0.0.0:7701 (required)\n"
        "  --notify ENDPOINT     where the hub publishes \"new package for ID\"\n"
        "                        notifications, e.g. tcp://0.0.0.0:7702\n"
        "  --keys DIR            directory of hub.sign.key and hub.transport.key\n"
        "                        (default $CSBM_KEYS or ./keys)\n"
        "  --keyring DIR         the members' ID.pub files (default\n"
        "                        $CSBM_KEYRING, else the key directory)\n"
        CLI_REGISTRY_HELP
        "  --data FILE.db        the archive, created if missing (default\n"
        "                        hub.db)\n"
        "  --federation NAME     federation served (default $CSBM_FEDERATION\n"
        "                        or " CLI_DEFAULT_FEDERATION ")\n"
        "  --passphrase-file F   passphrase of the hub's keys (else\n"
        "                        $CSBM_PASSPHRASE or a prompt)\n"
        "  --log-level LEVEL     debug, info (default), warn or error\n"
        "  --syslog              log to syslog instead of standard error\n"
        "  --foreground          accepted for compatibility: the hub always\n"
        "                        runs in the foreground (use a service manager)\n"
        "  --witness-quorum N    member cosignatures that make a tree head\n"
        "                        witnessed (default 2)\n"
        "  --max-age-days N      refuse packages created more than N days\n"
        "                        ago (default 30): bounds backdating\n"
        "  --max-unread-mib N    pull replies a member may have sent to it and\n"
        "                        not read yet, per 10 s (default 96); a member\n"
        "                        paging through its backlog reads each one\n"
        "\n"
        "SIGINT or SIGTERM stops the hub cleanly: the batch in hand is\n"
        "committed and answered, then the sockets and the archive close.\n"
        "SIGHUP is ignored: restart the hub to load a changed keyring or\n"
        "registry (between restarts every request is checked against the\n"
        "loaded one at its own time, so a revocation or suspension that\n"
        "the loaded registry dates ends open connections when it takes\n"
        "effect). From a configuration file the hub takes the federation,\n"
        "root_cert, registry, key_dir, data_dir (hub.db in it),\n"
        "passphrase_file, bind and pub_bind.\n"
        "Exit status: 0 stopped cleanly, 2 could not start or failed.\n"
        "\n"
        "Examples:\n"
        "  csbm keygen --state hub --keys /etc/csbm/keys\n"
        "  csbm hub --config /etc/csbm/hub.ini\n"
        "  csbm hub --keys hub-keys --registry registry.bin --root root.pem \\\n"
        "      --bind tcp://0.0.0.0:7701\n"
        "  csbm hub --keys /etc/csbm/keys --keyring /etc/csbm/keyring \\\n"
        "      --data /var/lib/csbm/hub.db --bind tcp://0.0.0.0:7701 \\\n"
        "      --notify tcp://0.0.0.0:7702 --passphrase-file /etc/csbm/pass\n"
        "  CSBM_PASSPHRASE=... csbm hub --bind tcp://127.0.0.1:7701 "
        "--log-level debug\n");
}

static int
s_log_level(const char *s, log_level_t *out)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    int                      i;

    for (i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    return -1;
}

/* Apply the configuration file at path to cfg and t. */
static int
s_config(const char *path, hub_config_t *cfg, s_trust_t *t)
{
    static config_t ini; /* cfg points into it until the program exits */
    errbuf_t        err = {{0}};

    config_defaults(&ini);
    if (config_load(path, &ini, &err) != 0) {
        cli_error("%s", err.msg);
        return -1;
    }
    if (!config_is_hub(&ini)) {
        cli_error("%s is the configuration of member %s; the hub needs one "
            "with id = hub (see config/hub.ini.sample)", path, ini.node.id);
        return -1;
    }
    if (snprintf(t->data_buf, sizeof t->data_buf, "%s/hub.db",
            ini.node.data_dir) >= (int)sizeof t->data_buf) {
        cli_error("%s: data_dir too long", path);
        return -1;
    }
    cfg->federation = ini.federation.name;
    t->federation_set = 1;
    t->root = ini.federation.root_cert;
    cfg->key_dir = ini.node.key_dir;
    cfg->data_path = t->data_buf;
    if (ini.node.registry[0] != '\0')
        t->registry = ini.node.registry;
    if (ini.node.passphrase_file[0] != '\0')
        cfg->passphrase_file = ini.node.passphrase_file;
    cfg->bind = ini.hub.bind;
    if (ini.hub.pub_bind[0] != '\0')
        cfg->notify = ini.hub.pub_bind;
    return 0;
}

/* With a registry, the federation is its root's; a different one given
 * is refused. */
static int
s_trust_finish(hub_config_t *cfg, s_trust_t *t)
{
    X509    *root = NULL;
    uint8_t  pk[KEYS_SIGN_PK_BYTES];
    errbuf_t err = {{0}};

    if (t->registry == NULL || t->registry[0] == '\0') {
        t->registry = NULL;
        return 0;
    }
    if (t->root == NULL || t->root[0] == '\0') {
        cli_error("--registry %s needs the federation's root certificate: "
            "pass --root CERT (or set $CSBM_ROOT)", t->registry);
        return -1;
    }
    if (x509_root_load(t->root, &root, &err) != 0
        || x509_root_check(root, t->federation, pk, &err) != 0) {
        X509_free(root);
        cli_error("%s: %s", t->root, err.msg);
        return -1;
    }
    X509_free(root);
    if (t->federation_set && strcmp(cfg->federation, t->federation) != 0) {
        cli_error("federation \"%s\" is not the federation of the root "
            "certificate %s (\"%s\"); drop --federation, or use that "
            "federation's root", cfg->federation, t->root, t->federation);
        return -1;
    }
    cfg->federation = t->federation;
    return 0;
}

/* Parse the command line over cfg. -1 bad usage, 1 help, 0 go on. */
static int
s_parse(int argc, char **argv, hub_config_t *cfg, s_trust_t *t)
{
    static const struct option longopts[] = {
        {"keys", required_argument, NULL, 'K'},
        {"keyring", required_argument, NULL, 'R'},
        {"data", required_argument, NULL, 'd'},
        {"bind", required_argument, NULL, 'b'},
        {"notify", required_argument, NULL, 'n'},
        {"federation", required_argument, NULL, 'F'},
        {"passphrase-file", required_argument, NULL, 'P'},
        {"log-level", required_argument, NULL, 'l'},
        {"syslog", no_argument, NULL, 's'},
        {"foreground", no_argument, NULL, 'f'},
        {"witness-quorum", required_argument, NULL, 'W'},
        {"max-age-days", required_argument, NULL, 'A'},
        {"max-unread-mib", required_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},
        CLI_REGISTRY_LONGOPTS,
        {NULL, 0, NULL, 0}};
    const char *config = cli_config_path(argc, argv);
    int         opt;

    t->registry = getenv("CSBM_REGISTRY");
    t->root = getenv("CSBM_ROOT");
    t->registry_state = getenv("CSBM_REGISTRY_STATE");
    t->federation_set = getenv("CSBM_FEDERATION") != NULL;
    if (config != NULL && s_config(config, cfg, t) != 0)
        return -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'K': cfg->key_dir = optarg; break;
        case 'R': cfg->keyring_dir = optarg; break;
        case 'd': cfg->data_path = optarg; break;
        case 'b': cfg->bind = optarg; break;
        case 'n': cfg->notify = optarg; break;
        case 'F': cfg->federation = optarg; t->federation_set = 1; break;
        case CLI_OPT_REGISTRY: t->registry = optarg; break;
        case CLI_OPT_ROOT: t->root = optarg; break;
        case CLI_OPT_REGISTRY_STATE: t->registry_state = optarg; break;
        case CLI_OPT_CONFIG: break; /* applied above */
        case 'P': cfg->passphrase_file = optarg; break;
        case 's': cfg->use_syslog = 1; break;
        case 'f': cfg->foreground = 1; break;
        case 'W': {
            char *end;
            long  q;
            q = strtol(optarg, &end, 10); /* overflow gives LONG_MAX */
            if (end == optarg || *end != '\0' || q < 1 || q > 1000) {
                cli_error("--witness-quorum %s: give a number of witnesses, "
                    "1 to 1000", optarg);
                return -1;
            }
            cfg->witness_quorum = (int)q;
            break;
        }
        case 'A': {
            char *end;
            long  d = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || d < 1 || d > 36500) {
                cli_error("--max-age-days %s: give a number of days, 1 to "
                    "36500", optarg);
                return -1;
            }
            cfg->max_age_days = (int)d;
            break;
        }
        case 'U': {
            char *end;
            long  m = strtol(optarg, &end, 10);
            if (end == optarg || *end != '\0' || m < 1 || m > 4096) {
                cli_error("--max-unread-mib %s: give a number of MiB, 1 to "
                    "4096", optarg);
                return -1;
            }
            cfg->max_unread_mib = (int)m;
            break;
        }
        case 'l':
            if (s_log_level(optarg, &cfg->log_level) != 0) {
                cli_error("--log-level %s: use debug, info, warn or error",
                    optarg);
                return -1;
            }
            break;
        case 'h': s_usage(stdout); return 1;
        default: s_usage(stderr); return -1;
        }
    }
    if (optind != argc) {
        cli_error("hub takes no arguments besides options ('%s')",
            argv[optind]);
        return -1;
    }
    if (cfg->bind == NULL || cfg->bind[0] == '\0') {
        cli_error("hub needs --bind ENDPOINT, e.g. --bind tcp://0.0.0.0:7701");
        return -1;
    }
    {
        errbuf_t err = {{0}};
        if (wire_endpoint_check(cfg->bind, &err) != 0) {
            cli_error("--bind: %s", err.msg);
            return -1;
        }
        if (cfg->notify != NULL && wire_endpoint_check(cfg->notify, &err)
            != 0) {
            cli_error("--notify: %s", err.msg);
            return -1;
        }
    }
    return s_trust_finish(cfg, t);
}

/* Load hub.sign.key and hub.transport.key with one passphrase. */
static int
s_load_keys(const hub_config_t *cfg, keys_secret_t **sign,
    keys_secret_t **transport, errbuf_t *err)
{
    char   path[4096];
    char  *pass = sodium_malloc(KEYS_PASSPHRASE_MAX + 1);
    size_t len = 0;
    int    rc = -1;

    if (pass == NULL) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    if (keys_passphrase_get(cfg->passphrase_file, 0, pass, &len, err) != 0)
        goto done;
    if (keys_path(path, sizeof path, cfg->key_dir, HUB_OWNER, KEYS_SIGN) != 0
        || (*sign = keys_secret_load(path, KEYS_SIGN, pass, len, err))
            == NULL)
        goto done;
    if (keys_path(path, sizeof path, cfg->key_dir, HUB_OWNER, KEYS_TRANSPORT)
            != 0
        || (*transport = keys_secret_load(path, KEYS_TRANSPORT, pass, len,
                err)) == NULL)
        goto done;
    rc = 0;
done:
    sodium_memzero(pass, KEYS_PASSPHRASE_MAX + 1);
    sodium_free(pass);
    if (rc != 0 && err->msg[0] == '\0')
        errbuf_set(err, "%s: key directory path too long", cfg->key_dir);
    return rc;
}

/* Members check receipts against the hub key of their keyring: say so
 * when the hub's own keyring carries a different one. */
static void
s_check_own_key(const keyring_t *kr, const keys_secret_t *sign)
{
    size_t i, n = keyring_key_count(kr);
    int    listed = 0;

    for (i = 0; i < n; i++) {
        const keyring_key_t *k = keyring_key_at(kr, i);
        if (strcmp(k->pub.owner, HUB_OWNER) != 0)
            continue;
        listed = 1;
        if (memcmp(k->pub.sign_key_id, keys_secret_key_id(sign),
                KEYS_ID_BYTES) == 0)
            return;
    }
    if (listed)
        log_warn("the keyring's hub.pub does not hold this hub's signing "
            "key: members using that keyring will refuse its receipts");
}

int
cmd_hub(int argc, char **argv)
{
    hub_config_t     cfg;
    s_trust_t        trust;
    hub_options_t    o;
    errbuf_t         err = {{0}};
    keys_secret_t   *sign = NULL, *transport = NULL;
    keyring_t       *kr = NULL;
    hub_t           *hub = NULL;
    struct sigaction sa;
    sigset_t         block, old;
    int              p, rc = CLI_ERROR;

    hub_config_defaults(&cfg);
    memset(&trust, 0, sizeof trust);
    if ((p = s_parse(argc, argv, &cfg, &trust)) != 0)
        return p > 0 ? CLI_OK : CLI_ERROR;
    log_open("csbm-hub", cfg.log_level, cfg.use_syslog);

    if ((kr = cli_keyring_open(trust.registry, trust.root,
             trust.registry_state, cfg.key_dir,
             cfg.keyring_dir ? cfg.keyring_dir : cfg.key_dir, &err))
        == NULL) {
        if (trust.registry == NULL)
            errbuf_prefix(&err, "keyring");
        goto fail;
    }
    if (trust.registry != NULL)
        log_info("members from registry %s (%zu keys)", trust.registry,
            keyring_key_count(kr));
    if (s_load_keys(&cfg, &sign, &transport, &err) != 0)
        goto fail;
    s_check_own_key(kr, sign);

    /* Signals go to this thread only: block them while the ZeroMQ and ZAP
     * threads are created (they inherit the mask), unblock here after. */
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: let zmq_poll return EINTR */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* No keyring reload yet: a stray SIGHUP must not kill the hub. */
    signal(SIGHUP, SIG_IGN);

    memset(&o, 0, sizeof o);
    o.federation = cfg.federation;
    o.bind = cfg.bind;
    o.notify = cfg.notify;
    o.data_path = cfg.data_path;
    o.sign_key = sign;
    o.transport_key = transport;
    o.keyring = kr;
    o.witness_quorum = cfg.witness_quorum;
    o.max_age_days = cfg.max_age_days;
    o.max_unread_mib = cfg.max_unread_mib;
    hub = hub_new(&o, &err);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (hub == NULL)
        goto fail;
    if (hub_run(hub, &s_stop, &err) != 0)
        goto fail;
    rc = CLI_OK;
    goto done;
fail:
    log_error("%s", err.msg);
done:
    hub_destroy(&hub);
    keys_secret_destroy(&sign);
    keys_secret_destroy(&transport);
    keyring_destroy(&kr);
    return rc;
}
