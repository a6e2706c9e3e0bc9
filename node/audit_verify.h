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
 *   - positions contiguous, every package a leaf, every cosignature valid.
 *
 * The archive is opened read-only; the hub may keep running.
 */
#ifndef CSBM_AUDIT_VERIFY_H
#define CSBM_AUDIT_VERIFY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config/keyring.h"
#include "proto/errbuf.h"

/* Called for each problem found: where (leaf index and archive position,
 * -1 when not applicable) and what differs. */
typedef void (*audit_problem_fn)(int64_t leaf, int64_t position,
    const char *what, void *ctx);

typedef struct {
    uint64_t leaves;
    uint64_t packages;
    uint64_t pulls;
    uint64_t heads;
    uint64_t cosignatures;
    uint64_t problems;
} audit_verify_report_t;

/* Verify the archive at path for federation with keyring. progress (may
 * be NULL) gets a line now and then for large archives. Returns 0 when
 * it could run to the end (rep->problems says whether the archive is
 * intact), -1 with err when it could not (unreadable file, wrong
 * schema). */
int audit_verify(const char *path, const char *federation,
    const keyring_t *keyring, audit_problem_fn fn, void *ctx,
    FILE *progress, audit_verify_report_t *rep, errbuf_t *err)
    __attribute__((warn_unused_result));

/* `csbm audit verify`. */
int cmd_audit_verify(int argc, char **argv);

#endif
