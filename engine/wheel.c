/*
 * wheel.c — the hashed timing wheel (see wheel.h).
 */
#include "wheel.h"

#include <string.h>

#include "base.h"
#include "memory.h"

static uint32_t slot_of(const struct wheel *wheel, int64_t due_ms)
{
	return (uint32_t)((uint64_t)due_ms & (wheel->slots_count - 1));
}

void wheel_init(struct wheel *wheel, uint32_t slots_count, wheel_node_fn *node, void *context)
{
	ASSERT(slots_count > 0 && (slots_count & (slots_count - 1)) == 0);
	*wheel = (struct wheel){ .slots_count = slots_count, .node = node, .context = context };
	wheel->heads = memory_alloc(sizeof(uint32_t) * slots_count);
	memset(wheel->heads, 0xff, sizeof(uint32_t) * slots_count);
}

void wheel_finish(struct wheel *wheel)
{
	if (wheel == NULL)
		return;
	memory_free(wheel->heads);
	wheel->heads = NULL;
}

void wheel_schedule(struct wheel *wheel, uint32_t timer_id, int64_t due_ms)
{
	struct timer_node *node = wheel->node(wheel->context, timer_id);
	ASSERT(!timer_node_scheduled(node));
	ASSERT(due_ms > wheel->cursor_ms);
	uint32_t slot = slot_of(wheel, due_ms);
	uint32_t head = wheel->heads[slot];
	*node = (struct timer_node){ .due_ms = due_ms, .next = head, .prev = WHEEL_NONE };
	if (head != WHEEL_NONE)
		wheel->node(wheel->context, head)->prev = timer_id;
	wheel->heads[slot] = timer_id;
	wheel->count++;
}

void wheel_cancel(struct wheel *wheel, uint32_t timer_id)
{
	struct timer_node *node = wheel->node(wheel->context, timer_id);
	ASSERT(timer_node_scheduled(node));
	ASSERT(wheel->count > 0);
	if (node->prev != WHEEL_NONE)
		wheel->node(wheel->context, node->prev)->next = node->next;
	else
		wheel->heads[slot_of(wheel, node->due_ms)] = node->next;
	if (node->next != WHEEL_NONE)
		wheel->node(wheel->context, node->next)->prev = node->prev;
	timer_node_init(node);
	wheel->count--;
}

void wheel_reschedule(struct wheel *wheel, uint32_t timer_id, int64_t due_ms)
{
	if (timer_node_scheduled(wheel->node(wheel->context, timer_id)))
		wheel_cancel(wheel, timer_id);
	wheel_schedule(wheel, timer_id, due_ms);
}

void wheel_collect(struct wheel *wheel, int64_t now_ms, uint32_t **ids, uint32_t *count,
		   uint32_t *capacity)
{
	if (now_ms <= wheel->cursor_ms)
		return;
	/* Visit the slots of (cursor, now]; a longer span than one turn visits each once. */
	uint64_t span = (uint64_t)(now_ms - wheel->cursor_ms);
	uint64_t visits = span < wheel->slots_count ? span : wheel->slots_count;
	for (uint64_t k = 1; k <= visits && wheel->count > 0; k++) {
		uint32_t slot = slot_of(wheel, wheel->cursor_ms + (int64_t)k);
		for (uint32_t id = wheel->heads[slot]; id != WHEEL_NONE;) {
			const struct timer_node *node = wheel->node(wheel->context, id);
			if (node->due_ms <= now_ms) {
				ARRAY_RESERVE(*ids, *capacity, (uint64_t)*count + 1);
				(*ids)[(*count)++] = id;
			}
			id = node->next;
		}
	}
	wheel->cursor_ms = now_ms;
}

size_t wheel_memory(const struct wheel *wheel)
{
	return sizeof(uint32_t) * wheel->slots_count;
}

void wheel_check(const struct wheel *wheel)
{
	uint64_t seen = 0;
	for (uint32_t slot = 0; slot < wheel->slots_count; slot++) {
		uint32_t prev = WHEEL_NONE;
		for (uint32_t id = wheel->heads[slot]; id != WHEEL_NONE;) {
			const struct timer_node *node = wheel->node(wheel->context, id);
			ASSERT(timer_node_scheduled(node));
			ASSERT(slot_of(wheel, node->due_ms) == slot);
			ASSERT(node->due_ms > wheel->cursor_ms);
			ASSERT(node->prev == prev);
			ASSERT(seen < wheel->count);
			seen++;
			prev = id;
			id = node->next;
		}
	}
	ASSERT(seen == wheel->count);
}
