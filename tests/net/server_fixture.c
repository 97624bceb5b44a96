/*
 * server_fixture.c — a real boxoffice server for the end-to-end tests (see
 * server_fixture.h).
 *
 * Servers that run are listed in `live`, so that a failure anywhere kills them all
 * before the test ends: a server must never outlive the test that started it.
 */
#include "server_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LIVE_MAX 8u
#define LOG_TAIL_BYTES 3000

static struct fx_server *live[LIVE_MAX];
static bool fail_exit;

int64_t fx_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void fx_sleep_ms(int64_t ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		continue;
}

/* Failing. */

void fx_fail_exit_set(bool exit_on_failure)
{
	fail_exit = exit_on_failure;
}

static void log_tail_print(const struct fx_server *server)
{
	FILE *file = fopen(server->log_path, "r");
	if (file == NULL)
		return;
	fseek(file, 0, SEEK_END);
	long size = ftell(file);
	fseek(file, size > LOG_TAIL_BYTES ? size - LOG_TAIL_BYTES : 0, SEEK_SET);
	char buffer[LOG_TAIL_BYTES + 1];
	size_t read = fread(buffer, 1, LOG_TAIL_BYTES, file);
	buffer[read] = '\0';
	fclose(file);
	fprintf(stderr, "---- tail of %s (pid %d) ----\n%s---- end ----\n", server->log_path,
		(int)server->pid, buffer);
}

static int remove_one(const char *path, const struct stat *stat, int flag, struct FTW *ftw);

/* Kills every live server after printing its log's tail; in a criterion test also
 * removes its directory, since .fini does not run after a failed .init. */
static void live_kill_all(void)
{
	for (uint32_t i = 0; i < LIVE_MAX; i++) {
		struct fx_server *server = live[i];
		if (server == NULL)
			continue;
		log_tail_print(server);
		if (server->pid > 0) {
			kill(server->pid, SIGKILL);
			waitpid(server->pid, NULL, 0);
			server->pid = 0;
		}
		if (!fail_exit && !server->keep_root && server->root[0] != '\0') {
			nftw(server->root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
			server->root[0] = '\0';
		}
		live[i] = NULL;
	}
}

static _Noreturn void fail_message(const char *message)
{
	fprintf(stderr, "FAILED: %s\n", message);
	live_kill_all();
	if (fail_exit)
		exit(1);
	cr_assert_fail("%s", message);
	abort(); /* not reached: the assertion ends the test */
}

void fx_fail(const char *format, ...)
{
	char message[2048];
	va_list args;
	va_start(args, format);
	vsnprintf(message, sizeof(message), format, args);
	va_end(args);
	fail_message(message);
}

void fx_fail_at(const char *file, int line, const char *expression, const char *format, ...)
{
	char detail[1536];
	va_list args;
	va_start(args, format);
	vsnprintf(detail, sizeof(detail), format, args);
	va_end(args);
	char message[2048];
	snprintf(message, sizeof(message), "%s:%d: check failed: %s: %s", file, line, expression,
		 detail);
	fail_message(message);
}

void fx_rc(int rc, const char *what)
{
	if (rc != 0)
		fx_fail("%s: transport error %d (%s)", what, rc, box_client_error_text(rc));
}

/* The server process. */

static void live_add(struct fx_server *server)
{
	for (uint32_t i = 0; i < LIVE_MAX; i++) {
		if (live[i] == server)
			return;
	}
	for (uint32_t i = 0; i < LIVE_MAX; i++) {
		if (live[i] == NULL) {
			live[i] = server;
			return;
		}
	}
	fx_fail("more than %u fixture servers at once", LIVE_MAX);
}

static void live_remove(struct fx_server *server)
{
	for (uint32_t i = 0; i < LIVE_MAX; i++) {
		if (live[i] == server)
			live[i] = NULL;
	}
}

void fx_server_init(struct fx_server *server, const char *binary, uint32_t workers,
		    const char *const *extra_args)
{
	*server = (struct fx_server){ .workers = workers ? workers : FX_WORKERS_DEFAULT };
	if (binary == NULL)
		binary = getenv("BOXOFFICE_SERVER_BIN");
	FX_CHECK(binary != NULL && binary[0] != '\0', "BOXOFFICE_SERVER_BIN is not set");
	snprintf(server->binary, sizeof(server->binary), "%s", binary);
	const char *tmp = getenv("TMPDIR");
	snprintf(server->root, sizeof(server->root), "%s/boxoffice-test-XXXXXX",
		 tmp && tmp[0] ? tmp : "/tmp");
	FX_CHECK(mkdtemp(server->root) != NULL, "mkdtemp %s: %s", server->root, strerror(errno));
	snprintf(server->data_dir, sizeof(server->data_dir), "%s/data", server->root);
	snprintf(server->port_file, sizeof(server->port_file), "%s/port", server->root);
	snprintf(server->log_path, sizeof(server->log_path), "%s/server.log", server->root);
	server->keep_root = getenv("FX_KEEP") != NULL;
	for (uint32_t i = 0; extra_args != NULL && extra_args[i] != NULL; i++) {
		FX_CHECK(i < FX_ARGS_MAX, "too many extra flags");
		snprintf(server->args[i], sizeof(server->args[i]), "%s", extra_args[i]);
		server->args_count = i + 1;
	}
	live_add(server);
}

/*
 * The child: dies with its parent, logs to a file, keeps no descriptor of ours.
 * `listen` NULL: a port the kernel picks, written to the port file.
 */
static _Noreturn void server_exec(const struct fx_server *server, pid_t parent,
				  const char *listen)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(120); /* the parent died before the line above took effect */
	int log_fd = open(server->log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (log_fd >= 0) {
		dup2(log_fd, STDOUT_FILENO);
		dup2(log_fd, STDERR_FILENO);
	}
	close_range(server->stdio_closed ? 0 : 3, ~0u, 0);
	if (server->files_max != 0) {
		struct rlimit files = { .rlim_cur = server->files_max, .rlim_max = server->files_max };
		setrlimit(RLIMIT_NOFILE, &files);
	}
	/* In a sanitizer build, undefined behaviour stops the server, so that the test
	 * that caused it fails (a report in the log alone can be missed). */
	setenv("UBSAN_OPTIONS", "halt_on_error=1:abort_on_error=1:print_stacktrace=1", 0);
	char workers[16];
	snprintf(workers, sizeof(workers), "%u", server->workers);
	const char *argv[16 + FX_ARGS_MAX] = {
		server->binary, "--data", server->data_dir, "--workers", workers, "--no-pin",
		"--listen",	listen ? listen : "127.0.0.1:0",
	};
	uint32_t count = 8;
	if (listen == NULL) {
		argv[count++] = "--port-file";
		argv[count++] = server->port_file;
	}
	for (uint32_t i = 0; i < server->args_count; i++)
		argv[count++] = server->args[i];
	argv[count] = NULL;
	execv(server->binary, (char *const *)argv);
	fprintf(stderr, "exec %s: %s\n", server->binary, strerror(errno));
	_exit(127);
}

static bool port_file_read(struct fx_server *server)
{
	FILE *file = fopen(server->port_file, "r");
	if (file == NULL)
		return false;
	unsigned port = 0;
	bool ok = fscanf(file, "%u", &port) == 1 && port > 0 && port < 65536;
	fclose(file);
	if (ok)
		snprintf(server->port, sizeof(server->port), "%u", port);
	return ok;
}

/* Starts the server process (see server_exec for `listen`); sets server->pid. */
static pid_t server_spawn(struct fx_server *server, const char *listen)
{
	FX_CHECK(server->pid == 0, "the server already runs (pid %d)", (int)server->pid);
	live_add(server);
	pid_t parent = getpid();
	pid_t pid = fork();
	FX_CHECK(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		server_exec(server, parent, listen);
	server->pid = pid;
	return pid;
}

/* Waits up to timeout_ms for the server to exit; false if it still runs. */
static bool server_exited(struct fx_server *server, int timeout_ms, int *status)
{
	int64_t deadline = monotonic_ms() + timeout_ms;
	while (waitpid(server->pid, status, WNOHANG) != server->pid) {
		if (monotonic_ms() > deadline)
			return false;
		fx_sleep_ms(5);
	}
	server->pid = 0;
	return true;
}

void fx_server_start(struct fx_server *server)
{
	unlink(server->port_file);
	pid_t pid = server_spawn(server, NULL);
	server->starts_count++;
	int64_t deadline = monotonic_ms() + FX_START_TIMEOUT_MS;
	while (!port_file_read(server)) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid) {
			server->pid = 0;
			fx_fail("the server exited while starting (status %#x)", status);
		}
		FX_CHECK(monotonic_ms() < deadline, "the server did not write %s within %d ms",
			 server->port_file, FX_START_TIMEOUT_MS);
		fx_sleep_ms(5);
	}
}

/* Lines of the server's log that hold one of the texts; the first goes to `first`. */
static uint32_t log_count(const struct fx_server *server, const char *const *texts,
			  size_t count, char *first, size_t size)
{
	FILE *file = fopen(server->log_path, "r");
	char line[1024];
	uint32_t found = 0;
	while (file != NULL && fgets(line, sizeof(line), file) != NULL) {
		bool match = false;
		for (size_t i = 0; i < count && !match; i++)
			match = strstr(line, texts[i]) != NULL;
		if (match && found++ == 0)
			snprintf(first, size, "%s", line);
	}
	if (file != NULL)
		fclose(file);
	return found;
}

/*
 * A sanitizer build of the server reports what it finds in its log and may carry
 * on: any such report fails the test, whatever the exit status says. Returns
 * whether the log has one, with its line.
 */
static bool log_sanitizer_find(const struct fx_server *server, char *line, size_t size)
{
	static const char *const markers[] = { "runtime error:", "ERROR: AddressSanitizer",
					       "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer" };
	return log_count(server, markers, ARRAY_COUNT(markers), line, size) > 0;
}

static void log_sanitizer_check(const struct fx_server *server)
{
	char line[1024];
	if (log_sanitizer_find(server, line, sizeof(line)))
		fx_fail("the server's log reports: %s", line);
}

int fx_server_run_to_exit(struct fx_server *server, const char *listen)
{
	server_spawn(server, listen);
	int status = 0;
	FX_CHECK(server_exited(server, FX_START_TIMEOUT_MS, &status),
		 "the server still runs %d ms after its start", FX_START_TIMEOUT_MS);
	log_sanitizer_check(server);
	return status;
}

uint32_t fx_log_count(const struct fx_server *server, const char *text)
{
	char line[1024];
	return log_count(server, &text, 1, line, sizeof(line));
}

bool fx_log_contains(const struct fx_server *server, const char *text)
{
	return fx_log_count(server, text) > 0;
}

void fx_server_stop(struct fx_server *server)
{
	FX_CHECK(server->pid > 0, "the server does not run");
	FX_CHECK(kill(server->pid, SIGTERM) == 0, "kill: %s", strerror(errno));
	int status = 0;
	FX_CHECK(server_exited(server, FX_STOP_TIMEOUT_MS, &status),
		 "the server did not stop within %d ms of SIGTERM", FX_STOP_TIMEOUT_MS);
	log_sanitizer_check(server);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fx_fail("the server stopped by SIGTERM with %s %d, not exit 0",
			WIFEXITED(status) ? "exit status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	}
}

int fx_server_exit_status(struct fx_server *server)
{
	FX_CHECK(server->pid > 0, "the server does not run");
	int status = 0;
	FX_CHECK(server_exited(server, FX_STOP_TIMEOUT_MS, &status),
		 "the server did not exit within %d ms", FX_STOP_TIMEOUT_MS);
	log_sanitizer_check(server);
	return status;
}

void fx_server_wait_stopped(struct fx_server *server)
{
	int status = fx_server_exit_status(server);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fx_fail("the server stopped with %s %d, not exit 0",
			WIFEXITED(status) ? "exit status" : "signal",
			WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
}

void fx_server_kill(struct fx_server *server)
{
	FX_CHECK(server->pid > 0, "the server does not run");
	kill(server->pid, SIGKILL);
	int status;
	FX_CHECK(waitpid(server->pid, &status, 0) == server->pid, "waitpid: %s", strerror(errno));
	server->pid = 0;
	log_sanitizer_check(server);
}

static int remove_one(const char *path, const struct stat *stat, int flag, struct FTW *ftw)
{
	(void)stat;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void fx_server_finish(struct fx_server *server)
{
	if (server == NULL)
		return;
	if (server->pid > 0) {
		kill(server->pid, SIGKILL);
		waitpid(server->pid, NULL, 0);
		server->pid = 0;
	}
	live_remove(server);
	if (server->root[0] != '\0' && !server->keep_root)
		nftw(server->root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	server->root[0] = '\0';
}

/* Clients. */

struct box_client *fx_connect(const struct fx_server *server)
{
	struct box_client_options options;
	box_client_options_default(&options);
	options.name = "e2e-test";
	options.connect_timeout_ms = 10000;
	options.timeout_ms = FX_CALL_TIMEOUT_MS;
	char error[256];
	struct box_client *client = box_client_connect_options("127.0.0.1", server->port, &options,
							       error, sizeof(error));
	FX_CHECK(client != NULL, "connecting to 127.0.0.1:%s: %s", server->port, error);
	return client;
}

uint32_t fx_next_of(struct box_client *client, const uint64_t *ids, uint32_t count,
		    struct box_response *response, const char *what)
{
	fx_rc(box_client_next(client, response, FX_CALL_TIMEOUT_MS), what);
	uint32_t i = 0;
	while (i < count && ids[i] != response->request_id)
		i++;
	FX_CHECK(i < count, "%s: an answer to no request sent (id %llu)", what,
		 (unsigned long long)response->request_id);
	return i;
}

bool fx_raw_send(int fd, const void *bytes, size_t size)
{
	const uint8_t *p = bytes;
	while (size > 0) {
		ssize_t sent = send(fd, p, size, MSG_NOSIGNAL);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent <= 0)
			return false;
		p += sent;
		size -= (size_t)sent;
	}
	return true;
}

/* Reads exactly size bytes before the deadline: 1, 0 on EOF, or a negative errno. */
static int read_exact(int fd, uint8_t *bytes, size_t size, int64_t deadline)
{
	while (size > 0) {
		int64_t left = deadline - monotonic_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ready = poll(&pfd, 1, (int)left);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return -errno;
		if (ready == 0)
			return -ETIMEDOUT;
		ssize_t got = recv(fd, bytes, size, 0);
		if (got == 0)
			return 0;
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		bytes += got;
		size -= (size_t)got;
	}
	return 1;
}

int fx_raw_frame_read(int fd, uint8_t *buffer, size_t capacity, int timeout_ms)
{
	int64_t deadline = monotonic_ms() + timeout_ms;
	int rc = read_exact(fd, buffer, 4, deadline);
	if (rc <= 0)
		return rc;
	uint32_t size = proto_frame_size(buffer);
	if ((size_t)size + 4 > capacity || size < PROTO_HEADER_SIZE - 4)
		return -EMSGSIZE;
	rc = read_exact(fd, buffer + 4, size, deadline);
	return rc <= 0 ? rc : (int)(size + 4);
}

bool fx_raw_wait_closed(int fd, int timeout_ms)
{
	int64_t deadline = monotonic_ms() + timeout_ms;
	uint8_t sink[65536];
	for (;;) {
		int64_t left = deadline - monotonic_ms();
		if (left <= 0)
			return false;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int ready = poll(&pfd, 1, (int)left);
		if (ready <= 0)
			continue;
		ssize_t got = recv(fd, sink, sizeof(sink), 0);
		if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
			return true;
	}
}

size_t fx_frame_build(uint8_t *buffer, size_t capacity, uint16_t opcode, uint64_t request_id,
		      const void *payload, size_t payload_size)
{
	struct bytes_writer w;
	bytes_writer_init(&w, buffer, capacity);
	proto_request_begin(&w, opcode, request_id);
	bytes_put_raw(&w, payload, payload_size);
	size_t size = proto_frame_end(&w, 0);
	FX_CHECK(size > 0, "a frame of %zu payload bytes does not fit in %zu", payload_size,
		 capacity);
	return size;
}

enum status fx_raw_call(int fd, uint16_t opcode, uint64_t request_id, const void *payload,
			size_t payload_size, uint8_t *buffer, size_t capacity)
{
	size_t size = fx_frame_build(buffer, capacity, opcode, request_id, payload, payload_size);
	FX_CHECK(fx_raw_send(fd, buffer, size), "sending opcode %#x", opcode);
	int got = fx_raw_frame_read(fd, buffer, capacity, FX_CALL_TIMEOUT_MS);
	FX_CHECK(got >= (int)PROTO_HEADER_SIZE, "opcode %#x: no answer (%d)", opcode, got);
	struct proto_header header;
	proto_header_decode(buffer, &header);
	FX_CHECK(header.opcode == (uint16_t)(opcode | PROTO_RESPONSE_BIT) &&
			 header.request_id == request_id,
		 "opcode %#x, request %llu: answered as opcode %#x, request %llu", opcode,
		 (unsigned long long)request_id, header.opcode,
		 (unsigned long long)header.request_id);
	return (enum status)header.word;
}

void fx_raw_check_open(int fd)
{
	uint8_t buffer[64];
	FX_CHECK(fx_raw_call(fd, PROTO_PING, 999, "ok", 2, buffer, sizeof(buffer)) == STATUS_OK &&
			 memcmp(buffer + PROTO_HEADER_SIZE, "ok", 2) == 0,
		 "the connection does not answer a PING");
}

/* Connects; with version != 0, says HELLO in that version and returns the answer's
 * size in frame (at least a header, status ok). */
static int raw_connect(const struct fx_server *server, uint16_t version, uint8_t *frame,
		       size_t capacity, int *answer_size)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FX_CHECK(fd >= 0, "socket: %s", strerror(errno));
	struct sockaddr_in address = { .sin_family = AF_INET,
				       .sin_port = htons((uint16_t)atoi(server->port)),
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	FX_CHECK(connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0,
		 "connect to port %s: %s", server->port, strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (version == 0)
		return fd;
	struct bytes_writer w;
	bytes_writer_init(&w, frame, capacity);
	struct proto_hello request = { .version_min = version, .version_max = version,
				       .client = text_from_cstr("raw") };
	proto_encode_hello(&w, 1, &request);
	FX_CHECK(fx_raw_send(fd, frame, w.size), "sending HELLO");
	int size = fx_raw_frame_read(fd, frame, capacity, FX_CALL_TIMEOUT_MS);
	FX_CHECK(size >= (int)PROTO_HEADER_SIZE, "HELLO response: %d", size);
	struct proto_header header;
	proto_header_decode(frame, &header);
	FX_CHECK(header.opcode == (PROTO_HELLO | PROTO_RESPONSE_BIT) && header.word == STATUS_OK,
		 "HELLO answered with opcode %#x status %u", header.opcode, header.word);
	*answer_size = size;
	return fd;
}

int fx_raw_connect(const struct fx_server *server, bool hello)
{
	uint8_t frame[256];
	int size;
	return raw_connect(server, hello ? 1 : 0, frame, sizeof(frame), &size);
}

int fx_raw_connect_shard(const struct fx_server *server, uint16_t *shard)
{
	uint8_t frame[256];
	int size;
	int fd = raw_connect(server, 2, frame, sizeof(frame), &size);
	struct bytes_reader r;
	bytes_reader_init(&r, frame + PROTO_HEADER_SIZE, (size_t)size - PROTO_HEADER_SIZE);
	struct proto_hello_info info;
	FX_CHECK(proto_get_hello_info(&r, &info), "a HELLO answer of version 2 that does not decode");
	*shard = info.shard;
	return fd;
}

/* The fixture of one criterion test. */

static struct fx_server current;
static bool current_made;

struct fx_server *fx_up(const char *const *extra_args)
{
	fx_server_init(&current, NULL, 0, extra_args);
	current_made = true;
	fx_server_start(&current);
	struct box_client *client = fx_connect(&current);
	fx_catalog_load(client);
	box_client_close(client);
	return &current;
}

void fx_down(void)
{
	if (!current_made)
		return;
	current_made = false;
	if (current.pid > 0) {
		kill(current.pid, SIGKILL);
		waitpid(current.pid, NULL, 0);
		current.pid = 0;
	}
	/* Criterion ignores a failure in .fini: the report can only be printed here. */
	char line[1024];
	if (log_sanitizer_find(&current, line, sizeof(line)))
		fprintf(stderr, "WARNING: the server's log reports: %s", line);
	fx_server_finish(&current);
}

struct fx_server *fx_current(void)
{
	FX_CHECK(current_made, "fx_up() was not called");
	return &current;
}

struct box_client *fx_up_connected(void)
{
	return fx_connect(fx_up(NULL));
}

void fx_down_connected(struct box_client **client)
{
	box_client_close(*client);
	*client = NULL;
	fx_down();
}
