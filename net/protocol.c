/*
 * protocol.c — frames and payloads of the binary protocol (see protocol.h and
 * PROTOCOL.md). Little-endian throughout; a text is a u16 size and its bytes.
 */
#include "protocol.h"

#include <string.h>

static const char *const opcode_names[] = {
	[PROTO_HELLO] = "hello",
	[PROTO_PING] = "ping",
	[PROTO_LOCATIONS] = "locations",
	[PROTO_EVENTS] = "events",
	[PROTO_EVENT] = "event",
	[PROTO_SHOW] = "show",
	[PROTO_SEATMAP] = "seatmap",
	[PROTO_VENUE] = "venue",
	[PROTO_SEARCH] = "search",
	[PROTO_LOCATION_PUT] = "location_put",
	[PROTO_VENUE_PUT] = "venue_put",
	[PROTO_EVENT_PUT] = "event_put",
	[PROTO_SHOW_PUT] = "show_put",
	[PROTO_SEATS_BLOCK] = "seats_block",
	[PROTO_HOLD] = "hold",
	[PROTO_CONFIRM] = "confirm",
	[PROTO_RELEASE] = "release",
	[PROTO_BOOKING_CANCEL] = "booking_cancel",
	[PROTO_WAITLIST_JOIN] = "waitlist_join",
	[PROTO_WAITLIST_LEAVE] = "waitlist_leave",
	[PROTO_WAITLIST_POLL] = "waitlist_poll",
	[PROTO_WAIT] = "wait",
	[PROTO_STATS] = "stats",
	[PROTO_SNAPSHOT] = "snapshot",
};

const char *proto_opcode_name(uint16_t opcode)
{
	opcode &= (uint16_t)~PROTO_RESPONSE_BIT;
	if (opcode >= ARRAY_COUNT(opcode_names) || opcode_names[opcode] == NULL)
		return "unknown";
	return opcode_names[opcode];
}

enum command_type proto_opcode_command(uint16_t opcode)
{
	if (opcode <= PROTO_COMMAND_BASE || opcode > PROTO_WAITLIST_POLL)
		return 0;
	return (enum command_type)(opcode - PROTO_COMMAND_BASE);
}

void proto_header_encode(const struct proto_header *header, uint8_t *bytes)
{
	bytes_store_u32(bytes, header->size);
	bytes_store_u16(bytes + 4, header->opcode);
	bytes_store_u16(bytes + 6, header->word);
	bytes_store_u64(bytes + 8, header->request_id);
}

enum status proto_header_decode(const uint8_t *bytes, struct proto_header *header)
{
	*header = (struct proto_header){
		.size = bytes_load_u32(bytes), .opcode = bytes_load_u16(bytes + 4),
		.word = bytes_load_u16(bytes + 6), .request_id = bytes_load_u64(bytes + 8) };
	if (header->size > PROTO_FRAME_SIZE_MAX)
		return STATUS_TOO_LARGE;
	if (header->size < PROTO_HEADER_SIZE - 4)
		return STATUS_BAD_REQUEST;
	return STATUS_OK;
}

/* Texts. */

void proto_put_text(struct bytes_writer *w, struct text text)
{
	if (text.size > UINT16_MAX) {
		w->failed = true; /* a size that does not fit its field would corrupt the frame */
		return;
	}
	bytes_put_u16(w, (uint16_t)text.size);
	bytes_put_raw(w, text.bytes, text.size);
}

bool proto_get_text(struct bytes_reader *r, struct text *text, uint32_t size_max)
{
	uint16_t size = bytes_get_u16(r);
	const uint8_t *bytes = size <= size_max ? bytes_take(r, size) : NULL;
	*text = text_from((const char *)bytes, bytes ? size : 0);
	if (bytes == NULL && size > 0)
		r->failed = true;
	return !r->failed;
}

/* Request payloads. */

/* A text outside a command: TOO_LARGE above size_max (as for any text of a command),
 * BAD_REQUEST when the payload is cut short or the text is not UTF-8 (PROTOCOL.md,
 * "Conventions"). */
static enum status text_get_checked(struct bytes_reader *r, struct text *text, uint32_t size_max)
{
	if (r->size - r->offset >= 2 && bytes_load_u16(r->bytes + r->offset) > size_max) {
		r->failed = true;
		return STATUS_TOO_LARGE;
	}
	if (!proto_get_text(r, text, size_max) ||
	    !utf8_valid((const uint8_t *)text->bytes, text->size))
		return STATUS_BAD_REQUEST;
	return STATUS_OK;
}

static enum status hello_decode(struct bytes_reader *r, struct proto_hello *hello)
{
	const uint8_t *magic = bytes_take(r, PROTO_MAGIC_SIZE);
	hello->version_min = bytes_get_u16(r);
	hello->version_max = bytes_get_u16(r);
	if (magic == NULL || memcmp(magic, PROTO_MAGIC, PROTO_MAGIC_SIZE) != 0 ||
	    hello->version_min > hello->version_max)
		return STATUS_BAD_REQUEST;
	return text_get_checked(r, &hello->client, PROTO_NAME_SIZE_MAX);
}

static enum status search_decode(struct bytes_reader *r, struct search_query *q)
{
	search_query_init(q);
	enum status keyword = text_get_checked(r, &q->keyword, SEARCH_KEYWORD_SIZE_MAX);
	if (keyword != STATUS_OK)
		return keyword;
	uint8_t near = bytes_get_u8(r);
	if (near > 1)
		return STATUS_BAD_REQUEST;
	q->near = near == 1;
	q->lat_e6 = (int32_t)bytes_get_u32(r);
	q->lon_e6 = (int32_t)bytes_get_u32(r);
	q->radius_km = bytes_get_u32(r);
	q->from_ms = (int64_t)bytes_get_u64(r);
	q->to_ms = (int64_t)bytes_get_u64(r);
	q->type = (int16_t)bytes_get_u16(r);
	q->tags_count = bytes_get_u8(r);
	if (q->tags_count > TAGS_COUNT_MAX)
		return STATUS_TOO_LARGE;
	for (uint8_t i = 0; i < q->tags_count; i++) {
		enum status tag = text_get_checked(r, &q->tags[i], TAG_SIZE_MAX);
		if (tag != STATUS_OK)
			return tag;
		if (q->tags[i].size == 0)
			return STATUS_BAD_REQUEST;
	}
	q->limit = bytes_get_u16(r);
	q->after_start_ms = (int64_t)bytes_get_u64(r);
	q->after_show_id = bytes_get_u32(r);
	return r->failed ? STATUS_BAD_REQUEST : STATUS_OK;
}

static enum status payload_decode(struct bytes_reader *r, struct proto_request *request)
{
	enum command_type type = proto_opcode_command(request->opcode);
	if (type != 0) {
		enum status status = command_decode_body(type, r->bytes + r->offset,
							 r->size - r->offset, &request->command);
		r->offset = r->size;
		/* PROTOCOL.md: texts are UTF-8, so every client can show what it reads back;
		 * a venue's seats each have their own label. */
		if (status == STATUS_OK && !command_utf8_valid(&request->command))
			status = STATUS_BAD_REQUEST;
		if (status == STATUS_OK && request->command.type == COMMAND_VENUE_PUT &&
		    !layout_labels_unique(&request->command.venue_put.layout))
			status = STATUS_BAD_REQUEST;
		return status;
	}
	switch (request->opcode) {
	case PROTO_HELLO:
		return hello_decode(r, &request->hello);
	case PROTO_PING:
		request->ping = text_from((const char *)r->bytes + r->offset,
					  (uint32_t)(r->size - r->offset));
		r->offset = r->size;
		return request->ping.size <= PROTO_PING_SIZE_MAX ? STATUS_OK : STATUS_TOO_LARGE;
	case PROTO_LOCATIONS:
	case PROTO_EVENTS:
		request->list.parent_id = request->opcode == PROTO_EVENTS ? bytes_get_u32(r) : 0;
		request->list.after_id = bytes_get_u32(r);
		request->list.limit = bytes_get_u16(r);
		if (request->list.limit == 0 || request->list.limit > PROTO_LIST_LIMIT_MAX)
			return STATUS_BAD_REQUEST;
		return STATUS_OK;
	case PROTO_EVENT:
	case PROTO_SHOW:
	case PROTO_SEATMAP:
	case PROTO_VENUE:
		request->id = bytes_get_u32(r);
		return STATUS_OK;
	case PROTO_SEARCH:
		return search_decode(r, &request->search);
	case PROTO_WAIT:
		request->wait.show_id = bytes_get_u32(r);
		request->wait.user_id = bytes_get_u64(r);
		request->wait.timeout_ms = bytes_get_u32(r);
		if (request->wait.show_id == 0 || request->wait.user_id == 0 ||
		    request->wait.timeout_ms > PROTO_WAIT_TIMEOUT_MS_MAX)
			return STATUS_BAD_REQUEST;
		return STATUS_OK;
	case PROTO_STATS:
	case PROTO_SNAPSHOT:
		return STATUS_OK;
	}
	return STATUS_BAD_REQUEST;
}

enum status proto_request_decode(const uint8_t *frame, size_t size, struct proto_request *request)
{
	request->opcode = 0;
	request->request_id = 0;
	if (size < PROTO_HEADER_SIZE)
		return STATUS_BAD_REQUEST;
	struct proto_header header;
	enum status status = proto_header_decode(frame, &header);
	request->opcode = header.opcode;
	request->request_id = header.request_id;
	if (status != STATUS_OK)
		return status;
	if ((size_t)header.size + 4 != size || header.word != 0 ||
	    (header.opcode & PROTO_RESPONSE_BIT))
		return STATUS_BAD_REQUEST;
	struct bytes_reader r;
	bytes_reader_init(&r, frame + PROTO_HEADER_SIZE, size - PROTO_HEADER_SIZE);
	status = payload_decode(&r, request);
	if (status == STATUS_OK && !bytes_reader_done(&r))
		status = STATUS_BAD_REQUEST;
	return status;
}

/* Request encoders. */

void proto_request_begin(struct bytes_writer *w, uint16_t opcode, uint64_t request_id)
{
	uint8_t *p = bytes_reserve(w, PROTO_HEADER_SIZE);
	if (p == NULL)
		return;
	struct proto_header header = { .opcode = opcode, .request_id = request_id };
	proto_header_encode(&header, p);
}

size_t proto_frame_end(struct bytes_writer *w, size_t frame_start)
{
	if (w->failed)
		return 0;
	size_t size = w->size - frame_start;
	bytes_store_u32(w->bytes + frame_start, (uint32_t)(size - 4));
	return size;
}

void proto_encode_hello(struct bytes_writer *w, uint64_t id, const struct proto_hello *hello)
{
	size_t start = w->size;
	proto_request_begin(w, PROTO_HELLO, id);
	bytes_put_raw(w, PROTO_MAGIC, PROTO_MAGIC_SIZE);
	bytes_put_u16(w, hello->version_min);
	bytes_put_u16(w, hello->version_max);
	proto_put_text(w, hello->client);
	proto_frame_end(w, start);
}

void proto_encode_list(struct bytes_writer *w, uint16_t opcode, uint64_t id,
		       const struct proto_list *list)
{
	size_t start = w->size;
	proto_request_begin(w, opcode, id);
	if (opcode == PROTO_EVENTS)
		bytes_put_u32(w, list->parent_id);
	bytes_put_u32(w, list->after_id);
	bytes_put_u16(w, list->limit);
	proto_frame_end(w, start);
}

void proto_encode_id(struct bytes_writer *w, uint16_t opcode, uint64_t id, uint32_t object_id)
{
	size_t start = w->size;
	proto_request_begin(w, opcode, id);
	bytes_put_u32(w, object_id);
	proto_frame_end(w, start);
}

void proto_encode_search(struct bytes_writer *w, uint64_t id, const struct search_query *q)
{
	size_t start = w->size;
	proto_request_begin(w, PROTO_SEARCH, id);
	proto_put_text(w, q->keyword);
	bytes_put_u8(w, q->near);
	bytes_put_u32(w, (uint32_t)q->lat_e6);
	bytes_put_u32(w, (uint32_t)q->lon_e6);
	bytes_put_u32(w, q->radius_km);
	bytes_put_u64(w, (uint64_t)q->from_ms);
	bytes_put_u64(w, (uint64_t)q->to_ms);
	bytes_put_u16(w, (uint16_t)q->type);
	bytes_put_u8(w, q->tags_count);
	for (uint8_t i = 0; i < q->tags_count; i++)
		proto_put_text(w, q->tags[i]);
	bytes_put_u16(w, (uint16_t)q->limit);
	bytes_put_u64(w, (uint64_t)q->after_start_ms);
	bytes_put_u32(w, q->after_show_id);
	proto_frame_end(w, start);
}

void proto_encode_command(struct bytes_writer *w, uint64_t id, const struct command *command)
{
	ASSERT(command->type < COMMAND_TICK); /* ticks and settings are the server's own */
	size_t start = w->size;
	proto_request_begin(w, (uint16_t)(PROTO_COMMAND_BASE + command->type), id);
	if (!w->failed) {
		size_t size = command_encode_body(command, w->bytes + w->size, w->capacity - w->size);
		if (size == 0 && command->type != COMMAND_TICK)
			w->failed = true;
		w->size += size;
	}
	proto_frame_end(w, start);
}

void proto_encode_wait(struct bytes_writer *w, uint64_t id, const struct proto_wait *wait)
{
	size_t start = w->size;
	proto_request_begin(w, PROTO_WAIT, id);
	bytes_put_u32(w, wait->show_id);
	bytes_put_u64(w, wait->user_id);
	bytes_put_u32(w, wait->timeout_ms);
	proto_frame_end(w, start);
}

void proto_encode_empty(struct bytes_writer *w, uint16_t opcode, uint64_t id)
{
	size_t start = w->size;
	proto_request_begin(w, opcode, id);
	proto_frame_end(w, start);
}

/* Response payloads. */

void proto_response_begin(struct bytes_writer *w, uint16_t opcode, enum status status,
			  uint64_t request_id)
{
	uint8_t *p = bytes_reserve(w, PROTO_HEADER_SIZE);
	if (p == NULL)
		return;
	struct proto_header header = { .opcode = (uint16_t)(opcode | PROTO_RESPONSE_BIT),
				       .word = (uint16_t)status, .request_id = request_id };
	proto_header_encode(&header, p);
}

void proto_put_result(struct bytes_writer *w, const struct engine_result *result)
{
	bytes_put_u64(w, result->hold_id);
	bytes_put_u64(w, (uint64_t)result->deadline_ms);
	bytes_put_u8(w, result->seats_count);
	for (uint8_t i = 0; i < result->seats_count; i++)
		bytes_put_u32(w, result->seats[i]);
	bytes_put_u8(w, result->booking_cancelled);
	bytes_put_u8(w, result->waiter_state);
	bytes_put_u8(w, result->tier);
	bytes_put_u32(w, result->waiters_count);
	bytes_put_u64(w, result->waiter_seq);
}

bool proto_get_result(struct bytes_reader *r, struct engine_result *result)
{
	*result = (struct engine_result){ 0 };
	result->hold_id = bytes_get_u64(r);
	result->deadline_ms = (int64_t)bytes_get_u64(r);
	result->seats_count = bytes_get_u8(r);
	if (result->seats_count > HOLD_SEATS_COUNT_MAX)
		return false;
	for (uint8_t i = 0; i < result->seats_count; i++)
		result->seats[i] = bytes_get_u32(r);
	result->booking_cancelled = bytes_get_u8(r) != 0;
	result->waiter_state = bytes_get_u8(r);
	result->tier = bytes_get_u8(r);
	result->waiters_count = bytes_get_u32(r);
	result->waiter_seq = bytes_get_u64(r);
	return !r->failed;
}

void proto_result_from_event(const struct engine_event *event, struct engine_result *result)
{
	static const uint8_t states[] = {
		[ENGINE_EVENT_OFFERED] = WAITER_OFFERED,
		[ENGINE_EVENT_SOLD_OUT] = WAITER_SOLD_OUT,
		[ENGINE_EVENT_LAPSED] = WAITER_LAPSED,
	};
	ASSERT(event->type >= ENGINE_EVENT_OFFERED && event->type <= ENGINE_EVENT_LAPSED);
	*result = (struct engine_result){ .status = STATUS_OK, .hold_id = event->hold_id,
					  .deadline_ms = event->deadline_ms,
					  .seats_count = event->seats_count,
					  .waiter_state = states[event->type], .tier = event->tier,
					  .waiter_seq = event->waiter_seq };
	memcpy(result->seats, event->seats, sizeof(uint32_t) * event->seats_count);
}

void proto_put_location(struct bytes_writer *w, const struct engine_location *l)
{
	bytes_put_u32(w, l->location_id);
	proto_put_text(w, l->name);
	bytes_put_raw(w, l->country, COUNTRY_SIZE);
	bytes_put_u32(w, (uint32_t)l->lat_e6);
	bytes_put_u32(w, (uint32_t)l->lon_e6);
	bytes_put_u32(w, l->events_count);
}

bool proto_get_location(struct bytes_reader *r, struct engine_location *l)
{
	l->location_id = bytes_get_u32(r);
	proto_get_text(r, &l->name, NAME_SIZE_MAX);
	const uint8_t *country = bytes_take(r, COUNTRY_SIZE);
	if (country != NULL)
		memcpy(l->country, country, COUNTRY_SIZE);
	l->lat_e6 = (int32_t)bytes_get_u32(r);
	l->lon_e6 = (int32_t)bytes_get_u32(r);
	l->events_count = bytes_get_u32(r);
	return !r->failed;
}

void proto_put_event(struct bytes_writer *w, const struct engine_event_info *e)
{
	bytes_put_u32(w, e->event_id);
	bytes_put_u32(w, e->location_id);
	proto_put_text(w, e->title);
	proto_put_text(w, e->description);
	bytes_put_u8(w, e->type);
	proto_put_text(w, e->language);
	bytes_put_u32(w, e->duration_min);
	bytes_put_u8(w, e->tags_count);
	for (uint8_t i = 0; i < e->tags_count; i++)
		proto_put_text(w, e->tags[i]);
	bytes_put_u32(w, e->shows_count);
}

bool proto_get_event(struct bytes_reader *r, struct engine_event_info *e)
{
	e->event_id = bytes_get_u32(r);
	e->location_id = bytes_get_u32(r);
	proto_get_text(r, &e->title, TITLE_SIZE_MAX);
	proto_get_text(r, &e->description, DESCRIPTION_SIZE_MAX);
	e->type = bytes_get_u8(r);
	proto_get_text(r, &e->language, LANGUAGE_SIZE_MAX);
	e->duration_min = bytes_get_u32(r);
	e->tags_count = bytes_get_u8(r);
	if (e->tags_count > TAGS_COUNT_MAX)
		return false;
	for (uint8_t i = 0; i < e->tags_count; i++)
		proto_get_text(r, &e->tags[i], TAG_SIZE_MAX);
	e->shows_count = bytes_get_u32(r);
	return !r->failed;
}

void proto_put_show(struct bytes_writer *w, const struct engine_show *s)
{
	bytes_put_u32(w, s->show_id);
	bytes_put_u32(w, s->event_id);
	bytes_put_u32(w, s->venue_id);
	bytes_put_u64(w, (uint64_t)s->start_ms);
	bytes_put_u64(w, (uint64_t)s->end_ms);
	for (int t = 0; t < TIER_COUNT; t++)
		bytes_put_u64(w, (uint64_t)s->prices_minor[t]);
	bytes_put_raw(w, s->currency, CURRENCY_SIZE);
	bytes_put_u8(w, s->user_seats_max);
	bytes_put_u64(w, (uint64_t)s->sale_opens_ms);
	bytes_put_u64(w, (uint64_t)s->sale_closes_ms);
	bytes_put_u32(w, s->hold_ttl_ms);
	bytes_put_u8(w, s->owned);
	for (int t = 0; t < TIER_COUNT; t++) {
		const struct engine_tier_counts *c = &s->tiers[t];
		uint32_t values[] = { c->seats, c->available, c->held, c->pooled,
				      c->booked, c->blocked, c->waiters };
		for (size_t i = 0; i < ARRAY_COUNT(values); i++)
			bytes_put_u32(w, values[i]);
	}
}

bool proto_get_show(struct bytes_reader *r, struct engine_show *s)
{
	s->show_id = bytes_get_u32(r);
	s->event_id = bytes_get_u32(r);
	s->venue_id = bytes_get_u32(r);
	s->start_ms = (int64_t)bytes_get_u64(r);
	s->end_ms = (int64_t)bytes_get_u64(r);
	for (int t = 0; t < TIER_COUNT; t++)
		s->prices_minor[t] = (int64_t)bytes_get_u64(r);
	const uint8_t *currency = bytes_take(r, CURRENCY_SIZE);
	if (currency != NULL)
		memcpy(s->currency, currency, CURRENCY_SIZE);
	s->user_seats_max = bytes_get_u8(r);
	s->sale_opens_ms = (int64_t)bytes_get_u64(r);
	s->sale_closes_ms = (int64_t)bytes_get_u64(r);
	s->hold_ttl_ms = bytes_get_u32(r);
	s->owned = bytes_get_u8(r) != 0;
	for (int t = 0; t < TIER_COUNT; t++) {
		struct engine_tier_counts *c = &s->tiers[t];
		uint32_t *fields[] = { &c->seats, &c->available, &c->held, &c->pooled,
				       &c->booked, &c->blocked, &c->waiters };
		for (size_t i = 0; i < ARRAY_COUNT(fields); i++)
			*fields[i] = bytes_get_u32(r);
	}
	return !r->failed;
}

void proto_put_venue(struct bytes_writer *w, const struct engine_venue *v)
{
	bytes_put_u32(w, v->venue_id);
	bytes_put_u32(w, v->location_id);
	proto_put_text(w, v->name);
	proto_put_text(w, v->address);
	bytes_put_u32(w, (uint32_t)v->lat_e6);
	bytes_put_u32(w, (uint32_t)v->lon_e6);
	bytes_put_u32(w, v->layout.size);
	bytes_put_raw(w, v->layout.bytes, v->layout.size);
}

bool proto_get_venue(struct bytes_reader *r, struct engine_venue *v)
{
	v->venue_id = bytes_get_u32(r);
	v->location_id = bytes_get_u32(r);
	proto_get_text(r, &v->name, NAME_SIZE_MAX);
	proto_get_text(r, &v->address, ADDRESS_SIZE_MAX);
	v->lat_e6 = (int32_t)bytes_get_u32(r);
	v->lon_e6 = (int32_t)bytes_get_u32(r);
	uint32_t size = bytes_get_u32(r);
	const uint8_t *layout = size <= COMMAND_SIZE_MAX ? bytes_take(r, size) : NULL;
	return !r->failed && layout != NULL &&
	       layout_parse(layout, size, &v->layout) == STATUS_OK;
}

void proto_put_hit(struct bytes_writer *w, const struct search_hit *h)
{
	bytes_put_u32(w, h->show_id);
	bytes_put_u32(w, h->event_id);
	bytes_put_u32(w, h->venue_id);
	bytes_put_u32(w, h->location_id);
	bytes_put_u64(w, (uint64_t)h->start_ms);
	bytes_put_u32(w, h->distance_m);
}

bool proto_get_hit(struct bytes_reader *r, struct search_hit *h)
{
	h->show_id = bytes_get_u32(r);
	h->event_id = bytes_get_u32(r);
	h->venue_id = bytes_get_u32(r);
	h->location_id = bytes_get_u32(r);
	h->start_ms = (int64_t)bytes_get_u64(r);
	h->distance_m = bytes_get_u32(r);
	return !r->failed;
}

void proto_put_states(struct bytes_writer *w, const uint8_t *states, uint32_t count)
{
	bytes_put_u32(w, count);
	uint8_t *p = bytes_reserve(w, (count + 3) / 4);
	if (p == NULL)
		return;
	/* Four states (each 0..3) in a little-endian u32 fold into one byte. */
	uint32_t whole = count / 4;
	for (uint32_t i = 0; i < whole; i++) {
		uint32_t x = bytes_load_u32(states + 4 * i) & 0x03030303u;
		p[i] = (uint8_t)(x | x >> 6 | x >> 12 | x >> 18);
	}
	if (whole * 4 < count) {
		p[whole] = 0;
		for (uint32_t i = whole * 4; i < count; i++)
			p[whole] |= (uint8_t)((states[i] & 3) << (2 * (i % 4)));
	}
}

void proto_states_unpack(const uint8_t *packed, uint32_t count, uint8_t *states)
{
	for (uint32_t i = 0; i < count; i++)
		states[i] = (packed[i / 4] >> (2 * (i % 4))) & 3;
}

bool proto_get_states(struct bytes_reader *r, uint8_t *states, uint32_t count)
{
	if (bytes_get_u32(r) != count)
		return false;
	const uint8_t *p = bytes_take(r, (count + 3) / 4);
	if (p == NULL)
		return false;
	proto_states_unpack(p, count, states);
	return true;
}

/* Responses without an engine struct. */

void proto_put_hello_info(struct bytes_writer *w, const struct proto_hello_info *info)
{
	bytes_put_u16(w, info->version);
	bytes_put_u32(w, info->frame_size_max);
	bytes_put_u16(w, info->workers);
	bytes_put_u16(w, info->hold_seats_max);
	bytes_put_u32(w, info->wait_timeout_ms_max);
	proto_put_text(w, info->server_version);
	if (info->version >= 2)
		bytes_put_u16(w, info->shard);
}

bool proto_get_hello_info(struct bytes_reader *r, struct proto_hello_info *info)
{
	info->version = bytes_get_u16(r);
	info->frame_size_max = bytes_get_u32(r);
	info->workers = bytes_get_u16(r);
	info->hold_seats_max = bytes_get_u16(r);
	info->wait_timeout_ms_max = bytes_get_u32(r);
	bool ok = proto_get_text(r, &info->server_version, UINT16_MAX);
	info->shard = info->version >= 2 ? bytes_get_u16(r) : 0;
	return ok && !r->failed && (info->version < 2 || info->shard < info->workers);
}

uint16_t proto_version_agreed(uint16_t min, uint16_t max)
{
	uint16_t agreed = max < PROTO_VERSION ? max : PROTO_VERSION;
	return agreed >= min && agreed >= PROTO_VERSION_MIN ? agreed : 0;
}

void proto_put_seatmap(struct bytes_writer *w, uint32_t venue_id, const struct layout *layout,
		       const uint8_t *states, uint32_t seats_count)
{
	bytes_put_u32(w, venue_id);
	bytes_put_u32(w, layout->size);
	bytes_put_raw(w, layout->bytes, layout->size);
	proto_put_states(w, states, seats_count);
}

uint8_t *proto_put_seatmap_head(struct bytes_writer *w, uint32_t venue_id,
				const struct layout *layout)
{
	bytes_put_u32(w, venue_id);
	bytes_put_u32(w, layout->size);
	bytes_put_raw(w, layout->bytes, layout->size);
	bytes_put_u32(w, layout->seats_count);
	return bytes_reserve(w, (layout->seats_count + 3) / 4);
}

bool proto_get_seatmap(struct bytes_reader *r, uint32_t *venue_id, struct layout *layout,
		       const uint8_t **states_packed)
{
	*venue_id = bytes_get_u32(r);
	*states_packed = NULL;
	uint32_t size = bytes_get_u32(r);
	const uint8_t *bytes = size <= COMMAND_SIZE_MAX ? bytes_take(r, size) : NULL;
	if (bytes == NULL || size == 0 || layout_parse(bytes, size, layout) != STATUS_OK)
		return false;
	if (bytes_get_u32(r) != layout->seats_count)
		return false;
	*states_packed = bytes_take(r, (layout->seats_count + 3) / 4);
	return *states_packed != NULL;
}

void proto_put_event_show(struct bytes_writer *w, const struct proto_event_show *show)
{
	bytes_put_u32(w, show->show_id);
	bytes_put_u64(w, (uint64_t)show->start_ms);
	bytes_put_u64(w, (uint64_t)show->end_ms);
	bytes_put_u32(w, show->venue_id);
	proto_put_text(w, show->venue_name);
	proto_put_text(w, show->venue_address);
}

bool proto_get_event_show(struct bytes_reader *r, struct proto_event_show *show)
{
	show->show_id = bytes_get_u32(r);
	show->start_ms = (int64_t)bytes_get_u64(r);
	show->end_ms = (int64_t)bytes_get_u64(r);
	show->venue_id = bytes_get_u32(r);
	proto_get_text(r, &show->venue_name, NAME_SIZE_MAX);
	return proto_get_text(r, &show->venue_address, ADDRESS_SIZE_MAX);
}

void proto_put_search_header(struct bytes_writer *w, uint32_t count, bool more)
{
	ASSERT(count <= UINT16_MAX);
	bytes_put_u16(w, (uint16_t)count);
	bytes_put_u8(w, more);
}

bool proto_get_search_header(struct bytes_reader *r, uint32_t *count, bool *more)
{
	*count = bytes_get_u16(r);
	uint8_t flag = bytes_get_u8(r);
	*more = flag == 1;
	return !r->failed && flag <= 1;
}

void proto_put_stat(struct bytes_writer *w, struct text name, int64_t value)
{
	proto_put_text(w, name);
	bytes_put_u64(w, (uint64_t)value);
}

bool proto_get_stat(struct bytes_reader *r, struct text *name, int64_t *value)
{
	proto_get_text(r, name, NAME_SIZE_MAX);
	*value = (int64_t)bytes_get_u64(r);
	return !r->failed;
}

void proto_put_snapshot_lsns(struct bytes_writer *w, const uint64_t *lsns, uint32_t count)
{
	ASSERT(count <= UINT16_MAX);
	bytes_put_u16(w, (uint16_t)count);
	for (uint32_t i = 0; i < count; i++)
		bytes_put_u64(w, lsns[i]);
}

bool proto_get_snapshot_lsns(struct bytes_reader *r, uint64_t *lsns, uint32_t capacity,
			     uint32_t *count)
{
	*count = 0;
	uint16_t n = bytes_get_u16(r);
	if (r->failed || n > capacity || (size_t)n * 8 > r->size - r->offset)
		return false;
	for (uint16_t i = 0; i < n; i++)
		lsns[i] = bytes_get_u64(r);
	*count = n;
	return true;
}
