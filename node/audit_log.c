/*
 * audit_log: `csbm audit log` — who sent what to whom and when, who pulled
 * which package, what was refused and why, from the archive's metadata
 * (node/archive_query.h). Nothing is decrypted; rows stream from the
 * archive to the output, so memory does not grow with the archive.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "node/archive_query.h"
#include "node/cli.h"
#include "node/cmd_audit.h"
#include "proto/codes.h"
#include "proto/package.pb-c.h"
#include "proto/wire.pb-c.h"

typedef enum { S_TABLE, S_JSON, S_CSV } s_format_t;

typedef struct {
    s_format_t format;
    FILE      *out;
    long       rows;
} s_out_t;

static void
s_usage(FILE *out)
{
    fprintf(
        out,
        "Usage: csbm audit log [--data FILE.db] [filters] [--json | --csv]\n"
        "\n"
        "List the exchanges recorded in the hub's archive, oldest first:\n"
        "packages accepted (who sent what to whom), resubmissions, pulls\n"
        "(who fetched which package), refusals with their reason, and\n"
        "connections refused at the handshake. Reads the archive's\n"
        "metadata only, read-only, and decrypts nothing.\n"
        "\n"
        "Options:\n"
        "  --data FILE.db        the hub's archive (default hub.db)\n"
        "  --state CODE          rows whose actor is CODE: the sender of a\n"
        "                        push, the member who pulled or was refused\n"
        "  --recipient CODE      rows of packages addressed to CODE\n"
        "  --type TYPE           rows of packages of one type: MILEX_REPORT,\n"
        "                        ARMS_REGISTER_RETURN, ACQUISITION_REPORT,\n"
        "                        ACQUISITION_NOTIFICATION,\n"
        "                        EXERCISE_NOTIFICATION, DOCUMENT\n"
        "  --since WHEN          at or after WHEN: a date (2026-01-01, from\n"
        "                        00:00:00Z) or an ISO 8601 date-time\n"
        "                        (2026-01-01T08:00:00Z; no zone means UTC)\n"
        "  --until WHEN          at or before WHEN (a date includes its day)\n"
        "  --direction DIR       push or pull\n"
        "  --status STATUS       accepted or refused\n"
        "  --reason CODE         refusals of one reason: BAD_SIGNATURE,\n"
        "                        REPLAY, ... (see proto/wire.proto; the\n"
        "                        REASON_ prefix is optional) or its number\n"
        "  --limit N             at most N rows\n"
        "  --empty-pulls         also list pulls that fetched nothing\n"
        "  --json                a JSON array of objects\n"
        "  --csv                 CSV (RFC 4180) with a header line\n"
        "\n"
        "Exit status: 0 success (also when no row matches), 2 usage or\n"
        "system error.\n"
        "\n"
        "Examples:\n"
        "  csbm audit log --data /var/lib/csbm/hub.db\n"
        "  csbm audit log --data hub.db --state ARG --since 2026-01-01\n"
        "  csbm audit log --data hub.db --status refused --reason "
        "BAD_SIGNATURE\n"
        "  csbm audit log --data hub.db --direction pull --recipient CHL "
        "--csv > pulls.csv\n"
        "  csbm audit log --data hub.db --type MILEX_REPORT --json | jq .\n");
}

/* ------------------------------------------------------------ parsing --- */

static int
s_code_valid(const char *s)
{
    size_t n = strlen(s);

    return n >= 1 && n <= ENVELOPE_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789_-") == n;
}

static int
s_parse_type(const char *s, int *out)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(
        &csbm__package_type__descriptor, s);

    if (v == NULL || v->value == 0)
        return -1;
    *out = v->value;
    return 0;
}

static int
s_parse_reason(const char *s, int *out)
{
    const ProtobufCEnumDescriptor *d = &csbm__reason_code__descriptor;
    char                           name[64];
    char                          *end;
    unsigned                       i;
    long                           n;

    errno = 0;
    n = strtol(s, &end, 10);
    if (end != s && *end == '\0' && errno == 0) {
        if (protobuf_c_enum_descriptor_get_value(d, (int)n) == NULL || n < 0 ||
            n > 1000)
            return -1;
        *out = (int)n;
        return 0;
    }
    for (i = 0; i < d->n_values; i++) {
        const char *full = d->values[i].name;
        snprintf(name, sizeof name, "REASON_%s", s);
        if (strcasecmp(full, s) == 0 || strcasecmp(full, name) == 0) {
            *out = d->values[i].value;
            return 0;
        }
    }
    return -1;
}

/* A date ("2026-01-01": its first second, or with end_of_day its last)
 * or an ISO 8601 date-time; without a zone, UTC. */
static int
s_parse_when(const char *s, int end_of_day, int64_t *out)
{
    int32_t days;
    char    buf[64];
    size_t  n = strlen(s);

    if (codes_parse_date(s, &days) == 0) {
        *out = (int64_t)days * 86400 + (end_of_day ? 86399 : 0);
        return 0;
    }
    if (codes_parse_datetime(s, out) == 0)
        return 0;
    if (n > 10 && n + 2 < sizeof buf && s[n - 1] != 'Z') {
        snprintf(buf, sizeof buf, "%sZ", s);
        if (codes_parse_datetime(buf, out) == 0)
            return 0;
    }
    return -1;
}

static const char *
s_reason_name(int reason)
{
    const ProtobufCEnumValue *v;

    if (reason == 0)
        return "";
    v = protobuf_c_enum_descriptor_get_value(&csbm__reason_code__descriptor,
                                             reason);
    return v != NULL ? v->name : "REASON_UNKNOWN";
}

static const char *
s_type_name(int type)
{
    const ProtobufCEnumValue *v;

    if (type == 0)
        return "";
    v = protobuf_c_enum_descriptor_get_value(&csbm__package_type__descriptor,
                                             type);
    return v != NULL ? v->name : "UNKNOWN";
}

/* ------------------------------------------------------------- output --- */

/* Text for a terminal: control characters (which a peer may have put in
 * a message) become '?'. */
static void
s_put_safe(FILE *out, const char *s)
{
    for (; *s != '\0'; s++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

/* One CSV field, RFC 4180: quoted when it holds a comma, a quote, CR or
 * LF, or begins or ends with a space; quotes doubled. Lines end in LF,
 * as compliance_render_csv's do. */
static void
s_put_csv(FILE *out, const char *s)
{
    size_t n = strlen(s);

    if (strpbrk(s, ",\"\r\n") == NULL &&
        (n == 0 || (s[0] != ' ' && s[n - 1] != ' '))) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s != '\0'; s++) {
        if (*s == '"')
            fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

static const char *const s_columns[] = {
    "time",       "event",      "direction",    "status", "state",
    "package_id", "position",   "package_type", "year",   "sender",
    "recipients", "created_at", "reason",       "message"};
#define S_NCOLS (sizeof s_columns / sizeof s_columns[0])

/* The row as its column texts (for CSV; the table picks some). */
static void
s_fields(const archive_log_row_t *r, char buf[][40], const char *f[S_NCOLS])
{
    cli_format_time(r->at, buf[0]);
    f[0] = buf[0];
    f[1] = archive_log_kind_name(r->kind);
    f[2] = archive_direction_name(r->direction);
    f[3] = r->refused ? "refused" : "accepted";
    f[4] = r->state;
    if (r->has_id)
        envelope_id_hex(r->package_id, buf[1]);
    else
        buf[1][0] = '\0';
    f[5] = buf[1];
    if (r->position > 0)
        snprintf(buf[2], 40, "%llu", (unsigned long long)r->position);
    else
        buf[2][0] = '\0';
    f[6] = buf[2];
    f[7] = s_type_name(r->package_type);
    if (r->year > 0)
        snprintf(buf[3], 40, "%u", r->year);
    else
        buf[3][0] = '\0';
    f[8] = buf[3];
    f[9] = r->sender;
    f[10] = r->recipients;
    if (r->position > 0)
        cli_format_time(r->created_at, buf[4]);
    else
        buf[4][0] = '\0';
    f[11] = buf[4];
    f[12] = s_reason_name(r->reason);
    f[13] = r->detail;
}

static void
s_table_header(FILE *out)
{
    fprintf(out, "%-20s  %-9s  %-8s  %-6s  %-24s  %-4s  %6s  %-12s  %s\n",
            "TIME", "EVENT", "STATUS", "STATE", "TYPE", "YEAR", "POS",
            "PACKAGE", "DETAILS");
}

static void
s_table_row(FILE *out, const archive_log_row_t *r, const char *f[S_NCOLS])
{
    char shortid[13];

    snprintf(shortid, sizeof shortid, "%.12s", f[5]);
    fprintf(out, "%-20s  %-9s  %-8s  %-6s  %-24s  %-4s  %6s  %-12s  ", f[0],
            f[1], f[3], r->state[0] ? r->state : "-", f[7], f[8], f[6],
            shortid);
    switch (r->kind) {
    case ARCHIVE_LOG_PUSH:
    case ARCHIVE_LOG_RESUBMIT:
        fputs("to ", out);
        s_put_safe(out, r->recipients[0] ? r->recipients : "?");
        if (r->kind == ARCHIVE_LOG_RESUBMIT)
            fputs(" (sent again)", out);
        break;
    case ARCHIVE_LOG_PULL:
        if (r->position > 0) {
            fputs("from ", out);
            s_put_safe(out, r->sender);
        } else {
            s_put_safe(out, r->detail);
        }
        break;
    case ARCHIVE_LOG_REFUSE:
        fprintf(out, "%s: ",
                s_reason_name(r->reason)[0] ? s_reason_name(r->reason)
                                            : "refused");
        s_put_safe(out, r->detail);
        break;
    case ARCHIVE_LOG_HANDSHAKE:
        s_put_safe(out, r->detail);
        break;
    }
    fputc('\n', out);
}

/* A JSON string, or, for bytes that are not UTF-8, the printable ASCII
 * of them with '?' for the rest. */
static json_t *
s_jstr(const char *s)
{
    json_t *j = json_string(s);
    char   *copy;
    size_t  i;

    if (j != NULL)
        return j;
    if ((copy = strdup(s)) == NULL)
        return NULL;
    for (i = 0; copy[i] != '\0'; i++)
        if ((unsigned char)copy[i] < 0x20 || (unsigned char)copy[i] > 0x7e)
            copy[i] = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *
s_jopt(const char *s)
{
    return s[0] != '\0' ? s_jstr(s) : json_null();
}

static json_t *
s_json_row(const archive_log_row_t *r, const char *f[S_NCOLS])
{
    json_t *o = json_object(), *rc = json_array();
    char  **ids;
    size_t  n = 0, i;

    if (o == NULL || rc == NULL) {
        json_decref(o);
        json_decref(rc);
        return NULL;
    }
    ids = cli_split_list(r->recipients, &n);
    for (i = 0; ids != NULL && i < n; i++)
        json_array_append_new(rc, s_jstr(ids[i]));
    cli_free_list(ids, n);
    json_object_set_new(o, "time", json_string(f[0]));
    json_object_set_new(o, "at", json_integer(r->at));
    json_object_set_new(o, "event", json_string(f[1]));
    json_object_set_new(o, "direction", s_jopt(f[2]));
    json_object_set_new(o, "status", json_string(f[3]));
    json_object_set_new(o, "state", s_jopt(r->state));
    json_object_set_new(o, "package_id", s_jopt(f[5]));
    json_object_set_new(o, "position",
                        r->position > 0 ? json_integer((json_int_t)r->position)
                                        : json_null());
    json_object_set_new(o, "package_type", s_jopt(f[7]));
    json_object_set_new(o, "year",
                        r->year > 0 ? json_integer(r->year) : json_null());
    json_object_set_new(o, "sender", s_jopt(r->sender));
    json_object_set_new(o, "recipients", rc);
    json_object_set_new(o, "created_at", s_jopt(f[11]));
    json_object_set_new(o, "reason", s_jopt(f[12]));
    json_object_set_new(o, "reason_code", json_integer(r->reason));
    json_object_set_new(o, "message", s_jopt(r->detail));
    return o;
}

static int
s_row(const archive_log_row_t *r, void *ctx, errbuf_t *err)
{
    s_out_t    *o = ctx;
    char        buf[5][40];
    const char *f[S_NCOLS];
    size_t      i;

    s_fields(r, buf, f);
    switch (o->format) {
    case S_TABLE:
        if (o->rows == 0)
            s_table_header(o->out);
        s_table_row(o->out, r, f);
        break;
    case S_CSV:
        for (i = 0; i < S_NCOLS; i++) {
            if (i > 0)
                fputc(',', o->out);
            s_put_csv(o->out, f[i]);
        }
        fputc('\n', o->out);
        break;
    case S_JSON: {
        json_t *j = s_json_row(r, f);
        char   *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (text == NULL) {
            errbuf_set(err, "out of memory");
            return -1;
        }
        fprintf(o->out, "%s\n  %s", o->rows == 0 ? "[" : ",", text);
        free(text);
        break;
    }
    }
    if (ferror(o->out)) {
        errbuf_set(err, "writing the output: %s", strerror(errno));
        return -1;
    }
    o->rows++;
    return 0;
}

/* --------------------------------------------------------------- verb --- */

int
cmd_audit_log(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},
        {"state", required_argument, NULL, 's'},
        {"recipient", required_argument, NULL, 'r'},
        {"type", required_argument, NULL, 't'},
        {"since", required_argument, NULL, 'S'},
        {"until", required_argument, NULL, 'U'},
        {"direction", required_argument, NULL, 'D'},
        {"status", required_argument, NULL, 'A'},
        {"reason", required_argument, NULL, 'R'},
        {"limit", required_argument, NULL, 'l'},
        {"empty-pulls", no_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"csv", no_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    archive_log_filter_t f;
    archive_query_t     *q = NULL;
    errbuf_t             err = {{0}};
    s_out_t              out = {S_TABLE, stdout, 0};
    const char          *data = "hub.db";
    int                  opt, json = 0, csv = 0;
    long                 n;
    char                *end;

    archive_log_filter_init(&f);
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'd':
            data = optarg;
            break;
        case 's':
        case 'r':
            if (!s_code_valid(optarg)) {
                cli_error("audit log: --%s '%s' is not a state code (1 to "
                          "%d letters, digits, '_' or '-', e.g. ARG)",
                          opt == 's' ? "state" : "recipient", optarg,
                          ENVELOPE_ID_MAX);
                return CLI_ERROR;
            } else {
                errbuf_t e = {{0}};
                if (cli_state_code_check(opt == 's' ? "--state"
                                                    : "--recipient",
                                         optarg, &e) != 0) {
                    cli_error("audit log: %s", e.msg);
                    return CLI_ERROR;
                }
            }
            if (opt == 's')
                f.state = optarg;
            else
                f.recipient = optarg;
            break;
        case 't':
            if (s_parse_type(optarg, &f.package_type) != 0) {
                cli_error(
                    "audit log: --type %s: unknown package type; use "
                    "MILEX_REPORT, ARMS_REGISTER_RETURN, ACQUISITION_REPORT,"
                    " ACQUISITION_NOTIFICATION, EXERCISE_NOTIFICATION or "
                    "DOCUMENT",
                    optarg);
                return CLI_ERROR;
            }
            break;
        case 'S':
        case 'U':
            if (s_parse_when(optarg, opt == 'U',
                             opt == 'S' ? &f.since : &f.until) != 0) {
                cli_error(
                    "audit log: --%s %s: not an ISO 8601 date or "
                    "date-time; use e.g. 2026-01-31 or 2026-01-31T08:00:00Z",
                    opt == 'S' ? "since" : "until", optarg);
                return CLI_ERROR;
            }
            break;
        case 'D':
            if (strcmp(optarg, "push") == 0)
                f.direction = ARCHIVE_DIR_PUSH;
            else if (strcmp(optarg, "pull") == 0)
                f.direction = ARCHIVE_DIR_PULL;
            else {
                cli_error("audit log: --direction %s: use push or pull",
                          optarg);
                return CLI_ERROR;
            }
            break;
        case 'A':
            if (strcmp(optarg, "accepted") == 0)
                f.refused = 0;
            else if (strcmp(optarg, "refused") == 0)
                f.refused = 1;
            else {
                cli_error("audit log: --status %s: use accepted or refused",
                          optarg);
                return CLI_ERROR;
            }
            break;
        case 'R':
            if (s_parse_reason(optarg, &f.reason) != 0) {
                cli_error(
                    "audit log: --reason %s: unknown reason code; use "
                    "a name of csbm.ReasonCode (proto/wire.proto) such as "
                    "BAD_SIGNATURE, REPLAY or NOT_ENTITLED, or its number",
                    optarg);
                return CLI_ERROR;
            }
            break;
        case 'l':
            errno = 0;
            f.limit = strtoull(optarg, &end, 10);
            if (end == optarg || *end != '\0' || errno != 0 || f.limit == 0 ||
                optarg[0] == '-') {
                cli_error("audit log: --limit %s: give a whole number of "
                          "rows, at least 1",
                          optarg);
                return CLI_ERROR;
            }
            break;
        case 'e':
            f.empty_pulls = 1;
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
        cli_error("audit log takes no arguments besides options ('%s')",
                  argv[optind]);
        return CLI_ERROR;
    }
    if (json && csv) {
        cli_error("audit log: choose one of --json and --csv");
        return CLI_ERROR;
    }
    if (f.since > f.until) {
        cli_error("audit log: --since is after --until; nothing can match");
        return CLI_ERROR;
    }
    out.format = json ? S_JSON : csv ? S_CSV : S_TABLE;
    if ((q = archive_query_open(data, &err)) == NULL) {
        cli_error("%s", err.msg);
        return CLI_ERROR;
    }
    if (out.format == S_CSV) {
        size_t i;
        for (i = 0; i < S_NCOLS; i++)
            fprintf(stdout, "%s%s", i > 0 ? "," : "", s_columns[i]);
        fputc('\n', stdout);
    }
    n = archive_query_log(q, &f, s_row, &out, &err);
    archive_query_destroy(&q);
    if (out.format == S_JSON)
        fputs(out.rows == 0 ? "[]\n" : "\n]\n", stdout);
    else if (out.format == S_TABLE && out.rows == 0 && n >= 0)
        fprintf(stderr, "csbm: audit log: no exchange matches\n");
    if (fflush(stdout) != 0 && n >= 0) {
        cli_error("audit log: writing the output: %s", strerror(errno));
        return CLI_ERROR;
    }
    if (n < 0) {
        cli_error("audit log: %s", err.msg);
        return CLI_ERROR;
    }
    return CLI_OK;
}
