/*
 * syncer: a thread that flushes the hub's archive to disk on request, so
 * that the I/O thread can write and commit batch k+1 while batch k's
 * flush runs (group commit with the flush off the critical path).
 *
 * The archive is opened with ARCHIVE_OPEN_DEFERRED_SYNC; after each
 * commit the I/O thread asks for a flush (syncer_request) and, before it
 * answers that batch, waits for it (syncer_wait). A flush covers every
 * commit that returned before it started. A failed flush is final: every
 * later wait fails too, since after a failed fdatasync the kernel may
 * have dropped the unwritten pages and a later one proves nothing.
 */
#ifndef CSBM_SYNCER_H
#define CSBM_SYNCER_H

#include <stdint.h>

#include "node/archive.h"
#include "proto/errbuf.h"

typedef struct syncer syncer_t;

/* Start the thread (every signal blocked in it) for archive, which must
 * outlive the syncer. Caller owns the result (syncer_destroy). NULL with
 * err if the thread cannot start. */
syncer_t *syncer_new(archive_t *archive, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Ask for a flush of everything committed so far. Returns its number
 * (1, 2, ...: later requests have larger numbers). */
uint64_t syncer_request(syncer_t *self);

/* Flush on the calling thread, when it has nothing else to do (an idle
 * hub: a hand-off to the thread would only add two wake-ups to the
 * answer). 0 done (flush number syncer_last); 1 the thread is busy
 * flushing, so use syncer_request; -1 with err if a flush failed, this
 * one or one before. The checkpoint that follows is left to the thread. */
int syncer_flush_here(syncer_t *self, errbuf_t *err)
    __attribute__((warn_unused_result));

/* The number of the newest flush asked for (0: none yet). */
uint64_t syncer_last(syncer_t *self);

/* Wait until flush n (and every one before it) is done. 0 once it is on
 * disk; -1 with err if a flush failed. n 0 returns 0 at once. */
int syncer_wait(syncer_t *self, uint64_t n, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Finish the flush in hand, stop and join the thread. NULL-safe; nulls
 * the pointer. */
void syncer_destroy(syncer_t **self_p);

#endif
