/*
 * mailbox: a member node's own store — the outbox of packages it sends,
 * with the hub's receipts, and the inbox of packages it has pulled.
 *
 * One SQLite file (WAL, synchronous=FULL, busy timeout) that a running
 * `csbm node` and the command line verbs share: the verbs write into it,
 * the daemon picks the work up. The schema is described at the top of
 * node/mailbox.c.
 *
 * The outbox is written before any network I/O: a package is sealed with a
 * sequence number allocated in the same transaction that stores it, so a
 * crash leaves either no package and no number used, or a stored package
 * that a later sync delivers. Each pulled page enters the inbox in the same
 * transaction that advances the pull cursor.
 *
 * Library code: every function returns 0 (or a count) on success and -1
 * with err set on failure; nothing here prints or exits.
 */
#ifndef CSBM_MAILBOX_H
#define CSBM_MAILBOX_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/envelope.h"
#include "proto/errbuf.h"

#define MAILBOX_SCHEMA_VERSION 2
#define MAILBOX_BUSY_TIMEOUT_MS 15000
#define MAILBOX_BACKOFF_BASE_S 5      /* first retry after about 5 s */
#define MAILBOX_BACKOFF_MAX_S  3600   /* never wait more than an hour */
#define MAILBOX_ERROR_MAX      512
/* "CHL,PER,hub": every recipient id and a comma each, and a NUL. */
#define MAILBOX_RECIPIENTS_MAX \
    (ENVELOPE_MAX_RECIPIENTS * (ENVELOPE_ID_MAX + 1) + 1)

typedef struct mailbox mailbox_t;

typedef enum {
    MAILBOX_PENDING = 0,   /* stored, waiting for the hub's receipt */
    MAILBOX_DELIVERED = 1, /* the hub's signed receipt is stored */
    MAILBOX_REJECTED = 2,  /* the hub's signed rejection is stored */
} mailbox_status_t;

/* One outbox row, without its (large) envelope. */
typedef struct {
    uint8_t          package_id[ENVELOPE_ID_BYTES];
    uint64_t         sequence;
    int              package_type;
    char             recipients[MAILBOX_RECIPIENTS_MAX];
    int64_t          created_at;
    mailbox_status_t status;
    uint32_t         attempts;
    int64_t          next_attempt_at;
    char             last_error[MAILBOX_ERROR_MAX]; /* or rejection message */
    int              reason;      /* rejection reason code, 0 if none */
    uint64_t         position;    /* archive position from the receipt */
    int64_t          accepted_at; /* hub time from the receipt */
    size_t           envelope_len;
} mailbox_outbox_entry_t;

/* One inbox row, without its envelope. */
typedef struct {
    uint64_t position;
    uint8_t  package_id[ENVELOPE_ID_BYTES];
    char     sender[ENVELOPE_ID_MAX + 1];
    int      package_type;
    uint32_t year;
    int64_t  created_at;
    int64_t  received_at;
    int      opened;
    size_t   envelope_len;
} mailbox_inbox_entry_t;

/* A pulled item this node refused to take into its inbox. */
typedef struct {
    uint64_t position;
    uint8_t  package_id[ENVELOPE_ID_BYTES]; /* zero if it did not parse */
    char     sender[ENVELOPE_ID_MAX + 1];   /* "" if it did not parse */
    char     reason[MAILBOX_ERROR_MAX];
    int64_t  refused_at;
} mailbox_refused_entry_t;

/* One item of a pulled page, already checked by the caller. */
typedef struct {
    uint64_t       position;
    const char    *refused;      /* NULL: take it; else why it is refused */
    const uint8_t *package_id;   /* 16 bytes; may be NULL when refused */
    const char    *sender;       /* may be NULL when refused */
    int            package_type;
    uint32_t       year;
    int64_t        created_at;
    const uint8_t *envelope;
    size_t         envelope_len;
    const uint8_t *receipt;      /* the serialized csbm.Signed receipt */
    size_t         receipt_len;
} mailbox_inbox_item_t;

/* Seal a package with the given sequence number into a new envelope
 * (malloc'd; the mailbox frees it). Called inside the transaction that
 * stores it. Returns 0, or -1 with err set. */
typedef int (*mailbox_seal_fn)(uint64_t sequence, void *ctx, uint8_t **env,
    size_t *env_len, errbuf_t *err);

/* Open (creating if needed, mode 0600) the store at path. The first open
 * records owner and federation; a later open with another owner or
 * federation is refused, so two identities never share a sequence counter
 * or an inbox. owner and federation may be NULL to skip that check (read
 * only listings). Caller owns the result (mailbox_destroy). */
mailbox_t *mailbox_open(const char *path, const char *owner,
    const char *federation, errbuf_t *err) __attribute__((warn_unused_result));

/* Close the store. NULL-safe; nulls the caller's pointer. */
void mailbox_destroy(mailbox_t **self_p);

/* The owner recorded in the store ("" if none yet). */
const char *mailbox_owner(const mailbox_t *self);

/* ------------------------------------------------------------- outbox --- */

/* In one transaction: allocate the next sequence number, call seal with
 * it, check that the envelope parses, comes from this store's owner and
 * federation and carries that sequence number, and store it as pending,
 * due at once. On success *out (if not NULL) describes the stored row. On
 * any failure nothing is stored and the sequence number is not used. */
int mailbox_outbox_add(mailbox_t *self, mailbox_seal_fn seal, void *ctx,
    mailbox_outbox_entry_t *out, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The pending entry with the lowest sequence above after_sequence whose
 * next attempt is due at or before due_by (INT64_MAX: any). Returns 1 and
 * fills *out and, if env is not NULL, a copy of the envelope (caller
 * frees); 0 if there is none; -1 on error. */
int mailbox_outbox_next(mailbox_t *self, uint64_t after_sequence,
    int64_t due_by, mailbox_outbox_entry_t *out, uint8_t **env,
    size_t *env_len, errbuf_t *err) __attribute__((warn_unused_result));

/* The entry with this package id; as mailbox_outbox_next. */
int mailbox_outbox_get(mailbox_t *self, const uint8_t id[ENVELOPE_ID_BYTES],
    mailbox_outbox_entry_t *out, uint8_t **env, size_t *env_len,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The stored receipt (or, if rejected, rejection) of an entry: a
 * serialized csbm.Signed. Returns 1 with a new buffer (caller frees), 0 if
 * there is none, -1 on error. */
int mailbox_outbox_statement(mailbox_t *self,
    const uint8_t id[ENVELOPE_ID_BYTES], uint8_t **out, size_t *out_len,
    errbuf_t *err) __attribute__((warn_unused_result));

/* A delivery attempt failed for a reason that retrying may fix: count it,
 * keep the error and set the next attempt after an exponential backoff.
 * Only a pending entry changes. */
int mailbox_outbox_failed(mailbox_t *self,
    const uint8_t id[ENVELOPE_ID_BYTES], int64_t now, const char *error,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Store the hub's verified receipt: status delivered. Storing the same
 * receipt again is harmless; an entry that was rejected is not changed. */
int mailbox_outbox_delivered(mailbox_t *self,
    const uint8_t id[ENVELOPE_ID_BYTES], const uint8_t *receipt,
    size_t receipt_len, uint64_t position, int64_t accepted_at,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Store the hub's verified rejection: status rejected, with its reason
 * code and message. A delivered entry is not changed. */
int mailbox_outbox_rejected(mailbox_t *self,
    const uint8_t id[ENVELOPE_ID_BYTES], const uint8_t *rejection,
    size_t rejection_len, int reason, const char *message, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Call fn for every outbox entry in sequence order; a non-zero return of
 * fn stops the walk. */
int mailbox_outbox_foreach(mailbox_t *self,
    int (*fn)(const mailbox_outbox_entry_t *e, void *ctx), void *ctx,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Number of entries with this status, or -1 on error. */
int64_t mailbox_outbox_count(mailbox_t *self, mailbox_status_t status,
    errbuf_t *err);

/* Seconds to wait before attempt number attempts + 1 (attempts >= 1):
 * MAILBOX_BACKOFF_BASE_S doubling up to MAILBOX_BACKOFF_MAX_S, with up to
 * a quarter more at random so that many nodes do not retry in step. */
int64_t mailbox_backoff(uint32_t attempts);

/* -------------------------------------------------------------- inbox --- */

/* The pull cursor: the last archive position this node has seen. */
int mailbox_cursor(mailbox_t *self, uint64_t *cursor, errbuf_t *err)
    __attribute__((warn_unused_result));

/* In one transaction: store the accepted items in the inbox (an item whose
 * package id is already there is skipped: a re-delivery is not
 * duplicated), record the refused ones, and move the cursor to
 * new_cursor. Refuses a cursor that goes backwards, an item at or before
 * the current cursor or after new_cursor, and a position that already
 * holds another package. *added (if not NULL) counts the new inbox rows. */
int mailbox_inbox_commit(mailbox_t *self, const mailbox_inbox_item_t *items,
    size_t n, uint64_t new_cursor, int64_t now, size_t *added,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Call fn for every inbox entry in position order. */
int mailbox_inbox_foreach(mailbox_t *self,
    int (*fn)(const mailbox_inbox_entry_t *e, void *ctx), void *ctx,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Find an inbox entry by its package id in hex, or by a unique prefix of
 * at least MAILBOX_MIN_PREFIX hex digits. Returns 1 and fills *out and, if
 * env is not NULL, a copy of the envelope (caller frees) and, if receipt
 * is not NULL, of the receipt; 0 if none matches; -1 on error or when the
 * prefix is ambiguous. */
#define MAILBOX_MIN_PREFIX 6
int mailbox_inbox_find(mailbox_t *self, const char *hex_id,
    mailbox_inbox_entry_t *out, uint8_t **env, size_t *env_len,
    uint8_t **receipt, size_t *receipt_len, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Remember that the package was opened. */
int mailbox_inbox_mark_opened(mailbox_t *self,
    const uint8_t id[ENVELOPE_ID_BYTES], errbuf_t *err)
    __attribute__((warn_unused_result));

/* Number of inbox rows, or -1 on error. */
int64_t mailbox_inbox_count(mailbox_t *self, errbuf_t *err);

/* Call fn for every refused item in position order. */
int mailbox_refused_foreach(mailbox_t *self,
    int (*fn)(const mailbox_refused_entry_t *e, void *ctx), void *ctx,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Number of refused items, or -1 on error. */
int64_t mailbox_refused_count(mailbox_t *self, errbuf_t *err);

/* Move the pull cursor back to just before the earliest refused item, so
 * the next pull fetches it again (say, once the sender's key is in the
 * keyring). Items taken into the inbox since are not duplicated; a
 * refused item that is now accepted leaves the refused list. Returns 1
 * and *from (the new cursor) if there was anything to retry, 0 if not. */
int mailbox_refused_rewind(mailbox_t *self, uint64_t *from, errbuf_t *err)
    __attribute__((warn_unused_result));

/* ---------------------------------------------------------------- log --- */

/* Store the verified inclusion proof (a serialized csbm.InclusionProof)
 * of an entry's receipt. */
int mailbox_outbox_set_inclusion(mailbox_t *self,
    const uint8_t id[ENVELOPE_ID_BYTES], const uint8_t *inclusion, size_t len,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The receipt and its inclusion proof, both serialized, in new buffers
 * (caller frees both). 1 if both are stored, 0 if not, -1 on error. */
int mailbox_outbox_receipt_parts(mailbox_t *self,
    const uint8_t id[ENVELOPE_ID_BYTES], uint8_t **receipt,
    size_t *receipt_len, uint8_t **inclusion, size_t *inclusion_len,
    errbuf_t *err) __attribute__((warn_unused_result));

/* The newest verified signed tree head of the hub's log (a serialized
 * csbm.Signed, new buffer): 1, 0 if none yet, -1 on error. */
int mailbox_head_latest(mailbox_t *self, uint8_t **signed_head, size_t *len,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Remember a verified head (one per size; the first stays). */
int mailbox_head_put(mailbox_t *self, uint64_t size, int64_t timestamp,
    const uint8_t root[32], const uint8_t *signed_head, size_t len,
    int64_t now, errbuf_t *err) __attribute__((warn_unused_result));

/* Evidence that the hub's log is not append-only: what was found, the
 * head verified before and the head (and proof) that contradicts it. */
typedef struct {
    int64_t        id;
    int64_t        found_at;
    char           what[MAILBOX_ERROR_MAX];
    const uint8_t *old_head; /* csbm.Signed, valid during the callback */
    size_t         old_len;
    const uint8_t *new_head;
    size_t         new_len;
    const uint8_t *proof;
    size_t         proof_len;
} mailbox_evidence_t;

int mailbox_evidence_add(mailbox_t *self, int64_t now, const char *what,
    const uint8_t *old_head, size_t old_len, const uint8_t *new_head,
    size_t new_len, const uint8_t *proof, size_t proof_len, errbuf_t *err)
    __attribute__((warn_unused_result));
int mailbox_evidence_foreach(mailbox_t *self,
    int (*fn)(const mailbox_evidence_t *e, void *ctx), void *ctx,
    errbuf_t *err) __attribute__((warn_unused_result));
int64_t mailbox_evidence_count(mailbox_t *self, errbuf_t *err);

/* "pending", "delivered", "rejected". */
const char *mailbox_status_name(mailbox_status_t status);

#endif
