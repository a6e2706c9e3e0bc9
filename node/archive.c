/*
 * archive: the hub's SQLite store (see archive.h).
 *
 * Schema (version 1):
 *
 *   meta(key TEXT PRIMARY KEY, value)
 *       schema_version  1
 *       federation      the federation this archive belongs to
 *
 *   archive(position INTEGER PRIMARY KEY AUTOINCREMENT  1, 2, 3, ...
 *           package_id BLOB UNIQUE NOT NULL   16 bytes
 *           sender TEXT                       state code (signed header)
 *           sequence INTEGER                  sender's sequence number
 *           package_type INTEGER              csbm.PackageType
 *           year INTEGER                      reporting period
 *           created_at INTEGER                Unix seconds (signed header)
 *           accepted_at INTEGER               Unix seconds, hub clock
 *           envelope BLOB                     the exact bytes received
 *           envelope_hash BLOB                SHA-256 of envelope
 *           receipt BLOB                      serialized csbm.Signed receipt
 *           UNIQUE(sender, sequence))
 *
 *   recipients(position INTEGER, recipient TEXT,
 *              PRIMARY KEY(recipient, position))  who may pull what; the
 *              key order makes "what is there for CHL after 42" one
 *              index range scan (WITHOUT ROWID: the key is the table)
 *
 *   events(id INTEGER PRIMARY KEY, at INTEGER, kind TEXT, state TEXT,
 *          package_id BLOB, reason INTEGER, detail TEXT)
 *       kind: 'push' (accepted or resubmitted), 'refuse' (a package or a
 *       request refused; reason is the csbm.ReasonCode), 'pull' (who pulled
 *       which positions), 'handshake' (a connection refused by ZAP)
 *
 * AUTOINCREMENT keeps positions from ever being reused; since rows are
 * never deleted and a rolled-back batch also rolls back the sequence
 * counter, positions are contiguous and the last one is the archive size.
 *
 * Merkle log (to come): the log's leaves are the archive rows in position
 * order, leaf = SHA-256(0x00 || entry); archive_append is where a leaf is
 * added and archive_commit where the new tree head is stored, in the same
 * transaction as the rows it covers.
 */
#include "node/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_BUSY_TIMEOUT_MS 10000

enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_INSERT,
    S_INSERT_RCPT,
    S_SET_RECEIPT,
    S_BY_ID,
    S_BY_SEQ,
    S_PAGE,
    S_EVENT,
    S_COUNT_STMTS
};

static const char *const s_sql[S_COUNT_STMTS] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_INSERT] = "INSERT INTO archive(package_id, sender, sequence, "
                 "package_type, year, created_at, accepted_at, envelope, "
                 "envelope_hash) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [S_INSERT_RCPT] = "INSERT OR IGNORE INTO recipients(position, recipient) "
                      "VALUES(?, ?)",
    [S_SET_RECEIPT] = "UPDATE archive SET receipt = ? WHERE position = ?",
    [S_BY_ID] = "SELECT position, package_id, sender, sequence, "
                "envelope_hash, accepted_at, receipt FROM archive "
                "WHERE package_id = ?",
    [S_BY_SEQ] = "SELECT position, package_id, sender, sequence, "
                 "envelope_hash, accepted_at, receipt FROM archive "
                 "WHERE sender = ? AND sequence = ?",
    [S_PAGE] = "SELECT a.position, length(a.envelope) + "
               "coalesce(length(a.receipt), 0), a.envelope, a.receipt "
               "FROM recipients r JOIN archive a ON a.position = r.position "
               "WHERE r.recipient = ? AND r.position > ? "
               "ORDER BY r.position LIMIT ?",
    [S_EVENT] = "INSERT INTO events(at, kind, state, package_id, reason, "
                "detail) VALUES(?, ?, ?, ?, ?, ?)",
};

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value);"
    "CREATE TABLE IF NOT EXISTS archive("
    "  position INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  package_id BLOB UNIQUE NOT NULL CHECK(length(package_id) = 16),"
    "  sender TEXT NOT NULL,"
    "  sequence INTEGER NOT NULL CHECK(sequence > 0),"
    "  package_type INTEGER NOT NULL,"
    "  year INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  accepted_at INTEGER NOT NULL,"
    "  envelope BLOB NOT NULL,"
    "  envelope_hash BLOB NOT NULL CHECK(length(envelope_hash) = 32),"
    "  receipt BLOB,"
    "  UNIQUE(sender, sequence));"
    "CREATE TABLE IF NOT EXISTS recipients("
    "  position INTEGER NOT NULL REFERENCES archive(position),"
    "  recipient TEXT NOT NULL,"
    "  PRIMARY KEY(recipient, position)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS events("
    "  id INTEGER PRIMARY KEY,"
    "  at INTEGER NOT NULL,"
    "  kind TEXT NOT NULL"
    "    CHECK(kind IN ('push', 'refuse', 'pull', 'handshake')),"
    "  state TEXT,"
    "  package_id BLOB,"
    "  reason INTEGER NOT NULL DEFAULT 0,"
    "  detail TEXT);";

struct archive {
    sqlite3      *db;
    char         *path;
    sqlite3_stmt *st[S_COUNT_STMTS];
    int           in_batch;
    uint64_t      count;       /* committed packages */
    uint64_t      batch_count; /* including the open batch */
};

static void
s_db_error(const archive_t *self, errbuf_t *err, const char *what)
{
    int code = sqlite3_errcode(self->db);

    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        errbuf_set(err, "%s: %s: the archive stayed locked by another "
            "process for %d s (an open sqlite3 shell?)", self->path, what,
            S_BUSY_TIMEOUT_MS / 1000);
    else if (code == SQLITE_FULL)
        errbuf_set(err, "%s: %s: the disk is full", self->path, what);
    else
        errbuf_set(err, "%s: %s: %s", self->path, what,
            sqlite3_errmsg(self->db));
}

static int
s_exec(archive_t *self, const char *sql, const char *what, errbuf_t *err)
{
    if (sqlite3_exec(self->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        s_db_error(self, err, what);
        return -1;
    }
    return 0;
}

/* Run a cached statement that returns no rows, then reset it. */
static int
s_run(archive_t *self, int which, const char *what, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[which];
    int           rc = sqlite3_step(st);

    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        s_db_error(self, err, what);
        return -1;
    }
    return 0;
}

static int
s_meta_get(archive_t *self, const char *key, char *out, size_t cap,
    errbuf_t *err)
{
    sqlite3_stmt *st = NULL;
    int           rc, found = 0;

    if (sqlite3_prepare_v2(self->db, "SELECT value FROM meta WHERE key = ?",
            -1, &st, NULL) != SQLITE_OK) {
        s_db_error(self, err, "reading meta");
        return -1;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(out, cap, "%s", v != NULL ? (const char *)v : "");
        found = 1;
    } else if (rc != SQLITE_DONE) {
        sqlite3_finalize(st);
        s_db_error(self, err, "reading meta");
        return -1;
    }
    sqlite3_finalize(st);
    return found;
}

static int
s_meta_set(archive_t *self, const char *key, const char *value, errbuf_t *err)
{
    sqlite3_stmt *st = NULL;
    int           rc;

    if (sqlite3_prepare_v2(self->db, "INSERT OR REPLACE INTO meta(key, value) "
            "VALUES(?, ?)", -1, &st, NULL) != SQLITE_OK) {
        s_db_error(self, err, "writing meta");
        return -1;
    }
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        s_db_error(self, err, "writing meta");
        return -1;
    }
    return 0;
}

/* Create the schema or check the existing one, and the federation. */
static int
s_setup(archive_t *self, const char *federation, errbuf_t *err)
{
    char          v[ENVELOPE_FEDERATION_MAX + 32];
    char          want[16];
    sqlite3_stmt *st = NULL;
    int           found;

    if (s_exec(self, "BEGIN IMMEDIATE", "starting setup", err) != 0)
        return -1;
    if (s_exec(self, s_schema, "creating the schema", err) != 0)
        goto fail;
    snprintf(want, sizeof want, "%d", ARCHIVE_SCHEMA_VERSION);
    if ((found = s_meta_get(self, "schema_version", v, sizeof v, err)) < 0)
        goto fail;
    if (!found) {
        if (s_meta_set(self, "schema_version", want, err) != 0)
            goto fail;
    } else if (strcmp(v, want) != 0) {
        errbuf_set(err, "%s: archive schema version %s, this hub reads "
            "version %s; use a matching csbm version", self->path, v, want);
        goto fail;
    }
    if ((found = s_meta_get(self, "federation", v, sizeof v, err)) < 0)
        goto fail;
    if (!found) {
        if (s_meta_set(self, "federation", federation, err) != 0)
            goto fail;
    } else if (strcmp(v, federation) != 0) {
        errbuf_set(err, "%s: this archive belongs to federation \"%s\", not "
            "\"%s\"; pass --federation %s or use another archive file",
            self->path, v, federation, v);
        goto fail;
    }
    if (sqlite3_prepare_v2(self->db, "SELECT coalesce(max(position), 0) "
            "FROM archive", -1, &st, NULL) != SQLITE_OK
        || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        s_db_error(self, err, "counting the archive");
        goto fail;
    }
    self->count = self->batch_count = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (s_exec(self, "COMMIT", "finishing setup", err) != 0)
        goto fail;
    return 0;
fail:
    sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

archive_t *
archive_open(const char *path, const char *federation, errbuf_t *err)
{
    archive_t *self = calloc(1, sizeof *self);
    int        fd, i;

    if (self == NULL || (self->path = strdup(path)) == NULL) {
        free(self);
        errbuf_set(err, "out of memory");
        return NULL;
    }
    /* Create the file ourselves so that it (and SQLite's -wal and -shm
     * files, which copy its mode) is private from the start. */
    fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        errbuf_set(err, "%s: cannot open the archive: %s", path,
            strerror(errno));
        archive_destroy(&self);
        return NULL;
    }
    close(fd);
    if (sqlite3_open_v2(path, &self->db, SQLITE_OPEN_READWRITE
            | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
        errbuf_set(err, "%s: cannot open the archive: %s", path,
            self->db ? sqlite3_errmsg(self->db) : "out of memory");
        archive_destroy(&self);
        return NULL;
    }
    sqlite3_busy_timeout(self->db, S_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(self->db, 0);
    if (s_exec(self, "PRAGMA journal_mode=WAL", "setting WAL mode", err) != 0
        || s_exec(self, "PRAGMA synchronous=FULL", "setting synchronous",
               err) != 0
        || s_exec(self, "PRAGMA foreign_keys=ON", "enabling foreign keys",
               err) != 0
        || s_setup(self, federation, err) != 0) {
        archive_destroy(&self);
        return NULL;
    }
    for (i = 0; i < S_COUNT_STMTS; i++) {
        if (sqlite3_prepare_v3(self->db, s_sql[i], -1,
                SQLITE_PREPARE_PERSISTENT, &self->st[i], NULL) != SQLITE_OK) {
            s_db_error(self, err, "preparing statements");
            archive_destroy(&self);
            return NULL;
        }
    }
    return self;
}

void
archive_destroy(archive_t **self_p)
{
    archive_t *self;
    int        i;

    if (self_p == NULL || (self = *self_p) == NULL)
        return;
    if (self->in_batch)
        archive_rollback(self);
    for (i = 0; i < S_COUNT_STMTS; i++)
        sqlite3_finalize(self->st[i]);
    if (self->db != NULL)
        sqlite3_close(self->db);
    free(self->path);
    free(self);
    *self_p = NULL;
}

int
archive_begin(archive_t *self, errbuf_t *err)
{
    if (self->in_batch) {
        errbuf_set(err, "%s: a batch is already open", self->path);
        return -1;
    }
    if (s_run(self, S_BEGIN, "starting a batch", err) != 0)
        return -1;
    self->in_batch = 1;
    self->batch_count = self->count;
    return 0;
}

int
archive_commit(archive_t *self, errbuf_t *err)
{
    if (!self->in_batch) {
        errbuf_set(err, "%s: no batch to commit", self->path);
        return -1;
    }
    /* Merkle log: store the new tree head here, before COMMIT. */
    if (s_run(self, S_COMMIT, "committing", err) != 0) {
        archive_rollback(self);
        return -1;
    }
    self->in_batch = 0;
    self->count = self->batch_count;
    return 0;
}

void
archive_rollback(archive_t *self)
{
    if (!self->in_batch)
        return;
    /* A failed COMMIT may already have ended the transaction. */
    if (!sqlite3_get_autocommit(self->db))
        (void)s_run(self, S_ROLLBACK, "rolling back", NULL);
    self->in_batch = 0;
    self->batch_count = self->count;
}

int
archive_in_batch(const archive_t *self)
{
    return self->in_batch;
}

int
archive_append(archive_t *self, const archive_entry_t *e, uint64_t *position,
    errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_INSERT];
    int64_t       pos;
    size_t        i;

    *position = 0;
    if (!self->in_batch) {
        errbuf_set(err, "%s: append outside a batch", self->path);
        return -1;
    }
    if (e->sender == NULL || e->envelope == NULL || e->sequence == 0
        || e->sequence > (uint64_t)INT64_MAX || e->n_recipients == 0) {
        errbuf_set(err, "%s: incomplete entry (sender, envelope, sequence "
            "and at least one recipient are required)", self->path);
        return -1;
    }
    sqlite3_bind_blob(st, 1, e->package_id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, e->sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)e->sequence);
    sqlite3_bind_int(st, 4, e->package_type);
    sqlite3_bind_int64(st, 5, e->year);
    sqlite3_bind_int64(st, 6, e->created_at);
    sqlite3_bind_int64(st, 7, e->accepted_at);
    sqlite3_bind_blob64(st, 8, e->envelope, e->envelope_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 9, e->envelope_hash, 32, SQLITE_STATIC);
    if (s_run(self, S_INSERT, "appending a package", err) != 0)
        return -1;
    pos = sqlite3_last_insert_rowid(self->db);
    st = self->st[S_INSERT_RCPT];
    for (i = 0; i < e->n_recipients; i++) {
        sqlite3_bind_int64(st, 1, pos);
        sqlite3_bind_text(st, 2, e->recipients[i], -1, SQLITE_STATIC);
        if (s_run(self, S_INSERT_RCPT, "recording recipients", err) != 0)
            return -1;
    }
    /* Merkle log: add leaf SHA-256(0x00 || entry) for position pos here. */
    self->batch_count = (uint64_t)pos;
    *position = (uint64_t)pos;
    return 0;
}

int
archive_set_receipt(archive_t *self, uint64_t position, const uint8_t *receipt,
    size_t len, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_SET_RECEIPT];

    if (position == 0 || position > (uint64_t)INT64_MAX) {
        errbuf_set(err, "%s: no position %llu", self->path,
            (unsigned long long)position);
        return -1;
    }
    sqlite3_bind_blob64(st, 1, receipt, len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)position);
    if (s_run(self, S_SET_RECEIPT, "storing a receipt", err) != 0)
        return -1;
    if (sqlite3_changes(self->db) != 1) {
        errbuf_set(err, "%s: no position %llu", self->path,
            (unsigned long long)position);
        return -1;
    }
    return 0;
}

/* Fill a record from a row of S_BY_ID / S_BY_SEQ. */
static int
s_record(archive_t *self, sqlite3_stmt *st, archive_record_t *out,
    errbuf_t *err)
{
    const void          *id = sqlite3_column_blob(st, 1);
    const void          *hash = sqlite3_column_blob(st, 4);
    const unsigned char *sender = sqlite3_column_text(st, 2);
    const void          *rc;
    int                  rc_len;

    memset(out, 0, sizeof *out);
    if (sqlite3_column_bytes(st, 1) != ENVELOPE_ID_BYTES
        || sqlite3_column_bytes(st, 4) != 32 || id == NULL || hash == NULL
        || sender == NULL || sqlite3_column_bytes(st, 2) > ENVELOPE_ID_MAX) {
        errbuf_set(err, "%s: archive row at position %lld is damaged",
            self->path, (long long)sqlite3_column_int64(st, 0));
        return -1;
    }
    out->position = (uint64_t)sqlite3_column_int64(st, 0);
    memcpy(out->package_id, id, ENVELOPE_ID_BYTES);
    snprintf(out->sender, sizeof out->sender, "%s", (const char *)sender);
    out->sequence = (uint64_t)sqlite3_column_int64(st, 3);
    memcpy(out->envelope_hash, hash, 32);
    out->accepted_at = sqlite3_column_int64(st, 5);
    rc = sqlite3_column_blob(st, 6);
    rc_len = sqlite3_column_bytes(st, 6);
    if (rc != NULL && rc_len > 0) {
        if ((out->receipt = malloc((size_t)rc_len)) == NULL) {
            errbuf_set(err, "out of memory");
            return -1;
        }
        memcpy(out->receipt, rc, (size_t)rc_len);
        out->receipt_len = (size_t)rc_len;
    }
    return 0;
}

static int
s_find(archive_t *self, int which, archive_record_t *out, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[which];
    int           rc = sqlite3_step(st), found = 0;

    if (rc == SQLITE_ROW) {
        found = s_record(self, st, out, err) == 0 ? 1 : -1;
    } else if (rc != SQLITE_DONE) {
        s_db_error(self, err, "looking a package up");
        found = -1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

int
archive_find_by_id(archive_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    archive_record_t *out, errbuf_t *err)
{
    sqlite3_bind_blob(self->st[S_BY_ID], 1, id, ENVELOPE_ID_BYTES,
        SQLITE_STATIC);
    return s_find(self, S_BY_ID, out, err);
}

int
archive_find_by_seq(archive_t *self, const char *sender, uint64_t sequence,
    archive_record_t *out, errbuf_t *err)
{
    if (sequence > (uint64_t)INT64_MAX)
        return 0;
    sqlite3_bind_text(self->st[S_BY_SEQ], 1, sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(self->st[S_BY_SEQ], 2, (sqlite3_int64)sequence);
    return s_find(self, S_BY_SEQ, out, err);
}

long
archive_page(archive_t *self, const char *recipient, uint64_t after,
    size_t max_items, size_t max_bytes, archive_page_fn fn, void *ctx,
    int *more, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_PAGE];
    size_t        bytes = 0;
    long          n = 0;
    int           rc;

    *more = 0;
    if (max_items == 0)
        return 0;
    if (max_items > (size_t)1 << 20)
        max_items = (size_t)1 << 20;
    if (after > (uint64_t)INT64_MAX)
        return 0;
    sqlite3_bind_text(st, 1, recipient, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)after);
    /* One more than asked for, to learn whether more is waiting. */
    sqlite3_bind_int64(st, 3, (sqlite3_int64)max_items + 1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        archive_item_t it;
        int64_t        size = sqlite3_column_int64(st, 1);

        if ((size_t)n == max_items
            || (n > 0 && (size < 0 || bytes >= max_bytes
                             || (uint64_t)size > max_bytes - bytes))) {
            *more = 1;
            break;
        }
        it.position = (uint64_t)sqlite3_column_int64(st, 0);
        it.envelope = sqlite3_column_blob(st, 2);
        it.envelope_len = (size_t)sqlite3_column_bytes(st, 2);
        it.receipt = sqlite3_column_blob(st, 3);
        it.receipt_len = (size_t)sqlite3_column_bytes(st, 3);
        if (it.envelope == NULL || it.receipt == NULL) {
            errbuf_set(err, "%s: archive row at position %llu has no %s",
                self->path, (unsigned long long)it.position,
                it.envelope == NULL ? "envelope" : "receipt");
            n = -1;
            break;
        }
        if (fn(&it, ctx, err) != 0) {
            n = -1;
            break;
        }
        bytes += it.envelope_len + it.receipt_len;
        n++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE && n >= 0) {
        s_db_error(self, err, "reading a page");
        n = -1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (n < 0)
        *more = 0;
    return n;
}

uint64_t
archive_count(const archive_t *self)
{
    return self->in_batch ? self->batch_count : self->count;
}

const char *
archive_event_name(int kind)
{
    switch (kind) {
    case ARCHIVE_EVENT_PUSH: return "push";
    case ARCHIVE_EVENT_REFUSE: return "refuse";
    case ARCHIVE_EVENT_PULL: return "pull";
    case ARCHIVE_EVENT_HANDSHAKE: return "handshake";
    default: return NULL;
    }
}

int
archive_log_event(archive_t *self, const archive_event_t *ev, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_EVENT];
    const char   *kind = archive_event_name((int)ev->kind);
    size_t        dlen;

    if (kind == NULL) {
        errbuf_set(err, "%s: unknown event kind %d", self->path,
            (int)ev->kind);
        return -1;
    }
    sqlite3_bind_int64(st, 1, ev->at);
    sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
    if (ev->state != NULL && ev->state[0] != '\0')
        sqlite3_bind_text(st, 3, ev->state, -1, SQLITE_STATIC);
    if (ev->package_id != NULL)
        sqlite3_bind_blob(st, 4, ev->package_id, ENVELOPE_ID_BYTES,
            SQLITE_STATIC);
    sqlite3_bind_int(st, 5, ev->reason);
    if (ev->detail != NULL) {
        dlen = strnlen(ev->detail, ARCHIVE_DETAIL_MAX);
        sqlite3_bind_text(st, 6, ev->detail, (int)dlen, SQLITE_STATIC);
    }
    return s_run(self, S_EVENT, "recording an event", err);
}
