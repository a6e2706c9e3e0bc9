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
    char    old[ERRBUF_SIZE];
    size_t  n;
    int     w;
    va_list ap;

    if (err == NULL)
        return;
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    va_start(ap, fmt);
    w = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    n = w < 0 ? 0 : (size_t)w;
    if (n + 2 < sizeof err->msg) {
        memcpy(err->msg + n, ": ", 3);
        n += 2;
        memcpy(err->msg + n, old, strnlen(old, sizeof err->msg - n - 1));
        err->msg[n + strnlen(old, sizeof err->msg - n - 1)] = '\0';
    }
}

void
errbuf_clear(errbuf_t *err)
{
    if (err != NULL)
        err->msg[0] = '\0';
}
