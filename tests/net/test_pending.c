/*
 * test_pending.c — the queue of answers waiting for the log (net/pending.h): first in,
 * first out with every entry's bytes intact across compactions, and memory that
 * follows what it holds even when it never empties, as under steady load.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pending.h"

#define ENTRY_BYTES_MAX 30000u

/* Entry number n: its target is n, its size and bytes follow from n. */
static uint32_t entry_size(uint64_t n)
{
	return (uint32_t)(1 + (n * 7919) % ENTRY_BYTES_MAX);
}

static const uint8_t *entry_bytes(uint64_t n)
{
	static uint8_t bytes[ENTRY_BYTES_MAX];
	for (uint32_t i = 0; i < entry_size(n); i++)
		bytes[i] = (uint8_t)(n * 31 + i);
	return bytes;
}

static void entry_push(struct pending_queue *queue, uint64_t n)
{
	uint32_t size = entry_size(n);
	const uint8_t *bytes = entry_bytes(n);
	pending_queue_push(queue,
			   (struct pending){ .required_lsn = n, .target = n, .size = size,
					     .worker = (uint16_t)(n % 3), .kind = PENDING_RESPONSE },
			   bytes);
}

/* Pops the front, which must be entry number n, bytes and all. */
static void entry_pop(struct pending_queue *queue, uint64_t n)
{
	const uint8_t *bytes;
	const struct pending *entry = pending_queue_front(queue, &bytes);
	cr_assert_not_null(entry, "entry %llu: the queue is empty", (unsigned long long)n);
	cr_assert_eq(entry->target, n, "entry %llu came out as %llu", (unsigned long long)n,
		     (unsigned long long)entry->target);
	cr_assert_eq(entry->required_lsn, n);
	cr_assert_eq(entry->worker, n % 3);
	cr_assert_eq(entry->size, entry_size(n));
	cr_assert(memcmp(bytes, entry_bytes(n), entry->size) == 0, "entry %llu: other bytes",
		  (unsigned long long)n);
	pending_queue_pop(queue);
}

Test(pending, entries_come_out_in_order_with_their_bytes_across_compactions)
{
	struct pending_queue queue = { 0 };
	uint64_t pushed = 0, popped = 0;
	uint64_t random = 88172645463325252ull;
	for (uint32_t round = 0; round < 20000; round++) {
		random ^= random << 13;
		random ^= random >> 7;
		random ^= random << 17;
		uint32_t pushes = (uint32_t)(random % 5), pops = (uint32_t)(random >> 8) % 5;
		for (uint32_t i = 0; i < pushes; i++)
			entry_push(&queue, ++pushed);
		for (uint32_t i = 0; i < pops && popped < pushed; i++)
			entry_pop(&queue, ++popped);
		pending_queue_settle(&queue);
		cr_assert_eq(queue.count, pushed - popped);
	}
	while (popped < pushed)
		entry_pop(&queue, ++popped);
	const uint8_t *bytes;
	cr_assert_null(pending_queue_front(&queue, &bytes));
	pending_queue_finish(&queue);
}

/*
 * A queue that never empties: each round three entries come and the three oldest go,
 * so about 30 entries (at most 900 KB) are always held. Its memory must stay near
 * that, not grow with everything that ever passed through it (here 1.8 GB).
 */
Test(pending, a_queue_that_never_empties_keeps_its_memory_near_what_it_holds)
{
	struct pending_queue queue = { 0 };
	uint64_t pushed = 0, popped = 0;
	size_t memory_max = 0;
	for (uint32_t i = 0; i < 30; i++)
		entry_push(&queue, ++pushed);
	for (uint32_t round = 0; round < 40000; round++) {
		for (uint32_t i = 0; i < 3; i++)
			entry_push(&queue, ++pushed);
		for (uint32_t i = 0; i < 3; i++)
			entry_pop(&queue, ++popped);
		pending_queue_settle(&queue);
		size_t memory = pending_queue_memory(&queue);
		memory_max = memory > memory_max ? memory : memory_max;
		cr_assert_leq(memory, 8u << 20,
			      "round %u: the queue holds %u entries in %zu bytes of memory", round,
			      queue.count, memory);
	}
	cr_log_info("a never-empty queue: %zu bytes of memory at most", memory_max);
	pending_queue_finish(&queue);
}

Test(pending, an_emptied_queue_gives_large_arrays_back)
{
	struct pending_queue queue = { 0 };
	uint64_t n = 0;
	while (queue.bytes_size < (16u << 20))
		entry_push(&queue, ++n);
	for (uint64_t i = 1; i <= n; i++)
		entry_pop(&queue, i);
	pending_queue_settle(&queue);
	cr_assert_eq(queue.bytes_capacity, 0, "an empty queue keeps %u bytes",
		     queue.bytes_capacity);
	/* It works as before afterwards. */
	entry_push(&queue, n + 1);
	entry_pop(&queue, n + 1);
	pending_queue_settle(&queue);
	pending_queue_finish(&queue);
}
