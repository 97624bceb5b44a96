/*
 * flush_bench.c — the disk's own flush latency, without boxoffice: what a durable answer
 * cannot beat on this machine.
 *
 * One thread writes 4 KiB at a time with O_DIRECT and RWF_DSYNC, as the log flushes
 * (wal/FORMAT.md), into a file filled beforehand, so that no write extends it or converts
 * an unwritten extent. Each write returns once its data is on stable storage: on a disk
 * with a volatile write cache, once the cache has been flushed.
 *
 * The writer is pinned to the first CPU it may run on. --busy N starts N threads that only
 * spin, pinned in turn to the other CPUs, never to the writer's: they load the machine
 * without taking the writer's CPU. So that what is left of the writer's own scheduling can
 * be told apart from the disk, the writer's time waiting for its CPU is printed too (from
 * /proc/thread-self/schedstat).
 *
 * Usage: flush_bench [--dir D] [--seconds S] [--busy N]
 *   --dir      where the file goes (default: $TMPDIR or /tmp); it must be on the disk to
 *              be measured. The file is unlinked as soon as it is open.
 *   --seconds  length of the run (default 5)
 *   --busy     spinning threads (default 0; at least one other CPU is needed)
 * Prints one figure a line as `name: value unit`, each name starting with idle_ (no
 * spinning thread) or busyN_.
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
#define FILL_BYTES (1u << 20)
#define FILE_BYTES (64u << 20)

static atomic_bool spinning = true;

static void fail(const char *what, int error)
{
	fprintf(stderr, "flush_bench: %s: %s\n", what, strerror(error));
	exit(1);
}

static void pin(pthread_t thread, int cpu)
{
	cpu_set_t cpus;
	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	int error = pthread_setaffinity_np(thread, sizeof(cpus), &cpus);
	if (error != 0)
		fail("pthread_setaffinity_np", error);
}

static void *spin(void *argument)
{
	(void)argument;
	volatile uint64_t turns = 0;
	while (atomic_load_explicit(&spinning, memory_order_relaxed))
		turns++;
	return NULL;
}

/* Writes all of size bytes at offset, or fails naming what. */
static void write_all(int fd, const void *bytes, size_t size, off_t offset, int flags,
		      const char *what)
{
	struct iovec iov = { .iov_base = (void *)bytes, .iov_len = size };
	ssize_t done = pwritev2(fd, &iov, 1, offset, flags);
	if (done < 0)
		fail(what, errno);
	if ((size_t)done != size)
		fail(what, EIO); /* a short write of an aligned block: the disk is full or failing */
}

/*
 * Creates the file, unlinks it at once (nothing is left behind, however the run ends) and
 * fills it. *direct tells whether the file system took O_DIRECT; without it, writes go
 * through the page cache and RWF_DSYNC still waits for the disk.
 */
static int file_prepare(const char *dir, void *fill, bool *direct)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/flush_bench.%ld", dir, (long)getpid());
	*direct = true;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EINVAL) {
		*direct = false;
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0)
		fail(path, errno);
	if (unlink(path) < 0)
		fail(path, errno);
	memset(fill, 0, FILL_BYTES);
	for (off_t offset = 0; offset < FILE_BYTES; offset += FILL_BYTES)
		write_all(fd, fill, FILL_BYTES, offset, 0, "filling the file");
	if (fsync(fd) < 0)
		fail("fsync", errno);
	return fd;
}

/* The calling thread's time waiting on a run queue so far, in nanoseconds. */
static uint64_t runqueue_wait_ns(void)
{
	unsigned long long running = 0, waiting = 0;
	FILE *file = fopen("/proc/thread-self/schedstat", "r");
	if (file == NULL)
		return 0;
	if (fscanf(file, "%llu %llu", &running, &waiting) != 2)
		waiting = 0;
	fclose(file);
	return waiting;
}

static bool parse_number(const char *text, double low, double high, double *value)
{
	char *end;
	errno = 0;
	*value = strtod(text, &end);
	return errno == 0 && end != text && *end == '\0' && *value >= low && *value <= high;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
	double seconds = 5, busy_value = 0;
	for (int i = 1; i < argc; i++) {
		bool ok = i + 1 < argc;
		if (ok && strcmp(argv[i], "--dir") == 0)
			dir = argv[++i];
		else if (ok && strcmp(argv[i], "--seconds") == 0)
			ok = parse_number(argv[++i], 0.001, 3600, &seconds);
		else if (ok && strcmp(argv[i], "--busy") == 0)
			ok = parse_number(argv[++i], 0, 1024, &busy_value) &&
			     busy_value == (double)(long)busy_value;
		else
			ok = false;
		if (!ok) {
			fprintf(stderr, "usage: flush_bench [--dir D] [--seconds S (0.001 to 3600)] "
					"[--busy N (0 to 1024)]\n");
			return 64;
		}
	}
	long busy = (long)busy_value;

	/* The writer takes the first CPU it may run on, the spinners the others. */
	cpu_set_t allowed;
	if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0)
		fail("sched_getaffinity", errno);
	int cpus[CPU_SETSIZE], cpus_count = 0;
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (CPU_ISSET(cpu, &allowed))
			cpus[cpus_count++] = cpu;
	}
	if (busy > 0 && cpus_count < 2) {
		fprintf(stderr, "flush_bench: --busy needs a CPU besides the writer's; this process "
				"may run on %d\n", cpus_count);
		return 64;
	}

	void *fill, *block;
	if (posix_memalign(&fill, BLOCK_BYTES, FILL_BYTES) != 0 ||
	    posix_memalign(&block, BLOCK_BYTES, BLOCK_BYTES) != 0)
		fail("posix_memalign", ENOMEM);
	bool direct;
	int fd = file_prepare(dir, fill, &direct);
	free(fill);
	pin(pthread_self(), cpus[0]);

	pthread_t *threads = calloc((size_t)busy + 1, sizeof(*threads));
	if (threads == NULL)
		fail("calloc", ENOMEM);
	for (long i = 0; i < busy; i++) {
		int error = pthread_create(&threads[i], NULL, spin, NULL);
		if (error != 0)
			fail("pthread_create", error);
		pin(threads[i], cpus[1 + i % (cpus_count - 1)]);
	}

	static struct histogram latency;
	histogram_reset(&latency);
	uint64_t over_1ms = 0, over_5ms = 0, total_ns = 0, waited_before = runqueue_wait_ns();
	memset(block, 0, BLOCK_BYTES);
	int64_t start = clock_ns(), end = start + (int64_t)(seconds * NS_PER_S), now = start;
	for (uint64_t i = 0; now < end; i++) {
		memcpy(block, &i, sizeof(i));
		off_t offset = (off_t)(i % (FILE_BYTES / BLOCK_BYTES)) * BLOCK_BYTES;
		int64_t before = clock_ns();
		write_all(fd, block, BLOCK_BYTES, offset, RWF_DSYNC, "pwritev2");
		now = clock_ns();
		uint64_t ns = (uint64_t)(now - before);
		total_ns += ns;
		histogram_record(&latency, (ns + 500u) / 1000u);
		over_1ms += ns > 1000000u;
		over_5ms += ns > 5000000u;
	}
	double elapsed = (double)(now - start) / NS_PER_S;
	uint64_t waited_ns = runqueue_wait_ns() - waited_before;

	atomic_store(&spinning, false);
	for (long i = 0; i < busy; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	close(fd);
	free(block);

	char prefix[32];
	if (busy == 0)
		snprintf(prefix, sizeof(prefix), "idle");
	else
		snprintf(prefix, sizeof(prefix), "busy%ld", busy);
	printf("%s_o_direct: %d (1 = yes)\n", prefix, direct ? 1 : 0);
	printf("%s_flushes_per_s: %.0f flushes/s\n", prefix, (double)latency.count / elapsed);
	printf("%s_flush_mean_us: %.1f us\n", prefix,
	       (double)total_ns / 1000.0 / (double)(latency.count > 0 ? latency.count : 1));
	printf("%s_flush_p50_us: %llu us\n", prefix,
	       (unsigned long long)histogram_quantile(&latency, 0.5));
	printf("%s_flush_p99_us: %llu us\n", prefix,
	       (unsigned long long)histogram_quantile(&latency, 0.99));
	printf("%s_flush_p999_us: %llu us\n", prefix,
	       (unsigned long long)histogram_quantile(&latency, 0.999));
	printf("%s_flush_max_us: %llu us\n", prefix, (unsigned long long)latency.max_us);
	printf("%s_flushes_over_1ms_per_s: %.1f flushes/s\n", prefix, (double)over_1ms / elapsed);
	printf("%s_flushes_over_5ms_per_s: %.1f flushes/s\n", prefix, (double)over_5ms / elapsed);
	printf("%s_writer_runqueue_wait_ms_per_s: %.2f ms/s\n", prefix,
	       (double)waited_ns / 1e6 / elapsed);
	return 0;
}
