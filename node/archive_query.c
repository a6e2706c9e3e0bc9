/*
 * archive_query: read-only queries over the hub's archive (see
 * archive_query.h; the schema is described at the top of node/archive.c).
 *
 * The events table says who pulled, but not as columns which packages:
 * the hub writes them into the pull event's detail ("after 4: 2 items at
 * 5,6"), so a pull is expanded here from that text, one row per position.
 * A resubmission is a push event whose detail starts "resubmitted"; the
 * first acceptance of a package is its archive row, which is authoritative
 * even where no push event was recorded.
 */
#include "node/archive_query.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "node/archive.h"
#include "proto/wire.pb-c.h"

#define S_BUSY_TIMEOUT_MS 10000
#define S_RCPT_ID_MAX ENVELOPE_ID_MAX
/* A recipient list: at most ENVELOPE_MAX_RECIPIENTS ids and commas. */
#define S_RCPT_LIST_MAX (ENVELOPE_MAX_RECIPIENTS * (ENVELOPE_ID_MAX + 1) + 1)

enum {
    S_LOG,
    S_BY_POS,
    S_BY_ID,
    S_RCPT_NEXT,
    S_RCPT_PROBE,
    S_PACKAGES,
    S_SENDERS,
    S_COUNT_STMTS
};

static const char *const s_sql[S_COUNT_STMTS] = {
    [S_LOG] = "SELECT at, kind, state, package_id, position, reason, detail "
              "FROM (SELECT accepted_at AS at, 0 AS src, position AS ord, "
              "'push' AS kind, sender AS state, package_id, position, "
              "0 AS reason, NULL AS detail FROM archive "
              "UNION ALL SELECT at, 1, id, kind, state, package_id, NULL, "
              "reason, detail FROM events "
              "WHERE kind <> 'push' OR detail LIKE 'resubmitted%') "
              "WHERE at >= ?1 AND at <= ?2 AND (?3 IS NULL OR state = ?3) "
              "ORDER BY at, src, ord",
    [S_BY_POS] = "SELECT position, package_id, sender, package_type, year, "
                 "created_at FROM archive WHERE position = ?",
    [S_BY_ID] = "SELECT position, package_id, sender, package_type, year, "
                "created_at FROM archive WHERE package_id = ?",
    [S_RCPT_NEXT] = "SELECT min(recipient) FROM recipients "
                    "WHERE recipient > ?",
    [S_RCPT_PROBE] = "SELECT 1 FROM recipients "
                     "WHERE recipient = ? AND position = ?",
    [S_PACKAGES] = "SELECT position, sender, package_type, year, "
                   "created_at, accepted_at, envelope FROM archive "
                   "WHERE ?1 = 0 OR year = ?1 ORDER BY position",
    [S_SENDERS] = "SELECT DISTINCT sender FROM archive "
                  "WHERE ?1 = 0 OR year = ?1 ORDER BY sender",
};

struct archive_query {
    sqlite3      *db;
    char         *path;
    char          federation[ENVELOPE_FEDERATION_MAX + 1];
    sqlite3_stmt *st[S_COUNT_STMTS];
    char (*rcpt_ids)[S_RCPT_ID_MAX + 1]; /* distinct, sorted */
    size_t n_rcpt_ids;
    int    rcpt_loaded;
};

/* What a row's package is, from the archive. */
typedef struct {
    uint64_t position;
    uint8_t  package_id[ENVELOPE_ID_BYTES];
    char     sender[ENVELOPE_ID_MAX + 1];
    int      package_type;
    uint32_t year;
    int64_t  created_at;
} s_meta_t;

static void
s_db_error(const archive_query_t *self, errbuf_t *err, const char *what)
{
    int code = sqlite3_errcode(self->db);

    if (code == SQLITE_NOTADB)
        errbuf_set(err,
                   "%s: not an SQLite database; pass the hub's "
                   "archive file (the hub's --data FILE.db)",
                   self->path);
    else if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        errbuf_set(err,
                   "%s: %s: the archive stayed locked for %d s; try "
                   "again",
                   self->path, what, S_BUSY_TIMEOUT_MS / 1000);
    else
        errbuf_set(err, "%s: %s: %s", self->path, what,
                   sqlite3_errmsg(self->db));
}

const char *
archive_log_kind_name(archive_log_kind_t kind)
{
    switch (kind) {
    case ARCHIVE_LOG_PUSH:
        return "push";
    case ARCHIVE_LOG_RESUBMIT:
        return "resubmit";
    case ARCHIVE_LOG_PULL:
        return "pull";
    case ARCHIVE_LOG_REFUSE:
        return "refuse";
    case ARCHIVE_LOG_HANDSHAKE:
        return "handshake";
    }
    return "unknown";
}

const char *
archive_direction_name(archive_direction_t dir)
{
    switch (dir) {
    case ARCHIVE_DIR_PUSH:
        return "push";
    case ARCHIVE_DIR_PULL:
        return "pull";
    case ARCHIVE_DIR_NONE:
        break;
    }
    return "";
}

void
archive_log_filter_init(archive_log_filter_t *f)
{
    memset(f, 0, sizeof *f);
    f->since = INT64_MIN;
    f->until = INT64_MAX;
    f->direction = -1;
    f->refused = -1;
    f->reason = -1;
}

/* -------------------------------------------------------------- open --- */

/* Read meta.key into out; 1 found, 0 not, -1 error. */
static int
s_meta_get(archive_query_t *self, const char *key, char *out, size_t cap,
           errbuf_t *err)
{
    sqlite3_stmt *st = NULL;
    int           rc, found = 0;

    if (sqlite3_prepare_v2(self->db, "SELECT value FROM meta WHERE key = ?", -1,
                           &st, NULL) != SQLITE_OK) {
        if (sqlite3_errcode(self->db) == SQLITE_NOTADB)
            s_db_error(self, err, "reading");
        else
            errbuf_set(err,
                       "%s: not a csbm archive (%s); pass the hub's "
                       "archive file (the hub's --data FILE.db)",
                       self->path, sqlite3_errmsg(self->db));
        return -1;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", v != NULL ? (const char *)v : "");
        found = 1;
    } else if (rc != SQLITE_DONE) {
        s_db_error(self, err, "reading the archive's meta table");
        found = -1;
    }
    sqlite3_finalize(st);
    return found;
}

archive_query_t *
archive_query_open(const char *path, errbuf_t *err)
{
    archive_query_t *self = NULL;
    struct stat      sb;
    char             v[32];
    int              found, i;

    if (stat(path, &sb) != 0) {
        if (errno == ENOENT)
            errbuf_set(err,
                       "%s: no such file; pass --data with the path "
                       "of the hub's archive (the hub's --data FILE.db)",
                       path);
        else
            errbuf_set(err, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(sb.st_mode)) {
        errbuf_set(err,
                   "%s: not a regular file; pass the hub's archive "
                   "file (the hub's --data FILE.db)",
                   path);
        return NULL;
    }
    if ((self = calloc(1, sizeof *self)) == NULL ||
        (self->path = strdup(path)) == NULL) {
        errbuf_set(err, "out of memory");
        goto fail;
    }
    if (sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READONLY, NULL) !=
        SQLITE_OK) {
        errbuf_set(err, "%s: cannot open read-only: %s", path,
                   self->db != NULL ? sqlite3_errmsg(self->db)
                                    : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(self->db, S_BUSY_TIMEOUT_MS);
    if ((found = s_meta_get(self, "schema_version", v, sizeof v, err)) < 0)
        goto fail;
    if (found == 0) {
        errbuf_set(err,
                   "%s: not a csbm archive (no schema version); pass "
                   "the hub's archive file",
                   path);
        goto fail;
    }
    if (strtol(v, NULL, 10) != ARCHIVE_SCHEMA_VERSION ||
        strspn(v, "0123456789") != strlen(v)) {
        errbuf_set(err,
                   "%s: archive schema version %s; this build reads "
                   "version %d (use the csbm release that wrote it)",
                   path, v, ARCHIVE_SCHEMA_VERSION);
        goto fail;
    }
    if (s_meta_get(self, "federation", self->federation,
                   sizeof self->federation, err) < 0)
        goto fail;
    for (i = 0; i < S_COUNT_STMTS; i++)
        if (sqlite3_prepare_v2(self->db, s_sql[i], -1, &self->st[i], NULL) !=
            SQLITE_OK) {
            errbuf_set(err,
                       "%s: not a csbm archive of schema version %d "
                       "(%s)",
                       path, ARCHIVE_SCHEMA_VERSION, sqlite3_errmsg(self->db));
            goto fail;
        }
    return self;

fail:
    archive_query_destroy(&self);
    return NULL;
}

void
archive_query_destroy(archive_query_t **self_p)
{
    archive_query_t *self;
    int              i;

    if (self_p == NULL || (self = *self_p) == NULL)
        return;
    for (i = 0; i < S_COUNT_STMTS; i++)
        sqlite3_finalize(self->st[i]);
    sqlite3_close(self->db);
    free(self->rcpt_ids);
    free(self->path);
    free(self);
    *self_p = NULL;
}

const char *
archive_query_federation(const archive_query_t *self)
{
    return self->federation;
}

/* -------------------------------------------------------- recipients --- */

/* The distinct recipient ids, one index probe each (the recipients key
 * starts with the recipient, so "who may pull position P" is otherwise a
 * full scan). */
static int
s_rcpt_load(archive_query_t *self, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_RCPT_NEXT];
    char          last[S_RCPT_ID_MAX + 1] = "";
    int           rc;

    if (self->rcpt_loaded)
        return 0;
    for (;;) {
        const unsigned char *v;
        void                *grown;

        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, last, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
            s_db_error(self, err, "reading the recipients");
            sqlite3_reset(st);
            return -1;
        }
        if ((v = sqlite3_column_text(st, 0)) == NULL)
            break;
        if (strlen((const char *)v) > S_RCPT_ID_MAX) {
            errbuf_set(err,
                       "%s: recipient id '%.20s...' is longer than %d "
                       "characters; the archive is damaged",
                       self->path, (const char *)v, S_RCPT_ID_MAX);
            sqlite3_reset(st);
            return -1;
        }
        if (self->n_rcpt_ids == ARCHIVE_QUERY_MAX_RECIPIENT_IDS) {
            errbuf_set(err, "%s: more than %d distinct recipients", self->path,
                       ARCHIVE_QUERY_MAX_RECIPIENT_IDS);
            sqlite3_reset(st);
            return -1;
        }
        grown = realloc(self->rcpt_ids,
                        (self->n_rcpt_ids + 1) * sizeof *self->rcpt_ids);
        if (grown == NULL) {
            errbuf_set(err, "out of memory");
            sqlite3_reset(st);
            return -1;
        }
        self->rcpt_ids = grown;
        snprintf(self->rcpt_ids[self->n_rcpt_ids++], S_RCPT_ID_MAX + 1, "%s",
                 (const char *)v);
        snprintf(last, sizeof last, "%s", (const char *)v);
    }
    sqlite3_reset(st);
    self->rcpt_loaded = 1;
    return 0;
}

/* 1 if position is addressed to id, 0 if not, -1 on error. */
static int
s_rcpt_has(archive_query_t *self, const char *id, uint64_t position,
           errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_RCPT_PROBE];
    int           rc;

    sqlite3_reset(st);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)position);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    s_db_error(self, err, "reading the recipients");
    return -1;
}

/* "CHL,PER,hub" for position into out (S_RCPT_LIST_MAX bytes). */
static int
s_rcpt_list(archive_query_t *self, uint64_t position, char *out, errbuf_t *err)
{
    size_t i, used = 0;
    int    has;

    out[0] = '\0';
    if (s_rcpt_load(self, err) != 0)
        return -1;
    for (i = 0; i < self->n_rcpt_ids; i++) {
        size_t len = strlen(self->rcpt_ids[i]);
        if ((has = s_rcpt_has(self, self->rcpt_ids[i], position, err)) < 0)
            return -1;
        if (!has)
            continue;
        if (used + len + 2 > S_RCPT_LIST_MAX)
            break; /* more than an envelope can hold: keep what fits */
        if (used > 0)
            out[used++] = ',';
        memcpy(out + used, self->rcpt_ids[i], len + 1);
        used += len;
    }
    return 0;
}

/* --------------------------------------------------------------- log --- */

/* Fill m from a S_BY_POS / S_BY_ID row. */
static void
s_meta_row(sqlite3_stmt *st, s_meta_t *m)
{
    const void          *id = sqlite3_column_blob(st, 1);
    const unsigned char *sender = sqlite3_column_text(st, 2);

    memset(m, 0, sizeof *m);
    m->position = (uint64_t)sqlite3_column_int64(st, 0);
    if (id != NULL && sqlite3_column_bytes(st, 1) == ENVELOPE_ID_BYTES)
        memcpy(m->package_id, id, ENVELOPE_ID_BYTES);
    snprintf(m->sender, sizeof m->sender, "%s",
             sender != NULL ? (const char *)sender : "");
    m->package_type = sqlite3_column_int(st, 3);
    m->year = (uint32_t)sqlite3_column_int64(st, 4);
    m->created_at = sqlite3_column_int64(st, 5);
}

/* Look a package up by position (id NULL) or id. 1 found, 0 not, -1. */
static int
s_lookup(archive_query_t *self, uint64_t position, const uint8_t *id,
         s_meta_t *m, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[id != NULL ? S_BY_ID : S_BY_POS];
    int           rc;

    sqlite3_reset(st);
    if (id != NULL)
        sqlite3_bind_blob(st, 1, id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    else
        sqlite3_bind_int64(st, 1, (sqlite3_int64)position);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        s_meta_row(st, m);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    s_db_error(self, err, "looking a package up");
    return -1;
}

typedef struct {
    archive_query_t            *self;
    const archive_log_filter_t *f;
    archive_log_fn              fn;
    void                       *ctx;
    long                        given;
} s_log_t;

/* 1 when the limit is reached. */
static int
s_full(const s_log_t *q)
{
    return q->f->limit > 0 && (uint64_t)q->given >= q->f->limit;
}

/* Apply the package-level filters, complete and give one row. m is NULL
 * for a row without an archived package. */
static int
s_emit(s_log_t *q, archive_log_row_t *row, const s_meta_t *m, errbuf_t *err)
{
    const archive_log_filter_t *f = q->f;
    char                        rcpts[S_RCPT_LIST_MAX];
    int                         has;

    if (f->direction >= 0 && (int)row->direction != f->direction)
        return 0;
    if (f->refused >= 0 && row->refused != f->refused)
        return 0;
    if (f->reason >= 0 && row->reason != f->reason)
        return 0;
    if (m == NULL && (f->package_type != 0 || f->recipient != NULL))
        return 0;
    rcpts[0] = '\0';
    if (m != NULL) {
        if (f->package_type != 0 && m->package_type != f->package_type)
            return 0;
        if (f->recipient != NULL) {
            has = s_rcpt_has(q->self, f->recipient, m->position, err);
            if (has <= 0)
                return has;
        }
        if (s_rcpt_list(q->self, m->position, rcpts, err) != 0)
            return -1;
        row->position = m->position;
        row->sender = m->sender;
        row->package_type = m->package_type;
        row->year = m->year;
        row->created_at = m->created_at;
        if (!row->has_id) {
            memcpy(row->package_id, m->package_id, ENVELOPE_ID_BYTES);
            row->has_id = 1;
        }
    }
    row->recipients = rcpts;
    if (q->fn(row, q->ctx, err) != 0)
        return -1;
    q->given++;
    return 0;
}

/* Expand a pull event: the positions follow " at " in its detail as
 * "5,6,7". A detail cut at ARCHIVE_DETAIL_MAX may end in a partial
 * number, which is dropped. */
static int
s_pull_rows(s_log_t *q, archive_log_row_t *row, errbuf_t *err)
{
    const char *p = row->detail != NULL ? strstr(row->detail, " at ") : NULL;
    int         cut =
        row->detail != NULL && strlen(row->detail) >= ARCHIVE_DETAIL_MAX - 1;
    int      any = 0;
    s_meta_t m;

    if (p != NULL)
        p += 4;
    while (p != NULL && *p != '\0' && !s_full(q)) {
        char              *end;
        unsigned long long pos;
        int                found;

        errno = 0;
        pos = strtoull(p, &end, 10);
        if (end == p || errno != 0 || (*end != ',' && *end != '\0'))
            break;
        if (*end == '\0' && cut)
            break;
        any = 1;
        if ((found = s_lookup(q->self, pos, NULL, &m, err)) < 0)
            return -1;
        row->has_id = 0;
        if (s_emit(q, row, found ? &m : NULL, err) != 0)
            return -1;
        p = *end == ',' ? end + 1 : end;
    }
    if (!any && q->f->empty_pulls)
        return s_emit(q, row, NULL, err);
    return 0;
}

long
archive_query_log(archive_query_t *self, const archive_log_filter_t *f,
                  archive_log_fn fn, void *ctx, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_LOG];
    s_log_t       q = {self, f, fn, ctx, 0};
    int           rc = SQLITE_DONE;

    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, f->since);
    sqlite3_bind_int64(st, 2, f->until);
    if (f->state != NULL)
        sqlite3_bind_text(st, 3, f->state, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 3);
    while (!s_full(&q) && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        archive_log_row_t    row;
        const char          *kind = (const char *)sqlite3_column_text(st, 1);
        const unsigned char *state = sqlite3_column_text(st, 2);
        const void          *id = sqlite3_column_blob(st, 3);
        const unsigned char *detail = sqlite3_column_text(st, 6);
        s_meta_t             m;
        int                  found = 0, r;

        memset(&row, 0, sizeof row);
        row.at = sqlite3_column_int64(st, 0);
        row.state = state != NULL ? (const char *)state : "";
        row.reason = sqlite3_column_int(st, 5);
        row.detail = detail != NULL ? (const char *)detail : "";
        row.sender = "";
        if (id != NULL && sqlite3_column_bytes(st, 3) == ENVELOPE_ID_BYTES) {
            memcpy(row.package_id, id, ENVELOPE_ID_BYTES);
            row.has_id = 1;
        }
        if (kind == NULL)
            kind = "";
        if (strcmp(kind, "pull") == 0) {
            row.kind = ARCHIVE_LOG_PULL;
            row.direction = ARCHIVE_DIR_PULL;
            r = s_pull_rows(&q, &row, err);
        } else {
            int archived = sqlite3_column_type(st, 4) != SQLITE_NULL;

            if (archived) /* an archive row: the package itself */
                found = s_lookup(self, (uint64_t)sqlite3_column_int64(st, 4),
                                 NULL, &m, err);
            else if (row.has_id)
                found = s_lookup(self, 0, row.package_id, &m, err);
            if (found < 0) {
                sqlite3_reset(st);
                return -1;
            }
            if (archived) {
                row.kind = ARCHIVE_LOG_PUSH;
                row.direction = ARCHIVE_DIR_PUSH;
            } else if (strcmp(kind, "push") == 0) {
                row.kind = ARCHIVE_LOG_RESUBMIT;
                row.direction = ARCHIVE_DIR_PUSH;
            } else if (strcmp(kind, "refuse") == 0) {
                row.kind = ARCHIVE_LOG_REFUSE;
                row.refused = 1;
                /* A refused submission names its package; a refused
                 * request without one is of a type the log does not say,
                 * except a pull of something not addressed to the caller. */
                if (row.has_id)
                    row.direction = ARCHIVE_DIR_PUSH;
                else if (row.reason == CSBM__REASON_CODE__REASON_NOT_ENTITLED)
                    row.direction = ARCHIVE_DIR_PULL;
            } else {
                row.kind = ARCHIVE_LOG_HANDSHAKE;
                row.refused = 1;
            }
            r = s_emit(&q, &row, found ? &m : NULL, err);
        }
        if (r != 0) {
            sqlite3_reset(st);
            return -1;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        s_db_error(self, err, "reading the log");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return q.given;
}

/* ---------------------------------------------------------- packages --- */

long
archive_query_packages(archive_query_t *self, uint32_t year,
                       archive_package_fn fn, void *ctx, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_PACKAGES];
    long          n = 0;
    int           rc;

    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)year);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        archive_package_t    p;
        const unsigned char *sender = sqlite3_column_text(st, 1);

        memset(&p, 0, sizeof p);
        p.position = (uint64_t)sqlite3_column_int64(st, 0);
        p.sender = sender != NULL ? (const char *)sender : "";
        p.package_type = sqlite3_column_int(st, 2);
        p.year = (uint32_t)sqlite3_column_int64(st, 3);
        p.created_at = sqlite3_column_int64(st, 4);
        p.accepted_at = sqlite3_column_int64(st, 5);
        p.envelope = sqlite3_column_blob(st, 6);
        p.envelope_len = (size_t)sqlite3_column_bytes(st, 6);
        if (fn(&p, ctx, err) != 0) {
            sqlite3_reset(st);
            return -1;
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        s_db_error(self, err, "reading the packages");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return n;
}

long
archive_query_senders(archive_query_t *self, uint32_t                 year,
                      int (*fn)(const char *sender, void *ctx), void *ctx,
                      errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_SENDERS];
    long          n = 0;
    int           rc;

    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)year);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *s = sqlite3_column_text(st, 0);
        if (s == NULL)
            continue;
        if (fn((const char *)s, ctx) != 0) {
            errbuf_set(err, "too many senders");
            sqlite3_reset(st);
            return -1;
        }
        n++;
    }
    if (rc != SQLITE_DONE) {
        s_db_error(self, err, "reading the senders");
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return n;
}
