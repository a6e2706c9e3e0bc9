/*
 * archive_query: read-only queries over the hub's archive, for the
 * operator's audit reports (node/cmd_audit.h).
 *
 * Opens the archive file with SQLITE_OPEN_READONLY, so a report can run
 * next to a live hub and can never change the archive. Reads the tables
 * node/archive.c describes; nothing here decrypts anything. Results are
 * streamed one row at a time to a callback, so memory stays bounded
 * whatever the archive's size (sorting by time is SQLite's, which spills
 * to temporary files).
 *
 * Every function returns 0 (or the count it names) on success and -1 with
 * err set on failure.
 */
#ifndef CSBM_ARCHIVE_QUERY_H
#define CSBM_ARCHIVE_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "crypto/envelope.h"
#include "proto/errbuf.h"

#define ARCHIVE_QUERY_MAX_RECIPIENT_IDS 4096 /* distinct recipients probed */

typedef struct archive_query archive_query_t;

/* What a log row records. */
typedef enum {
    ARCHIVE_LOG_PUSH = 0,      /* a package accepted and archived */
    ARCHIVE_LOG_RESUBMIT = 1,  /* an archived package sent again */
    ARCHIVE_LOG_PULL = 2,      /* a member fetched a package */
    ARCHIVE_LOG_REFUSE = 3,    /* a package or a request refused */
    ARCHIVE_LOG_HANDSHAKE = 4, /* a connection refused at the handshake */
} archive_log_kind_t;

typedef enum {
    ARCHIVE_DIR_NONE = 0, /* a connection, or a refused request of unknown
                           * type */
    ARCHIVE_DIR_PUSH = 1,
    ARCHIVE_DIR_PULL = 2,
} archive_direction_t;

/* Filters; a zeroed struct (after archive_log_filter_init) selects all. */
typedef struct {
    const char *state;        /* actor: sender, puller, refused member */
    const char *recipient;    /* rows of packages addressed to it */
    int         package_type; /* csbm.PackageType; 0 any */
    int64_t     since;        /* at >= since */
    int64_t     until;        /* at <= until */
    int         direction;    /* archive_direction_t; -1 any */
    int         refused;      /* 1 refused only, 0 accepted only, -1 any */
    int         reason;       /* csbm.ReasonCode; -1 any */
    int         empty_pulls;  /* also list pulls that fetched nothing */
    uint64_t    limit;        /* rows at most; 0 no limit */
} archive_log_filter_t;

/* One row of the exchange log. Pointers are valid during the callback. */
typedef struct {
    int64_t             at; /* Unix seconds, hub clock */
    archive_log_kind_t  kind;
    archive_direction_t direction;
    int                 refused;
    const char         *state; /* actor; "" if unknown */
    int                 has_id;
    uint8_t             package_id[ENVELOPE_ID_BYTES];
    uint64_t            position;     /* 0 if the package is not archived */
    const char         *sender;       /* of the package; "" if not archived */
    int                 package_type; /* 0 if not archived */
    uint32_t            year;         /* 0 if not archived */
    int64_t             created_at;   /* sender's clock; 0 if not archived */
    const char         *recipients;   /* "CHL,PER,hub"; "" if unknown */
    int                 reason;       /* csbm.ReasonCode; 0 none */
    const char         *detail;       /* the hub's message; "" if none */
} archive_log_row_t;

/* Return 0 to go on, -1 to stop with an error (set err). */
typedef int (*archive_log_fn)(const archive_log_row_t *row, void *ctx,
                              errbuf_t *err);

/* One archived package for the compliance matrix; pointers are valid
 * during the callback only. */
typedef struct {
    uint64_t       position;
    const char    *sender;
    int            package_type;
    uint32_t       year;
    int64_t        created_at;
    int64_t        accepted_at;
    const uint8_t *envelope; /* the exact bytes received */
    size_t         envelope_len;
} archive_package_t;

typedef int (*archive_package_fn)(const archive_package_t *pkg, void *ctx,
                                  errbuf_t *err);

/* Open the archive at path read-only and check that it is a csbm archive
 * of a schema this build reads. The error names the file and says what
 * is wrong (missing, not an SQLite database, not an archive, another
 * schema version). Caller owns the result (archive_query_destroy). */
archive_query_t *archive_query_open(const char *path, errbuf_t *err)
    __attribute__((warn_unused_result));

/* NULL-safe; nulls the pointer. */
void archive_query_destroy(archive_query_t **self_p);

/* The federation the archive belongs to ("" if not recorded). */
const char *archive_query_federation(const archive_query_t *self);

void archive_log_filter_init(archive_log_filter_t *f);

/* The exchange log in time order (ties: archive order, then event order):
 *   - PUSH, one per archived package, at accepted_at, actor its sender;
 *   - RESUBMIT, PULL (one row per package fetched; with empty_pulls one
 *     row without a package for a pull that fetched nothing), REFUSE and
 *     HANDSHAKE from the events table.
 * Calls fn for every row that passes the filter, at most f->limit rows.
 * Returns the number of rows given, or -1. */
long archive_query_log(archive_query_t *self, const archive_log_filter_t *f,
                       archive_log_fn fn, void *ctx, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Every archived package of reporting year `year` (all years if 0), in
 * position order. Returns the number of packages given, or -1. */
long archive_query_packages(archive_query_t *self, uint32_t year,
                            archive_package_fn fn, void *ctx, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Distinct senders of year `year` (all if 0), in code order, one call of
 * fn each; fn returns 0 to go on. Returns the count, or -1. */
long archive_query_senders(archive_query_t *self, uint32_t                 year,
                           int (*fn)(const char *sender, void *ctx), void *ctx,
                           errbuf_t *err) __attribute__((warn_unused_result));

/* Names: "push", "resubmit", "pull", "refuse", "handshake";
 * "push", "pull", "" (none). */
const char *archive_log_kind_name(archive_log_kind_t kind);
const char *archive_direction_name(archive_direction_t dir);

#endif
