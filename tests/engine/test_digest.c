/*
 * test_digest.c — the state digest: equal for equal states however they were
 * reached (catalog created in another order, refused commands in between), and
 * different as soon as any state differs.
 */
#include <criterion/criterion.h>

#include "fixture.h"

Test(digest, same_commands_give_the_same_digest)
{
	struct fixture a, b;
	fx_init(&a, NULL);
	fx_init(&b, NULL);
	cr_assert_eq(engine_digest(a.engine), engine_digest(b.engine));
	cr_assert_eq(fx_hold(&a, 1, 2, (uint32_t[]){ 3, 4 }), STATUS_OK);
	cr_assert_neq(engine_digest(a.engine), engine_digest(b.engine));
	/* Refused commands and ticks in between change nothing. */
	cr_assert_eq(fx_hold(&b, 1, 1, (uint32_t[]){ 99 }), STATUS_BAD_REQUEST);
	cr_assert_eq(fx_release(&b, ((uint64_t)FX_SHOW << 32) | 1, 1), STATUS_NOT_FOUND);
	cr_assert_eq(fx_advance(&b, 0), STATUS_OK);
	cr_assert_eq(fx_hold(&b, 1, 2, (uint32_t[]){ 3, 4 }), STATUS_OK);
	cr_assert_eq(engine_digest(a.engine), engine_digest(b.engine));
	fx_finish(&a);
	fx_finish(&b);
}

static void location(struct fixture *fx, uint32_t id, const char *name)
{
	struct command c = { .type = COMMAND_LOCATION_PUT };
	c.location_put = (struct command_location_put){ .location_id = id,
							.name = text_from_cstr(name),
							.country = { 'X', 'X' } };
	cr_assert_eq(fx_apply(fx, &c), STATUS_OK);
}

Test(digest, catalog_order_of_creation_does_not_matter)
{
	struct fixture a, b;
	fx_init(&a, NULL);
	fx_init(&b, NULL);
	location(&a, 7, "Seven");
	location(&a, 3, "Three");
	location(&b, 3, "Three");
	location(&b, 7, "Seven");
	cr_assert_eq(engine_digest(a.engine), engine_digest(b.engine));
	location(&b, 8, "Eight");
	cr_assert_neq(engine_digest(a.engine), engine_digest(b.engine));
	fx_finish(&a);
	fx_finish(&b);
}

Test(digest, every_kind_of_change_moves_the_digest)
{
	struct fixture fx;
	fx_init(&fx, NULL);
	uint64_t seen[8];
	uint32_t n = 0;
	seen[n++] = engine_digest(fx.engine);
	cr_assert_eq(fx_hold(&fx, 1, 1, (uint32_t[]){ 0 }), STATUS_OK);
	uint64_t hold = fx.result.hold_id;
	seen[n++] = engine_digest(fx.engine);
	cr_assert_eq(fx_confirm(&fx, hold, 1, "p"), STATUS_OK);
	seen[n++] = engine_digest(fx.engine);
	cr_assert_eq(fx_cancel(&fx, hold), STATUS_OK);
	seen[n++] = engine_digest(fx.engine);
	cr_assert_eq(fx_block(&fx, 5, 1, true), STATUS_OK);
	seen[n++] = engine_digest(fx.engine);
	cr_assert_eq(fx_hold(&fx, 2, 10, (uint32_t[]){ 0, 1, 2, 3, 4, 6, 7, 8, 9, 10 }),
		     STATUS_OK);
	seen[n++] = engine_digest(fx.engine);
	cr_assert_eq(fx_join(&fx, 3, TIER_VIP, 2, false), STATUS_OK);
	seen[n++] = engine_digest(fx.engine);
	cr_assert_eq(fx_advance(&fx, 5), STATUS_OK);
	cr_assert_eq(fx_poll(&fx, 3), STATUS_OK); /* the lapse deadline moves */
	seen[n++] = engine_digest(fx.engine);
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t k = 0; k < i; k++)
			cr_assert_neq(seen[i], seen[k], "states %u and %u", k, i);
	fx_finish(&fx);
}
