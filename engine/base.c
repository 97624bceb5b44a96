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

bool utf8_valid(const uint8_t *bytes, size_t size)
{
	size_t i = 0;
	while (i < size) {
		uint8_t c = bytes[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		/* The lead byte gives the length and the range the second byte must be in. */
		size_t n;
		uint8_t low = 0x80, high = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			low = c == 0xe0 ? 0xa0 : 0x80;	 /* not overlong */
			high = c == 0xed ? 0x9f : 0xbf; /* not a surrogate */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			low = c == 0xf0 ? 0x90 : 0x80;	 /* not overlong */
			high = c == 0xf4 ? 0x8f : 0xbf; /* not above U+10FFFF */
		} else {
			return false;
		}
		if (size - i < n || bytes[i + 1] < low || bytes[i + 1] > high)
			return false;
		for (size_t k = 2; k < n; k++) {
			if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf)
				return false;
		}
		i += n;
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
