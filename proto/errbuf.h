/*
 * errbuf: the error value every library function fills in.
 *
 * Library code returns 0 / -1 (or NULL) and writes a message a user can act
 * on into a caller-supplied errbuf_t; only the command line layer prints it
 * and exits. A NULL errbuf_t is allowed everywhere and means "don't care".
 */
#ifndef CSBM_ERRBUF_H
#define CSBM_ERRBUF_H

#include <stddef.h>

#define ERRBUF_SIZE 1024

typedef struct {
    char msg[ERRBUF_SIZE];
} errbuf_t;

/* Replace the message. */
void errbuf_set(errbuf_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prepend context to the current message: "context: old message". */
void errbuf_prefix(errbuf_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clear the message. */
void errbuf_clear(errbuf_t *err);

#endif
