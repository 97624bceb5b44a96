/*
 * test_snapshot.c — engine images: a restored engine has the same digest, encodes
 * to the same bytes and behaves the same from then on; a damaged or inconsistent
 * image is refused, never half-loaded.
 */
#include <criterion/criterion.h>
#include <string.h>
#include <xxhash.h>

#include "bytes.h"
#include "fixture.h"

static struct fixture fx;

static void setup(void)
{
	fx_init(&fx, NULL);
}

static void teardown(void)
{
	fx_finish(&fx);
}

TestSuite(snapshot, .init = setup, .fini = teardown);

/* A state with every kind of record: holds, bookings (one cancelled), a block,
 * a waiting line with a waiting entry, an offer and a sold-out entry. */
static void busy_state(void)
{
	cr_assert_eq(fx_hold(&fx, 1, 6, (uint32_t[]){ 0, 1, 2, 3, 4, 5 }), STATUS_OK);
	cr_assert_eq(fx_hold(&fx, 2, 6, (uint32_t[]){ 6, 7, 8, 9, 10, 11 }), STATUS_OK);
	uint64_t second = fx.result.hold_id;
	cr_assert_eq(fx_hold(&fx, 3, 2, (uint32_t[]){ 12, 13 }), STATUS_OK);
	cr_assert_eq(fx_confirm(&fx, fx.result.hold_id, 3, "pay-3"), STATUS_OK);
	cr_assert_eq(fx_hold(&fx, 4, 1, (uint32_t[]){ 14 }), STATUS_OK);
	cr_assert_eq(fx_confirm(&fx, fx.result.hold_id, 4, "pay-4"), STATUS_OK);
	cr_assert_eq(fx_cancel(&fx, fx.result.hold_id), STATUS_OK);
	cr_assert_eq(fx_block(&fx, 40, 2, true), STATUS_OK);
	cr_assert_eq(fx_join(&fx, 5, TIER_VIP, 2, false), STATUS_OK);
	cr_assert_eq(fx_join(&fx, 6, TIER_VIP, 3, true), STATUS_OK);
	fx.now_ms += 5000;
	cr_assert_eq(fx_release(&fx, second, 2), STATUS_OK); /* offers to 5 and 6 */
	cr_assert_eq(fx_join(&fx, 7, TIER_VIP, 1, false), STATUS_SEATS_AVAILABLE);
	fx.now_ms += 5000;
	cr_assert_eq(fx_hold_best(&fx, 8, TIER_ECONOMY, 4, true), STATUS_OK);
}

static struct engine *restore(const struct engine_image *image)
{
	enum status status;
	struct engine *engine = engine_snapshot_decode(image->bytes, image->size,
						       engine_config_get(fx.engine), &status);
	cr_assert_not_null(engine, "refused: %s", status_name(status));
	cr_assert_eq(status, STATUS_OK);
	return engine;
}

Test(snapshot, a_restored_engine_has_the_same_digest_and_bytes)
{
	busy_state();
	struct engine_image image = { 0 }, again = { 0 };
	engine_snapshot_encode(fx.engine, &image);
	struct engine *restored = restore(&image);
	cr_assert_eq(engine_digest(restored), engine_digest(fx.engine));
	cr_assert_eq(engine_now(restored), engine_now(fx.engine));
	engine_snapshot_encode(restored, &again);
	cr_assert_eq(again.size, image.size);
	cr_assert_arr_eq(again.bytes, image.bytes, image.size);
	engine_destroy(restored);
	engine_image_finish(&image);
	engine_image_finish(&again);
}

Test(snapshot, a_restored_engine_behaves_the_same_afterwards)
{
	busy_state();
	struct engine_image image = { 0 };
	engine_snapshot_encode(fx.engine, &image);
	struct engine *restored = restore(&image);
	/* Time runs on: holds expire, offers lapse to the next waiter, polls answer. */
	struct command commands[4] = { { .type = COMMAND_TICK }, { .type = COMMAND_WAITLIST_POLL },
				       { .type = COMMAND_TICK }, { .type = COMMAND_WAITLIST_POLL } };
	commands[1].waitlist_poll = (struct command_waitlist_user){ .show_id = FX_SHOW, .user_id = 5 };
	commands[3].waitlist_poll = (struct command_waitlist_user){ .show_id = FX_SHOW, .user_id = 6 };
	int64_t times[4] = { fx.now_ms + FX_TTL_MS, fx.now_ms + FX_TTL_MS + 1,
			     fx.now_ms + 3 * FX_TTL_MS, fx.now_ms + 3 * FX_TTL_MS };
	for (int i = 0; i < 4; i++) {
		struct engine_result a, b;
		engine_apply(fx.engine, &commands[i], times[i], &a);
		engine_apply(restored, &commands[i], times[i], &b);
		cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0, "step %d differs", i);
		uint32_t count_a, count_b;
		const struct engine_event *ea = engine_events(fx.engine, &count_a);
		const struct engine_event *eb = engine_events(restored, &count_b);
		cr_assert_eq(count_a, count_b);
		cr_assert_eq(memcmp(ea, eb, sizeof(*ea) * count_a), 0);
		cr_assert_eq(engine_digest(restored), engine_digest(fx.engine));
		engine_check(restored);
	}
	engine_destroy(restored);
	engine_image_finish(&image);
}

Test(snapshot, every_bit_flip_and_truncation_is_refused)
{
	busy_state();
	struct engine_image image = { 0 };
	engine_snapshot_encode(fx.engine, &image);
	enum status status;
	for (size_t cut = 0; cut < image.size; cut += 1 + cut / 7)
		cr_assert_null(engine_snapshot_decode(image.bytes, cut,
						      engine_config_get(fx.engine), &status));
	for (size_t i = 0; i < image.size; i += 3) {
		image.bytes[i] ^= (uint8_t)(1u << (i % 8));
		cr_assert_null(engine_snapshot_decode(image.bytes, image.size,
						      engine_config_get(fx.engine), &status),
			       "flip at byte %zu accepted", i);
		cr_assert_eq(status, STATUS_BAD_REQUEST);
		image.bytes[i] ^= (uint8_t)(1u << (i % 8));
	}
	engine_image_finish(&image);
}

/* Rewrites the trailing checksum so that only the consistency checks can object. */
static void reseal(struct engine_image *image)
{
	bytes_store_u64(image->bytes + image->size - 8, XXH3_64bits(image->bytes, image->size - 8));
}

Test(snapshot, an_inconsistent_image_with_a_good_checksum_is_refused)
{
	cr_assert_eq(fx_hold(&fx, 1, 1, (uint32_t[]){ 3 }), STATUS_OK);
	struct engine_image image = { 0 };
	engine_snapshot_encode(fx.engine, &image);
	/* The hold record is last but for an empty booking and waiter list: its seat id
	 * sits just before them (u32 seat, u32 bookings 0, u32 waiters 0, u64 checksum). */
	size_t seat_at = image.size - 8 - 4 - 4 - 4;
	cr_assert_eq(bytes_load_u32(image.bytes + seat_at), 3);
	bytes_store_u32(image.bytes + seat_at, 4); /* a free seat */
	reseal(&image);
	enum status status;
	cr_assert_null(engine_snapshot_decode(image.bytes, image.size,
					      engine_config_get(fx.engine), &status));
	bytes_store_u32(image.bytes + seat_at, 46); /* past the last seat */
	reseal(&image);
	cr_assert_null(engine_snapshot_decode(image.bytes, image.size,
					      engine_config_get(fx.engine), &status));
	bytes_store_u32(image.bytes + seat_at, 3);
	reseal(&image);
	struct engine *restored = restore(&image);
	engine_destroy(restored);
	engine_image_finish(&image);
}

Test(snapshot, an_image_for_another_shard_is_refused)
{
	struct engine_image image = { 0 };
	engine_snapshot_encode(fx.engine, &image);
	struct engine_config config = *engine_config_get(fx.engine);
	config.shard_count = 2;
	enum status status;
	cr_assert_null(engine_snapshot_decode(image.bytes, image.size, &config, &status));
	engine_image_finish(&image);
}
