/*
 * archive: the hub's SQLite store (see archive.h).
 *
 * Schema (version 2; version 1 had no log and is refused):
 *
 *   meta(key TEXT PRIMARY KEY, value)
 *       schema_version  2
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
 *           log_index INTEGER                 its leaf in the log (0-based)
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
 *   log(idx INTEGER PRIMARY KEY              leaf index, 0, 1, 2, ...
 *       kind INTEGER                         1 package, 2 pull served
 *       position INTEGER                     archive position (kind 1)
 *       at INTEGER                           Unix seconds, hub clock
 *       entry BLOB                           the leaf entry (treehead.h)
 *       leaf_hash BLOB)                      SHA-256(0x00 || entry)
 *
 *   log_node(level, idx, hash)  root of every perfect subtree of 2^level
 *       leaves (level >= 1) covering [idx << level, (idx + 1) << level),
 *       stored when it completes: proofs are O(log^2 n) lookups
 *
 *   heads(size INTEGER PRIMARY KEY, timestamp, root, signed)  one signed
 *       tree head per batch that added leaves (signed: csbm.Signed over
 *       the STH bytes); timestamps never decrease
 *
 *   cosignatures(size, witness, key_id, signature, at)  members'
 *       verified cosignatures of the head of that size
 *
 * The Merkle log: the leaves are the packages and the pulls in the order
 * the hub took them; archive_append and archive_log_pull add a leaf (and
 * the subtree roots it completes) and archive_commit signs the new tree
 * head, all in the transaction of the rows they cover. The frontier is
 * kept in memory and rebuilt from log_node at open, where it is checked
 * against the newest signed head.
 */
#include "node/archive.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto/receipt.h"
#include "crypto/treehead.h"

#define S_BUSY_TIMEOUT_MS 10000
#define S_CACHE_KIB       "65536" /* page cache of one connection, KiB */
#define S_CKPT_FRAMES     1000  /* archive_checkpoint copies from here on */
#define S_WAL_RESTART_FRAMES 8192 /* archive_log_restart past 32 MiB */
#define S_ROOT_CACHE      16384 /* range roots kept for proofs (a power of 2) */

/* A range root of the log, [start, end). The log only grows, so a root
 * over leaves that exist never changes; the cache is emptied when a
 * rollback takes leaves back. Proofs for the packages of one batch share
 * most of their ranges: with it they cost O(log n) reads, not O(log^2 n). */
typedef struct {
    uint64_t start, end; /* end 0: empty slot */
    uint8_t  hash[MERKLE_HASH_BYTES];
} s_root_slot_t;

enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_INSERT,
    S_INSERT_RCPT,
    S_BY_ID,
    S_BY_SEQ,
    S_PAGE,
    S_EVENT,
    S_LOG_INSERT,
    S_NODE_INSERT,
    S_LEAF_GET,
    S_NODE_GET,
    S_HEAD_INSERT,
    S_HEAD_LATEST,
    S_HEAD_GET,
    S_COSIG_PUT,
    S_COSIG_COUNT,
    S_COSIG_LIST,
    S_COSIG_SIZES,
    S_COSIG_SINCE,
    S_COUNT_STMTS
};

static const char *const s_sql[S_COUNT_STMTS] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_INSERT] = "INSERT INTO archive(package_id, sender, sequence, "
                 "package_type, year, created_at, accepted_at, envelope, "
                 "envelope_hash, log_index, receipt) "
                 "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [S_INSERT_RCPT] = "INSERT OR IGNORE INTO recipients(position, recipient) "
                      "VALUES(?, ?)",
    [S_BY_ID] = "SELECT position, package_id, sender, sequence, "
                "envelope_hash, accepted_at, receipt, log_index FROM archive "
                "WHERE package_id = ?",
    [S_BY_SEQ] = "SELECT position, package_id, sender, sequence, "
                 "envelope_hash, accepted_at, receipt, log_index FROM archive "
                 "WHERE sender = ? AND sequence = ?",
    [S_PAGE] = "SELECT a.position, length(a.envelope) + "
               "coalesce(length(a.receipt), 0), a.envelope, a.receipt, "
               "a.log_index "
               "FROM recipients r JOIN archive a ON a.position = r.position "
               "WHERE r.recipient = ? AND r.position > ? "
               "ORDER BY r.position LIMIT ?",
    [S_EVENT] = "INSERT INTO events(at, kind, state, package_id, reason, "
                "detail) VALUES(?, ?, ?, ?, ?, ?)",
    [S_LOG_INSERT] = "INSERT INTO log(idx, kind, position, at, entry, "
                     "leaf_hash) VALUES(?, ?, ?, ?, ?, ?)",
    [S_NODE_INSERT] = "INSERT INTO log_node(level, idx, hash) VALUES(?, ?, ?)",
    [S_LEAF_GET] = "SELECT leaf_hash FROM log WHERE idx = ?",
    [S_NODE_GET] = "SELECT hash FROM log_node WHERE level = ? AND idx = ?",
    [S_HEAD_INSERT] = "INSERT INTO heads(size, timestamp, root, signed) "
                      "VALUES(?, ?, ?, ?)",
    [S_HEAD_LATEST] = "SELECT size, timestamp, root, signed FROM heads "
                      "ORDER BY size DESC LIMIT 1",
    [S_HEAD_GET] = "SELECT size, timestamp, root, signed FROM heads "
                   "WHERE size = ?",
    [S_COSIG_PUT] = "INSERT OR REPLACE INTO cosignatures(size, witness, "
                    "key_id, signature, at) VALUES(?, ?, ?, ?, ?)",
    [S_COSIG_COUNT] = "SELECT count(*) FROM cosignatures WHERE size = ?",
    [S_COSIG_LIST] = "SELECT witness, key_id, signature FROM cosignatures "
                     "WHERE size = ? ORDER BY witness",
    [S_COSIG_SIZES] = "SELECT DISTINCT size FROM cosignatures "
                      "ORDER BY size DESC LIMIT ?",
    [S_COSIG_SINCE] = "SELECT count(DISTINCT witness) FROM cosignatures "
                      "WHERE size >= ?",
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
    "  log_index INTEGER,"
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
    "  detail TEXT);"
    "CREATE TABLE IF NOT EXISTS log("
    "  idx INTEGER PRIMARY KEY CHECK(idx >= 0),"
    "  kind INTEGER NOT NULL CHECK(kind IN (1, 2)),"
    "  position INTEGER,"
    "  at INTEGER NOT NULL,"
    "  entry BLOB NOT NULL,"
    "  leaf_hash BLOB NOT NULL CHECK(length(leaf_hash) = 32));"
    "CREATE TABLE IF NOT EXISTS log_node("
    "  level INTEGER NOT NULL CHECK(level > 0),"
    "  idx INTEGER NOT NULL,"
    "  hash BLOB NOT NULL CHECK(length(hash) = 32),"
    "  PRIMARY KEY(level, idx)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS heads("
    "  size INTEGER PRIMARY KEY CHECK(size > 0),"
    "  timestamp INTEGER NOT NULL,"
    "  root BLOB NOT NULL CHECK(length(root) = 32),"
    "  signed BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS cosignatures("
    "  size INTEGER NOT NULL,"
    "  witness TEXT NOT NULL,"
    "  key_id BLOB NOT NULL CHECK(length(key_id) = 16),"
    "  signature BLOB NOT NULL CHECK(length(signature) = 64),"
    "  at INTEGER NOT NULL,"
    "  PRIMARY KEY(size, witness));";

struct archive {
    sqlite3      *db;
    char         *path;
    sqlite3_stmt *st[S_COUNT_STMTS];
    int           in_batch;
    uint64_t      count;       /* committed packages */
    uint64_t      batch_count; /* including the open batch */
    uint64_t      last_pos;       /* AUTOINCREMENT's counter, committed */
    uint64_t      batch_last_pos; /* including the open batch */
    char          federation[ENVELOPE_FEDERATION_MAX + 1];
    const keys_secret_t *log_key;
    merkle_frontier_t    log;       /* including the open batch */
    merkle_frontier_t    log_saved; /* as committed */
    uint64_t             head_size; /* newest signed head, with the batch */
    int64_t              head_time;
    uint64_t             head_size_saved; /* as committed */
    int64_t              head_time_saved;
    unsigned             flags;     /* ARCHIVE_OPEN_* */
    char                *wal_path;  /* "<path>-wal" */
    int                  wal_fd;    /* for archive_sync; -1 closed */
    sqlite3             *ckpt;      /* archive_checkpoint's connection */
    atomic_int           wal_frames; /* in the log after the last commit */
    int                  wal_copied; /* of them, checkpointed already */
    s_root_slot_t       *roots;     /* S_ROOT_CACHE */
};

static int s_log_load(archive_t *self, errbuf_t *err);
static int s_wal_open(archive_t *self, errbuf_t *err);

/* After each commit (on the writer's thread): how long the log is, for
 * archive_checkpoint on the flushing thread. */
static int
s_wal_hook(void *ctx, sqlite3 *db, const char *name, int frames)
{
    archive_t *self = ctx;

    (void)db;
    (void)name;
    atomic_store(&self->wal_frames, frames);
    return SQLITE_OK;
}

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
    if (found && strcmp(v, "1") == 0) {
        errbuf_set(err, "%s: archive schema version 1, from before the "
            "tamper-evident log; this hub reads version %s and cannot add a "
            "log to packages it did not take itself: keep the old file "
            "read-only with the csbm version that wrote it and start a new "
            "archive", self->path, want);
        goto fail;
    }
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
    /* AUTOINCREMENT never gives a position again, even one whose row is
     * gone: the next position follows its counter, not the count. */
    st = NULL;
    self->last_pos = self->count;
    if (sqlite3_prepare_v2(self->db, "SELECT seq FROM sqlite_sequence "
            "WHERE name = 'archive'", -1, &st, NULL) == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW
        && (uint64_t)sqlite3_column_int64(st, 0) > self->last_pos)
        self->last_pos = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    self->batch_last_pos = self->last_pos;
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
    return archive_open_flags(path, federation, 0, err);
}

archive_t *
archive_open_flags(const char *path, const char *federation, unsigned flags,
    errbuf_t *err)
{
    archive_t *self = calloc(1, sizeof *self);
    int        fd, i;

    if (self == NULL || (self->path = strdup(path)) == NULL
        || (self->roots = calloc(S_ROOT_CACHE, sizeof *self->roots))
               == NULL) {
        if (self != NULL)
            free(self->path);
        free(self);
        errbuf_set(err, "out of memory");
        return NULL;
    }
    self->flags = flags;
    self->wal_fd = -1;
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
        || s_exec(self, (flags & ARCHIVE_OPEN_DEFERRED_SYNC)
                            ? "PRAGMA synchronous=NORMAL"
                            : "PRAGMA synchronous=FULL",
               "setting synchronous", err) != 0
        /* Deferred: the checkpoints too leave the committing thread
         * (archive_sync runs them). */
        || ((flags & ARCHIVE_OPEN_DEFERRED_SYNC)
            && s_exec(self, "PRAGMA wal_autocheckpoint=0",
                   "leaving the checkpoints to archive_sync", err) != 0)
        || s_exec(self, "PRAGMA foreign_keys=ON", "enabling foreign keys",
               err) != 0
        /* The replay checks probe the package id and (sender, sequence)
         * indexes at random places: keep them in memory, not in the OS's
         * page cache behind a read() per page (the default is 2 MiB). */
        || s_exec(self, "PRAGMA cache_size=-" S_CACHE_KIB, "sizing the cache",
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
    snprintf(self->federation, sizeof self->federation, "%s", federation);
    if (s_log_load(self, err) != 0) {
        archive_destroy(&self);
        return NULL;
    }
    /* The schema is written: the write-ahead log exists. */
    if ((flags & ARCHIVE_OPEN_DEFERRED_SYNC)
        && ((self->wal_path = malloc(strlen(path) + 5)) == NULL
            || (sprintf(self->wal_path, "%s-wal", path), 0) != 0
            || s_wal_open(self, err) != 0)) {
        if (self->wal_path == NULL)
            errbuf_set(err, "out of memory");
        archive_destroy(&self);
        return NULL;
    }
    if ((flags & ARCHIVE_OPEN_DEFERRED_SYNC)
        && sqlite3_open_v2(path, &self->ckpt, SQLITE_OPEN_READWRITE
               | SQLITE_OPEN_NOFOLLOW, NULL) != SQLITE_OK) {
        errbuf_set(err, "%s: cannot open the archive for checkpoints: %s",
            path, self->ckpt ? sqlite3_errmsg(self->ckpt) : "out of memory");
        archive_destroy(&self);
        return NULL;
    }
    if (self->ckpt != NULL) {
        sqlite3_busy_timeout(self->ckpt, S_BUSY_TIMEOUT_MS);
        /* A connection checkpoints only once it has opened the log. */
        if (sqlite3_exec(self->ckpt, "PRAGMA journal_mode=WAL", NULL, NULL,
                NULL) != SQLITE_OK) {
            errbuf_set(err, "%s: cannot open the archive for checkpoints: "
                "%s", path, sqlite3_errmsg(self->ckpt));
            archive_destroy(&self);
            return NULL;
        }
        sqlite3_wal_hook(self->db, s_wal_hook, self);
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
    if (self->ckpt != NULL)
        sqlite3_close(self->ckpt);
    if (self->db != NULL)
        sqlite3_close(self->db);
    if (self->wal_fd >= 0)
        close(self->wal_fd);
    free(self->wal_path);
    free(self->path);
    free(self->roots);
    free(self);
    *self_p = NULL;
}

/* The write-ahead log as it is now: SQLite recreates it only once every
 * frame is in the database file (a checkpoint synced it), so reopening
 * when the inode changed loses nothing. */
static int
s_wal_open(archive_t *self, errbuf_t *err)
{
    struct stat now, mine;

    if (self->wal_fd >= 0 && stat(self->wal_path, &now) == 0
        && fstat(self->wal_fd, &mine) == 0 && now.st_ino == mine.st_ino
        && now.st_dev == mine.st_dev)
        return 0;
    if (self->wal_fd >= 0)
        close(self->wal_fd);
    self->wal_fd = open(self->wal_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (self->wal_fd < 0) {
        errbuf_set(err, "%s: cannot open the write-ahead log to flush it: %s",
            self->wal_path, strerror(errno));
        return -1;
    }
    return 0;
}

int
archive_sync(archive_t *self, errbuf_t *err)
{
    if (!(self->flags & ARCHIVE_OPEN_DEFERRED_SYNC))
        return 0;
    if (s_wal_open(self, err) != 0)
        return -1;
    while (fdatasync(self->wal_fd) != 0) {
        if (errno == EINTR)
            continue;
        errbuf_set(err, "%s: flushing the write-ahead log failed: %s; what "
            "was committed since the last flush may not be on disk",
            self->wal_path, strerror(errno));
        return -1;
    }
    return 0;
}

void
archive_checkpoint(archive_t *self)
{
    int frames = 0, copied = 0, now;

    /* Past S_CKPT_FRAMES new frames (SQLite's own default), copy what the
     * log holds into the database file: a passive checkpoint, which never
     * waits for the writer nor makes it wait. It syncs the database file
     * itself; one that cannot run now only lets the log grow until the
     * next. */
    if (self->ckpt == NULL)
        return;
    now = atomic_load(&self->wal_frames);
    if (now < self->wal_copied)
        self->wal_copied = 0; /* the log started over */
    if (now - self->wal_copied < S_CKPT_FRAMES)
        return;
    if (sqlite3_wal_checkpoint_v2(self->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE,
            &frames, &copied) == SQLITE_OK)
        self->wal_copied = copied > 0 ? copied : 0;
}

void
archive_log_restart(archive_t *self)
{
    /* Under steady load a passive checkpoint running beside the writer
     * never copies the last frames, and the log starts over only once
     * all are copied. So, past S_WAL_RESTART_FRAMES, the writer itself,
     * between two batches, lets one finish: what is left to copy is
     * what came since the last one (and it does not wait for a
     * checkpoint already running: it tries again after the next batch). */
    if (self->ckpt == NULL || self->in_batch
        || atomic_load(&self->wal_frames) < S_WAL_RESTART_FRAMES)
        return;
    if (sqlite3_wal_checkpoint_v2(self->ckpt, NULL, SQLITE_CHECKPOINT_PASSIVE,
            NULL, NULL) == SQLITE_OK)
        atomic_store(&self->wal_frames, 0);
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
    self->batch_last_pos = self->last_pos;
    self->log = self->log_saved;
    return 0;
}

static int s_head_sign(archive_t *self, errbuf_t *err);

int
archive_commit(archive_t *self, errbuf_t *err)
{
    if (!self->in_batch) {
        errbuf_set(err, "%s: no batch to commit", self->path);
        return -1;
    }
    /* The batch's tree head goes into the batch's own transaction. */
    if (self->log_key != NULL && self->log.size != self->head_size
        && s_head_sign(self, err) != 0) {
        archive_rollback(self);
        return -1;
    }
    if (s_run(self, S_COMMIT, "committing", err) != 0) {
        archive_rollback(self);
        return -1;
    }
    self->in_batch = 0;
    self->count = self->batch_count;
    self->last_pos = self->batch_last_pos;
    self->log_saved = self->log;
    self->head_size_saved = self->head_size;
    self->head_time_saved = self->head_time;
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
    self->batch_last_pos = self->last_pos;
    self->log = self->log_saved;
    self->head_size = self->head_size_saved;
    self->head_time = self->head_time_saved;
    /* Leaves taken back: their indexes will hold other leaves. */
    memset(self->roots, 0, S_ROOT_CACHE * sizeof *self->roots);
}

int
archive_in_batch(const archive_t *self)
{
    return self->in_batch;
}

static int s_leaf_add(archive_t *self, int kind, int64_t position,
    int64_t at, const uint8_t *entry, size_t len, uint64_t *leaf_index,
    errbuf_t *err);

int
archive_append(archive_t *self, const archive_entry_t *e, uint64_t *position,
    errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_INSERT];
    int64_t       pos;
    uint64_t      want = archive_next_position(self);
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
    sqlite3_bind_int64(st, 10, (sqlite3_int64)self->log.size);
    if (e->receipt != NULL)
        sqlite3_bind_blob64(st, 11, e->receipt, e->receipt_len,
            SQLITE_STATIC);
    if (s_run(self, S_INSERT, "appending a package", err) != 0)
        return -1;
    pos = sqlite3_last_insert_rowid(self->db);
    if (e->receipt != NULL && (uint64_t)pos != want) {
        /* The receipt would name a position the package does not have. */
        errbuf_set(err, "%s: the package got position %lld, its receipt "
            "names %llu; the archive's positions are not contiguous: run "
            "'csbm audit verify'", self->path, (long long)pos,
            (unsigned long long)want);
        return -1;
    }
    st = self->st[S_INSERT_RCPT];
    for (i = 0; i < e->n_recipients; i++) {
        sqlite3_bind_int64(st, 1, pos);
        sqlite3_bind_text(st, 2, e->recipients[i], -1, SQLITE_STATIC);
        if (s_run(self, S_INSERT_RCPT, "recording recipients", err) != 0)
            return -1;
    }
    {
        uint8_t entry[TREEHEAD_LEAF_PACKAGE_BYTES];
        treehead_leaf_package((uint64_t)pos, e->accepted_at,
            e->envelope_hash, e->receipt_hash, entry);
        if (s_leaf_add(self, TREEHEAD_LEAF_PACKAGE, pos, e->accepted_at,
                entry, sizeof entry, NULL, err) != 0)
            return -1;
    }
    self->batch_count = (uint64_t)pos;
    self->batch_last_pos = (uint64_t)pos;
    *position = (uint64_t)pos;
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
    out->log_index = (uint64_t)sqlite3_column_int64(st, 7);
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
        it.log_index = (uint64_t)sqlite3_column_int64(st, 4);
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

uint64_t
archive_next_position(const archive_t *self)
{
    return (self->in_batch ? self->batch_last_pos : self->last_pos) + 1;
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

/* ------------------------------------------------------------- log --- */

typedef struct {
    archive_t *self;
    errbuf_t  *err;
} s_node_ctx_t;

/* merkle_node_fn: store each perfect subtree root above the leaves. */
static s_root_slot_t *
s_root_slot(archive_t *self, uint64_t start, uint64_t end)
{
    return &self->roots[(start * UINT64_C(0x9E3779B97F4A7C15) ^ end)
                        & (S_ROOT_CACHE - 1)];
}

static void
s_root_put(archive_t *self, uint64_t start, uint64_t end,
    const uint8_t hash[MERKLE_HASH_BYTES])
{
    s_root_slot_t *slot = s_root_slot(self, start, end);

    slot->start = start;
    slot->end = end;
    memcpy(slot->hash, hash, MERKLE_HASH_BYTES);
}

/* Every leaf and perfect subtree as it completes: into the range-root
 * cache, so that the proofs of a batch's receipts and of what a pull
 * returns are read from memory (rolled back with the batch), and, above
 * the leaves, into log_node. */
static int
s_node_store(void *ctx, unsigned level, uint64_t index,
    const uint8_t hash[MERKLE_HASH_BYTES])
{
    s_node_ctx_t *c = ctx;
    sqlite3_stmt *st = c->self->st[S_NODE_INSERT];

    if (level < 63)
        s_root_put(c->self, index << level, (index + 1) << level, hash);
    if (level == 0)
        return 0; /* the leaf itself is in the log table */
    sqlite3_bind_int(st, 1, (int)level);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
    sqlite3_bind_blob(st, 3, hash, MERKLE_HASH_BYTES, SQLITE_STATIC);
    return s_run(c->self, S_NODE_INSERT, "storing a log node", c->err);
}

static int
s_leaf_add(archive_t *self, int kind, int64_t position, int64_t at,
    const uint8_t *entry, size_t len, uint64_t *leaf_index, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_LOG_INSERT];
    uint8_t       leaf[MERKLE_HASH_BYTES];
    s_node_ctx_t  c = {self, err};
    uint64_t      idx = self->log.size;

    if (!self->in_batch) {
        errbuf_set(err, "%s: log append outside a batch", self->path);
        return -1;
    }
    if (self->flags & ARCHIVE_OPEN_BENCH_NO_LOG) {
        if (leaf_index != NULL)
            *leaf_index = idx;
        return 0;
    }
    if (idx >= (uint64_t)INT64_MAX) {
        errbuf_set(err, "%s: the log is full", self->path);
        return -1;
    }
    merkle_leaf_hash(entry, len, leaf);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)idx);
    sqlite3_bind_int(st, 2, kind);
    if (position > 0)
        sqlite3_bind_int64(st, 3, position);
    sqlite3_bind_int64(st, 4, at);
    sqlite3_bind_blob(st, 5, entry, (int)len, SQLITE_STATIC);
    sqlite3_bind_blob(st, 6, leaf, MERKLE_HASH_BYTES, SQLITE_STATIC);
    if (s_run(self, S_LOG_INSERT, "appending a log leaf", err) != 0)
        return -1;
    if (merkle_frontier_append_nodes(&self->log, leaf, s_node_store, &c, err)
        != 0)
        return -1;
    if (leaf_index != NULL)
        *leaf_index = idx;
    return 0;
}

int
archive_log_pull(archive_t *self, int64_t at, const char *who, uint64_t after,
    const uint64_t *positions, size_t n, uint64_t *leaf_index, errbuf_t *err)
{
    uint8_t entry[TREEHEAD_LEAF_MAX];
    size_t  len = 0;

    if (treehead_leaf_pull(at, who, after, positions, n, entry, &len, err)
        != 0)
        return -1;
    return s_leaf_add(self, TREEHEAD_LEAF_PULL, 0, at, entry, len,
        leaf_index, err);
}

void
archive_set_log_key(archive_t *self, const keys_secret_t *sign_key)
{
    self->log_key = sign_key;
}

uint64_t
archive_log_size(const archive_t *self)
{
    return merkle_frontier_size(&self->log);
}

void
archive_log_root(const archive_t *self, uint8_t root[MERKLE_HASH_BYTES])
{
    merkle_frontier_root(&self->log, root);
}

/* The stored root of the perfect subtree (level, index); level 0 is a
 * leaf. */
static int
s_node(archive_t *self, unsigned level, uint64_t index,
    uint8_t out[MERKLE_HASH_BYTES], errbuf_t *err)
{
    sqlite3_stmt *st = self->st[level == 0 ? S_LEAF_GET : S_NODE_GET];
    int           rc, ok = 0;

    if (level == 0) {
        sqlite3_bind_int64(st, 1, (sqlite3_int64)index);
    } else {
        sqlite3_bind_int(st, 1, (int)level);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)index);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == MERKLE_HASH_BYTES) {
        memcpy(out, sqlite3_column_blob(st, 0), MERKLE_HASH_BYTES);
        ok = 1;
    } else if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        errbuf_set(err, "%s: the log has no %s (level %u, index %llu); the "
            "archive is damaged: run 'csbm audit verify'", self->path,
            level == 0 ? "leaf" : "subtree node", level,
            (unsigned long long)index);
    } else {
        s_db_error(self, err, "reading the log");
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ok ? 0 : -1;
}

static uint64_t
s_split(uint64_t n) /* largest power of two strictly less than n (n > 1) */
{
    uint64_t k = 1;

    while (k < n - k)
        k <<= 1;
    return k;
}

static unsigned
s_log2(uint64_t n) /* n a power of two */
{
    unsigned l = 0;

    while ((UINT64_C(1) << l) < n)
        l++;
    return l;
}

/* Root of leaves [start, end), start aligned to the subtree's split as in
 * every RFC 6962 recursion: perfect subtrees are one lookup. */
static int
s_range_root(archive_t *self, uint64_t start, uint64_t end,
    uint8_t out[MERKLE_HASH_BYTES], errbuf_t *err)
{
    uint64_t       n = end - start, k;
    uint8_t        l[MERKLE_HASH_BYTES], r[MERKLE_HASH_BYTES];
    s_root_slot_t *slot;

    if (n == 0) {
        merkle_root(NULL, 0, out);
        return 0;
    }
    slot = s_root_slot(self, start, end);
    if (slot->end == end && slot->start == start) {
        memcpy(out, slot->hash, MERKLE_HASH_BYTES);
        return 0;
    }
    if ((n & (n - 1)) == 0 && start % n == 0) {
        if (s_node(self, s_log2(n), start / n, out, err) != 0)
            return -1;
    } else {
        k = s_split(n);
        if (s_range_root(self, start, start + k, l, err) != 0
            || s_range_root(self, start + k, end, r, err) != 0)
            return -1;
        merkle_node_hash(l, r, out);
    }
    s_root_put(self, start, end, out);
    return 0;
}

typedef struct {
    uint8_t (*proof)[MERKLE_HASH_BYTES];
    size_t n;
} s_proof_t;

static int
s_proof_push(archive_t *self, s_proof_t *p, uint64_t start, uint64_t end,
    errbuf_t *err)
{
    if (p->n >= MERKLE_MAX_PROOF) {
        errbuf_set(err, "%s: proof too long", self->path);
        return -1;
    }
    return s_range_root(self, start, end, p->proof[p->n++], err);
}

/* RFC 6962 PATH(m, D[start:start+n]). */
static int
s_path(archive_t *self, uint64_t m, uint64_t start, uint64_t n, s_proof_t *p,
    errbuf_t *err)
{
    uint64_t k;

    if (n <= 1)
        return 0;
    k = s_split(n);
    if (m < k)
        return s_path(self, m, start, k, p, err) == 0
                ? s_proof_push(self, p, start + k, start + n, err)
                : -1;
    return s_path(self, m - k, start + k, n - k, p, err) == 0
            ? s_proof_push(self, p, start, start + k, err)
            : -1;
}

/* RFC 6962 SUBPROOF(m, D[start:start+n], b). */
static int
s_subproof(archive_t *self, uint64_t m, uint64_t start, uint64_t n, int b,
    s_proof_t *p, errbuf_t *err)
{
    uint64_t k;

    if (m == n)
        return b ? 0 : s_proof_push(self, p, start, start + n, err);
    k = s_split(n);
    if (m <= k)
        return s_subproof(self, m, start, k, b, p, err) == 0
                ? s_proof_push(self, p, start + k, start + n, err)
                : -1;
    return s_subproof(self, m - k, start + k, n - k, 0, p, err) == 0
            ? s_proof_push(self, p, start, start + k, err)
            : -1;
}

int
archive_inclusion_proof(archive_t *self, uint64_t index, uint64_t tree_size,
    uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES], size_t *n_proof,
    errbuf_t *err)
{
    s_proof_t p = {proof, 0};

    *n_proof = 0;
    if (index >= tree_size || tree_size > self->log.size) {
        errbuf_set(err, "%s: no leaf %llu in a tree of %llu (the log holds "
            "%llu)", self->path, (unsigned long long)index,
            (unsigned long long)tree_size,
            (unsigned long long)self->log.size);
        return -1;
    }
    if (s_path(self, index, 0, tree_size, &p, err) != 0)
        return -1;
    *n_proof = p.n;
    return 0;
}

int
archive_consistency_proof(archive_t *self, uint64_t old_size,
    uint64_t new_size, uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES],
    size_t *n_proof, errbuf_t *err)
{
    s_proof_t p = {proof, 0};

    *n_proof = 0;
    if (old_size > new_size || new_size > self->log.size) {
        errbuf_set(err, "%s: no consistency proof from %llu to %llu (the log "
            "holds %llu)", self->path, (unsigned long long)old_size,
            (unsigned long long)new_size,
            (unsigned long long)self->log.size);
        return -1;
    }
    if (old_size == 0 || old_size == new_size)
        return 0;
    if (s_subproof(self, old_size, 0, new_size, 1, &p, err) != 0)
        return -1;
    *n_proof = p.n;
    return 0;
}

/* ----------------------------------------------------------- heads --- */

void
archive_head_clear(archive_head_t *h)
{
    if (h == NULL)
        return;
    free(h->signed_head);
    memset(h, 0, sizeof *h);
}

static int
s_head_row(archive_t *self, int which, archive_head_t *out, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[which];
    int           rc = sqlite3_step(st), found = 0;

    memset(out, 0, sizeof *out);
    if (rc == SQLITE_ROW) {
        int n = sqlite3_column_bytes(st, 3);
        if (sqlite3_column_bytes(st, 2) != MERKLE_HASH_BYTES || n <= 0) {
            errbuf_set(err, "%s: the tree head of size %lld is damaged",
                self->path, (long long)sqlite3_column_int64(st, 0));
            found = -1;
        } else if ((out->signed_head = malloc((size_t)n)) == NULL) {
            errbuf_set(err, "out of memory");
            found = -1;
        } else {
            out->size = (uint64_t)sqlite3_column_int64(st, 0);
            out->timestamp = sqlite3_column_int64(st, 1);
            memcpy(out->root, sqlite3_column_blob(st, 2), MERKLE_HASH_BYTES);
            memcpy(out->signed_head, sqlite3_column_blob(st, 3), (size_t)n);
            out->signed_len = (size_t)n;
            found = 1;
        }
    } else if (rc != SQLITE_DONE) {
        s_db_error(self, err, "reading a tree head");
        found = -1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return found;
}

int
archive_head_latest(archive_t *self, archive_head_t *out, errbuf_t *err)
{
    return s_head_row(self, S_HEAD_LATEST, out, err);
}

int
archive_head_get(archive_t *self, uint64_t size, archive_head_t *out,
    errbuf_t *err)
{
    if (size > (uint64_t)INT64_MAX) {
        memset(out, 0, sizeof *out);
        return 0;
    }
    sqlite3_bind_int64(self->st[S_HEAD_GET], 1, (sqlite3_int64)size);
    return s_head_row(self, S_HEAD_GET, out, err);
}

/* Sign and store the head of the batch's tree. */
static int
s_head_sign(archive_t *self, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_HEAD_INSERT];
    treehead_t    th;
    Csbm__Signed *s;
    uint8_t      *packed;
    size_t        len;
    int64_t       now = (int64_t)time(NULL);
    int           rc;

    memset(&th, 0, sizeof th);
    snprintf(th.origin, sizeof th.origin, "%s", self->federation);
    th.size = self->log.size;
    merkle_frontier_root(&self->log, th.root);
    th.timestamp = now > self->head_time ? now : self->head_time;
    if ((s = treehead_sign(self->log_key, &th, err)) == NULL)
        return -1;
    len = csbm__signed__get_packed_size(s);
    if ((packed = malloc(len + 1)) == NULL) {
        receipt_signed_free(s);
        errbuf_set(err, "out of memory");
        return -1;
    }
    csbm__signed__pack(s, packed);
    receipt_signed_free(s);
    sqlite3_bind_int64(st, 1, (sqlite3_int64)th.size);
    sqlite3_bind_int64(st, 2, th.timestamp);
    sqlite3_bind_blob(st, 3, th.root, MERKLE_HASH_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, packed, (int)len, SQLITE_STATIC);
    rc = s_run(self, S_HEAD_INSERT, "storing the tree head", err);
    free(packed);
    if (rc != 0)
        return -1;
    /* Taken back by archive_rollback if the COMMIT fails. */
    self->head_size = th.size;
    self->head_time = th.timestamp;
    return 0;
}

/* Rebuild the frontier from the stored subtree roots and check it against
 * the newest signed head. */
static int
s_log_load(archive_t *self, errbuf_t *err)
{
    sqlite3_stmt  *st = NULL;
    archive_head_t h;
    uint8_t        buf[MERKLE_FRONTIER_MAX_BYTES], node[MERKLE_HASH_BYTES];
    uint8_t        sub[64][MERKLE_HASH_BYTES], root[MERKLE_HASH_BYTES];
    uint64_t       size = 0, start = 0;
    size_t         off, np = 0, i;
    int            l, found;

    if (sqlite3_prepare_v2(self->db, "SELECT count(*), coalesce(max(idx), "
            "-1) FROM log", -1, &st, NULL) != SQLITE_OK
        || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        s_db_error(self, err, "reading the log");
        return -1;
    }
    size = (uint64_t)sqlite3_column_int64(st, 0);
    if (sqlite3_column_int64(st, 1) + 1 != sqlite3_column_int64(st, 0)) {
        sqlite3_finalize(st);
        errbuf_set(err, "%s: the log's leaf indexes are not contiguous; the "
            "archive was altered: run 'csbm audit verify'", self->path);
        return -1;
    }
    sqlite3_finalize(st);
    memcpy(buf, MERKLE_FRONTIER_MAGIC, MERKLE_FRONTIER_MAGIC_LEN);
    for (i = 0; i < 8; i++)
        buf[MERKLE_FRONTIER_MAGIC_LEN + i] = (uint8_t)(size >> (56 - 8 * i));
    off = MERKLE_FRONTIER_MAGIC_LEN + 8;
    for (l = 63; l >= 0; l--) {
        if (!(size >> l & 1))
            continue;
        if (s_node(self, (unsigned)l, start >> l, node, err) != 0)
            return -1;
        memcpy(buf + off, node, MERKLE_HASH_BYTES);
        memcpy(sub[np++], node, MERKLE_HASH_BYTES);
        off += MERKLE_HASH_BYTES;
        start += UINT64_C(1) << l;
    }
    if (np == 0) {
        merkle_root(NULL, 0, root);
    } else {
        memcpy(root, sub[np - 1], MERKLE_HASH_BYTES);
        for (i = np - 1; i-- > 0;)
            merkle_node_hash(sub[i], root, root);
    }
    memcpy(buf + off, root, MERKLE_HASH_BYTES);
    off += MERKLE_HASH_BYTES;
    if (merkle_frontier_parse(&self->log, buf, off, err) != 0) {
        errbuf_prefix(err, "%s: the log", self->path);
        return -1;
    }
    self->log_saved = self->log;
    if ((found = archive_head_latest(self, &h, err)) < 0)
        return -1;
    if (found) {
        int bad = h.size > size
            || (h.size == size && memcmp(h.root, root, MERKLE_HASH_BYTES) != 0);
        self->head_size = self->head_size_saved = h.size;
        self->head_time = self->head_time_saved = h.timestamp;
        archive_head_clear(&h);
        if (bad) {
            errbuf_set(err, "%s: the log (%llu leaves) does not match its "
                "newest signed tree head (size %llu); the archive was altered "
                "or truncated: run 'csbm audit verify'", self->path,
                (unsigned long long)size, (unsigned long long)self->head_size);
            return -1;
        }
    }
    return 0;
}

/* ---------------------------------------------------- cosignatures --- */

long
archive_cosign_put(archive_t *self, uint64_t size, const char *witness,
    const uint8_t key_id[KEYS_ID_BYTES], const uint8_t sig[KEYS_SIG_BYTES],
    int64_t at, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_COSIG_PUT];
    long          n = -1;

    if (size == 0 || size > (uint64_t)INT64_MAX) {
        errbuf_set(err, "%s: no head of size %llu", self->path,
            (unsigned long long)size);
        return -1;
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    sqlite3_bind_text(st, 2, witness, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, key_id, KEYS_ID_BYTES, SQLITE_STATIC);
    sqlite3_bind_blob(st, 4, sig, KEYS_SIG_BYTES, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, at);
    if (s_run(self, S_COSIG_PUT, "storing a cosignature", err) != 0)
        return -1;
    st = self->st[S_COSIG_COUNT];
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    else
        s_db_error(self, err, "counting cosignatures");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return n;
}

int
archive_cosign_foreach(archive_t *self, uint64_t size, archive_cosign_fn fn,
    void *ctx, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_COSIG_LIST];
    int           rc, out = 0;

    if (size > (uint64_t)INT64_MAX)
        return 0;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *w = sqlite3_column_text(st, 0);
        if (w == NULL || sqlite3_column_bytes(st, 1) != KEYS_ID_BYTES
            || sqlite3_column_bytes(st, 2) != KEYS_SIG_BYTES)
            continue;
        if (fn((const char *)w, sqlite3_column_blob(st, 1),
                sqlite3_column_blob(st, 2), ctx) != 0)
            break;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        s_db_error(self, err, "reading cosignatures");
        out = -1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}

long
archive_cosign_witnesses_since(archive_t *self, uint64_t size, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_COSIG_SINCE];
    long          n = -1;

    if (size > (uint64_t)INT64_MAX)
        return 0;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = (long)sqlite3_column_int64(st, 0);
    else
        s_db_error(self, err, "counting witnesses");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return n;
}

int
archive_cosigned_sizes(archive_t *self, uint64_t *sizes, size_t max,
    size_t *n, errbuf_t *err)
{
    sqlite3_stmt *st = self->st[S_COSIG_SIZES];
    int           rc, out = 0;

    *n = 0;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max)
        sizes[(*n)++] = (uint64_t)sqlite3_column_int64(st, 0);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        s_db_error(self, err, "reading cosignatures");
        out = -1;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return out;
}
