/*
 * redis_calls.h — the commands and replies of boxbench's Redis peer (target_redis.c):
 * a request as the FCALL of a function of bench/peers/redis.lua (SEATMAP: a GET),
 * a function's reply and a bx:news message as results.
 */
#ifndef BOXOFFICE_BENCH_REDIS_CALLS_H
#define BOXOFFICE_BENCH_REDIS_CALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "target.h"

#define ARGV_COUNT_MAX (5u + HOLD_SEATS_COUNT_MAX)
#define NUMBER_SIZE 24u

/* Formats the command of a request into argv and sizes (numbers into `numbers`);
 * returns argc, or -1 for an operation this peer does not have. */
int redis_request_format(const struct bench_request *request, const char **argv, size_t *sizes,
			 char numbers[ARGV_COUNT_MAX][NUMBER_SIZE]);

/* Element `index` of an array reply, when it is an integer. */
bool redis_reply_integer(const redisReply *reply, size_t index, long long *value);

/* Reads a function's reply {status, hold id, deadline, waiter state, join seq, seats…}.
 * Anything else (an error reply, a lost connection) is STATUS_INTERNAL, and false. */
bool redis_result_parse(const redisReply *reply, struct bench_result *result);

/* A message on bx:news: "user seq state hold_id deadline seats" (seats "a,b,c").
 * False when it is not a terminal waiting-list state or has too many seats. */
bool redis_news_parse(const char *text, uint64_t *user_id, struct bench_result *result);

#endif
