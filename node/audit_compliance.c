/*
 * audit_compliance: `csbm audit compliance` — the matrix of member states
 * by report type for one reporting year: on time, late, nil report or
 * missing, against the configured deadlines (config/compliance.h,
 * config/deadlines.h).
 *
 * Fed from the archive's metadata: sender, package type, year, created_at
 * and accepted_at from the archive row, the nil-report flag and the
 * subject date from the stored envelope's signed header (envelope_parse:
 * framing and header only; nothing is decrypted or verified again — the
 * hub verified every package before archiving it). Packages stream one at
 * a time, so memory is bounded by the largest envelope plus the matrix.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/compliance.h"
#include "config/config.h"
#include "config/deadlines.h"
#include "config/keyring.h"
#include "config/registry.h"
#include "crypto/envelope.h"
#include "node/archive_query.h"
#include "node/cli.h"
#include "node/cmd_audit.h"
#include "proto/codes.h"
#include "proto/validate.h"

typedef enum { S_TABLE, S_JSON, S_CSV } s_format_t;

/* The member list being built: sorted, no duplicates. */
typedef struct {
    char **codes;
    size_t n;
    size_t cap;
    int    overflow;
} s_states_t;

typedef struct {
    compliance_t *matrix;
    long          unreadable; /* envelopes that did not parse */
    long          invalid;    /* records the matrix refused */
} s_feed_t;

static void
s_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: csbm audit compliance --year YYYY [--data FILE.db]\n"
        "                [--config hub.ini] [--keyring DIR]\n"
        "                [--registry FILE --root CERT] [--states A,B,...]\n"
        "                [--as-of WHEN] [--strict] [--json | --csv]\n"
        "\n"
        "Show, for each member state, whether each report of reporting year\n"
        "YYYY arrived on time, late, as a nil report, or is missing, against\n"
        "the deadlines (MILEX by 30 April of the next year, UN Register by\n"
        "31 May, Convention annual report by 15 June, CSBM inventory by\n"
        "15 April, acquisition notices within 90 days of incorporation;\n"
        "the [deadlines] section of the configuration overrides them). The\n"
        "hub's clock decides: a report is on time when the hub accepted it\n"
        "by the end of its deadline day (UTC). Reads the archive's metadata\n"
        "only, read-only, and decrypts nothing.\n"
        "\n"
        "Options:\n"
        "  --year YYYY           the reporting year (required)\n"
        "  --data FILE.db        the hub's archive (default hub.db)\n"
        "  --config hub.ini      take the deadlines from its [deadlines]\n"
        "                        section, and the members from its registry\n"
        "                        when no --keyring or --registry is given\n"
        "  --keyring DIR         the members are the owners of the .pub\n"
        "                        files in DIR (the hub's keyring)\n"
        "  --registry FILE       the members are those of the signed\n"
        "  --root CERT           registry FILE, verified against CERT\n"
        "  --states A,B,...      members to list as well; without a keyring\n"
        "                        or registry the members are every state\n"
        "                        that sent a package for the year plus these\n"
        "  --as-of WHEN          evaluate at WHEN (a date: its end; or an ISO\n"
        "                        8601 date-time) instead of now, ignoring\n"
        "                        what was accepted later\n"
        "  --strict              exit 1 when any report is late or missing\n"
        "  --json                the matrix as one JSON document\n"
        "  --csv                 CSV (RFC 4180), one line per state\n"
        "\n"
        "Statuses: ON_TIME, LATE (days late), NIL (nil report, on time),\n"
        "NIL_LATE, MISSING (due and not received; days overdue), PENDING\n"
        "(not yet due). Exercise notifications, documents and acquisition\n"
        "notices are counted. Packages from senders outside the member\n"
        "list are reported, not counted. A DOCUMENT package's kind is in\n"
        "its signed header, so CSBM inventories count in their own column.\n"
        "\n"
        "Exit status: 0 success, 1 with --strict when a report is late or\n"
        "missing, 2 usage or system error.\n"
        "\n"
        "Examples:\n"
        "  csbm audit compliance --data /var/lib/csbm/hub.db --year 2025 \\\n"
        "      --config /etc/csbm/hub.ini\n"
        "  csbm audit compliance --data hub.db --year 2025 --keyring keyring\n"
        "  csbm audit compliance --data hub.db --year 2025 --states ARG,BOL,"
        "CHL \\\n"
        "      --as-of 2026-06-30 --csv > compliance-2025.csv\n"
        "  csbm audit compliance --data hub.db --year 2025 --keyring keyring"
        " --strict\n");
}

/* ------------------------------------------------------------- states --- */

static int
s_cmp_code(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
s_states_free(s_states_t *s)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        free(s->codes[i]);
    free(s->codes);
    memset(s, 0, sizeof *s);
}

/* Add code unless present; 0, or -1 when out of memory or too many. */
static int
s_states_add(s_states_t *s, const char *code)
{
    size_t i;

    for (i = 0; i < s->n; i++)
        if (strcmp(s->codes[i], code) == 0)
            return 0;
    if (s->n == COMPLIANCE_MAX_STATES) {
        s->overflow = 1;
        return -1;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **grown = realloc(s->codes, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        s->codes = grown;
        s->cap = cap;
    }
    if ((s->codes[s->n] = strdup(code)) == NULL)
        return -1;
    s->n++;
    return 0;
}

static int
s_add_sender(const char *sender, void *ctx)
{
    return s_states_add(ctx, sender);
}

/* Every owner of the keyring but the hub. */
static int
s_states_from_keyring(s_states_t *s, const keyring_t *kr, errbuf_t *err)
{
    size_t i;

    for (i = 0; i < keyring_owner_count(kr); i++) {
        const char *o = keyring_owner_at(kr, i);
        if (strcmp(o, "hub") == 0)
            continue;
        if (s_states_add(s, o) != 0) {
            errbuf_set(err, "too many members (at most %d) or out of memory",
                       COMPLIANCE_MAX_STATES);
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ parsing --- */

static int
s_parse_year(const char *s, uint32_t *out)
{
    char         *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || s[0] == '-' ||
        v < VALIDATE_MIN_YEAR || v > VALIDATE_MAX_YEAR)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int
s_parse_when(const char *s, int64_t *out)
{
    int32_t days;

    if (codes_parse_date(s, &days) == 0) {
        *out = (int64_t)days * 86400 + 86399;
        return 0;
    }
    return codes_parse_datetime(s, out);
}

/* --------------------------------------------------------------- feed --- */

static int
s_feed(const archive_package_t *p, void *ctx, errbuf_t *err)
{
    s_feed_t                   *f = ctx;
    compliance_record_t         rec;
    envelope_t                 *env;
    const Csbm__EnvelopeHeader *h;
    errbuf_t                    e = {{0}};

    (void)err;
    if ((env = envelope_parse(p->envelope, p->envelope_len, &e)) == NULL) {
        fprintf(stderr,
                "csbm: audit compliance: position %llu (%s, year "
                "%u): the stored envelope does not parse (%s); not counted. "
                "Run 'csbm audit verify' to check the archive.\n",
                (unsigned long long)p->position, p->sender, p->year, e.msg);
        f->unreadable++;
        return 0;
    }
    h = envelope_header(env);
    memset(&rec, 0, sizeof rec);
    rec.state = p->sender;
    rec.package_type = (Csbm__PackageType)p->package_type;
    rec.document_kind = (int)h->document_kind;
    rec.year = p->year;
    rec.nil_report = h->nil_report ? 1 : 0;
    rec.created_at = p->created_at;
    rec.accepted_at = p->accepted_at;
    rec.subject_date = h->subject_date != NULL && h->subject_date[0] != '\0'
                           ? h->subject_date
                           : NULL;
    rec.status = COMPLIANCE_ACCEPTED;
    if (compliance_add(f->matrix, &rec, &e) != 0) {
        fprintf(stderr,
                "csbm: audit compliance: position %llu: %s; not "
                "counted\n",
                (unsigned long long)p->position, e.msg);
        f->invalid++;
    }
    envelope_destroy(&env);
    return 0;
}

/* 1 if any cell is late or missing. */
static int
s_any_late(const compliance_t *m, const s_states_t *s)
{
    compliance_cell_t c;
    size_t            i;
    int               k;

    for (i = 0; i < s->n; i++)
        for (k = 0; k < COMPLIANCE_KIND_COUNT; k++) {
            if (compliance_cell(m, s->codes[i], (compliance_kind_t)k, &c,
                                NULL) != 0)
                continue;
            if (c.status == COMPLIANCE_LATE ||
                c.status == COMPLIANCE_NIL_LATE ||
                c.status == COMPLIANCE_MISSING || c.late > 0)
                return 1;
        }
    return 0;
}

/* --------------------------------------------------------------- verb --- */

int
cmd_audit_compliance(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"year", required_argument, NULL, 'y'},
        {"config", required_argument, NULL, 'C'},
        {"keyring", required_argument, NULL, 'R'},
        {"registry", required_argument, NULL, 'g'},
        {"root", required_argument, NULL, 'r'},
        {"states", required_argument, NULL, 's'},
        {"as-of", required_argument, NULL, 'a'},
        {"strict", no_argument, NULL, 'S'},
        {"json", no_argument, NULL, 'j'},
        {"csv", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char      *data = "hub.db", *config_path = NULL, *keyring_dir = NULL;
    const char      *registry_path = NULL, *root_path = NULL;
    const char      *states_arg = NULL;
    uint32_t         year = 0;
    int64_t          now = (int64_t)time(NULL);
    int              opt, strict = 0, json = 0, csv = 0, rc = CLI_ERROR;
    config_t        *cfg = NULL;
    deadlines_t      dl;
    s_states_t       states = {0};
    archive_query_t *q = NULL;
    keyring_t       *kr = NULL;
    registry_t      *reg = NULL;
    s_feed_t         feed = {0};
    errbuf_t         err = {{0}};
    char           **list = NULL;
    size_t           n_list = 0, i;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            data = optarg;
            break;
        case 'y':
            if (s_parse_year(optarg, &year) != 0) {
                cli_error("audit compliance: --year %s: give the reporting "
                          "year as four digits from %d to %d, e.g. --year "
                          "2025",
                          optarg, VALIDATE_MIN_YEAR, VALIDATE_MAX_YEAR);
                return CLI_ERROR;
            }
            break;
        case 'C':
            config_path = optarg;
            break;
        case 'R':
            keyring_dir = optarg;
            break;
        case 'g':
            registry_path = optarg;
            break;
        case 'r':
            root_path = optarg;
            break;
        case 's':
            states_arg = optarg;
            break;
        case 'a':
            if (s_parse_when(optarg, &now) != 0) {
                cli_error("audit compliance: --as-of %s: not an ISO 8601 "
                          "date or date-time; use e.g. 2026-06-30 or "
                          "2026-06-30T12:00:00Z",
                          optarg);
                return CLI_ERROR;
            }
            break;
        case 'S':
            strict = 1;
            break;
        case 'j':
            json = 1;
            break;
        case 'c':
            csv = 1;
            break;
        case 'h':
            s_usage(stdout);
            return CLI_OK;
        default:
            s_usage(stderr);
            return CLI_ERROR;
        }
    }
    if (optind != argc) {
        cli_error("audit compliance takes no arguments besides options "
                  "('%s')",
                  argv[optind]);
        return CLI_ERROR;
    }
    if (year == 0) {
        cli_error("audit compliance needs --year YYYY, the reporting year, "
                  "e.g. --year 2025");
        return CLI_ERROR;
    }
    if (json && csv) {
        cli_error("audit compliance: choose one of --json and --csv");
        return CLI_ERROR;
    }
    if ((registry_path == NULL) != (root_path == NULL)) {
        cli_error("audit compliance: --registry FILE and --root CERT go "
                  "together (the registry is verified against the root)");
        return CLI_ERROR;
    }
    if (keyring_dir != NULL && registry_path != NULL) {
        cli_error("audit compliance: choose one of --keyring and --registry "
                  "for the member list");
        return CLI_ERROR;
    }
    if (states_arg != NULL) {
        list = cli_split_list(states_arg, &n_list);
        if (list == NULL || n_list == 0) {
            cli_error("audit compliance: --states %s: give state codes "
                      "separated by commas, e.g. --states ARG,BOL,CHL",
                      states_arg);
            goto done;
        }
        for (i = 0; i < n_list; i++)
            if (!keys_owner_valid(list[i]) || strcmp(list[i], "hub") == 0) {
                cli_error(
                    "audit compliance: --states: '%s' is not a state "
                    "code (1 to %d letters, digits, '_' or '-', e.g. ARG)",
                    list[i], KEYS_OWNER_MAX);
                goto done;
            }
    }

    deadlines_default(&dl);
    if (config_path != NULL) {
        if ((cfg = calloc(1, sizeof *cfg)) == NULL) {
            cli_error("out of memory");
            goto done;
        }
        config_defaults(cfg);
        if (config_load(config_path, cfg, &err) != 0) {
            cli_error("%s", err.msg);
            goto done;
        }
        dl = cfg->deadlines;
        if (keyring_dir == NULL && registry_path == NULL &&
            cfg->node.registry[0] != '\0') {
            registry_path = cfg->node.registry;
            root_path = cfg->federation.root_cert;
        }
    }

    /* Open the archive first: a wrong --data is the likeliest mistake. */
    if ((q = archive_query_open(data, &err)) == NULL) {
        cli_error("%s", err.msg);
        goto done;
    }

    if (keyring_dir != NULL || registry_path != NULL) {
        if ((kr = keyring_new()) == NULL) {
            cli_error("out of memory");
            goto done;
        }
        if (keyring_dir != NULL &&
            keyring_load_dir(kr, keyring_dir, &err) != 0) {
            cli_error("audit compliance: --keyring %s: %s", keyring_dir,
                      err.msg);
            goto done;
        }
        if (registry_path != NULL &&
            (registry_load(registry_path, root_path, NULL, &reg, &err) != 0 ||
             registry_to_keyring(reg, kr, &err) != 0)) {
            cli_error("audit compliance: registry %s: %s", registry_path,
                      err.msg);
            goto done;
        }
        if (s_states_from_keyring(&states, kr, &err) != 0) {
            cli_error("audit compliance: %s", err.msg);
            goto done;
        }
    } else if (archive_query_senders(q, year, s_add_sender, &states, &err) <
               0) {
        cli_error("audit compliance: %s%s", err.msg,
                  states.overflow
                      ? "; pass the member list with --keyring or --registry"
                      : "");
        goto done;
    }
    for (i = 0; i < n_list; i++)
        if (s_states_add(&states, list[i]) != 0) {
            cli_error("audit compliance: too many states (at most %d) or out "
                      "of memory",
                      COMPLIANCE_MAX_STATES);
            goto done;
        }
    if (states.n == 0) {
        cli_error("audit compliance: no member states: no package for %u is "
                  "archived in %s; name the members with --keyring DIR, "
                  "--registry FILE --root CERT or --states ARG,BOL,...",
                  year, data);
        goto done;
    }
    qsort(states.codes, states.n, sizeof *states.codes, s_cmp_code);

    feed.matrix = compliance_new(
        year, now, &dl, (const char *const *)states.codes, states.n, &err);
    if (feed.matrix == NULL) {
        cli_error("audit compliance: %s", err.msg);
        goto done;
    }
    if (archive_query_packages(q, year, s_feed, &feed, &err) < 0) {
        cli_error("audit compliance: %s", err.msg);
        goto done;
    }

    if (json) {
        char *text = compliance_render_json(feed.matrix);
        if (text == NULL) {
            cli_error("out of memory");
            goto done;
        }
        fputs(text, stdout);
        fputc('\n', stdout);
        free(text);
    } else if (csv) {
        if (compliance_render_csv(feed.matrix, stdout, &err) != 0) {
            cli_error("audit compliance: %s", err.msg);
            goto done;
        }
    } else if (compliance_render_table(feed.matrix, stdout, &err) != 0) {
        cli_error("audit compliance: %s", err.msg);
        goto done;
    }
    if (fflush(stdout) != 0) {
        cli_error("audit compliance: writing the output: %s", strerror(errno));
        goto done;
    }
    rc = strict && s_any_late(feed.matrix, &states) ? CLI_REJECTED : CLI_OK;

done:
    compliance_destroy(&feed.matrix);
    archive_query_destroy(&q);
    registry_destroy(&reg);
    keyring_destroy(&kr);
    s_states_free(&states);
    cli_free_list(list, n_list);
    free(cfg);
    return rc;
}
