-- postgres.sql — the on-sale workload (bench/WORKLOAD.md) as PostgreSQL 15 tables and
-- PL/pgSQL functions, one function (one round trip, one transaction) per operation.
-- bench/peers/postgres.sh loads it into a fresh cluster; bench/target_postgres.c calls it.
-- Loading it again starts afresh: the data is throw-away (every run's setup recreates
-- the show), and dropping first lets a changed definition replace the old one.
--
-- The model. One row per seat of show 77001 (the only show: the benchmark has one hot
-- show, so the tables carry no show id). A seat is 'f' free, 'h' held (by a hold or an
-- offer, seat.hold_id says which) or 'b' booked (by the confirmed hold of the same id).
-- Pooled seats are not a state: while a tier's line is not empty every free seat of the
-- tier is the line's pool, the public sees it as held and holds of the tier are refused
-- with "waitlist active". That saves rewriting up to 30,000 rows when a line forms or
-- drains, and keeps a seat's row the only place its availability is decided.
--
-- Concurrency. Every function runs in READ COMMITTED, in its own transaction. A seat
-- changes hands only by an UPDATE of its row that re-checks the state it expects on
-- the newest row version, under the row lock, so no seat is ever taken twice. Before
-- that UPDATE, a function that takes free seats claims each candidate with
-- pg_try_advisory_xact_lock(1, seat id), held to its commit: seats another transaction
-- is taking are skipped without waiting, so concurrent HOLD_BESTs of one tier take
-- disjoint seats and of many HOLD_SEATS of one seat exactly one gets that far. This is
-- SKIP LOCKED without its trap: SELECT ... FOR UPDATE SKIP LOCKED on a row that was
-- taken after the statement's snapshot follows the update chain and then waits (for
-- an fsync) on whoever locked the newer version, which under a hot spot queues most
-- holds behind each other; it also logs every row lock. SERIALIZABLE would abort most
-- of the hot spot instead. The price of skipping: a seat claimed by a transaction that
-- ends up not taking it is reported unavailable for that moment.
--
-- The per-user limit is checked under pg_advisory_xact_lock(user id), so that two
-- concurrent holds or joins of one user cannot both pass it; the user's total is
-- computed from the user's holds and waiting entry, so no counter row is written.
--
-- Deadlocks. A transaction holds at most one user lock and takes it first; seat claims
-- never wait; the row locks that do wait (an UPDATE re-checking a row that another
-- transaction is changing) are taken hold row first, then seat rows, then waiter rows,
-- in every function. The client still retries a deadlock victim.
--
-- "Seat unavailable" refusals of a hold, which can come after a change (a seat lost
-- between its claim and the UPDATE, a run of which only part could be taken), raise
-- SQLSTATE BX001 with the status in the message and the unavailable seats in the
-- detail: the abort undoes the change and, as nothing commits, nobody waits for an
-- fsync. Every other refusal comes before any change and returns its status.
--
-- Lines are served only by bench_expire (the sweeper: one connection, every 50 ms), so
-- offers go out strictly in join order without a lock around the line: seats returned
-- by an expiry reach the line in the same sweep; seats returned by RELEASE, and a line
-- left with nothing held after a CONFIRM, within one sweep period.
--
-- Times are milliseconds since the Unix epoch from the server's clock (now()).
-- Statuses and waiter states are boxoffice's numbers (engine/base.h, engine/engine.h).

DO $$
DECLARE
	f regprocedure;
BEGIN
	FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
		 JOIN pg_namespace n ON n.oid = p.pronamespace
		 WHERE n.nspname = 'public' AND p.proname LIKE 'bench\_%' LOOP
		EXECUTE 'DROP FUNCTION ' || f;
	END LOOP;
END
$$;
DROP TABLE IF EXISTS bench_config, seat, hold, waiter, seatmap_cache CASCADE;
DROP SEQUENCE IF EXISTS hold_seq, waiter_seq;
DROP TYPE IF EXISTS bench_result;

CREATE TABLE bench_config (
	id int PRIMARY KEY CHECK (id = 1),
	hold_ttl_ms bigint NOT NULL,	-- the show's hold lifetime, 1..3,600,000
	idle_ms bigint NOT NULL,	-- waiting-list idle limit, 1..86,400,000
	user_seats_max int NOT NULL	-- held + booked + waiting seats per user (10)
);

-- 50,000 rows. Seats change state thousands of times a second and every change
-- leaves a dead version and dead entries in the partial indexes, so autovacuum runs
-- after a few thousand changes instead of after 20% of the table.
CREATE TABLE seat (
	seat_id int PRIMARY KEY,	-- 0..49,999; lower is better
	tier smallint NOT NULL,		-- enum tier: 0 economy, 1 regular, 2 VIP
	row_no int NOT NULL,		-- seat_id / 50: "together" stays in one row
	state "char" NOT NULL,		-- 'f' free, 'h' held, 'b' booked
	hold_id bigint			-- the hold ('h') or booking ('b'), else NULL
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0,
	autovacuum_vacuum_threshold = 2000, autovacuum_analyze_scale_factor = 0,
	autovacuum_analyze_threshold = 20000);

-- Best available: the lowest free ids of a tier, straight from the index.
CREATE INDEX seat_free ON seat (tier, seat_id) WHERE state = 'f';
-- "Nothing of the tier is held": the sold-out test of JOIN and of the sweeper.
CREATE INDEX seat_held ON seat (tier) WHERE state = 'h';

-- Holds, offers (holds made for a waiter) and bookings (confirmed holds, same id).
CREATE TABLE hold (
	hold_id bigint PRIMARY KEY,	-- (77001 << 32) | n, n from hold_seq
	user_id bigint NOT NULL,
	seats int[] NOT NULL,		-- 1..10 seat ids, in the hold's order
	deadline_ms bigint NOT NULL,
	state "char" NOT NULL,		-- 'a' active, 'c' confirmed, 'e' expired, 'r' released
	payment_ref text		-- confirmed: the reference that booked it
) WITH (autovacuum_vacuum_scale_factor = 0.05);

-- The sweeper's queue: active holds by deadline.
CREATE INDEX hold_active ON hold (deadline_ms) WHERE state = 'a';
-- A user's holds and bookings: the per-user limit.
CREATE INDEX hold_user ON hold (user_id);

CREATE SEQUENCE hold_seq;

-- Waiting-list entries, at most one per user. A waiting entry is in its tier's line,
-- ordered by seq (taken when the JOIN inserts it: two JOINs committing at the same
-- moment are in the line in the order of their seq, not of their commits); a
-- terminal one (offered, sold out, lapsed) waits to be polled.
CREATE TABLE waiter (
	user_id bigint PRIMARY KEY,
	tier smallint NOT NULL,
	seats_count int NOT NULL,	-- 1..10
	together boolean NOT NULL,
	seq bigint NOT NULL,		-- join order, from waiter_seq
	state "char" NOT NULL,		-- 'w' waiting, 'o' offered, 's' sold out, 'l' lapsed
	timer_ms bigint NOT NULL,	-- waiting: lapses then; terminal: removed then
	hold_id bigint,			-- offered: the offer
	seats int[],
	deadline_ms bigint
) WITH (fillfactor = 70, autovacuum_vacuum_scale_factor = 0.05);

CREATE INDEX waiter_line ON waiter (tier, seq) WHERE state = 'w';

CREATE SEQUENCE waiter_seq;

-- The public seat map, one character per seat, as the sweeper last built it (at most
-- every 100 ms, and only when something was written since). It is derived data, so
-- it is unlogged, and it is stored uncompressed because it is read far more often
-- than it is written.
CREATE UNLOGGED TABLE seatmap_cache (
	id int PRIMARY KEY CHECK (id = 1),
	states text NOT NULL,		-- 50,000 of '0' available, '1' held, '2' booked
	built_ms bigint NOT NULL,
	built_xid bigint NOT NULL	-- the next transaction id when it was built
);
ALTER TABLE seatmap_cache ALTER COLUMN states SET STORAGE EXTERNAL;

-- What every operation returns; fields that do not apply are NULL.
CREATE TYPE bench_result AS (
	status int,		-- enum status
	hold_id bigint,
	deadline_ms bigint,
	seats int[],
	waiter_state int	-- enum waiter_state
);

-- Helpers are PL/pgSQL, which keeps its plans for the session, unless they are a
-- single expression that the planner inlines: a SQL-language function that is not
-- inlined is parsed and planned again in every transaction that calls it.
CREATE FUNCTION bench_now_ms() RETURNS bigint
LANGUAGE sql STABLE AS $$
	SELECT (extract(epoch FROM now()) * 1000)::bigint
$$;

-- Aborts the calling transaction with a refusal: see "Refusals" above.
CREATE FUNCTION bench_refuse(p_status int, p_seats int[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION USING ERRCODE = 'BX001', MESSAGE = p_status::text,
		DETAIL = coalesce(array_to_string(p_seats, ','), '');
END
$$;

-- True when the tier's line is not empty, i.e. its free seats are the line's pool.
CREATE FUNCTION bench_line_active(p_tier int) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN EXISTS (SELECT 1 FROM waiter WHERE tier = p_tier AND state = 'w');
END
$$;

-- Claims up to p_count free seats of the tier in id order, skipping seats another
-- transaction has claimed; together: the first run of p_count consecutive ids in one
-- row whose seats could all be claimed. Returns the claimed seats (maybe fewer than
-- asked, none if no run was found). The scans run on their statement's snapshot: the
-- caller's UPDATE re-checks every seat. Under a hot spot a scan passes every seat that
-- the transactions in flight are taking, so the scans are cheap per seat: the claims
-- are made inside the index scan, or over an array fetched by one query. With p_claim
-- false nothing is claimed: the seats are what a claim would try.
CREATE FUNCTION bench_claim(p_tier int, p_count int, p_together boolean,
			    p_claim boolean DEFAULT true)
RETURNS int[]
LANGUAGE plpgsql AS $$
DECLARE
	from_id int := -1;
	chunk_size int := 64;
	ids int[];
	row_nos int[];
	ids_count int;
	i int;
	j int;
BEGIN
	IF NOT p_together OR p_count = 1 THEN
		RETURN array(SELECT seat_id FROM seat
			     WHERE tier = p_tier AND state = 'f'
			       AND (NOT p_claim OR pg_try_advisory_xact_lock(1, seat_id))
			     ORDER BY seat_id LIMIT p_count);
	END IF;
	-- Together: the next chunk of free seats; a run starts at ids[i] if ids[i + count
	-- - 1] is count - 1 further in the same row (ids ascend). Only such runs are
	-- claimed. The first chunk is small because a run is almost always near the
	-- front; each next one is twice as large, so a sold-out tier costs a few scans.
	LOOP
		SELECT array_agg(seat_id), array_agg(row_no) INTO ids, row_nos
		FROM (SELECT seat_id, row_no FROM seat
		      WHERE tier = p_tier AND state = 'f' AND seat_id >= from_id
		      ORDER BY seat_id LIMIT chunk_size) f;
		EXIT WHEN ids IS NULL;
		ids_count := cardinality(ids);
		i := 1;
		WHILE i <= ids_count - p_count + 1 LOOP
			IF ids[i + p_count - 1] = ids[i] + p_count - 1
			   AND row_nos[i + p_count - 1] = row_nos[i] THEN
				j := 0;
				WHILE j < p_count AND (NOT p_claim
						       OR pg_try_advisory_xact_lock(1, ids[i] + j)) LOOP
					j := j + 1;
				END LOOP;
				IF j = p_count THEN
					RETURN array(SELECT generate_series(ids[i], ids[i] + p_count - 1));
				END IF;
				-- Seat ids[i] + j is being taken: a run can only start after it.
				i := i + j + 1;
			ELSE
				i := i + 1;
			END IF;
		END LOOP;
		EXIT WHEN ids_count < chunk_size;
		-- The last count - 1 seats may start a run that ends in the next chunk.
		from_id := ids[ids_count - p_count + 2];
		chunk_size := least(chunk_size * 2, 4096);
	END LOOP;
	RETURN '{}';
END
$$;

-- Takes p_count free seats of the tier for hold p_hold_id, the lowest ids first
-- (together: consecutive in one row). Returns them in ascending order, or NULL after
-- giving back any it took on the way.
CREATE FUNCTION bench_take(p_tier int, p_count int, p_together boolean, p_hold_id bigint)
RETURNS int[]
LANGUAGE plpgsql AS $$
DECLARE
	taken int[] := '{}';
	claimed int[];
	updated int[];
BEGIN
	-- A claimed seat may have been taken and committed after the claim's snapshot;
	-- then the UPDATE skips it and a new scan (a new snapshot, in which that seat
	-- is no longer free) looks again. On a busy hot spot that happens often.
	FOR attempt IN 1..32 LOOP
		claimed := bench_claim(p_tier, p_count - cardinality(taken), p_together);
		EXIT WHEN cardinality(claimed) = 0;
		WITH u AS (
			UPDATE seat SET state = 'h', hold_id = p_hold_id
			WHERE seat_id = ANY (claimed) AND state = 'f' RETURNING seat_id
		) SELECT coalesce(array_agg(seat_id), '{}') INTO updated FROM u;
		IF p_together AND cardinality(updated) < cardinality(claimed) THEN
			-- A run is all or nothing: give back the part we got.
			UPDATE seat SET state = 'f', hold_id = NULL WHERE seat_id = ANY (updated);
			updated := '{}';
		END IF;
		taken := taken || updated;
		IF cardinality(taken) = p_count THEN
			RETURN array(SELECT t FROM unnest(taken) t ORDER BY t);
		END IF;
	END LOOP;
	IF cardinality(taken) > 0 THEN
		UPDATE seat SET state = 'f', hold_id = NULL WHERE seat_id = ANY (taken);
	END IF;
	RETURN NULL;
END
$$;

-- The lifetime of a new hold: the request's if it is set and shorter, else the show's.
CREATE FUNCTION bench_ttl_ms(p_ttl_ms bigint, p_show_ttl_ms bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_ttl_ms > 0 AND p_ttl_ms < p_show_ttl_ms THEN p_ttl_ms
		    ELSE p_show_ttl_ms END
$$;

-- A new hold id: (show << 32) | n, as boxoffice makes them.
CREATE FUNCTION bench_hold_id_next() RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	RETURN (77001::bigint << 32) | nextval('hold_seq');
END
$$;

-- The seats the user holds (offers included), has booked, or waits for. The caller
-- holds the user's advisory lock.
CREATE FUNCTION bench_user_seats(p_user bigint, p_now_ms bigint) RETURNS int
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT coalesce(sum(cardinality(seats)), 0) FROM hold
		WHERE user_id = p_user
		  AND (state = 'c' OR (state = 'a' AND deadline_ms > p_now_ms)))::int
	     + coalesce((SELECT seats_count FROM waiter
			 WHERE user_id = p_user AND state = 'w'), 0);
END
$$;

-- HOLD_SEATS: holds exactly p_seats (1..10 distinct ids) or nothing.
CREATE FUNCTION bench_hold_seats(p_user bigint, p_seats int[], p_ttl_ms bigint)
RETURNS bench_result
LANGUAGE plpgsql AS $$
DECLARE
	config bench_config;
	now_ms bigint := bench_now_ms();
	seats_count int := coalesce(cardinality(p_seats), 0);
	new_hold_id bigint;
	deadline_ms bigint;
	missing int[];
	updated int[];
BEGIN
	IF seats_count < 1 OR seats_count > 10
	   OR EXISTS (SELECT 1 FROM unnest(p_seats) s WHERE s < 0 OR s >= 50000 OR s IS NULL)
	   OR (SELECT count(DISTINCT s) FROM unnest(p_seats) s) <> seats_count THEN
		RETURN ROW(9, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	SELECT * INTO config FROM bench_config;
	PERFORM pg_advisory_xact_lock(p_user);
	IF bench_user_seats(p_user, now_ms) + seats_count > config.user_seats_max THEN
		RETURN ROW(3, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	IF EXISTS (SELECT 1 FROM seat s JOIN waiter w ON w.tier = s.tier AND w.state = 'w'
		   WHERE s.seat_id = ANY (p_seats)) THEN
		RETURN ROW(8, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	-- Seats that another transaction is taking are unavailable now; nothing has been
	-- written yet, so the refusal commits nothing.
	SELECT array_agg(s ORDER BY i) INTO missing
	FROM unnest(p_seats) WITH ORDINALITY u(s, i)
	WHERE NOT pg_try_advisory_xact_lock(1, s);
	IF missing IS NULL THEN
		new_hold_id := bench_hold_id_next();
		WITH u AS (
			UPDATE seat SET state = 'h', hold_id = new_hold_id
			WHERE seat_id = ANY (p_seats) AND state = 'f' RETURNING seat_id
		) SELECT coalesce(array_agg(seat_id), '{}') INTO updated FROM u;
		SELECT array_agg(s ORDER BY i) INTO missing
		FROM unnest(p_seats) WITH ORDINALITY u(s, i) WHERE s <> ALL (updated);
	END IF;
	IF missing IS NOT NULL THEN
		PERFORM bench_refuse(2, missing);
	END IF;
	deadline_ms := now_ms + bench_ttl_ms(p_ttl_ms, config.hold_ttl_ms);
	INSERT INTO hold (hold_id, user_id, seats, deadline_ms, state)
	VALUES (new_hold_id, p_user, p_seats, deadline_ms, 'a');
	RETURN ROW(0, new_hold_id, deadline_ms, p_seats, NULL)::bench_result;
END
$$;

-- HOLD_BEST: holds the p_count best free seats of the tier (together: in one run).
CREATE FUNCTION bench_hold_best(p_user bigint, p_tier int, p_count int,
				p_together boolean, p_ttl_ms bigint)
RETURNS bench_result
LANGUAGE plpgsql AS $$
DECLARE
	config bench_config;
	now_ms bigint := bench_now_ms();
	new_hold_id bigint;
	deadline_ms bigint;
	taken int[];
BEGIN
	IF p_count < 1 OR p_count > 10 OR p_tier < 0 OR p_tier > 2 THEN
		RETURN ROW(9, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	SELECT * INTO config FROM bench_config;
	PERFORM pg_advisory_xact_lock(p_user);
	IF bench_user_seats(p_user, now_ms) + p_count > config.user_seats_max THEN
		RETURN ROW(3, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	IF bench_line_active(p_tier) THEN
		RETURN ROW(8, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	new_hold_id := bench_hold_id_next();
	taken := bench_take(p_tier, p_count, p_together, new_hold_id);
	IF taken IS NULL THEN
		PERFORM bench_refuse(2, NULL);
	END IF;
	deadline_ms := now_ms + bench_ttl_ms(p_ttl_ms, config.hold_ttl_ms);
	INSERT INTO hold (hold_id, user_id, seats, deadline_ms, state)
	VALUES (new_hold_id, p_user, taken, deadline_ms, 'a');
	RETURN ROW(0, new_hold_id, deadline_ms, taken, NULL)::bench_result;
END
$$;

-- The outcome of CONFIRM for a hold that is no longer active.
CREATE FUNCTION bench_confirm_ended(p_hold hold, p_user bigint, p_ref text)
RETURNS bench_result
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
	IF p_hold.state = 'c' AND p_hold.user_id <> p_user THEN
		RETURN ROW(6, NULL, NULL, NULL, NULL)::bench_result;
	ELSIF p_hold.state = 'c' AND p_hold.payment_ref = p_ref THEN
		RETURN ROW(0, p_hold.hold_id, p_hold.deadline_ms, p_hold.seats, NULL)::bench_result;
	ELSIF p_hold.state = 'c' THEN
		RETURN ROW(7, NULL, NULL, NULL, NULL)::bench_result;
	ELSIF p_hold.state IN ('e', 'a') THEN
		RETURN ROW(5, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	RETURN ROW(1, NULL, NULL, NULL, NULL)::bench_result;
END
$$;

-- CONFIRM: books an active hold; the same reference again is ok.
CREATE FUNCTION bench_confirm(p_hold_id bigint, p_user bigint, p_ref text)
RETURNS bench_result
LANGUAGE plpgsql AS $$
DECLARE
	now_ms bigint := bench_now_ms();
	h hold;
BEGIN
	-- The first read takes no lock, so that the refusals commit nothing. The UPDATE
	-- re-checks on the newest version under the row lock; if the sweeper or another
	-- CONFIRM changed the hold meanwhile, the second read sees what they did.
	FOR attempt IN 1..2 LOOP
		SELECT * INTO h FROM hold WHERE hold_id = p_hold_id;
		IF NOT FOUND THEN
			RETURN ROW(1, NULL, NULL, NULL, NULL)::bench_result;
		END IF;
		IF h.state <> 'a' OR h.deadline_ms <= now_ms THEN
			RETURN bench_confirm_ended(h, p_user, p_ref);
		END IF;
		IF h.user_id <> p_user THEN
			RETURN ROW(6, NULL, NULL, NULL, NULL)::bench_result;
		END IF;
		UPDATE hold SET state = 'c', payment_ref = p_ref
		WHERE hold_id = p_hold_id AND state = 'a' AND deadline_ms > now_ms;
		IF FOUND THEN
			UPDATE seat SET state = 'b' WHERE seat_id = ANY (h.seats);
			RETURN ROW(0, h.hold_id, h.deadline_ms, h.seats, NULL)::bench_result;
		END IF;
	END LOOP;
	RETURN ROW(12, NULL, NULL, NULL, NULL)::bench_result;
END
$$;

-- Gives seats back: they become free (the line's pool if their tier has a line).
-- The caller holds the lock of the hold they belonged to.
CREATE FUNCTION bench_seats_return(p_hold_id bigint, p_seats int[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE seat SET state = 'f', hold_id = NULL
	WHERE seat_id = ANY (p_seats) AND hold_id = p_hold_id AND state = 'h';
END
$$;

-- RELEASE: gives an active hold's seats back.
CREATE FUNCTION bench_release(p_hold_id bigint, p_user bigint)
RETURNS bench_result
LANGUAGE plpgsql AS $$
DECLARE
	now_ms bigint := bench_now_ms();
	h hold;
BEGIN
	FOR attempt IN 1..2 LOOP
		SELECT * INTO h FROM hold WHERE hold_id = p_hold_id;
		IF NOT FOUND OR h.state = 'r' THEN
			RETURN ROW(1, NULL, NULL, NULL, NULL)::bench_result;
		END IF;
		IF h.state = 'c' THEN
			RETURN ROW(7, NULL, NULL, NULL, NULL)::bench_result;
		END IF;
		IF h.state = 'e' OR h.deadline_ms <= now_ms THEN
			RETURN ROW(5, NULL, NULL, NULL, NULL)::bench_result;
		END IF;
		IF h.user_id <> p_user THEN
			RETURN ROW(6, NULL, NULL, NULL, NULL)::bench_result;
		END IF;
		UPDATE hold SET state = 'r'
		WHERE hold_id = p_hold_id AND state = 'a' AND deadline_ms > now_ms;
		IF FOUND THEN
			PERFORM bench_seats_return(p_hold_id, h.seats);
			RETURN ROW(0, h.hold_id, NULL, h.seats, NULL)::bench_result;
		END IF;
	END LOOP;
	RETURN ROW(12, NULL, NULL, NULL, NULL)::bench_result;
END
$$;

-- JOIN: enters the tier's line (RULES.md WAITLIST_JOIN, in its order of checks).
CREATE FUNCTION bench_join(p_user bigint, p_tier int, p_count int, p_together boolean)
RETURNS bench_result
LANGUAGE plpgsql AS $$
DECLARE
	config bench_config;
	now_ms bigint := bench_now_ms();
	entry waiter;
BEGIN
	IF p_count < 1 OR p_count > 10 OR p_tier < 0 OR p_tier > 2 THEN
		RETURN ROW(9, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	SELECT * INTO config FROM bench_config;
	PERFORM pg_advisory_xact_lock(p_user);
	SELECT * INTO entry FROM waiter WHERE user_id = p_user;
	IF FOUND AND entry.state = 'w' THEN
		RETURN ROW(15, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	IF bench_user_seats(p_user, now_ms) + p_count > config.user_seats_max THEN
		RETURN ROW(3, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	-- SPEC 6.1 counts seats, together or not, as boxoffice does.
	IF NOT bench_line_active(p_tier)
	   AND cardinality(bench_claim(p_tier, p_count, false, false)) = p_count THEN
		RETURN ROW(13, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM seat WHERE tier = p_tier AND state = 'h') THEN
		RETURN ROW(14, NULL, NULL, NULL, NULL)::bench_result;
	END IF;
	-- A terminal entry (news nobody polled) is replaced by the new one.
	DELETE FROM waiter WHERE user_id = p_user;
	INSERT INTO waiter (user_id, tier, seats_count, together, seq, state, timer_ms)
	VALUES (p_user, p_tier, p_count, p_together, nextval('waiter_seq'), 'w',
		now_ms + config.idle_ms);
	RETURN ROW(0, NULL, NULL, NULL, 1)::bench_result;
END
$$;

-- POLL (what WAIT runs): a waiting entry records the poll and stays; a terminal one
-- is delivered and removed. The poll is written only when the recorded one is more
-- than a quarter of the idle limit old, so that the WAIT that follows a JOIN, and
-- WAITs re-issued in a burst, commit nothing: an entry lapses between 3/4 and 4/4 of
-- the idle limit after its last poll.
CREATE FUNCTION bench_poll(p_user bigint)
RETURNS bench_result
LANGUAGE plpgsql AS $$
DECLARE
	config bench_config;
	now_ms bigint := bench_now_ms();
	entry waiter;
BEGIN
	SELECT * INTO config FROM bench_config;
	FOR attempt IN 1..2 LOOP
		SELECT * INTO entry FROM waiter WHERE user_id = p_user;
		IF NOT FOUND THEN
			RETURN ROW(1, NULL, NULL, NULL, 0)::bench_result;
		END IF;
		IF entry.state = 'w' THEN
			IF entry.timer_ms - now_ms >= config.idle_ms * 3 / 4 THEN
				RETURN ROW(0, NULL, NULL, NULL, 1)::bench_result;
			END IF;
			UPDATE waiter SET timer_ms = now_ms + config.idle_ms
			WHERE user_id = p_user AND state = 'w';
			IF FOUND THEN
				RETURN ROW(0, NULL, NULL, NULL, 1)::bench_result;
			END IF;
		ELSE
			DELETE FROM waiter WHERE user_id = p_user AND seq = entry.seq
				AND state = entry.state;
			IF FOUND THEN
				RETURN ROW(0, entry.hold_id, entry.deadline_ms, entry.seats,
					CASE entry.state WHEN 'o' THEN 2 WHEN 's' THEN 3 ELSE 4 END
				)::bench_result;
			END IF;
		END IF;
	END LOOP;
	RETURN ROW(12, NULL, NULL, NULL, NULL)::bench_result;
END
$$;

-- Serves the tier's line from its pool, head first (RULES.md "Serve"). Returns how
-- many entries left the line. At most p_entries_max heads per call bound a sweep.
-- The entry's seats become the offer's: the user's total does not change.
CREATE FUNCTION bench_serve(p_tier int, p_now_ms bigint, p_config bench_config,
			    p_entries_max int)
RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	head waiter;
	offer_id bigint;
	offered int[];
	served_count int := 0;
BEGIN
	WHILE served_count < p_entries_max LOOP
		SELECT * INTO head FROM waiter WHERE tier = p_tier AND state = 'w'
		ORDER BY seq LIMIT 1;
		EXIT WHEN NOT FOUND;
		offer_id := bench_hold_id_next();
		offered := bench_take(p_tier, head.seats_count, head.together, offer_id);
		IF offered IS NOT NULL THEN
			INSERT INTO hold (hold_id, user_id, seats, deadline_ms, state)
			VALUES (offer_id, head.user_id, offered,
				p_now_ms + p_config.hold_ttl_ms, 'a');
			UPDATE waiter SET state = 'o', hold_id = offer_id, seats = offered,
				deadline_ms = p_now_ms + p_config.hold_ttl_ms,
				timer_ms = p_now_ms + p_config.idle_ms
			WHERE user_id = head.user_id;
		ELSIF NOT EXISTS (SELECT 1 FROM seat WHERE tier = p_tier AND state = 'h') THEN
			UPDATE waiter SET state = 's', timer_ms = p_now_ms + p_config.idle_ms
			WHERE user_id = head.user_id;
		ELSE
			EXIT;
		END IF;
		PERFORM pg_notify('bench_waiter', head.user_id::text);
		served_count := served_count + 1;
	END LOOP;
	RETURN served_count;
END
$$;

-- The sweeper, every 50 ms on its own connection: expires holds whose deadline has
-- passed (their seats return), lapses idle waiters, removes delivered news nobody
-- polled, and serves the lines. Returns the number of holds expired. Holds being
-- confirmed or released at this moment are skipped (SKIP LOCKED) and re-examined by
-- the next sweep: their own transaction decides them.
CREATE FUNCTION bench_expire() RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
	config bench_config;
	now_ms bigint := bench_now_ms();
	expired_count int;
	lapsed_count int;
BEGIN
	SELECT * INTO config FROM bench_config;
	WITH due AS (
		SELECT hold_id FROM hold WHERE state = 'a' AND deadline_ms <= now_ms
		ORDER BY deadline_ms LIMIT 10000 FOR UPDATE SKIP LOCKED
	), expired AS (
		UPDATE hold h SET state = 'e' FROM due WHERE h.hold_id = due.hold_id
		RETURNING h.hold_id, h.seats
	), returned AS (
		UPDATE seat s SET state = 'f', hold_id = NULL
		FROM (SELECT hold_id, unnest(seats) AS seat_id FROM expired) e
		WHERE s.seat_id = e.seat_id AND s.hold_id = e.hold_id AND s.state = 'h'
		RETURNING s.seat_id
	)
	SELECT count(*) INTO expired_count FROM expired;

	-- Idle waiting entries lapse; news nobody polled within the idle limit goes.
	WITH lapsed AS (
		UPDATE waiter SET state = 'l', timer_ms = now_ms + config.idle_ms
		WHERE state = 'w' AND timer_ms <= now_ms RETURNING user_id
	)
	SELECT count(pg_notify('bench_waiter', user_id::text)) INTO lapsed_count FROM lapsed;
	DELETE FROM waiter WHERE state <> 'w' AND timer_ms <= now_ms;

	FOR tier_index IN 0..2 LOOP
		IF bench_line_active(tier_index) THEN
			PERFORM bench_serve(tier_index, now_ms, config, 1000);
		END IF;
	END LOOP;
	RETURN expired_count;
END
$$;

-- The public state of every seat, in id order: '0' available, '1' held (held,
-- offered, or in a line's pool), '2' booked. Scans the whole table: the sweeper
-- builds it and SEATMAP reads the copy.
CREATE FUNCTION bench_seatmap_exact() RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
	pooled boolean[] := ARRAY[bench_line_active(0), bench_line_active(1),
				  bench_line_active(2)];
BEGIN
	RETURN (SELECT string_agg(CASE WHEN state = 'b' THEN '2'
				      WHEN state = 'h' OR pooled[tier + 1] THEN '1'
				      ELSE '0' END, '' ORDER BY seat_id)
		FROM seat);
END
$$;

-- Rebuilds the copy of the seat map, unless no transaction has written anything
-- since the last build: the next transaction id then is the last build's own plus
-- one. That keeps an idle server idle (a build costs ~10 ms).
CREATE FUNCTION bench_seatmap_refresh() RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	next_xid bigint := txid_snapshot_xmax(txid_current_snapshot());
BEGIN
	IF EXISTS (SELECT 1 FROM seatmap_cache WHERE id = 1 AND built_xid + 1 >= next_xid) THEN
		RETURN;
	END IF;
	INSERT INTO seatmap_cache (id, states, built_ms, built_xid)
	VALUES (1, bench_seatmap_exact(), bench_now_ms(), next_xid)
	ON CONFLICT (id) DO UPDATE SET states = excluded.states, built_ms = excluded.built_ms,
		built_xid = excluded.built_xid;
END
$$;

-- SEATMAP: the seat map as of the last sweep (at most one sweep period old).
CREATE FUNCTION bench_seatmap() RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN (SELECT states FROM seatmap_cache WHERE id = 1);
END
$$;

-- Creates show 77001 afresh: every seat free, no hold, no booking, no line.
CREATE FUNCTION bench_setup(p_hold_ttl_ms bigint, p_idle_ms bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
	IF p_hold_ttl_ms < 1 OR p_hold_ttl_ms > 3600000 OR p_idle_ms < 1
	   OR p_idle_ms > 86400000 THEN
		RAISE EXCEPTION 'bench_setup: hold_ttl_ms % or idle_ms % out of range',
			p_hold_ttl_ms, p_idle_ms;
	END IF;
	TRUNCATE seat, hold, waiter, seatmap_cache;
	ALTER SEQUENCE hold_seq RESTART;
	ALTER SEQUENCE waiter_seq RESTART;
	-- 25 sections x 40 rows x 50 seats: sections 0-2 VIP, 3-9 regular, 10-24 economy
	-- (bench_seat_tier and bench_seat_row in bench/target.h).
	INSERT INTO seat (seat_id, tier, row_no, state)
	SELECT s, CASE WHEN s / 2000 < 3 THEN 2 WHEN s / 2000 < 10 THEN 1 ELSE 0 END,
	       s / 50, 'f'
	FROM generate_series(0, 49999) s;
	INSERT INTO bench_config (id, hold_ttl_ms, idle_ms, user_seats_max)
	VALUES (1, p_hold_ttl_ms, p_idle_ms, 10)
	ON CONFLICT (id) DO UPDATE SET hold_ttl_ms = excluded.hold_ttl_ms,
		idle_ms = excluded.idle_ms, user_seats_max = excluded.user_seats_max;
	PERFORM bench_seatmap_refresh();
END
$$;

-- The audit's counts (a pooled seat counts as held) and the seats that two confirmed
-- holds both claim, which must be none.
CREATE FUNCTION bench_audit(OUT seats_booked int, OUT seats_held int,
			    OUT seats_available int, OUT seats_double_booked int)
LANGUAGE plpgsql STABLE AS $$
DECLARE
	pooled boolean[] := ARRAY[bench_line_active(0), bench_line_active(1),
				  bench_line_active(2)];
BEGIN
	SELECT count(*) FILTER (WHERE state = 'b'),
	       count(*) FILTER (WHERE state = 'h' OR (state = 'f' AND pooled[tier + 1])),
	       count(*) FILTER (WHERE state = 'f' AND NOT pooled[tier + 1])
	INTO seats_booked, seats_held, seats_available FROM seat;
	SELECT count(*) INTO seats_double_booked FROM (
		SELECT seat_id FROM hold, unnest(seats) AS seat_id WHERE state = 'c'
		GROUP BY seat_id HAVING count(*) > 1) d;
	-- A booked seat whose row does not name a confirmed hold holding it is a double
	-- booking too (or a lost one): count it.
	seats_double_booked := seats_double_booked + (
		SELECT count(*) FROM seat s
		WHERE s.state = 'b' AND NOT EXISTS (
			SELECT 1 FROM hold h WHERE h.hold_id = s.hold_id AND h.state = 'c'
			AND s.seat_id = ANY (h.seats)));
END
$$;
