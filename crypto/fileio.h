/*
 * fileio: bounded reads and careful writes of whole files.
 *
 * Every read has a size limit chosen by the caller; nothing is allocated
 * from a length the file claims. Writes go to a temporary file in the same
 * directory, are fsync'd, then renamed into place, so a crash leaves either
 * the old file or the new one. Secret files are created O_EXCL | O_NOFOLLOW
 * with mode 0600 and are refused when their permissions are loose.
 */
#ifndef CSBM_FILEIO_H
#define CSBM_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/errbuf.h"

/* Read all of path ("-" means standard input) into a new buffer, refusing
 * files larger than max bytes. The buffer has one extra NUL byte after the
 * data, so text can be used as a C string. Caller owns *out (free()).
 * Returns 0, or -1 with err naming the file and the reason. */
int fileio_read(const char *path, size_t max, uint8_t **out, size_t *out_len,
    errbuf_t *err) __attribute__((warn_unused_result));

/* Write len bytes to path atomically (temporary file, fsync, rename, fsync
 * of the directory) with the given mode. With exclusive set, an existing
 * path is an error instead of being replaced. path "-" writes to standard
 * output. Returns 0 or -1 with err set. */
int fileio_write(const char *path, const void *buf, size_t len, mode_t mode,
    int exclusive, errbuf_t *err) __attribute__((warn_unused_result));

/* Create directory path with mode 0700 if it does not exist, and refuse an
 * existing one that is group- or world-accessible. */
int fileio_private_dir(const char *path, errbuf_t *err)
    __attribute__((warn_unused_result));

/* Refuse a secret file that is not a regular file owned by us with mode
 * 0600 (or stricter); the message says how to fix it (chmod 600 ...).
 * Symbolic links are refused, not followed. This only diagnoses: to read
 * a secret file use fileio_read_private, which checks the descriptor it
 * reads from, so the file cannot be swapped between check and read. */
int fileio_check_private(const char *path, errbuf_t *err)
    __attribute__((warn_unused_result));

/* fileio_read of a secret file: opened O_NOFOLLOW, refused as
 * fileio_check_private refuses it (checked with fstat on the open
 * descriptor), then read whole, at most max bytes. Caller owns *out
 * (wipe it, then free()). */
int fileio_read_private(const char *path, size_t max, uint8_t **out,
    size_t *out_len, errbuf_t *err) __attribute__((warn_unused_result));

#endif
