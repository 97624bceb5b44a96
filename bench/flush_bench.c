/*
 * flush_bench.c — the disk's own flush latency, without boxoffice: the floor under every
 * durable figure of the server.
 *
 * One thread writes 4 KiB at a time with O_DIRECT and RWF_DSYNC, as the log flushes
 * (wal/FORMAT.md), into a file it has filled first, so that no write extends it or
 * converts an unwritten extent. Each write returns once the data is on stable storage:
 * on a disk with a volatile write cache, once the cache has been flushed.
 *
 * --busy N starts N threads that only spin, each pinned to one CPU in turn, while the
 * writer is not pinned. A durable request to the server cannot be answered faster than
 * such a write while the CPUs are as busy as the server and its clients keep them; with
 * C clients that each wait for their answer, C / mean bounds the requests per second.
 *
 * Usage: flush_bench [--dir D] [--seconds S] [--busy N]
 *   --dir      where the file goes (default: $TMPDIR or /tmp); it must be on the disk to
 *              be measured
 *   --seconds  length of the run (default 5)
 *   --busy     spinning threads (default 0)
 * Prints one figure a line as `name: value unit`, each name starting idle_ (no spinning
 * thread) or busyN_.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "bench_time.h"
#include "latency.h"

#define BLOCK_BYTES 4096u
#define FILE_BYTES (64u << 20)

static atomic_bool spinning = true;

static void *spin(void *argument)
{
	long cpu = (long)(intptr_t)argument;
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET((int)cpu, &cpus);
	pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	volatile uint64_t turns = 0;
	while (atomic_load_explicit(&spinning, memory_order_relaxed))
		turns++;
	return NULL;
}

static void fail(const char *what)
{
	fprintf(stderr, "flush_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Opens and fills the file; *direct tells whether the file system took O_DIRECT. */
static int file_prepare(const char *path, void *block, bool *direct)
{
	*direct = true;
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EINVAL) {
		*direct = false;
		fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		fail(path);
	memset(block, 0, BLOCK_BYTES);
	for (uint32_t offset = 0; offset < FILE_BYTES; offset += BLOCK_BYTES) {
		if (pwrite(fd, block, BLOCK_BYTES, offset) != (ssize_t)BLOCK_BYTES)
			fail("filling the file");
	}
	if (fsync(fd) < 0)
		fail("fsync");
	return fd;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	double seconds = 5;
	long busy = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--busy") == 0 && i + 1 < argc)
			busy = atol(argv[++i]);
		else {
			fprintf(stderr, "usage: flush_bench [--dir D] [--seconds S] [--busy N]\n");
			return 64;
		}
	}
	if (!(seconds > 0 && seconds <= 3600) || busy < 0 || busy > 1024) {
		fprintf(stderr, "flush_bench: --seconds must be in (0, 3600], --busy in [0, 1024]\n");
		return 64;
	}

	char path[4096];
	snprintf(path, sizeof(path), "%s/flush_bench.%ld", dir, (long)getpid());
	void *block;
	if (posix_memalign(&block, BLOCK_BYTES, BLOCK_BYTES) != 0)
		fail("posix_memalign");
	bool direct;
	int fd = file_prepare(path, block, &direct);
	if (!direct)
		fprintf(stderr, "flush_bench: %s does not take O_DIRECT; writing through the "
				"page cache\n", dir);

	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t *threads = calloc((size_t)busy + 1, sizeof(*threads));
	if (threads == NULL)
		fail("calloc");
	for (long i = 0; i < busy; i++) {
		if (pthread_create(&threads[i], NULL, spin, (void *)(intptr_t)(i % cpus)) != 0)
			fail("pthread_create");
	}

	static struct histogram latency;
	histogram_reset(&latency);
	uint64_t over_1ms = 0, over_5ms = 0;
	int64_t start = clock_ns(), end = start + (int64_t)(seconds * NS_PER_S), now = start;
	for (uint64_t i = 0; now < end; i++) {
		memcpy(block, &i, sizeof(i));
		struct iovec iov = { .iov_base = block, .iov_len = BLOCK_BYTES };
		off_t offset = (off_t)(i % (FILE_BYTES / BLOCK_BYTES)) * BLOCK_BYTES;
		int64_t before = clock_ns();
		if (pwritev2(fd, &iov, 1, offset, RWF_DSYNC) != (ssize_t)BLOCK_BYTES)
			fail("pwritev2");
		now = clock_ns();
		uint64_t us = (uint64_t)(now - before) / 1000u;
		histogram_record(&latency, us);
		over_1ms += us > 1000;
		over_5ms += us > 5000;
	}
	double elapsed = (double)(now - start) / NS_PER_S;

	atomic_store(&spinning, false);
	for (long i = 0; i < busy; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	close(fd);
	unlink(path);
	free(block);

	char prefix[32];
	if (busy == 0)
		snprintf(prefix, sizeof(prefix), "idle");
	else
		snprintf(prefix, sizeof(prefix), "busy%ld", busy);
	printf("%s_flushes_per_s: %.0f flushes/s\n", prefix, (double)latency.count / elapsed);
	printf("%s_flush_mean_us: %.0f us\n", prefix,
	       (double)latency.sum_us / (double)(latency.count > 0 ? latency.count : 1));
	printf("%s_flush_p50_us: %llu us\n", prefix,
	       (unsigned long long)histogram_quantile(&latency, 0.5));
	printf("%s_flush_p99_us: %llu us\n", prefix,
	       (unsigned long long)histogram_quantile(&latency, 0.99));
	printf("%s_flush_p999_us: %llu us\n", prefix,
	       (unsigned long long)histogram_quantile(&latency, 0.999));
	printf("%s_flush_max_us: %llu us\n", prefix, (unsigned long long)latency.max_us);
	printf("%s_flushes_over_1ms_per_s: %.1f flushes/s\n", prefix, (double)over_1ms / elapsed);
	printf("%s_flushes_over_5ms_per_s: %.1f flushes/s\n", prefix, (double)over_5ms / elapsed);
	return 0;
}
