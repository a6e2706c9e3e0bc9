/*
 * mailbox: the member node's SQLite store (see mailbox.h).
 *
 * Schema (version 2; a version 1 store gains outbox.inclusion and the
 * log tables when it is first opened):
 *
 *   meta(key TEXT PRIMARY KEY, value)
 *       schema_version  2
 *       owner           identity the store belongs to ("ARG")
 *       federation      federation it belongs to
 *       last_sequence   last sequence number allocated to a package
 *       pull_cursor     last archive position seen by pull
 *
 *   outbox(package_id BLOB PRIMARY KEY      16 bytes
 *          sequence INTEGER UNIQUE          sender's sequence number
 *          package_type INTEGER             csbm.PackageType
 *          recipients TEXT                  "CHL,PER,hub" as in the header
 *          created_at INTEGER               Unix seconds, from the header
 *          envelope BLOB                    the exact sealed bytes sent
 *          status TEXT                      pending | delivered | rejected
 *          attempts INTEGER                 failed delivery attempts
 *          next_attempt_at INTEGER          Unix seconds; 0 = at once
 *          last_error TEXT                  last failure, or the hub's
 *                                           rejection message
 *          receipt BLOB                     serialized csbm.Signed receipt
 *          rejection BLOB                   serialized csbm.Signed rejection
 *          reason INTEGER                   csbm.ReasonCode of a rejection
 *          position INTEGER                 archive position (receipt)
 *          accepted_at INTEGER              hub time (receipt)
 *          inclusion BLOB)                  csbm.InclusionProof of the
 *                                           receipt in a signed tree head
 *
 *   inbox(position INTEGER PRIMARY KEY     archive position at the hub
 *         package_id BLOB UNIQUE
 *         sender TEXT, package_type INTEGER, year INTEGER,
 *         created_at INTEGER                from the verified header
 *         received_at INTEGER               when this node stored it
 *         envelope BLOB, receipt BLOB       as pulled (receipt: csbm.Signed)
 *         opened INTEGER)                   0 / 1
 *
 *   refused(position INTEGER PRIMARY KEY   pulled items this node would
 *           package_id BLOB, sender TEXT,   not take (bad signature, not a
 *           reason TEXT, refused_at INTEGER, recipient, ...), kept with
 *           envelope BLOB, receipt BLOB)    the reason for inspection
 *
 *   log_heads(size INTEGER PRIMARY KEY     signed tree heads of the hub's
 *             timestamp INTEGER, root BLOB,  log this node verified (the
 *             signed BLOB, verified_at)      newest is the one consistency
 *                                           is checked from)
 *
 *   log_evidence(id INTEGER PRIMARY KEY    heads that are not consistent
 *                found_at INTEGER, what TEXT, with one verified before:
 *                old_head BLOB, new_head BLOB, both heads (csbm.Signed)
 *                proof BLOB)                and the proof, as evidence
 *
 * Writers use BEGIN IMMEDIATE so that two processes never deadlock on a
 * read lock upgrade; the busy timeout makes the second one wait.
 */
#include "node/mailbox.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct mailbox {
    sqlite3 *db;
    char    *path;
    char     owner[ENVELOPE_ID_MAX + 1];
    char     federation[ENVELOPE_FEDERATION_MAX + 1];
};

static const char s_schema[] =
    "CREATE TABLE IF NOT EXISTS meta("
    "  key TEXT PRIMARY KEY NOT NULL,"
    "  value);"
    "CREATE TABLE IF NOT EXISTS outbox("
    "  package_id BLOB PRIMARY KEY NOT NULL CHECK(length(package_id) = 16),"
    "  sequence INTEGER NOT NULL UNIQUE CHECK(sequence > 0),"
    "  package_type INTEGER NOT NULL,"
    "  recipients TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  envelope BLOB NOT NULL,"
    "  status TEXT NOT NULL DEFAULT 'pending'"
    "    CHECK(status IN ('pending', 'delivered', 'rejected')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  receipt BLOB,"
    "  rejection BLOB,"
    "  reason INTEGER,"
    "  position INTEGER,"
    "  accepted_at INTEGER,"
    "  inclusion BLOB);"
    "CREATE INDEX IF NOT EXISTS outbox_due"
    "  ON outbox(status, next_attempt_at, sequence);"
    "CREATE TABLE IF NOT EXISTS inbox("
    "  position INTEGER PRIMARY KEY CHECK(position > 0),"
    "  package_id BLOB NOT NULL UNIQUE CHECK(length(package_id) = 16),"
    "  sender TEXT NOT NULL,"
    "  package_type INTEGER NOT NULL,"
    "  year INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  received_at INTEGER NOT NULL,"
    "  envelope BLOB NOT NULL,"
    "  receipt BLOB NOT NULL,"
    "  opened INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS refused("
    "  position INTEGER PRIMARY KEY CHECK(position > 0),"
    "  package_id BLOB,"
    "  sender TEXT,"
    "  reason TEXT NOT NULL,"
    "  refused_at INTEGER NOT NULL,"
    "  envelope BLOB,"
    "  receipt BLOB);"
    "CREATE TABLE IF NOT EXISTS log_heads("
    "  size INTEGER PRIMARY KEY CHECK(size > 0),"
    "  timestamp INTEGER NOT NULL,"
    "  root BLOB NOT NULL,"
    "  signed BLOB NOT NULL,"
    "  verified_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS log_evidence("
    "  id INTEGER PRIMARY KEY,"
    "  found_at INTEGER NOT NULL,"
    "  what TEXT NOT NULL,"
    "  old_head BLOB,"
    "  new_head BLOB,"
    "  proof BLOB);";

#define OUTBOX_COLUMNS                                                        \
    "package_id, sequence, package_type, recipients, created_at, status, "    \
    "attempts, next_attempt_at, last_error, reason, position, accepted_at, "  \
    "length(envelope)"

#define INBOX_COLUMNS                                                         \
    "position, package_id, sender, package_type, year, created_at, "          \
    "received_at, opened, length(envelope)"

/* ------------------------------------------------------------ helpers --- */

static void
s_db_error(const mailbox_t *self, errbuf_t *err, const char *what)
{
    int code = sqlite3_errcode(self->db);

    if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
        errbuf_set(err, "%s: %s: the store stayed locked by another csbm "
            "process for %d s; try again", self->path, what,
            MAILBOX_BUSY_TIMEOUT_MS / 1000);
    else
        errbuf_set(err, "%s: %s: %s", self->path, what,
            sqlite3_errmsg(self->db));
}

static int
s_exec(mailbox_t *self, const char *sql, errbuf_t *err)
{
    char *msg = NULL;

    if (sqlite3_exec(self->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        errbuf_set(err, "%s: %s", self->path,
            msg ? msg : sqlite3_errmsg(self->db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

static int
s_begin(mailbox_t *self, errbuf_t *err)
{
    if (sqlite3_exec(self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)
        != SQLITE_OK) {
        s_db_error(self, err, "cannot start a transaction");
        return -1;
    }
    return 0;
}

static int
s_commit(mailbox_t *self, errbuf_t *err)
{
    if (sqlite3_exec(self->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        s_db_error(self, err, "cannot commit");
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

static void
s_rollback(mailbox_t *self)
{
    if (!sqlite3_get_autocommit(self->db))
        sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
}

static sqlite3_stmt *
s_prepare(mailbox_t *self, const char *sql, errbuf_t *err)
{
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(self->db, sql, -1, &st, NULL) != SQLITE_OK) {
        s_db_error(self, err, "cannot prepare a query");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Run a statement that returns no rows, then finalize it. */
static int
s_step_done(mailbox_t *self, sqlite3_stmt *st, const char *what,
    errbuf_t *err)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE) {
        s_db_error(self, err, what);
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

/* Copy a TEXT column into out, truncating. */
static void
s_col_text(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, col);

    snprintf(out, cap, "%s", t ? (const char *)t : "");
}

/* Copy a BLOB column into a new buffer. Returns 0, or -1 out of memory. */
static int
s_col_blob(sqlite3_stmt *st, int col, uint8_t **out, size_t *out_len)
{
    const void *b = sqlite3_column_blob(st, col);
    int         n = sqlite3_column_bytes(st, col);

    *out = malloc(n > 0 ? (size_t)n : 1);
    if (*out == NULL)
        return -1;
    if (n > 0)
        memcpy(*out, b, (size_t)n);
    *out_len = n > 0 ? (size_t)n : 0;
    return 0;
}

static void
s_col_id(sqlite3_stmt *st, int col, uint8_t id[ENVELOPE_ID_BYTES])
{
    const void *b = sqlite3_column_blob(st, col);

    memset(id, 0, ENVELOPE_ID_BYTES);
    if (b != NULL && sqlite3_column_bytes(st, col) == ENVELOPE_ID_BYTES)
        memcpy(id, b, ENVELOPE_ID_BYTES);
}

/* meta: an integer value, or dflt if the key is absent. */
static int
s_meta_int(mailbox_t *self, const char *key, int64_t dflt, int64_t *out,
    errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self, "SELECT value FROM meta WHERE key = ?",
        err);
    int           rc;

    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        if (sqlite3_column_type(st, 0) != SQLITE_INTEGER) {
            errbuf_set(err, "%s: meta %s is not an integer; the store is "
                "damaged", self->path, key);
            sqlite3_finalize(st);
            return -1;
        }
        *out = sqlite3_column_int64(st, 0);
    } else if (rc == SQLITE_DONE) {
        *out = dflt;
    } else {
        s_db_error(self, err, "cannot read meta");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

/* meta: a text value into out ("" if absent). */
static int
s_meta_text(mailbox_t *self, const char *key, char *out, size_t cap,
    errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self, "SELECT value FROM meta WHERE key = ?",
        err);
    int           rc;

    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    out[0] = '\0';
    if (rc == SQLITE_ROW)
        s_col_text(st, 0, out, cap);
    else if (rc != SQLITE_DONE) {
        s_db_error(self, err, "cannot read meta");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int
s_meta_set_int(mailbox_t *self, const char *key, int64_t v, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self,
        "INSERT INTO meta(key, value) VALUES(?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    return s_step_done(self, st, "cannot write meta", err);
}

static int
s_meta_set_text(mailbox_t *self, const char *key, const char *v,
    errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self,
        "INSERT INTO meta(key, value) VALUES(?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
    return s_step_done(self, st, "cannot write meta", err);
}

/* Create the file 0600 before SQLite does, so the store (and its -wal and
 * -shm files, which SQLite creates with the same mode) is private. */
static int
s_create_private(const char *path, errbuf_t *err)
{
    struct stat sb;
    int         fd;

    if (lstat(path, &sb) == 0) {
        if (!S_ISREG(sb.st_mode)) {
            errbuf_set(err, "%s: not a regular file; give --data a path "
                "to a store file", path);
            return -1;
        }
        return 0;
    }
    if (errno != ENOENT) {
        errbuf_set(err, "%s: %s", path, strerror(errno));
        return -1;
    }
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) {
        errbuf_set(err, "%s: cannot create the store: %s", path,
            strerror(errno));
        return -1;
    }
    if (fd >= 0)
        close(fd);
    return 0;
}

/* Take the store for owner and federation, or check it is theirs. */
static int
s_claim(mailbox_t *self, const char *owner, const char *federation,
    errbuf_t *err)
{
    char have[64];

    if (owner != NULL) {
        if (s_meta_text(self, "owner", have, sizeof have, err) != 0)
            return -1;
        if (have[0] == '\0') {
            if (s_meta_set_text(self, "owner", owner, err) != 0)
                return -1;
        } else if (strcmp(have, owner) != 0) {
            errbuf_set(err, "%s is the store of %s, not %s; give %s its own "
                "store with --data FILE.db", self->path, have, owner, owner);
            return -1;
        }
    }
    if (federation != NULL) {
        if (s_meta_text(self, "federation", have, sizeof have, err) != 0)
            return -1;
        if (have[0] == '\0') {
            if (s_meta_set_text(self, "federation", federation, err) != 0)
                return -1;
        } else if (strcmp(have, federation) != 0) {
            errbuf_set(err, "%s belongs to federation \"%s\", not \"%s\"",
                self->path, have, federation);
            return -1;
        }
    }
    if (s_meta_text(self, "owner", self->owner, sizeof self->owner, err) != 0
        || s_meta_text(self, "federation", self->federation,
               sizeof self->federation, err) != 0)
        return -1;
    return 0;
}

/* ------------------------------------------------------- open / close --- */

mailbox_t *
mailbox_open(const char *path, const char *owner, const char *federation,
    errbuf_t *err)
{
    mailbox_t *self;
    int64_t    version = 0;

    if (path == NULL || path[0] == '\0') {
        errbuf_set(err, "no store file: pass --data FILE.db or set "
            "CSBM_DATA");
        return NULL;
    }
    if (s_create_private(path, err) != 0)
        return NULL;
    if ((self = calloc(1, sizeof *self)) == NULL
        || (self->path = strdup(path)) == NULL) {
        free(self);
        errbuf_set(err, "out of memory");
        return NULL;
    }
    if (sqlite3_open_v2(path, &self->db,
            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
            NULL) != SQLITE_OK) {
        errbuf_set(err, "%s: cannot open the store: %s", path,
            self->db ? sqlite3_errmsg(self->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(self->db, MAILBOX_BUSY_TIMEOUT_MS);
    sqlite3_extended_result_codes(self->db, 0);
    /* WAL lets the daemon read while a verb writes; FULL syncs the WAL at
     * every commit, so a committed outbox row survives a power cut. */
    if (s_exec(self, "PRAGMA journal_mode = WAL", err) != 0
        || s_exec(self, "PRAGMA synchronous = FULL", err) != 0
        || s_exec(self, "PRAGMA foreign_keys = ON", err) != 0
        || s_exec(self, "PRAGMA trusted_schema = OFF", err) != 0)
        goto fail;
    if (s_begin(self, err) != 0)
        goto fail;
    if (s_exec(self, s_schema, err) != 0
        || s_meta_int(self, "schema_version", 0, &version, err) != 0)
        goto fail_tx;
    if (version == 1) {
        /* The one migration: receipts gain their inclusion proofs. */
        if (s_exec(self, "ALTER TABLE outbox ADD COLUMN inclusion BLOB", err)
                != 0
            || s_meta_set_int(self, "schema_version", MAILBOX_SCHEMA_VERSION,
                   err) != 0)
            goto fail_tx;
    } else if (version == 0) {
        if (s_meta_set_int(self, "schema_version", MAILBOX_SCHEMA_VERSION,
                err) != 0)
            goto fail_tx;
    } else if (version != MAILBOX_SCHEMA_VERSION) {
        errbuf_set(err, "%s: store schema version %lld, this csbm knows "
            "version %d; use a matching csbm", path, (long long)version,
            MAILBOX_SCHEMA_VERSION);
        goto fail_tx;
    }
    if (s_claim(self, owner, federation, err) != 0)
        goto fail_tx;
    if (s_commit(self, err) != 0)
        goto fail;
    return self;
fail_tx:
    s_rollback(self);
fail:
    mailbox_destroy(&self);
    return NULL;
}

void
mailbox_destroy(mailbox_t **self_p)
{
    mailbox_t *self;

    if (self_p == NULL || *self_p == NULL)
        return;
    self = *self_p;
    if (self->db != NULL)
        sqlite3_close_v2(self->db);
    free(self->path);
    free(self);
    *self_p = NULL;
}

const char *
mailbox_owner(const mailbox_t *self)
{
    return self->owner;
}

const char *
mailbox_status_name(mailbox_status_t status)
{
    switch (status) {
    case MAILBOX_PENDING: return "pending";
    case MAILBOX_DELIVERED: return "delivered";
    case MAILBOX_REJECTED: return "rejected";
    default: return "unknown";
    }
}

static mailbox_status_t
s_status_parse(const char *s)
{
    if (strcmp(s, "delivered") == 0)
        return MAILBOX_DELIVERED;
    if (strcmp(s, "rejected") == 0)
        return MAILBOX_REJECTED;
    return MAILBOX_PENDING;
}

/* ------------------------------------------------------------- outbox --- */

int64_t
mailbox_backoff(uint32_t attempts)
{
    int64_t delay = MAILBOX_BACKOFF_BASE_S;
    uint32_t i;

    for (i = 1; i < attempts && delay < MAILBOX_BACKOFF_MAX_S; i++)
        delay *= 2;
    if (delay > MAILBOX_BACKOFF_MAX_S)
        delay = MAILBOX_BACKOFF_MAX_S;
    if (sodium_init() < 0)
        return delay;
    return delay + (int64_t)randombytes_uniform((uint32_t)(delay / 4) + 1);
}

/* Join the header's recipient ids with commas. */
static int
s_join_recipients(const Csbm__EnvelopeHeader *h, char *out, size_t cap,
    errbuf_t *err)
{
    size_t used = 0, i, n;

    out[0] = '\0';
    for (i = 0; i < h->n_recipients; i++) {
        n = strlen(h->recipients[i]->id);
        if (used + n + 2 > cap) {
            errbuf_set(err, "too many recipients to record");
            return -1;
        }
        if (i > 0)
            out[used++] = ',';
        memcpy(out + used, h->recipients[i]->id, n);
        used += n;
        out[used] = '\0';
    }
    return 0;
}

int
mailbox_outbox_add(mailbox_t *self, mailbox_seal_fn seal, void *ctx,
    mailbox_outbox_entry_t *out, errbuf_t *err)
{
    mailbox_outbox_entry_t      e;
    const Csbm__EnvelopeHeader *h;
    sqlite3_stmt               *st;
    envelope_t                 *parsed = NULL;
    uint8_t                    *env = NULL;
    size_t                      env_len = 0;
    int64_t                     last = 0, max_seq = 0;

    if (self->owner[0] == '\0') {
        errbuf_set(err, "%s: the store was opened without an identity; "
            "cannot queue packages in it", self->path);
        return -1;
    }
    memset(&e, 0, sizeof e);
    if (s_begin(self, err) != 0)
        return -1;
    if (s_meta_int(self, "last_sequence", 0, &last, err) != 0)
        goto fail;
    st = s_prepare(self, "SELECT coalesce(max(sequence), 0) FROM outbox",
        err);
    if (st == NULL)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW)
        max_seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    /* Never reuse a number, even if meta were edited by hand. */
    e.sequence = (uint64_t)(last > max_seq ? last : max_seq) + 1;
    if (seal(e.sequence, ctx, &env, &env_len, err) != 0)
        goto fail;
    if ((parsed = envelope_parse(env, env_len, err)) == NULL) {
        errbuf_prefix(err, "the sealed package does not parse");
        goto fail;
    }
    h = envelope_header(parsed);
    if (strcmp(h->sender, self->owner) != 0
        || strcmp(h->federation, self->federation) != 0
        || h->sequence != e.sequence
        || h->package_id.len != ENVELOPE_ID_BYTES) {
        errbuf_set(err, "the sealed package (from %s in \"%s\", sequence "
            "%llu) does not match the store (%s in \"%s\", sequence %llu)",
            h->sender, h->federation, (unsigned long long)h->sequence,
            self->owner, self->federation, (unsigned long long)e.sequence);
        goto fail;
    }
    memcpy(e.package_id, h->package_id.data, ENVELOPE_ID_BYTES);
    e.package_type = (int)h->package_type;
    e.created_at = (int64_t)h->created_at;
    e.status = MAILBOX_PENDING;
    e.envelope_len = env_len;
    if (s_join_recipients(h, e.recipients, sizeof e.recipients, err) != 0)
        goto fail;
    st = s_prepare(self,
        "INSERT INTO outbox(package_id, sequence, package_type, recipients, "
        "created_at, envelope, status) VALUES(?, ?, ?, ?, ?, ?, 'pending')",
        err);
    if (st == NULL)
        goto fail;
    sqlite3_bind_blob(st, 1, e.package_id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)e.sequence);
    sqlite3_bind_int(st, 3, e.package_type);
    sqlite3_bind_text(st, 4, e.recipients, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, e.created_at);
    sqlite3_bind_blob64(st, 6, env, env_len, SQLITE_STATIC);
    if (s_step_done(self, st, "cannot store the package in the outbox", err)
        != 0)
        goto fail;
    if (s_meta_set_int(self, "last_sequence", (int64_t)e.sequence, err) != 0)
        goto fail;
    if (s_commit(self, err) != 0)
        goto fail_done;
    envelope_destroy(&parsed);
    free(env);
    if (out != NULL)
        *out = e;
    return 0;
fail:
    s_rollback(self);
fail_done:
    envelope_destroy(&parsed);
    free(env);
    return -1;
}

/* Fill e from a row of OUTBOX_COLUMNS, and copy the envelope if asked. */
static int
s_outbox_row(sqlite3_stmt *st, mailbox_outbox_entry_t *e, uint8_t **env,
    size_t *env_len, errbuf_t *err)
{
    char status[16];

    memset(e, 0, sizeof *e);
    s_col_id(st, 0, e->package_id);
    e->sequence = (uint64_t)sqlite3_column_int64(st, 1);
    e->package_type = sqlite3_column_int(st, 2);
    s_col_text(st, 3, e->recipients, sizeof e->recipients);
    e->created_at = sqlite3_column_int64(st, 4);
    s_col_text(st, 5, status, sizeof status);
    e->status = s_status_parse(status);
    e->attempts = (uint32_t)sqlite3_column_int64(st, 6);
    e->next_attempt_at = sqlite3_column_int64(st, 7);
    s_col_text(st, 8, e->last_error, sizeof e->last_error);
    e->reason = sqlite3_column_int(st, 9);
    e->position = (uint64_t)sqlite3_column_int64(st, 10);
    e->accepted_at = sqlite3_column_int64(st, 11);
    e->envelope_len = (size_t)sqlite3_column_int64(st, 12);
    if (env != NULL && s_col_blob(st, 13, env, env_len) != 0) {
        errbuf_set(err, "out of memory");
        return -1;
    }
    return 0;
}

/* Step a query over OUTBOX_COLUMNS for one row: 1, 0 or -1. */
static int
s_outbox_one(mailbox_t *self, sqlite3_stmt *st, mailbox_outbox_entry_t *out,
    uint8_t **env, size_t *env_len, errbuf_t *err)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        s_db_error(self, err, "cannot read the outbox");
        sqlite3_finalize(st);
        return -1;
    }
    rc = s_outbox_row(st, out, env, env_len, err);
    sqlite3_finalize(st);
    return rc == 0 ? 1 : -1;
}

int
mailbox_outbox_next(mailbox_t *self, uint64_t after_sequence, int64_t due_by,
    mailbox_outbox_entry_t *out, uint8_t **env, size_t *env_len,
    errbuf_t *err)
{
    /* The envelope is selected only when wanted: a listing must not read
     * megabytes per row. */
    sqlite3_stmt *st = s_prepare(self, env != NULL
        ? "SELECT " OUTBOX_COLUMNS ", envelope FROM outbox WHERE "
          "status = 'pending' AND sequence > ? AND next_attempt_at <= ? "
          "ORDER BY sequence LIMIT 1"
        : "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE "
          "status = 'pending' AND sequence > ? AND next_attempt_at <= ? "
          "ORDER BY sequence LIMIT 1", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)after_sequence);
    sqlite3_bind_int64(st, 2, due_by);
    return s_outbox_one(self, st, out, env, env_len, err);
}

int
mailbox_outbox_get(mailbox_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    mailbox_outbox_entry_t *out, uint8_t **env, size_t *env_len,
    errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self, env != NULL
        ? "SELECT " OUTBOX_COLUMNS ", envelope FROM outbox WHERE package_id = ?"
        : "SELECT " OUTBOX_COLUMNS " FROM outbox WHERE package_id = ?", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    return s_outbox_one(self, st, out, env, env_len, err);
}

int
mailbox_outbox_statement(mailbox_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    uint8_t **out, size_t *out_len, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self,
        "SELECT coalesce(receipt, rejection) FROM outbox "
        "WHERE package_id = ?", err);
    int rc;

    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB) {
        rc = s_col_blob(st, 0, out, out_len) == 0 ? 1 : -1;
        if (rc < 0)
            errbuf_set(err, "out of memory");
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        rc = 0;
    } else {
        s_db_error(self, err, "cannot read the outbox");
        rc = -1;
    }
    sqlite3_finalize(st);
    return rc;
}

int
mailbox_outbox_failed(mailbox_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    int64_t now, const char *error, errbuf_t *err)
{
    sqlite3_stmt *st;
    int64_t       attempts = 0;
    int           rc;

    if (s_begin(self, err) != 0)
        return -1;
    if ((st = s_prepare(self, "SELECT attempts FROM outbox WHERE "
             "package_id = ? AND status = 'pending'", err)) == NULL)
        goto fail;
    sqlite3_bind_blob(st, 1, id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        attempts = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) { /* delivered meanwhile, or unknown: nothing */
        s_rollback(self);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        s_db_error(self, err, "cannot read the outbox");
        goto fail;
    }
    if (attempts < 0 || attempts >= UINT32_MAX - 1)
        attempts = UINT32_MAX - 2;
    if ((st = s_prepare(self, "UPDATE outbox SET attempts = ?, "
             "next_attempt_at = ?, last_error = ? WHERE package_id = ? "
             "AND status = 'pending'", err)) == NULL)
        goto fail;
    sqlite3_bind_int64(st, 1, attempts + 1);
    sqlite3_bind_int64(st, 2, now + mailbox_backoff((uint32_t)attempts + 1));
    sqlite3_bind_text(st, 3, error ? error : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 4, id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    if (s_step_done(self, st, "cannot update the outbox", err) != 0)
        goto fail;
    return s_commit(self, err);
fail:
    s_rollback(self);
    return -1;
}

int
mailbox_outbox_delivered(mailbox_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    const uint8_t *receipt, size_t receipt_len, uint64_t position,
    int64_t accepted_at, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self,
        "UPDATE outbox SET status = 'delivered', receipt = ?, position = ?, "
        "accepted_at = ?, last_error = NULL, next_attempt_at = 0 "
        "WHERE package_id = ? AND status != 'rejected'", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_blob64(st, 1, receipt, receipt_len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)position);
    sqlite3_bind_int64(st, 3, accepted_at);
    sqlite3_bind_blob(st, 4, id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    return s_step_done(self, st, "cannot store the receipt", err);
}

int
mailbox_outbox_rejected(mailbox_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    const uint8_t *rejection, size_t rejection_len, int reason,
    const char *message, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self,
        "UPDATE outbox SET status = 'rejected', rejection = ?, reason = ?, "
        "last_error = ?, next_attempt_at = 0 "
        "WHERE package_id = ? AND status != 'delivered'", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_blob64(st, 1, rejection, rejection_len, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, reason);
    sqlite3_bind_text(st, 3, message ? message : "", -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 4, id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    return s_step_done(self, st, "cannot store the rejection", err);
}

int
mailbox_outbox_foreach(mailbox_t *self,
    int (*fn)(const mailbox_outbox_entry_t *e, void *ctx), void *ctx,
    errbuf_t *err)
{
    mailbox_outbox_entry_t e;
    sqlite3_stmt          *st;
    int                    rc;

    if ((st = s_prepare(self, "SELECT " OUTBOX_COLUMNS " FROM outbox "
             "ORDER BY sequence", err)) == NULL)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (s_outbox_row(st, &e, NULL, NULL, err) != 0) {
            sqlite3_finalize(st);
            return -1;
        }
        if (fn(&e, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        s_db_error(self, err, "cannot read the outbox");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

static int64_t
s_count(mailbox_t *self, const char *sql, const char *arg, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self, sql, err);
    int64_t       n = -1;

    if (st == NULL)
        return -1;
    if (arg != NULL)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    else
        s_db_error(self, err, "cannot count rows");
    sqlite3_finalize(st);
    return n;
}

int64_t
mailbox_outbox_count(mailbox_t *self, mailbox_status_t status, errbuf_t *err)
{
    return s_count(self, "SELECT count(*) FROM outbox WHERE status = ?",
        mailbox_status_name(status), err);
}

/* -------------------------------------------------------------- inbox --- */

int
mailbox_cursor(mailbox_t *self, uint64_t *cursor, errbuf_t *err)
{
    int64_t v = 0;

    if (s_meta_int(self, "pull_cursor", 0, &v, err) != 0)
        return -1;
    if (v < 0) {
        errbuf_set(err, "%s: negative pull cursor; the store is damaged",
            self->path);
        return -1;
    }
    *cursor = (uint64_t)v;
    return 0;
}

/* An item now accepted leaves the refused list. */
static int
s_unrefuse(mailbox_t *self, uint64_t position, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self, "DELETE FROM refused WHERE "
        "position = ?", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)position);
    return s_step_done(self, st, "cannot update the refused list", err);
}

/* Store one accepted item. *added is incremented for a new row. */
static int
s_inbox_put(mailbox_t *self, const mailbox_inbox_item_t *it, int64_t now,
    size_t *added, errbuf_t *err)
{
    sqlite3_stmt *st;
    uint8_t       have[ENVELOPE_ID_BYTES];
    int           rc;

    if (it->package_id == NULL || it->sender == NULL || it->envelope == NULL
        || it->receipt == NULL) {
        errbuf_set(err, "inbox item at position %llu lacks its package id, "
            "sender, envelope or receipt", (unsigned long long)it->position);
        return -1;
    }
    if ((st = s_prepare(self, "SELECT package_id FROM inbox WHERE "
             "position = ?", err)) == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)it->position);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        s_col_id(st, 0, have);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) {
        char a[33], b[33];
        if (memcmp(have, it->package_id, ENVELOPE_ID_BYTES) == 0)
            return s_unrefuse(self, it->position, err);
        envelope_id_hex(have, a);
        envelope_id_hex(it->package_id, b);
        errbuf_set(err, "archive position %llu already holds package %s in "
            "this inbox, but the hub now sends %s there; the hub's archive "
            "has changed: report it to the operator",
            (unsigned long long)it->position, a, b);
        return -1;
    }
    if (rc != SQLITE_DONE) {
        s_db_error(self, err, "cannot read the inbox");
        return -1;
    }
    if ((st = s_prepare(self,
             "INSERT INTO inbox(position, package_id, sender, package_type, "
             "year, created_at, received_at, envelope, receipt, opened) "
             "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, 0) "
             "ON CONFLICT(package_id) DO NOTHING", err)) == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)it->position);
    sqlite3_bind_blob(st, 2, it->package_id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, it->sender, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 4, it->package_type);
    sqlite3_bind_int64(st, 5, it->year);
    sqlite3_bind_int64(st, 6, it->created_at);
    sqlite3_bind_int64(st, 7, now);
    sqlite3_bind_blob64(st, 8, it->envelope, it->envelope_len, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 9, it->receipt, it->receipt_len, SQLITE_STATIC);
    if (s_step_done(self, st, "cannot store in the inbox", err) != 0)
        return -1;
    *added += (size_t)sqlite3_changes(self->db);
    return s_unrefuse(self, it->position, err);
}

static int
s_refused_put(mailbox_t *self, const mailbox_inbox_item_t *it, int64_t now,
    errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self,
        "INSERT INTO refused(position, package_id, sender, reason, "
        "refused_at, envelope, receipt) VALUES(?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(position) DO UPDATE SET reason = excluded.reason, "
        "refused_at = excluded.refused_at", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)it->position);
    if (it->package_id != NULL)
        sqlite3_bind_blob(st, 2, it->package_id, ENVELOPE_ID_BYTES,
            SQLITE_STATIC);
    if (it->sender != NULL)
        sqlite3_bind_text(st, 3, it->sender, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, it->refused, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    if (it->envelope != NULL)
        sqlite3_bind_blob64(st, 6, it->envelope, it->envelope_len,
            SQLITE_STATIC);
    if (it->receipt != NULL)
        sqlite3_bind_blob64(st, 7, it->receipt, it->receipt_len,
            SQLITE_STATIC);
    return s_step_done(self, st, "cannot record a refused item", err);
}

int
mailbox_inbox_commit(mailbox_t *self, const mailbox_inbox_item_t *items,
    size_t n, uint64_t new_cursor, int64_t now, size_t *added, errbuf_t *err)
{
    uint64_t cursor = 0;
    size_t   count = 0, i;

    if (added != NULL)
        *added = 0;
    if (new_cursor > INT64_MAX) {
        errbuf_set(err, "pull cursor %llu is out of range",
            (unsigned long long)new_cursor);
        return -1;
    }
    if (s_begin(self, err) != 0)
        return -1;
    if (mailbox_cursor(self, &cursor, err) != 0)
        goto fail;
    if (new_cursor < cursor) {
        errbuf_set(err, "the hub moved the pull cursor back from %llu to "
            "%llu; refusing to go back", (unsigned long long)cursor,
            (unsigned long long)new_cursor);
        goto fail;
    }
    for (i = 0; i < n; i++) {
        const mailbox_inbox_item_t *it = &items[i];
        if (it->position <= cursor || it->position > new_cursor) {
            errbuf_set(err, "item at position %llu is outside the page "
                "(%llu, %llu]", (unsigned long long)it->position,
                (unsigned long long)cursor, (unsigned long long)new_cursor);
            goto fail;
        }
        if (it->refused != NULL) {
            if (s_refused_put(self, it, now, err) != 0)
                goto fail;
        } else if (s_inbox_put(self, it, now, &count, err) != 0) {
            goto fail;
        }
    }
    if (s_meta_set_int(self, "pull_cursor", (int64_t)new_cursor, err) != 0)
        goto fail;
    if (s_commit(self, err) != 0)
        return -1;
    if (added != NULL)
        *added = count;
    return 0;
fail:
    s_rollback(self);
    return -1;
}

static int
s_inbox_row(sqlite3_stmt *st, mailbox_inbox_entry_t *e)
{
    memset(e, 0, sizeof *e);
    e->position = (uint64_t)sqlite3_column_int64(st, 0);
    s_col_id(st, 1, e->package_id);
    s_col_text(st, 2, e->sender, sizeof e->sender);
    e->package_type = sqlite3_column_int(st, 3);
    e->year = (uint32_t)sqlite3_column_int64(st, 4);
    e->created_at = sqlite3_column_int64(st, 5);
    e->received_at = sqlite3_column_int64(st, 6);
    e->opened = sqlite3_column_int(st, 7) != 0;
    e->envelope_len = (size_t)sqlite3_column_int64(st, 8);
    return 0;
}

int
mailbox_inbox_foreach(mailbox_t *self,
    int (*fn)(const mailbox_inbox_entry_t *e, void *ctx), void *ctx,
    errbuf_t *err)
{
    mailbox_inbox_entry_t e;
    sqlite3_stmt         *st;
    int                   rc;

    if ((st = s_prepare(self, "SELECT " INBOX_COLUMNS " FROM inbox "
             "ORDER BY position", err)) == NULL)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        s_inbox_row(st, &e);
        if (fn(&e, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        s_db_error(self, err, "cannot read the inbox");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

int
mailbox_inbox_find(mailbox_t *self, const char *hex_id,
    mailbox_inbox_entry_t *out, uint8_t **env, size_t *env_len,
    uint8_t **receipt, size_t *receipt_len, errbuf_t *err)
{
    char          prefix[2 * ENVELOPE_ID_BYTES + 1];
    size_t        n = strlen(hex_id), i;
    sqlite3_stmt *st;
    int           rc;

    if (n < MAILBOX_MIN_PREFIX || n > 2 * ENVELOPE_ID_BYTES) {
        errbuf_set(err, "\"%s\": give a package id (32 hex digits) or at "
            "least its first %d digits", hex_id, MAILBOX_MIN_PREFIX);
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)hex_id[i])) {
            errbuf_set(err, "\"%s\": a package id has only hex digits",
                hex_id);
            return -1;
        }
        prefix[i] = (char)toupper((unsigned char)hex_id[i]);
    }
    prefix[n] = '\0';
    st = s_prepare(self, "SELECT " INBOX_COLUMNS ", envelope, receipt FROM "
        "inbox WHERE substr(hex(package_id), 1, ?) = ? LIMIT 2", err);
    if (st == NULL)
        return -1;
    sqlite3_bind_int(st, 1, (int)n);
    sqlite3_bind_text(st, 2, prefix, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        return 0;
    }
    if (rc != SQLITE_ROW) {
        s_db_error(self, err, "cannot read the inbox");
        sqlite3_finalize(st);
        return -1;
    }
    s_inbox_row(st, out);
    if (env != NULL && s_col_blob(st, 9, env, env_len) != 0) {
        errbuf_set(err, "out of memory");
        sqlite3_finalize(st);
        return -1;
    }
    if (receipt != NULL && s_col_blob(st, 10, receipt, receipt_len) != 0) {
        errbuf_set(err, "out of memory");
        if (env != NULL) {
            free(*env);
            *env = NULL;
        }
        sqlite3_finalize(st);
        return -1;
    }
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) {
        if (env != NULL) {
            free(*env);
            *env = NULL;
        }
        if (receipt != NULL) {
            free(*receipt);
            *receipt = NULL;
        }
        errbuf_set(err, "\"%s\" matches more than one package; give more "
            "digits", hex_id);
        return -1;
    }
    return 1;
}

int
mailbox_inbox_mark_opened(mailbox_t *self,
    const uint8_t id[ENVELOPE_ID_BYTES], errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self,
        "UPDATE inbox SET opened = 1 WHERE package_id = ?", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    return s_step_done(self, st, "cannot update the inbox", err);
}

int64_t
mailbox_inbox_count(mailbox_t *self, errbuf_t *err)
{
    return s_count(self, "SELECT count(*) FROM inbox", NULL, err);
}

int
mailbox_refused_foreach(mailbox_t *self,
    int (*fn)(const mailbox_refused_entry_t *e, void *ctx), void *ctx,
    errbuf_t *err)
{
    mailbox_refused_entry_t e;
    sqlite3_stmt           *st;
    int                     rc;

    if ((st = s_prepare(self, "SELECT position, package_id, sender, reason, "
             "refused_at FROM refused ORDER BY position", err)) == NULL)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&e, 0, sizeof e);
        e.position = (uint64_t)sqlite3_column_int64(st, 0);
        s_col_id(st, 1, e.package_id);
        s_col_text(st, 2, e.sender, sizeof e.sender);
        s_col_text(st, 3, e.reason, sizeof e.reason);
        e.refused_at = sqlite3_column_int64(st, 4);
        if (fn(&e, ctx) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) {
        s_db_error(self, err, "cannot read the refused items");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

int64_t
mailbox_refused_count(mailbox_t *self, errbuf_t *err)
{
    return s_count(self, "SELECT count(*) FROM refused", NULL, err);
}

int
mailbox_refused_rewind(mailbox_t *self, uint64_t *from, errbuf_t *err)
{
    sqlite3_stmt *st;
    int64_t       first = 0;
    int           rc;

    *from = 0;
    if (s_begin(self, err) != 0)
        return -1;
    if ((st = s_prepare(self, "SELECT min(position) FROM refused", err))
        == NULL)
        goto fail;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_INTEGER)
        first = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        s_db_error(self, err, "cannot read the refused items");
        goto fail;
    }
    if (first <= 0) {
        s_rollback(self);
        return 0;
    }
    if (s_meta_set_int(self, "pull_cursor", first - 1, err) != 0)
        goto fail;
    if (s_commit(self, err) != 0)
        return -1;
    *from = (uint64_t)(first - 1);
    return 1;
fail:
    s_rollback(self);
    return -1;
}

/* ---------------------------------------------------------------- log --- */

int
mailbox_outbox_set_inclusion(mailbox_t *self,
    const uint8_t id[ENVELOPE_ID_BYTES], const uint8_t *inclusion, size_t len,
    errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self,
        "UPDATE outbox SET inclusion = ? WHERE package_id = ?", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_blob64(st, 1, inclusion, len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    return s_step_done(self, st, "cannot store the inclusion proof", err);
}

int
mailbox_outbox_receipt_parts(mailbox_t *self,
    const uint8_t id[ENVELOPE_ID_BYTES], uint8_t **receipt,
    size_t *receipt_len, uint8_t **inclusion, size_t *inclusion_len,
    errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self, "SELECT receipt, inclusion FROM outbox "
        "WHERE package_id = ?", err);
    int rc;

    *receipt = *inclusion = NULL;
    *receipt_len = *inclusion_len = 0;
    if (st == NULL)
        return -1;
    sqlite3_bind_blob(st, 1, id, ENVELOPE_ID_BYTES, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_BLOB
        && sqlite3_column_type(st, 1) == SQLITE_BLOB) {
        rc = s_col_blob(st, 0, receipt, receipt_len) == 0
                && s_col_blob(st, 1, inclusion, inclusion_len) == 0
            ? 1
            : -1;
        if (rc < 0) {
            free(*receipt);
            *receipt = NULL;
            errbuf_set(err, "out of memory");
        }
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        rc = 0;
    } else {
        s_db_error(self, err, "cannot read the outbox");
        rc = -1;
    }
    sqlite3_finalize(st);
    return rc;
}

int
mailbox_head_latest(mailbox_t *self, uint8_t **signed_head, size_t *len,
    errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self, "SELECT signed FROM log_heads "
        "ORDER BY size DESC LIMIT 1", err);
    int rc;

    *signed_head = NULL;
    *len = 0;
    if (st == NULL)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        rc = s_col_blob(st, 0, signed_head, len) == 0 ? 1 : -1;
        if (rc < 0)
            errbuf_set(err, "out of memory");
    } else if (rc == SQLITE_DONE) {
        rc = 0;
    } else {
        s_db_error(self, err, "cannot read the tree heads");
        rc = -1;
    }
    sqlite3_finalize(st);
    return rc;
}

int
mailbox_head_put(mailbox_t *self, uint64_t size, int64_t timestamp,
    const uint8_t root[32], const uint8_t *signed_head, size_t len,
    int64_t now, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self, "INSERT OR IGNORE INTO log_heads(size, "
        "timestamp, root, signed, verified_at) VALUES(?, ?, ?, ?, ?)", err);

    if (st == NULL)
        return -1;
    if (size == 0 || size > (uint64_t)INT64_MAX) {
        sqlite3_finalize(st);
        return 0; /* the empty tree is nothing to remember */
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    sqlite3_bind_int64(st, 2, timestamp);
    sqlite3_bind_blob(st, 3, root, 32, SQLITE_STATIC);
    sqlite3_bind_blob64(st, 4, signed_head, len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    return s_step_done(self, st, "cannot store the tree head", err);
}

int
mailbox_evidence_add(mailbox_t *self, int64_t now, const char *what,
    const uint8_t *old_head, size_t old_len, const uint8_t *new_head,
    size_t new_len, const uint8_t *proof, size_t proof_len, errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self, "INSERT INTO log_evidence(found_at, "
        "what, old_head, new_head, proof) VALUES(?, ?, ?, ?, ?)", err);

    if (st == NULL)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, what, -1, SQLITE_TRANSIENT);
    if (old_head != NULL)
        sqlite3_bind_blob64(st, 3, old_head, old_len, SQLITE_STATIC);
    if (new_head != NULL)
        sqlite3_bind_blob64(st, 4, new_head, new_len, SQLITE_STATIC);
    if (proof != NULL)
        sqlite3_bind_blob64(st, 5, proof, proof_len, SQLITE_STATIC);
    return s_step_done(self, st, "cannot store the evidence", err);
}

int
mailbox_evidence_foreach(mailbox_t *self,
    int (*fn)(const mailbox_evidence_t *e, void *ctx), void *ctx,
    errbuf_t *err)
{
    sqlite3_stmt *st = s_prepare(self, "SELECT id, found_at, what, "
        "old_head, new_head, proof FROM log_evidence ORDER BY id", err);
    int rc;

    if (st == NULL)
        return -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        mailbox_evidence_t e;
        memset(&e, 0, sizeof e);
        e.id = sqlite3_column_int64(st, 0);
        e.found_at = sqlite3_column_int64(st, 1);
        s_col_text(st, 2, e.what, sizeof e.what);
        e.old_head = sqlite3_column_blob(st, 3);
        e.old_len = (size_t)sqlite3_column_bytes(st, 3);
        e.new_head = sqlite3_column_blob(st, 4);
        e.new_len = (size_t)sqlite3_column_bytes(st, 4);
        e.proof = sqlite3_column_blob(st, 5);
        e.proof_len = (size_t)sqlite3_column_bytes(st, 5);
        if (fn(&e, ctx) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        s_db_error(self, err, "cannot read the evidence");
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    return 0;
}

int64_t
mailbox_evidence_count(mailbox_t *self, errbuf_t *err)
{
    return s_count(self, "SELECT count(*) FROM log_evidence", NULL, err);
}
