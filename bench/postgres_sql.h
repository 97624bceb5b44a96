/*
 * postgres_sql.h — the SQL side of boxbench's PostgreSQL peer (target_postgres.c):
 * the statements it prepares on every connection (the PL/pgSQL functions of
 * bench/peers/postgres.sql), the call of one operation (statement and parameters,
 * as text) and the server's answer turned into a bench_result.
 */
#ifndef BOXOFFICE_BENCH_POSTGRES_SQL_H
#define BOXOFFICE_BENCH_POSTGRES_SQL_H

#include <libpq-fe.h>
#include <stdint.h>

#include "target.h"

struct pg_statement {
	const char *name;
	const char *text;
};

#define PG_STATEMENTS_COUNT 9
extern const struct pg_statement pg_statements[PG_STATEMENTS_COUNT];

/* One statement call: its prepared name and its parameters, as text. */
struct pg_call {
	const char *name;
	int values_count;
	int result_format; /* 1: binary (the seat map's raw bytes) */
	const char *values[5];
	char texts[5][HOLD_SEATS_COUNT_MAX * 12 + 3]; /* the longest: a seat array */
};

/* The call of a request (any operation but the browse ones, which boxoffice alone has). */
void pg_call_build(const struct bench_request *request, struct pg_call *call);

enum pg_answer {
	PG_ANSWER_DONE,	  /* the result holds the answer (STATUS_INTERNAL if it made no sense) */
	PG_ANSWER_VICTIM, /* a deadlock or serialization victim: the operation may be retried */
	PG_ANSWER_FAILED, /* any other server error: the result says STATUS_INTERNAL */
};

/* Reads the answer to an operation `op`; a seat map's states go to `states`
 * (BENCH_SEATS_COUNT of them), which the result then points at. */
enum pg_answer pg_answer_parse(const PGresult *answer, enum bench_op op, uint8_t *states,
			       struct bench_result *result);

/* Column `column` of the first row as an integer; 0 when NULL. */
int64_t pg_field_int(const PGresult *result, int column);

#endif
