/*
 * postgres_sql.c — the SQL side of boxbench's PostgreSQL peer (see postgres_sql.h).
 */
#include "postgres_sql.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

const struct pg_statement pg_statements[PG_STATEMENTS_COUNT] = {
	{"seatmap", "SELECT bench_seatmap()"},
	{"hold_seats", "SELECT * FROM bench_hold_seats($1::bigint, $2::int[], $3::bigint)"},
	{"hold_best", "SELECT * FROM bench_hold_best($1::bigint, $2::int, $3::int, "
		      "$4::boolean, $5::bigint)"},
	{"confirm", "SELECT * FROM bench_confirm($1::bigint, $2::bigint, $3::text)"},
	{"release", "SELECT * FROM bench_release($1::bigint, $2::bigint)"},
	{"join", "SELECT * FROM bench_join($1::bigint, $2::int, $3::int, $4::boolean)"},
	{"poll", "SELECT * FROM bench_poll($1::bigint)"},
	{"expire", "SELECT bench_expire()"},
	{"seatmap_refresh", "SELECT bench_seatmap_refresh()"},
};

/* Formats parameter `index` into its own buffer. */
__attribute__((format(printf, 3, 4))) static void pg_call_text(struct pg_call *call, int index,
							      const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	vsnprintf(call->texts[index], sizeof(call->texts[index]), format, arguments);
	va_end(arguments);
	call->values[index] = call->texts[index];
}

/* Formats `seats` as a PostgreSQL array literal into parameter `index`. */
static void pg_call_seats(struct pg_call *call, int index, const uint32_t *seats, uint8_t count)
{
	ASSERT(count <= HOLD_SEATS_COUNT_MAX);
	char *text = call->texts[index];
	size_t used = 0;
	text[used++] = '{';
	for (uint8_t i = 0; i < count; i++)
		used += (size_t)snprintf(text + used, sizeof(call->texts[index]) - used,
					 "%s%" PRIu32, i ? "," : "", seats[i]);
	text[used++] = '}';
	text[used] = '\0';
	call->values[index] = text;
}

void pg_call_build(const struct bench_request *r, struct pg_call *call)
{
	memset(call, 0, sizeof(*call));
	/* PostgreSQL has no unsigned bigint: ids travel as their two's complement. */
	pg_call_text(call, 0, "%" PRId64, (int64_t)r->user_id);
	switch (r->op) {
	case BENCH_SEATMAP:
		*call = (struct pg_call){.name = "seatmap", .result_format = 1};
		break;
	case BENCH_HOLD_SEATS:
		pg_call_seats(call, 1, r->seats, r->seats_count);
		pg_call_text(call, 2, "%" PRIu32, r->hold_ttl_ms);
		call->name = "hold_seats", call->values_count = 3;
		break;
	case BENCH_HOLD_BEST:
	case BENCH_JOIN:
		pg_call_text(call, 1, "%u", r->tier);
		pg_call_text(call, 2, "%u", r->seats_count);
		pg_call_text(call, 3, "%s", r->together ? "t" : "f");
		pg_call_text(call, 4, "%" PRIu32, r->hold_ttl_ms);
		call->name = r->op == BENCH_JOIN ? "join" : "hold_best";
		call->values_count = r->op == BENCH_JOIN ? 4 : 5;
		break;
	case BENCH_CONFIRM:
	case BENCH_RELEASE:
		pg_call_text(call, 1, "%" PRId64, (int64_t)r->user_id);
		pg_call_text(call, 0, "%" PRId64, (int64_t)r->hold_id);
		/* The reference need not be NUL-terminated when it fills its field. */
		pg_call_text(call, 2, "%.*s", (int)sizeof(r->payment_ref), r->payment_ref);
		call->name = r->op == BENCH_CONFIRM ? "confirm" : "release";
		call->values_count = r->op == BENCH_CONFIRM ? 3 : 2;
		break;
	case BENCH_WAIT:
		call->name = "poll", call->values_count = 1;
		break;
	default:
		break;
	}
	ASSERT(call->name != NULL);
}

static uint8_t pg_seats_parse(const char *text, uint32_t *seats)
{
	uint8_t count = 0;
	while (*text != '\0' && count < HOLD_SEATS_COUNT_MAX) {
		if (*text < '0' || *text > '9') {
			text++;
			continue;
		}
		char *end;
		seats[count++] = (uint32_t)strtoul(text, &end, 10);
		text = end;
	}
	return count;
}

int64_t pg_field_int(const PGresult *result, int column)
{
	return PQgetisnull(result, 0, column) ? 0 : strtoll(PQgetvalue(result, 0, column), NULL, 10);
}

enum pg_answer pg_answer_parse(const PGresult *pending, enum bench_op op, uint8_t *states,
			       struct bench_result *result)
{
	memset(result, 0, sizeof(*result));
	result->status = STATUS_INTERNAL;
	if (pending == NULL)
		return PG_ANSWER_DONE;
	if (PQresultStatus(pending) == PGRES_FATAL_ERROR) {
		const char *state = PQresultErrorField(pending, PG_DIAG_SQLSTATE);
		const char *detail = PQresultErrorField(pending, PG_DIAG_MESSAGE_DETAIL);
		if (state && strcmp(state, "BX001") == 0) {
			result->status = (enum status)atoi(PQresultErrorField(pending,
						PG_DIAG_MESSAGE_PRIMARY));
			result->seats_count = pg_seats_parse(detail ? detail : "", result->seats);
			return PG_ANSWER_DONE;
		}
		if (state && (strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0))
			return PG_ANSWER_VICTIM;
		return PG_ANSWER_FAILED;
	}
	if (PQresultStatus(pending) != PGRES_TUPLES_OK || PQntuples(pending) != 1)
		return PG_ANSWER_DONE;
	if (op == BENCH_SEATMAP) {
		uint32_t size = (uint32_t)PQgetlength(pending, 0, 0);
		const char *text = PQgetvalue(pending, 0, 0);
		ASSERT(size <= BENCH_SEATS_COUNT);
		for (uint32_t i = 0; i < size; i++)
			states[i] = (uint8_t)(text[i] - '0');
		result->status = STATUS_OK;
		result->states = states;
		result->states_count = size;
		return PG_ANSWER_DONE;
	}
	result->status = (enum status)pg_field_int(pending, 0);
	result->hold_id = (uint64_t)pg_field_int(pending, 1);
	result->deadline_ms = pg_field_int(pending, 2);
	if (!PQgetisnull(pending, 0, 3))
		result->seats_count = pg_seats_parse(PQgetvalue(pending, 0, 3), result->seats);
	result->waiter_state = (uint8_t)pg_field_int(pending, 4);
	return PG_ANSWER_DONE;
}
