/*
 * cmd_log: `csbm log` — what this node knows of the hub's tamper-evident
 * log: the newest signed tree head it verified, and any evidence that the
 * hub's log is not append-only (heads that contradict each other). With
 * --hub it first checks the hub's log now (member_log_check: consistency,
 * cosigning as a witness, the heads other members cosigned) and reports
 * whether the hub counts the newest head as witnessed by its quorum.
 *
 * Exit status: 0 no evidence, 1 evidence of an inconsistent log is
 * stored, 2 usage or system error.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/treehead.h"
#include "node/cli.h"
#include "node/cmd_exchange.h"
#include "node/mailbox.h"
#include "node/member.h"

static void
s_usage(FILE *out)
{
    fprintf(out,
        "Usage: csbm log [--data FILE.db] [--json]\n"
        "       csbm log --hub tcp://HOST:PORT [--no-witness] [--timeout-ms N]\n"
        "                [--keys DIR] [--keyring DIR] [--as ID] [--data FILE.db]\n"
        "                [--passphrase-file F] [--federation NAME] [--json]\n"
        "\n"
        "Show the newest signed tree head of the hub's log that this node\n"
        "verified, and every piece of evidence it kept that the hub's log is\n"
        "not append-only: the head verified before, the head that contradicts\n"
        "it, and why (a failed consistency proof, a shrunk log, a head that\n"
        "another member cosigned). 'csbm pull' checks the log on every contact.\n"
        "\n"
        "With --hub, check the hub's log first: verify its newest head against\n"
        "the one verified before, cosign it as a witness (unless --no-witness)\n"
        "and check the heads other members cosigned; then say how many\n"
        "witnesses the hub counts for that head and whether that reaches its\n"
        "quorum (csbm hub --witness-quorum). Loads the transport and signing\n"
        "keys.\n"
        "\n"
        "Options:\n"
        "  --data FILE.db        this node's store (default $CSBM_DATA or\n"
        "                        ./" MEMBER_DEFAULT_DATA ")\n"
        "  --json                machine-readable output\n"
        "  --hub tcp://HOST:PORT check the hub's log now\n"
        "  --no-witness          with --hub: check only, do not cosign\n"
        "  --timeout-ms N        with --hub: wait at most N ms per answer\n"
        "  --keys, --keyring, --as, --passphrase-file, --federation, --registry,\n"
        "  --root, --registry-state: as for 'csbm pull' (used with --hub)\n"
        "\n"
        "Exit status: 0 no evidence, 1 evidence of an inconsistent log, 2 usage\n"
        "or system error.\n"
        "\n"
        "Examples:\n"
        "  csbm log --data arg.db\n"
        "  csbm log --hub tcp://hub.example.org:7701 --keys arg-keys "
        "--keyring keyring --data arg.db --json\n");
}

static int
s_head_desc(const uint8_t *b, size_t len, char *out, size_t cap)
{
    Csbm__Signed *s = b != NULL ? csbm__signed__unpack(NULL, len, b) : NULL;
    treehead_t    th;
    errbuf_t      err = {{0}};
    int           rc = -1;

    snprintf(out, cap, "none");
    if (s != NULL
        && treehead_decode(s->statement.data, s->statement.len, &th, &err)
            == 0) {
        treehead_describe(&th, out, cap);
        rc = 0;
    }
    if (s != NULL)
        csbm__signed__free_unpacked(s, NULL);
    return rc;
}

typedef struct {
    json_t *list;
    size_t  n;
} s_ctx_t;

static int
s_evidence(const mailbox_evidence_t *e, void *ctx)
{
    s_ctx_t *c = ctx;
    char     at[32], a[160], b[160];

    cli_format_time(e->found_at, at);
    s_head_desc(e->old_head, e->old_len, a, sizeof a);
    s_head_desc(e->new_head, e->new_len, b, sizeof b);
    if (c->list != NULL)
        json_array_append_new(c->list, json_pack("{s:I,s:s,s:s,s:s,s:s}",
            "id", (json_int_t)e->id, "found_at", at, "what", e->what,
            "old_head", a, "new_head", b));
    else
        printf("EVIDENCE %lld, found %s: %s\n  head verified before: %s\n"
            "  contradicting head:   %s\n", (long long)e->id, at, e->what, a,
            b);
    c->n++;
    return 0;
}

/* Check the hub's log now as m, cosigning unless m has no witness key.
 * Returns CLI_OK, CLI_REJECTED (evidence recorded) or CLI_ERROR. */
static int
s_check(member_t *m, member_log_report_t *rep, int json)
{
    errbuf_t err = {{0}};

    if (member_log_check(m, rep, &err) == 0)
        return CLI_OK;
    if (!json)
        cli_error("%s", err.msg);
    return rep->inconsistent || rep->forks > 0 ? CLI_REJECTED : CLI_ERROR;
}

/* A node for owner with its transport key and, unless no_witness, its
 * signing key as witness. */
static member_t *
s_node(const member_config_t *cfg, const cli_common_t *c, const char *owner,
    int no_witness, errbuf_t *err)
{
    static const keys_kind_t kinds[] = {KEYS_TRANSPORT, KEYS_SIGN};
    keys_secret_t           *k[2] = {NULL, NULL};
    keyring_t               *kr;
    member_t                *m;

    if ((kr = cli_load_keyring(c, err)) == NULL)
        return NULL;
    if (cmd_exchange_load_keys(c, owner, kinds, k, no_witness ? 1 : 2, err)
        != 0) {
        keyring_destroy(&kr);
        return NULL;
    }
    if ((m = member_new(cfg, owner, c->federation, &kr, &k[0], err)) != NULL
        && k[1] != NULL)
        member_set_witness_key(m, &k[1]);
    keys_secret_destroy(&k[1]);
    return m;
}

static void
s_print_witness(const member_log_report_t *l)
{
    if (!l->checked)
        printf("the hub's log is empty: no tree head to witness yet\n");
    else if (!l->cosigned)
        printf("witnesses: not known (this node did not cosign the head; "
            "see --no-witness)\n");
    else
        printf("witnesses: the hub counts %lu cosignature%s of the head of "
            "size %llu: %s\n", (unsigned long)l->witnesses,
            l->witnesses == 1 ? "" : "s", (unsigned long long)l->new_size,
            l->witnessed ? "WITNESSED by its quorum"
                         : "not yet witnessed by its quorum");
}

int
cmd_log(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'D'},
        {"keys", required_argument, NULL, 'K'},
        {"keyring", required_argument, NULL, 'R'},
        {"as", required_argument, NULL, 'a'},
        {"passphrase-file", required_argument, NULL, 'P'},
        {"federation", required_argument, NULL, 'F'},
        {"hub", required_argument, NULL, 'H'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"no-witness", no_argument, NULL, 'W'},
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'},
        CLI_REGISTRY_LONGOPTS, {NULL, 0, NULL, 0}};
    member_config_t     cfg;
    cli_common_t        c;
    member_t           *m = NULL;
    mailbox_t          *mb = NULL, *own_mb = NULL;
    member_log_report_t lrep;
    errbuf_t            err = {{0}};
    uint8_t            *head = NULL;
    size_t              len = 0;
    char                desc[160], owner[KEYS_OWNER_MAX + 1];
    char               *end;
    unsigned long       ms;
    s_ctx_t             ctx = {NULL, 0};
    int                 opt, no_witness = 0, found, check_rc = CLI_OK;
    int                 rc = CLI_ERROR;

    member_config_init(&cfg);
    cli_common_init(&c);
    memset(&lrep, 0, sizeof lrep);
    cfg.hub = NULL; /* offline unless --hub is given */
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt != 'h' && cli_common_option(&c, opt, optarg))
            continue;
        switch (opt) {
        case 'D': cfg.data_path = optarg; break;
        case 'H': cfg.hub = optarg; break;
        case 'W': no_witness = 1; break;
        case 'T':
            errno = 0;
            ms = strtoul(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || ms < 1
                || ms > 3600000) {
                cli_error("--timeout-ms %s: give milliseconds, 1 to 3600000",
                    optarg);
                return CLI_ERROR;
            }
            cfg.timeout_ms = (int)ms;
            break;
        case 'h': s_usage(stdout); return CLI_OK;
        default: s_usage(stderr); return CLI_ERROR;
        }
    }
    if (optind != argc) {
        s_usage(stderr);
        return CLI_ERROR;
    }
    if (cfg.hub != NULL) {
        if (cli_common_finish(&c, &err) != 0
            || cli_identity(&c, owner, sizeof owner, &err) != 0
            || (m = s_node(&cfg, &c, owner, no_witness, &err)) == NULL) {
            cli_error("%s", err.msg);
            return CLI_ERROR;
        }
        if ((check_rc = s_check(m, &lrep, c.json)) == CLI_ERROR) {
            member_destroy(&m);
            return CLI_ERROR;
        }
        mb = member_mailbox(m);
    } else if ((mb = own_mb = mailbox_open(cfg.data_path, NULL, NULL, &err))
               == NULL) {
        cli_error("%s", err.msg);
        goto done;
    }
    if ((found = mailbox_head_latest(mb, &head, &len, &err)) < 0) {
        cli_error("%s", err.msg);
        goto done;
    }
    if (found)
        s_head_desc(head, len, desc, sizeof desc);
    else
        snprintf(desc, sizeof desc, "none yet (no contact with the hub)");
    if (c.json) {
        ctx.list = json_array();
    } else {
        printf("newest verified tree head: %s\n", desc);
        if (m != NULL && check_rc == CLI_OK)
            s_print_witness(&lrep);
    }
    if (mailbox_evidence_foreach(mb, s_evidence, &ctx, &err) != 0) {
        cli_error("%s", err.msg);
        json_decref(ctx.list);
        goto done;
    }
    if (c.json) {
        json_t *o = json_pack("{s:s,s:b,s:o}", "newest_head", desc,
            "consistent", ctx.n == 0, "evidence", ctx.list);
        if (m != NULL)
            json_object_set_new(o, "check", json_pack(
                "{s:b,s:I,s:b,s:I,s:b,s:b}", "checked", lrep.checked, "size",
                (json_int_t)lrep.new_size, "cosigned", lrep.cosigned,
                "witnesses", (json_int_t)lrep.witnesses, "witnessed",
                lrep.witnessed, "consistent", check_rc == CLI_OK));
        json_dumpf(o, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(o);
    } else if (ctx.n == 0) {
        printf("no evidence: every head verified so far extends the one "
            "before\n");
    } else {
        printf("THE HUB'S LOG IS NOT CONSISTENT: %zu piece%s of evidence\n",
            ctx.n, ctx.n == 1 ? "" : "s");
    }
    rc = ctx.n == 0 && check_rc == CLI_OK ? CLI_OK : CLI_REJECTED;
done:
    free(head);
    mailbox_destroy(&own_mb);
    member_destroy(&m);
    return rc;
}
