/* log: timestamped, levelled log lines for the daemons (see log.h). */
#include "node/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <time.h>

static const char *s_ident = "csbm";
static log_level_t s_min = LOG_LEVEL_INFO;
static int         s_syslog;

void
log_open(const char *ident, log_level_t min_level, int use_syslog)
{
    s_ident = ident;
    s_min = min_level;
    s_syslog = use_syslog;
    if (use_syslog)
        openlog(ident, LOG_PID, LOG_DAEMON);
}

void
log_msg(log_level_t level, const char *fmt, ...)
{
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    static const int   prio[] = {LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERR};
    char               line[2048], ts[32];
    struct timespec    now;
    struct tm          tm;
    va_list            ap;

    if (level < s_min || level > LOG_LEVEL_ERROR)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (s_syslog) {
        syslog(prio[level], "%s", line);
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ %s %-5s %s\n", ts, now.tv_nsec / 1000000L,
        s_ident, names[level], line);
}
