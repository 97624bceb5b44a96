/*
 * log.c — timestamped, levelled log lines on stderr (see log.h). One write(2)
 * per line, so lines from different threads never interleave.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level level_min = LOG_INFO;
static _Thread_local char thread_name[16] = "main";

static const char *const level_names[] = { "debug", "info ", "warn ", "error", "fatal" };

void log_level_set(enum log_level level)
{
	level_min = level;
}

void log_thread_name(const char *name)
{
	snprintf(thread_name, sizeof(thread_name), "%s", name);
}

void log_write(enum log_level level, const char *format, ...)
{
	if (level < level_min)
		return;
	char line[1024];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %-8s ", ts.tv_nsec / 1000000,
			      level_names[level], thread_name);
	va_list args;
	va_start(args, format);
	int written = vsnprintf(line + n, sizeof(line) - n - 1, format, args);
	va_end(args);
	n = written < 0 ? n : n + (size_t)written;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	ssize_t ignored = write(STDERR_FILENO, line, n);
	(void)ignored;
}
