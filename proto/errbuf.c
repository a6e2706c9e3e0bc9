/* errbuf: caller-supplied error messages (see errbuf.h). */
#include "proto/errbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
errbuf_set(errbuf_t *err, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
}

void
errbuf_prefix(errbuf_t *err, const char *fmt, ...)
{
    char    head[ERRBUF_SIZE];
    char    old[ERRBUF_SIZE];
    va_list ap;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    snprintf(err->msg, sizeof err->msg, "%s: %s", head, old);
}

void
errbuf_clear(errbuf_t *err)
{
    if (err != NULL)
        err->msg[0] = '\0';
}
