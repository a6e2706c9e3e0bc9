/*
 * audit_verify: re-verify a hub's whole archive against its own
 * tamper-evident log, streaming, in memory bounded independently of the
 * archive's size (one envelope and an O(log n) frontier at a time):
 *
 *   - every leaf recomputed from the stored envelope and acceptance time
 *     (packages) or taken from its entry (pulls), against the stored leaf
 *     hash and every stored subtree node;
 *   - the root recomputed with a frontier and compared with every stored
 *     signed tree head, whose signatures, origins and timestamps (never
 *     decreasing) are checked: all heads are then prefixes of one tree;
 *   - every envelope's signature with the sender's key as of its creation
 *     (the hub's own hub_verify_submit), every receipt against its row;
 *   - positions contiguous, every package a leaf, every cosignature valid;
 *     which members witnessed the newest head, how many heads reached the
 *     witness quorum.
 *
 * The archive is opened read-only; the hub may keep running.
 */
#ifndef CSBM_AUDIT_VERIFY_H
#define CSBM_AUDIT_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/keyring.h"
#include "crypto/keys.h"
#include "proto/errbuf.h"

#define AUDIT_BATCH_ITEMS 256             /* rows per verifier batch */
#define AUDIT_BATCH_BYTES (1024u * 1024u) /* envelope bytes per batch */

/* Called for each problem found: where (leaf index and archive position,
 * -1 when not applicable) and what differs. */
typedef void (*audit_problem_fn)(int64_t leaf, int64_t position,
    const char *what, void *ctx);

#define AUDIT_THREADS_MAX   64 /* verifier threads */
#define AUDIT_WITNESSES_MAX 64 /* witness names kept for the newest head */

typedef struct {
    uint64_t leaves;
    uint64_t packages;
    uint64_t pulls;
    uint64_t heads;
    uint64_t cosignatures;
    uint64_t problems;
    /* Heads witnessed: on the verified chain, with >= quorum distinct
     * members that validly cosigned the head or a later one of the
     * chain; off it, with >= quorum valid cosignatures of its own. */
    uint64_t heads_witnessed;
    uint64_t newest_size;     /* the newest signed head (0: none) */
    int64_t  newest_timestamp;
    /* The members whose valid cosignature the newest head carries, sorted
     * (at most AUDIT_WITNESSES_MAX named; n_newest_witnesses counts all). */
    size_t   n_newest_witnesses;
    char     newest_witnesses[AUDIT_WITNESSES_MAX][KEYS_OWNER_MAX + 1];
    unsigned threads; /* verifier threads used */
    unsigned quorum;  /* the quorum the heads were counted against */
} audit_verify_report_t;

typedef struct {
    const char      *federation;
    const keyring_t *keyring;
    audit_problem_fn fn;       /* may be NULL */
    void            *ctx;
    FILE            *progress; /* a line now and then, or NULL */
    unsigned         threads;  /* envelope verifier threads; 0: one per
                                  online CPU (at most AUDIT_THREADS_MAX) */
    unsigned         quorum;   /* cosignatures that make a head witnessed;
                                  0: HUB_WITNESS_QUORUM */
} audit_verify_opts_t;

/* Verify the archive at path. The envelope and receipt signatures are
 * checked on opts->threads verifier threads fed by this thread, which
 * streams the rows from SQLite in bounded batches (at most 2 x threads + 1
 * batches of AUDIT_BATCH_ITEMS rows or AUDIT_BATCH_BYTES in flight), so
 * memory stays bounded however large the archive; problems are reported
 * in leaf order all the same, on this thread. Returns 0 when it could run
 * to the end (rep->problems says whether the archive is intact), -1 with
 * err when it could not (unreadable file, wrong schema, out of memory,
 * no threads). */
int audit_verify(const char *path, const audit_verify_opts_t *opts,
    audit_verify_report_t *rep, errbuf_t *err)
    __attribute__((warn_unused_result));

/* `csbm audit verify`. */
int cmd_audit_verify(int argc, char **argv);

#endif
