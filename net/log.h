/*
 * log.h — log lines for operators, on stderr: an ISO 8601 UTC timestamp with
 * milliseconds, the level, the thread's name, the message.
 *
 *   2026-11-27T23:40:01.123Z info  shard-0  recovered 120,345 records in 0.41 s
 */
#ifndef BOXOFFICE_NET_LOG_H
#define BOXOFFICE_NET_LOG_H

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3, LOG_FATAL = 4 };

void log_level_set(enum log_level level);
/* Names the calling thread in its log lines (at most 15 bytes are kept). */
void log_thread_name(const char *name);
void log_write(enum log_level level, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)

#endif
