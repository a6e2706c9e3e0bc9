/*
 * archive: the hub's store — every accepted package in arrival order, with
 * the signed receipt the sender got, who may pull it, and an audit trail of
 * refusals, pulls and refused handshakes.
 *
 * One SQLite file (WAL, synchronous=FULL): a commit that returned is on
 * disk, so the hub sends a receipt only after archive_commit. Writes are
 * batched: archive_begin, any number of archive_append /
 * archive_log_event, then archive_commit (or
 * archive_rollback). Reads inside a batch see the batch's own writes.
 * Positions start at 1, grow by one per package and are never reused.
 * The schema is described at the top of node/archive.c.
 *
 * One archive_t belongs to one thread. Every function returns 0 (or the
 * value it names) on success and -1 with err set on failure.
 */
#ifndef CSBM_ARCHIVE_H
#define CSBM_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/envelope.h"
#include "crypto/keys.h"
#include "crypto/merkle.h"
#include "proto/errbuf.h"

#define ARCHIVE_SCHEMA_VERSION 2
#define ARCHIVE_DETAIL_MAX     4096 /* longest event detail kept */

typedef struct archive archive_t;

/* A package to append. Pointers are borrowed for the call. */
typedef struct {
    uint8_t            package_id[ENVELOPE_ID_BYTES];
    const char        *sender;
    uint64_t           sequence;
    int                package_type;
    uint32_t           year;
    int64_t            created_at;
    int64_t            accepted_at;
    const uint8_t     *envelope;
    size_t             envelope_len;
    uint8_t            envelope_hash[32];
    const char *const *recipients;
    size_t             n_recipients;
    /* The receipt (serialized csbm.Signed, crypto/receipt.h), written
     * with the row, and the SHA-256 of its statement bytes, which the
     * package's leaf binds. A receipt names its position and leaf: make
     * it for archive_next_position and archive_log_size, which
     * archive_append then checks. (NULL only in tests of the archive
     * itself; audit verify reports a package without a receipt.) */
    const uint8_t     *receipt;
    size_t             receipt_len;
    uint8_t            receipt_hash[32];
} archive_entry_t;

/* What a lookup returns: the archived facts, without the envelope. */
typedef struct {
    uint64_t position;
    uint8_t  package_id[ENVELOPE_ID_BYTES];
    char     sender[ENVELOPE_ID_MAX + 1];
    uint64_t sequence;
    uint8_t  envelope_hash[32];
    int64_t  accepted_at;
    uint64_t log_index;   /* its leaf in the log */
    uint8_t *receipt;     /* serialized csbm.Signed; caller frees (free()) */
    size_t   receipt_len; /* 0 while the receipt is not set */
} archive_record_t;

/* One item of a page; the pointers are valid during the callback only. */
typedef struct {
    uint64_t       position;
    uint64_t       log_index; /* its leaf in the log */
    const uint8_t *envelope;
    size_t         envelope_len;
    const uint8_t *receipt;
    size_t         receipt_len;
} archive_item_t;

/* Return 0 to go on, -1 to stop the page with an error (set err). */
typedef int (*archive_page_fn)(const archive_item_t *item, void *ctx,
    errbuf_t *err);

typedef enum {
    ARCHIVE_EVENT_PUSH = 0,      /* a package accepted or resubmitted */
    ARCHIVE_EVENT_REFUSE = 1,    /* a package or request refused */
    ARCHIVE_EVENT_PULL = 2,      /* a member pulled a page */
    ARCHIVE_EVENT_HANDSHAKE = 3, /* a connection refused at the handshake */
} archive_event_kind_t;

typedef struct {
    archive_event_kind_t kind;
    int64_t              at;         /* Unix seconds */
    const char          *state;      /* who; NULL or "" if unknown */
    const uint8_t       *package_id; /* 16 bytes, or NULL */
    int                  reason;     /* csbm.ReasonCode, 0 if none */
    const char          *detail;     /* cut to ARCHIVE_DETAIL_MAX bytes */
} archive_event_t;

/* Open (creating it, mode 0600, if missing) the archive at path and check
 * its schema version. A new archive is bound to federation; an existing
 * one of another federation is refused. Caller owns the result
 * (archive_destroy). */
archive_t *archive_open(const char *path, const char *federation,
    errbuf_t *err)
    __attribute__((warn_unused_result));

/* For the benchmark program only (node/main_csbm_bench.c), never offered
 * on the command line: packages and pulls add no log leaves and commits
 * sign no tree head, so the benchmark can measure what the log costs. An
 * archive written so has no log over its packages: `csbm audit verify`
 * reports every one of them. */
#define ARCHIVE_OPEN_BENCH_NO_LOG 0x1u

/* Commits write the batch to the write-ahead log without waiting for the
 * disk (SQLite's synchronous=NORMAL); archive_sync waits. The hub commits
 * batch k+1 while a thread of its own syncs batch k, and answers a batch
 * only after that: its durability is as with a synchronous commit, and the
 * flush no longer holds up the next batch. */
#define ARCHIVE_OPEN_DEFERRED_SYNC 0x2u

/* archive_open with flags (0, or ARCHIVE_OPEN_BENCH_NO_LOG and
 * ARCHIVE_OPEN_DEFERRED_SYNC or-ed). */
archive_t *archive_open_flags(const char *path, const char *federation,
    unsigned flags, errbuf_t *err) __attribute__((warn_unused_result));

/* Flush to disk everything committed so far (fdatasync of the archive's
 * write-ahead log): every batch whose archive_commit returned before this
 * call is durable when it returns 0. Touches no SQLite state, so one
 * thread may call it while another writes the next batch; only one
 * thread calls it. 0 at once for an archive opened without
 * ARCHIVE_OPEN_DEFERRED_SYNC (its commits are durable already); -1 with
 * err if the flush failed (then nothing since the last good flush is
 * known to be on disk). */
int archive_sync(archive_t *self, errbuf_t *err)
    __attribute__((warn_unused_result));

/* For the thread that calls archive_sync, after it: once the write-ahead
 * log holds 1,000 new frames, copy them into the database file without
 * holding up the writer (a passive checkpoint). Nothing for an archive
 * opened without ARCHIVE_OPEN_DEFERRED_SYNC (its commits checkpoint). */
void archive_checkpoint(archive_t *self);

/* For the writer, between batches: once the write-ahead log has grown
 * past 32 MiB, finish a checkpoint (only what came since the last one is
 * left to copy), so that the next batch starts the log over; without
 * it, under steady load, the log would only grow. Nothing otherwise. */
void archive_log_restart(archive_t *self);

/* Close, rolling back an open batch. NULL-safe; nulls the pointer. */
void archive_destroy(archive_t **self_p);

int  archive_begin(archive_t *self, errbuf_t *err)
    __attribute__((warn_unused_result));
int  archive_commit(archive_t *self, errbuf_t *err)
    __attribute__((warn_unused_result));
void archive_rollback(archive_t *self);
/* Is a batch open? */
int  archive_in_batch(const archive_t *self);

/* Append a package (inside a batch) and its recipients; *position is its
 * new position. Fails on a package id or (sender, sequence) already
 * archived — check with archive_find_* first — and on an entry whose
 * receipt was signed for another position than the one it gets. */
int archive_append(archive_t *self, const archive_entry_t *entry,
    uint64_t *position, errbuf_t *err) __attribute__((warn_unused_result));

/* Look a package up by id, or by sender and sequence. Returns 1 and fills
 * *out (free out->receipt), 0 if there is none, -1 on error. */
int archive_find_by_id(archive_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    archive_record_t *out, errbuf_t *err) __attribute__((warn_unused_result));
int archive_find_by_seq(archive_t *self, const char *sender, uint64_t sequence,
    archive_record_t *out, errbuf_t *err) __attribute__((warn_unused_result));

/* The packages addressed to recipient after position `after`, in order:
 * at most max_items, and no more than max_bytes of envelopes and receipts
 * together — except that the first item is always given, however large,
 * so a reader can never get stuck. Calls fn for each. *more tells whether
 * more is waiting. Returns the number of items, or -1. */
long archive_page(archive_t *self, const char *recipient, uint64_t after,
    size_t max_items, size_t max_bytes, archive_page_fn fn, void *ctx,
    int *more, errbuf_t *err) __attribute__((warn_unused_result));

/* Number of packages archived, including those of the open batch. */
uint64_t archive_count(const archive_t *self);

/* The position the next archive_append will give: one past the highest
 * ever given (AUTOINCREMENT), archive_count + 1 in an unaltered archive. */
uint64_t archive_next_position(const archive_t *self);

/* Record an audit event (inside a batch, or on its own). */
int archive_log_event(archive_t *self, const archive_event_t *ev,
    errbuf_t *err) __attribute__((warn_unused_result));

/* "push", "refuse", "pull", "handshake". */
const char *archive_event_name(int kind);

/* ------------------------------------------------------------------ */
/* The tamper-evident log (docs/FORMAT-merkle.md, crypto/treehead.h).
 *
 * Every archived package is a leaf (archive_append adds it), and so is
 * every pull served (archive_log_pull). Leaf hashes and the root of every
 * perfect subtree are stored with the rows, in the same transaction, so
 * appending is O(log n) and a proof is O(log^2 n) reads. With a signing
 * key set (archive_set_log_key), archive_commit signs and stores one tree
 * head per batch that added leaves, timestamps never decreasing. */

/* The key that signs tree heads (borrowed; NULL: heads are not signed). */
void archive_set_log_key(archive_t *self, const keys_secret_t *sign_key);

/* Leaves in the log, including those of the open batch. */
uint64_t archive_log_size(const archive_t *self);

/* The root over archive_log_size leaves. */
void archive_log_root(const archive_t *self, uint8_t root[MERKLE_HASH_BYTES]);

/* Add the leaf of a pull served (inside a batch): member who at time at
 * asked after position after and got positions[0..n). *leaf_index (may
 * be NULL) is its index. */
int archive_log_pull(archive_t *self, int64_t at, const char *who,
    uint64_t after, const uint64_t *positions, size_t n, uint64_t *leaf_index,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Proofs from the stored nodes: inclusion of leaf index in the tree of
 * tree_size leaves, consistency from old_size to new_size (both within
 * archive_log_size). As merkle_inclusion_proof / merkle_consistency_proof. */
int archive_inclusion_proof(archive_t *self, uint64_t index,
    uint64_t tree_size, uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES],
    size_t *n_proof, errbuf_t *err) __attribute__((warn_unused_result));
int archive_consistency_proof(archive_t *self, uint64_t old_size,
    uint64_t new_size, uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_BYTES],
    size_t *n_proof, errbuf_t *err) __attribute__((warn_unused_result));

/* A stored signed tree head. */
typedef struct {
    uint64_t size;
    int64_t  timestamp;
    uint8_t  root[MERKLE_HASH_BYTES];
    uint8_t *signed_head; /* serialized csbm.Signed; archive_head_clear */
    size_t   signed_len;
} archive_head_t;

/* The newest head, or the head of a given size. 1 and *out (clear it
 * with archive_head_clear), 0 if there is none, -1 on error. */
int archive_head_latest(archive_t *self, archive_head_t *out, errbuf_t *err)
    __attribute__((warn_unused_result));
int archive_head_get(archive_t *self, uint64_t size, archive_head_t *out,
    errbuf_t *err) __attribute__((warn_unused_result));
void archive_head_clear(archive_head_t *h);

/* Store a witness's verified cosignature of the head of this size (one
 * per witness and head; a second replaces the first). Returns the number
 * of witnesses that have cosigned that head, or -1. */
long archive_cosign_put(archive_t *self, uint64_t size, const char *witness,
    const uint8_t key_id[KEYS_ID_BYTES], const uint8_t sig[KEYS_SIG_BYTES],
    int64_t at, errbuf_t *err) __attribute__((warn_unused_result));

/* The cosignatures of the head of this size; fn returns 0 to go on. */
typedef int (*archive_cosign_fn)(const char *witness,
    const uint8_t key_id[KEYS_ID_BYTES], const uint8_t sig[KEYS_SIG_BYTES],
    void *ctx);
int archive_cosign_foreach(archive_t *self, uint64_t size,
    archive_cosign_fn fn, void *ctx, errbuf_t *err)
    __attribute__((warn_unused_result));

/* How many distinct witnesses have cosigned the head of this size or a
 * later one (size >= this): the witnesses of that head, since the heads
 * form one append-only chain and each cosigner verified consistency from
 * its own earlier head. Returns the count or -1. */
long archive_cosign_witnesses_since(archive_t *self, uint64_t size,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The sizes of the newest cosigned heads, newest first, at most max. */
int archive_cosigned_sizes(archive_t *self, uint64_t *sizes, size_t max,
    size_t *n, errbuf_t *err) __attribute__((warn_unused_result));

#endif
