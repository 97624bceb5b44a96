/*
 * base.c — names of the shared enums and the assertion failure path.
 */
#include "base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void assert_fail(const char *expression, const char *file, int line, const char *function)
{
	fprintf(stderr, "assertion failed: %s (%s:%d, %s)\n", expression, file, line, function);
	fflush(stderr);
	abort();
}

static const char *const status_names[STATUS_COUNT] = {
	[STATUS_OK] = "ok",
	[STATUS_NOT_FOUND] = "not found",
	[STATUS_SEAT_UNAVAILABLE] = "seat unavailable",
	[STATUS_LIMIT_EXCEEDED] = "limit exceeded",
	[STATUS_NOT_ON_SALE] = "not on sale",
	[STATUS_HOLD_EXPIRED] = "hold expired",
	[STATUS_NOT_OWNER] = "not owner",
	[STATUS_ALREADY_CONFIRMED] = "already confirmed",
	[STATUS_WAITLIST_ACTIVE] = "waitlist active",
	[STATUS_BAD_REQUEST] = "bad request",
	[STATUS_TOO_LARGE] = "too large",
	[STATUS_OVERLOADED] = "overloaded",
	[STATUS_INTERNAL] = "internal",
	[STATUS_SEATS_AVAILABLE] = "seats available",
	[STATUS_SOLD_OUT] = "sold out",
	[STATUS_ALREADY_EXISTS] = "already exists",
};

const char *status_name(enum status status)
{
	if ((unsigned)status >= STATUS_COUNT)
		return "unknown status";
	return status_names[status];
}

static const char *const tier_names[TIER_COUNT] = { "economy", "regular", "vip" };

size_t utf8_sequence_size(const uint8_t *s, size_t size)
{
	ASSERT(size >= 1);
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		 : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	if (n == 0 || n > size)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

bool utf8_valid(const uint8_t *bytes, size_t size)
{
	for (size_t i = 0, n; i < size; i += n) {
		n = utf8_sequence_size(bytes + i, size - i);
		if (n == 0)
			return false;
	}
	return true;
}

const char *tier_name(enum tier tier)
{
	if ((unsigned)tier >= TIER_COUNT)
		return "unknown tier";
	return tier_names[tier];
}

static int name_lookup(const char *const *names, int count, const char *name, size_t size)
{
	for (int i = 0; i < count; i++) {
		if (strlen(names[i]) == size && memcmp(names[i], name, size) == 0)
			return i;
	}
	return -1;
}

int tier_parse(const char *name, size_t size)
{
	return name_lookup(tier_names, TIER_COUNT, name, size);
}

const char *seat_state_name(enum seat_state state)
{
	switch (state) {
	case SEAT_AVAILABLE:
		return "available";
	case SEAT_HELD:
		return "held";
	case SEAT_BOOKED:
		return "booked";
	case SEAT_BLOCKED:
		return "blocked";
	}
	return "unknown seat state";
}

static const char *const event_type_names[EVENT_TYPE_COUNT] = {
	"concert", "sport", "theatre", "comedy", "festival", "family", "conference", "other",
};

const char *event_type_name(enum event_type type)
{
	if ((unsigned)type >= EVENT_TYPE_COUNT)
		return "unknown type";
	return event_type_names[type];
}

int event_type_parse(const char *name, size_t size)
{
	return name_lookup(event_type_names, EVENT_TYPE_COUNT, name, size);
}
