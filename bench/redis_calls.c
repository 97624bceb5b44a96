/*
 * redis_calls.c — the commands and replies of boxbench's Redis peer (see redis_calls.h).
 */
#include "redis_calls.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define REPLY_HEADER_COUNT 5u /* status, hold id, deadline, waiter state, join seq */

bool redis_reply_integer(const redisReply *reply, size_t index, long long *value)
{
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || index >= reply->elements ||
	    reply->element[index]->type != REDIS_REPLY_INTEGER)
		return false;
	*value = reply->element[index]->integer;
	return true;
}

bool redis_result_parse(const redisReply *reply, struct bench_result *result)
{
	long long v[REPLY_HEADER_COUNT + HOLD_SEATS_COUNT_MAX];
	size_t count = reply != NULL && reply->type == REDIS_REPLY_ARRAY ? reply->elements : 0;
	*result = (struct bench_result){ .status = STATUS_INTERNAL };
	bool valid = count >= REPLY_HEADER_COUNT && count <= ARRAY_COUNT(v);
	for (size_t i = 0; valid && i < count; i++)
		valid = redis_reply_integer(reply, i, &v[i]);
	if (!valid || v[0] < 0 || v[0] >= STATUS_COUNT)
		return false;
	result->status = (enum status)v[0];
	result->hold_id = (uint64_t)v[1];
	result->deadline_ms = v[2];
	result->waiter_state = (uint8_t)v[3];
	result->waiter_seq = (uint64_t)v[4];
	result->seats_count = (uint8_t)(count - REPLY_HEADER_COUNT);
	for (size_t i = 0; i < result->seats_count; i++)
		result->seats[i] = (uint32_t)v[REPLY_HEADER_COUNT + i];
	return true;
}

bool redis_news_parse(const char *text, uint64_t *user_id, struct bench_result *result)
{
	char *end;
	*result = (struct bench_result){ .status = STATUS_OK };
	*user_id = strtoull(text, &end, 10);
	result->waiter_seq = strtoull(end, &end, 10);
	result->waiter_state = (uint8_t)strtoul(end, &end, 10);
	result->hold_id = strtoull(end, &end, 10);
	result->deadline_ms = strtoll(end, &end, 10);
	while ((*end == ' ' || *end == ',') && end[1] >= '0' && end[1] <= '9') {
		if (result->seats_count == HOLD_SEATS_COUNT_MAX)
			return false;
		result->seats[result->seats_count++] = (uint32_t)strtoul(end + 1, &end, 10);
	}
	return result->waiter_state >= WAITER_OFFERED && result->waiter_state <= WAITER_LAPSED;
}

int redis_request_format(const struct bench_request *request, const char **argv,
			  size_t *sizes, char numbers[ARGV_COUNT_MAX][NUMBER_SIZE])
{
	int argc = 3; /* FCALL, the function, 0 keys */
	argv[0] = "FCALL";
	argv[2] = "0";
#define ARG_U64(value) (snprintf(numbers[argc], NUMBER_SIZE, "%" PRIu64, (uint64_t)(value)), \
			argv[argc] = numbers[argc], argc++)
	switch (request->op) {
	case BENCH_SEATMAP:
		/* A plain GET: 50 KB through Lua would cost the server ~100 µs. */
		argv[0] = "GET";
		argv[1] = "bx:seats";
		argc = 2;
		break;
	case BENCH_HOLD_SEATS:
		argv[1] = "bx_hold_seats";
		ARG_U64(request->user_id);
		ARG_U64(request->hold_ttl_ms);
		for (uint8_t i = 0; i < request->seats_count && i < HOLD_SEATS_COUNT_MAX; i++)
			ARG_U64(request->seats[i]);
		break;
	case BENCH_HOLD_BEST:
	case BENCH_JOIN:
		argv[1] = request->op == BENCH_JOIN ? "bx_join" : "bx_hold_best";
		ARG_U64(request->user_id);
		if (request->op == BENCH_HOLD_BEST)
			ARG_U64(request->hold_ttl_ms);
		ARG_U64(request->tier);
		ARG_U64(request->seats_count);
		ARG_U64(request->together ? 1 : 0);
		break;
	case BENCH_CONFIRM:
	case BENCH_RELEASE:
		argv[1] = request->op == BENCH_CONFIRM ? "bx_confirm" : "bx_release";
		ARG_U64(request->hold_id);
		ARG_U64(request->user_id);
		if (request->op == BENCH_CONFIRM)
			argv[argc++] = request->payment_ref;
		break;
	case BENCH_WAIT:
		argv[1] = "bx_poll";
		ARG_U64(request->user_id);
		break;
	default:
		return -1;
	}
#undef ARG_U64
	for (int i = 0; i < argc; i++)
		sizes[i] = argv[i] == request->payment_ref
				   /* A 32-byte reference fills its array: no NUL. */
				   ? strnlen(request->payment_ref, sizeof(request->payment_ref))
				   : strlen(argv[i]);
	return argc;
}
