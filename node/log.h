/*
 * log: the daemons' log lines — UTC timestamp, level, message — to stderr,
 * or to syslog when log_open(..., 1) was called.
 *   2026-11-22T20:17:03Z INFO  accepted ARG 3f2a... at position 12
 */
#ifndef CSBM_LOG_H
#define CSBM_LOG_H

typedef enum {
    LOG_LEVEL_DEBUG = 0,
    LOG_LEVEL_INFO = 1,
    LOG_LEVEL_WARN = 2,
    LOG_LEVEL_ERROR = 3,
} log_level_t;

/* Set the program name, the minimum level, and whether to use syslog. */
void log_open(const char *ident, log_level_t min_level, int use_syslog);

void log_msg(log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
