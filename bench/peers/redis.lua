#!lua name=boxoffice
--
-- redis.lua — the Redis 7 peer of boxbench: the on-sale operations of bench/WORKLOAD.md
-- as one function library (FUNCTION LOAD), one FCALL per operation. Redis runs a
-- function atomically, so every rule below holds without locks; in exchange a function
-- blocks the whole server while it runs, so each does a handful of O(log n) commands
-- plus a bounded scan, and the long jobs (serving a line of thousands) are cut into
-- budgets that the sweeper carries on (bx_expire: called at each deadline it reports,
-- and at least every 50 ms, by the client's sweeper connection).
--
-- The promise comes from the server (appendonly yes, appendfsync always): Redis writes
-- a function's effects to the AOF and fsyncs it before any reply of that event-loop
-- round leaves, pub/sub messages included (redis.sh).
--
-- Speed: inside a function each redis.call costs about a microsecond plus the copying
-- of its arguments and reply, so the hot paths keep both few and small — the show's
-- counters are one packed string rather than a hash of fields, a hold is one string,
-- seats are read a few rows at a time, and the seat map is a plain GET that never
-- enters Lua (a 50 KB string through Lua costs ~100 µs, a GET ~6 µs).
--
-- Keys (one show, 77001; all under bx:):
--   bx:show       string, struct-packed SHOW_FORMAT: ttl, idle (ms), next hold n, next
--                 join seq, then per tier t (0 economy, 1 regular, 2 vip) free (free,
--                 or pooled while the tier has a line), held (by holds and offers),
--                 booked, waiting (entries in the line), cursor (no seat of the tier
--                 below it is free).
--   bx:seats      string, one byte per seat, enum seat_state: 0 free or pooled, 1 held,
--                 2 booked; then one byte per tier, 1 while the tier has a line (its
--                 zero bytes are pooled, so "pooled" needs no byte of its own). A
--                 client's SEATMAP is GET bx:seats: 50,003 bytes.
--   bx:h:<n>      string, hold n: "state user deadline seats [payment ref]", state a
--                 active, b booked, x expired, r released; seats "a,b,c".
--   bx:deadlines  sorted set of active holds (members n) by deadline.
--   bx:users      hash user → seats held + booked + waiting (the limit is 10).
--   bx:w:<user>   hash, the user's waiting-list entry: st enum waiter_state, t tier,
--                 c count, g together, q join seq, and for an offer n (hold id) d s.
--   bx:line:<t>   list "user:seq" in join order; entries that lapsed stay in it until
--                 they reach the head (the waiting count has only the live ones).
--   bx:idle       sorted set of waiting users by last poll + idle limit.
-- News for waiters (offered, sold out, lapsed) is PUBLISHed on bx:news as
-- "user seq state hold_id deadline seats"; the entry keeps the same news for a poll.
--
-- Hold ids are boxoffice's shape: show << 32 | n, n from 1 (below 2^53, exact in Lua).
-- The functions name their keys themselves instead of taking them in KEYS: one server,
-- no cluster, and every call touches the same few keys anyway.
-- Sizes: bx:seats 50 KB; a hold ~40 bytes plus its sorted-set entry; a run of 100,000
-- holds and 10,000 waiters stays well under 100 MB.

local SHOW_ID = 77001
local SEATS_COUNT = 50000
local ROW_SEATS = 50
local FIRST_CHUNK_SEATS = 100 -- two rows: where the cursor nearly always finds seats
local CHUNK_SEATS = 2000      -- then a section at a time
local TIER_LO = { [0] = 20000, [1] = 6000, [2] = 0 }
local TIER_HI = { [0] = 50000, [1] = 20000, [2] = 6000 }
local USER_SEATS_MAX = 10
local HOLD_SEATS_MAX = 10
local HOLD_ID_BASE = SHOW_ID * 4294967296
-- Work per call, so that no call blocks the server for more than a millisecond or two
-- (each step is a handful of commands, ~10 µs); what is left waits for the next sweep.
local BUDGET_REQUEST = 64   -- line entries a client's call may serve
local BUDGET_SWEEP = 256    -- line entries per sweeper call
local SWEEP_HOLDS_MAX = 128 -- holds expired, and entries lapsed, per sweeper call
-- Redis 7.0 runs a library's top level without the standard library (string, struct…
-- exist only once a function is called), so constants are written out.
local SHOW_FORMAT = '<i4i4i4i4i4i4i4i4i4i4i4i4i4i4i4i4i4i4i4'
local STATE_BYTES = { [0] = '\0', '\1', '\2' }
local LINE_FLAGS = { [false] = '\0', [true] = '\1' }

local OK, NOT_FOUND, SEAT_UNAVAILABLE, LIMIT_EXCEEDED = 0, 1, 2, 3
local HOLD_EXPIRED, NOT_OWNER, ALREADY_CONFIRMED, WAITLIST_ACTIVE = 5, 6, 7, 8
local BAD_REQUEST, SEATS_AVAILABLE, SOLD_OUT, ALREADY_EXISTS = 9, 13, 14, 15
local WAITING, OFFERED, W_SOLD_OUT, LAPSED = 1, 2, 3, 4

local function seat_tier(seat)
	if seat < 6000 then
		return 2
	elseif seat < 20000 then
		return 1
	end
	return 0
end

-- Every reply is {status, hold id, deadline, waiter state, join seq, seats...}.
local function reply(status, id, deadline, state, seq, seats)
	local r = { status, id or 0, deadline or 0, state or 0, seq or 0 }
	for i = 1, seats and #seats or 0 do
		r[5 + i] = seats[i]
	end
	return r
end

local function seats_parse(text)
	local seats = {}
	for seat in string.gmatch(text, '%d+') do
		seats[#seats + 1] = tonumber(seat)
	end
	return seats
end

-- The show's settings and counters, with the server's clock and a work budget; nil
-- before bx_setup.
local function show_load(budget)
	local blob = redis.call('GET', 'bx:show')
	if not blob then
		return nil
	end
	local v = { struct.unpack(SHOW_FORMAT, blob) }
	local time = redis.call('TIME')
	return {
		now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000),
		ttl = v[1], idle = v[2], next_hold = v[3], next_join = v[4],
		free = { [0] = v[5], v[10], v[15] }, held = { [0] = v[6], v[11], v[16] },
		booked = { [0] = v[7], v[12], v[17] }, waiting = { [0] = v[8], v[13], v[18] },
		cursor = { [0] = v[9], v[14], v[19] },
		lined = { [0] = v[8] > 0, v[13] > 0, v[18] > 0 },
		budget = budget, more = false, dirty = false,
	}
end

-- Writes the counters back when they changed (one SET, one AOF record), and the line
-- flags of the tiers whose line appeared or emptied.
local function show_store(s)
	if not s.dirty then
		return
	end
	local f, h, b, w, c = s.free, s.held, s.booked, s.waiting, s.cursor
	redis.call('SET', 'bx:show', struct.pack(SHOW_FORMAT, s.ttl, s.idle, s.next_hold,
		s.next_join, f[0], h[0], b[0], w[0], c[0], f[1], h[1], b[1], w[1], c[1], f[2], h[2],
		b[2], w[2], c[2]))
	for t = 0, 2 do
		if (w[t] > 0) ~= s.lined[t] then
			redis.call('SETRANGE', 'bx:seats', SEATS_COUNT + t, LINE_FLAGS[w[t] > 0])
		end
	end
end

-- Sets the state byte of each seat: one SETRANGE for a run of ids (the usual case),
-- else one BITFIELD. Either is one AOF record.
local function seats_set(seats, state)
	local run = true
	for i = 2, #seats do
		run = run and seats[i] == seats[i - 1] + 1
	end
	if run then
		redis.call('SETRANGE', 'bx:seats', seats[1], string.rep(STATE_BYTES[state], #seats))
		return
	end
	local args = { 'BITFIELD', 'bx:seats' }
	for _, seat in ipairs(seats) do
		args[#args + 1] = 'SET'
		args[#args + 1] = 'u8'
		args[#args + 1] = '#' .. seat
		args[#args + 1] = state
	end
	redis.call(unpack(args))
end

-- Looks for k seats in one chunk of state bytes (chunk starts at seat `base`, on a row
-- boundary) from byte `pos`, adding to `picked`; true when it has k.
local function chunk_pick(chunk, base, pos, k, together, picked)
	if together then
		local zeros = string.rep('\0', k)
		while true do
			local p = string.find(chunk, zeros, pos, true)
			if not p then
				return false
			end
			local seat = base + p - 1
			local row_end = seat - seat % ROW_SEATS + ROW_SEATS
			if seat + k <= row_end then
				for i = 1, k do
					picked[i] = seat + i - 1
				end
				return true
			end
			pos = row_end - base + 1
		end
	end
	while #picked < k do
		local p = string.find(chunk, '\0', pos, true)
		if not p then
			return false
		end
		picked[#picked + 1] = base + p - 1
		pos = p + 1
	end
	return true
end

-- The best k free (or, while the tier has a line, pooled) seats of tier t: the lowest
-- ids; together, k consecutive ids in one row. Returns the seats and the cursor to
-- keep if they are taken, or nil. Scans from the cursor with plain string.find
-- (memchr), two rows first, then a section at a time.
local function seats_select(s, t, k, together)
	if s.free[t] < k then
		return nil
	end
	local hi, cursor = TIER_HI[t], s.cursor[t]
	local base = cursor - cursor % ROW_SEATS
	local size, first, picked = FIRST_CHUNK_SEATS, nil, {}
	while base < hi do
		local stop = math.min(base + size, hi)
		local chunk = redis.call('GETRANGE', 'bx:seats', base, stop - 1)
		local pos = math.max(cursor - base, 0) + 1
		if not first then
			pos = string.find(chunk, '\0', pos, true)
			first = pos and base + pos - 1
		end
		if pos and chunk_pick(chunk, base, pos, k, together, picked) then
			return picked, picked[1] == first and picked[k] + 1 or first
		end
		base, size = stop, CHUNK_SEATS
	end
	return nil
end

local function hold_store(n, h)
	redis.call('SET', 'bx:h:' .. n, table.concat({ h.st, h.u, h.d, h.s, h.r }, ' '))
end

-- Makes a hold (or an offer) of seats that are free or pooled; the caller counts the
-- seats against the user when they are new to the user's total.
local function hold_make(s, user, seats, ttl, cursor)
	local n = s.next_hold
	local deadline = s.now + ttl
	s.next_hold, s.dirty = n + 1, true
	seats_set(seats, 1)
	for _, seat in ipairs(seats) do
		local t = seat_tier(seat)
		s.free[t], s.held[t] = s.free[t] - 1, s.held[t] + 1
	end
	if cursor then
		s.cursor[seat_tier(seats[1])] = cursor
	end
	hold_store(n, { st = 'a', u = user, d = deadline, s = table.concat(seats, ',') })
	redis.call('ZADD', 'bx:deadlines', deadline, n)
	return HOLD_ID_BASE + n, deadline
end

local function news_publish(user, seq, state, id, deadline, seats)
	redis.call('PUBLISH', 'bx:news', string.format('%s %d %d %d %d %s', user, seq, state,
		id, deadline, table.concat(seats, ',')))
end

-- A waiting entry leaves tier t's line; the list is dropped with the last one, and
-- then the tier's pooled seats are free again.
local function line_leave(s, t, user)
	s.waiting[t], s.dirty = s.waiting[t] - 1, true
	redis.call('ZREM', 'bx:idle', user)
	if s.waiting[t] == 0 then
		redis.call('DEL', 'bx:line:' .. t)
	end
end

-- Serves tier t's line (RULES.md "Serve"): the head gets an offer when enough pooled
-- seats are there, is told sold out when no seat of the tier is held any more, and
-- otherwise everyone waits. Stops when the budget runs out; the sweeper goes on.
local function tier_serve(s, t)
	local line = 'bx:line:' .. t
	while s.waiting[t] > 0 do
		if s.budget <= 0 then
			s.more = true
			return
		end
		s.budget = s.budget - 1
		local user, seq = string.match(redis.call('LINDEX', line, 0), '^(.*):(%d+)$')
		local key = 'bx:w:' .. user
		local e = redis.call('HMGET', key, 'st', 'q', 'c', 'g')
		if tonumber(e[1]) ~= WAITING or e[2] ~= seq then
			redis.call('LPOP', line) -- a lapsed entry, or one the user replaced
		else
			local count = tonumber(e[3])
			local seats, cursor = seats_select(s, t, count, e[4] == '1')
			local state, id, deadline = W_SOLD_OUT, 0, 0
			if seats then
				id, deadline = hold_make(s, user, seats, s.ttl, cursor)
				state = OFFERED
				redis.call('HSET', key, 'st', OFFERED, 'n', id, 'd', deadline, 's',
					table.concat(seats, ','))
			elseif s.held[t] == 0 then
				redis.call('HSET', key, 'st', W_SOLD_OUT)
				redis.call('HINCRBY', 'bx:users', user, -count)
			else
				return
			end
			redis.call('LPOP', line)
			line_leave(s, t, user)
			news_publish(user, tonumber(seq), state, id, deadline, seats or {})
		end
	end
end

local function tiers_serve(s, touched)
	for t = 0, 2 do
		if touched[t] and s.waiting[t] > 0 then
			tier_serve(s, t)
		end
	end
end

-- Ends active hold n with state x (expired) or r (released): its seats go back (free,
-- or pooled while their tier has a line) and the tiers that got seats are served.
-- The caller removes n from bx:deadlines.
local function hold_end(s, n, h, state)
	local seats, touched = seats_parse(h.s), {}
	h.st, s.dirty = state, true
	hold_store(n, h)
	redis.call('HINCRBY', 'bx:users', h.u, -#seats)
	seats_set(seats, 0)
	for _, seat in ipairs(seats) do
		local t = seat_tier(seat)
		s.free[t], s.held[t] = s.free[t] + 1, s.held[t] - 1
		s.cursor[t] = math.min(s.cursor[t], seat)
		touched[t] = true
	end
	tiers_serve(s, touched)
	return seats
end

local function hold_read(n)
	local v = redis.call('GET', 'bx:h:' .. n)
	if not v then
		return nil
	end
	local st, u, d, seats, r = string.match(v, '^(%a) (%S+) (%d+) (%S+) ?(.*)$')
	return { st = st, u = u, d = tonumber(d), s = seats, r = r }
end

-- Hold n by its public id, or nil; an active hold past its deadline expires here, as
-- the sweeper would have done (in boxoffice timers fire before every command).
local function hold_find(s, id)
	id = tonumber(id)
	if not id or id <= HOLD_ID_BASE or id >= HOLD_ID_BASE + 4294967296 then
		return nil
	end
	local n = id - HOLD_ID_BASE
	local h = hold_read(n)
	if h then
		h.n, h.id = n, id
		if h.st == 'a' and h.d <= s.now then
			hold_end(s, n, h, 'x')
			redis.call('ZREM', 'bx:deadlines', n)
		end
	end
	return h
end

local function user_total(user)
	return tonumber(redis.call('HGET', 'bx:users', user) or 0)
end

local function hold_ttl(s, ttl)
	ttl = tonumber(ttl) or 0
	if ttl > 0 and ttl < s.ttl then
		return ttl
	end
	return s.ttl
end

local function best_args_bad(t, k)
	return not t or not TIER_LO[t] or not k or k < 1 or k > HOLD_SEATS_MAX or k % 1 ~= 0
end

-- bx_setup ttl_ms idle_ms: the show afresh, every seat free, no hold, no line.
local function bx_setup(keys, args)
	local ttl, idle = tonumber(args[1]), tonumber(args[2])
	if not ttl or ttl < 1 or ttl > 3600000 or not idle or idle < 1 or idle > 86400000 then
		return reply(BAD_REQUEST)
	end
	redis.call('FLUSHDB')
	redis.call('SET', 'bx:show', struct.pack(SHOW_FORMAT, ttl, idle, 1, 1,
		30000, 0, 0, 0, 20000, 14000, 0, 0, 0, 6000, 6000, 0, 0, 0, 0))
	redis.call('SET', 'bx:seats', string.rep('\0', SEATS_COUNT + 3))
	return reply(OK)
end

-- bx_hold_seats user ttl_ms seat...: exactly those seats, all or nothing.
local function bx_hold_seats(keys, args)
	local s = show_load(BUDGET_REQUEST)
	if not s then
		return reply(NOT_FOUND)
	end
	local user, seats, seen, get = args[1], {}, {}, { 'BITFIELD_RO', 'bx:seats' }
	for i = 3, #args do
		local seat = tonumber(args[i])
		if not seat or seat < 0 or seat >= SEATS_COUNT or seat % 1 ~= 0 or seen[seat] then
			return reply(BAD_REQUEST)
		end
		seen[seat], seats[#seats + 1] = true, seat
		get[#get + 1] = 'GET'
		get[#get + 1] = 'u8'
		get[#get + 1] = '#' .. seat
	end
	if #seats < 1 or #seats > HOLD_SEATS_MAX then
		return reply(BAD_REQUEST)
	end
	if user_total(user) + #seats > USER_SEATS_MAX then
		return reply(LIMIT_EXCEEDED)
	end
	for _, seat in ipairs(seats) do
		if s.waiting[seat_tier(seat)] > 0 then
			return reply(WAITLIST_ACTIVE)
		end
	end
	local taken = {}
	for i, state in ipairs(redis.call(unpack(get))) do
		if state ~= 0 then
			taken[#taken + 1] = seats[i]
		end
	end
	if #taken > 0 then
		return reply(SEAT_UNAVAILABLE, 0, 0, 0, 0, taken)
	end
	local id, deadline = hold_make(s, user, seats, hold_ttl(s, args[2]), nil)
	redis.call('HINCRBY', 'bx:users', user, #seats)
	show_store(s)
	return reply(OK, id, deadline, 0, 0, seats)
end

-- bx_hold_best user ttl_ms tier count together(0/1): the lowest ids of the tier.
local function bx_hold_best(keys, args)
	local s = show_load(BUDGET_REQUEST)
	if not s then
		return reply(NOT_FOUND)
	end
	local user, t, k, together = args[1], tonumber(args[3]), tonumber(args[4]), args[5] == '1'
	if best_args_bad(t, k) then
		return reply(BAD_REQUEST)
	end
	if user_total(user) + k > USER_SEATS_MAX then
		return reply(LIMIT_EXCEEDED)
	end
	if s.waiting[t] > 0 then
		return reply(WAITLIST_ACTIVE)
	end
	local seats, cursor = seats_select(s, t, k, together)
	if not seats then
		return reply(SEAT_UNAVAILABLE)
	end
	local id, deadline = hold_make(s, user, seats, hold_ttl(s, args[2]), cursor)
	redis.call('HINCRBY', 'bx:users', user, k)
	show_store(s)
	return reply(OK, id, deadline, 0, 0, seats)
end

-- Books active hold h: its seats become booked, and the lines of their tiers are
-- served (fewer seats are held: a line whose seats cannot come back is sold out).
local function hold_book(s, h, ref)
	local seats, touched = seats_parse(h.s), {}
	seats_set(seats, 2)
	for _, seat in ipairs(seats) do
		local t = seat_tier(seat)
		s.held[t], s.booked[t] = s.held[t] - 1, s.booked[t] + 1
		touched[t] = true
	end
	h.st, h.r, s.dirty = 'b', ref, true
	hold_store(h.n, h)
	redis.call('ZREM', 'bx:deadlines', h.n)
	tiers_serve(s, touched)
	return seats
end

-- bx_confirm hold_id user payment_ref: books an active hold; the same ref again is ok.
local function bx_confirm(keys, args)
	local s = show_load(BUDGET_REQUEST)
	if not s then
		return reply(NOT_FOUND)
	end
	local user, ref = args[2], args[3]
	local h = hold_find(s, args[1])
	local status = NOT_FOUND
	if h and (h.st == 'a' or h.st == 'b') and h.u ~= user then
		status = NOT_OWNER
	elseif h and h.st == 'a' then
		local seats = hold_book(s, h, ref)
		show_store(s)
		return reply(OK, h.id, h.d, 0, 0, seats)
	elseif h and h.st == 'b' and h.r == ref then
		return reply(OK, h.id, h.d, 0, 0, seats_parse(h.s))
	elseif h and h.st == 'b' then
		status = ALREADY_CONFIRMED
	elseif h and h.st == 'x' then
		status = HOLD_EXPIRED
	end
	show_store(s)
	return reply(status)
end

-- bx_release hold_id user: an active hold's seats go back.
local function bx_release(keys, args)
	local s = show_load(BUDGET_REQUEST)
	if not s then
		return reply(NOT_FOUND)
	end
	local h = hold_find(s, args[1])
	local status = NOT_FOUND
	if h and h.st == 'a' and h.u ~= args[2] then
		status = NOT_OWNER
	elseif h and h.st == 'a' then
		local seats = hold_end(s, h.n, h, 'r')
		redis.call('ZREM', 'bx:deadlines', h.n)
		show_store(s)
		return reply(OK, h.id, 0, 0, 0, seats)
	elseif h and h.st == 'b' then
		status = ALREADY_CONFIRMED
	elseif h and h.st == 'x' then
		status = HOLD_EXPIRED
	end
	show_store(s)
	return reply(status)
end

-- bx_join user tier count together(0/1): the end of the tier's line.
local function bx_join(keys, args)
	local s = show_load(BUDGET_REQUEST)
	if not s then
		return reply(NOT_FOUND)
	end
	local user, t, k, together = args[1], tonumber(args[2]), tonumber(args[3]), args[4] == '1'
	if best_args_bad(t, k) then
		return reply(BAD_REQUEST)
	end
	local key = 'bx:w:' .. user
	if tonumber(redis.call('HGET', key, 'st')) == WAITING then
		return reply(ALREADY_EXISTS)
	end
	if user_total(user) + k > USER_SEATS_MAX then
		return reply(LIMIT_EXCEEDED)
	end
	-- SPEC 6.1 counts seats, together or not, as boxoffice does.
	if s.waiting[t] == 0 and s.free[t] >= k then
		return reply(SEATS_AVAILABLE)
	end
	if s.held[t] == 0 then
		return reply(SOLD_OUT)
	end
	local seq = s.next_join
	s.next_join, s.waiting[t], s.dirty = seq + 1, s.waiting[t] + 1, true
	redis.call('DEL', key)
	redis.call('HSET', key, 'st', WAITING, 't', t, 'c', k, 'g', together and 1 or 0, 'q', seq)
	redis.call('RPUSH', 'bx:line:' .. t, user .. ':' .. seq)
	redis.call('ZADD', 'bx:idle', s.now + s.idle, user)
	redis.call('HINCRBY', 'bx:users', user, k)
	tier_serve(s, t)
	show_store(s)
	local e = redis.call('HMGET', key, 'st', 'n', 'd', 's')
	return reply(OK, tonumber(e[2]), tonumber(e[3]), tonumber(e[1]), seq, seats_parse(e[4] or ''))
end

-- A waiting entry that was not polled within the idle limit leaves its line.
local function entry_lapse(s, user)
	local key = 'bx:w:' .. user
	local e = redis.call('HMGET', key, 'st', 't', 'c', 'q')
	if tonumber(e[1]) ~= WAITING then
		redis.call('ZREM', 'bx:idle', user)
		return
	end
	local t = tonumber(e[2])
	redis.call('HSET', key, 'st', LAPSED)
	redis.call('HINCRBY', 'bx:users', user, -tonumber(e[3]))
	line_leave(s, t, user)
	news_publish(user, tonumber(e[4]), LAPSED, 0, 0, {})
	tier_serve(s, t)
end

-- bx_poll user: the entry's state. Waiting: the poll is recorded (the idle timer
-- restarts). Terminal: the news, and the entry is removed (it has been delivered).
local function bx_poll(keys, args)
	local s = show_load(BUDGET_REQUEST)
	if not s then
		return reply(NOT_FOUND)
	end
	local user = args[1]
	local key = 'bx:w:' .. user
	local due = tonumber(redis.call('ZSCORE', 'bx:idle', user))
	if due and due <= s.now then
		entry_lapse(s, user)
	end
	local e = redis.call('HMGET', key, 'st', 'q', 'n', 'd', 's')
	local state = tonumber(e[1])
	if state == WAITING then
		redis.call('ZADD', 'bx:idle', s.now + s.idle, user)
	elseif state then
		redis.call('DEL', key)
	end
	show_store(s)
	if not state then
		return reply(NOT_FOUND)
	end
	return reply(OK, tonumber(e[3]), tonumber(e[4]), state, tonumber(e[2]), seats_parse(e[5] or ''))
end

-- The milliseconds until the first deadline in a sorted set, or nil when it is empty.
local function next_due(s, key)
	local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
	return first[2] and tonumber(first[2]) - s.now
end

-- bx_expire: the sweeper. Expires the holds that are due, lapses idle waiters and
-- serves every line, within a budget. Returns {holds expired, entries lapsed, 1 when
-- work is left (call again at once) else 0, ms until the next hold or waiter is due
-- (-1: none)}, so that the sweeper can come back right then.
local function bx_expire(keys, args)
	local s = show_load(BUDGET_SWEEP)
	if not s then
		return { 0, 0, 0, -1 }
	end
	local due = redis.call('ZRANGEBYSCORE', 'bx:deadlines', '-inf', s.now, 'LIMIT', 0,
		SWEEP_HOLDS_MAX)
	for _, n in ipairs(due) do
		local h = hold_read(n)
		if h and h.st == 'a' then
			hold_end(s, n, h, 'x')
		end
	end
	if #due > 0 then
		redis.call('ZREM', 'bx:deadlines', unpack(due))
	end
	local idle = redis.call('ZRANGEBYSCORE', 'bx:idle', '-inf', s.now, 'LIMIT', 0, SWEEP_HOLDS_MAX)
	for _, user in ipairs(idle) do
		entry_lapse(s, user)
	end
	s.budget = math.max(s.budget, BUDGET_REQUEST)
	tiers_serve(s, { [0] = true, true, true })
	show_store(s)
	local more = (s.more or #due == SWEEP_HOLDS_MAX or #idle == SWEEP_HOLDS_MAX) and 1 or 0
	local hold, waiter = next_due(s, 'bx:deadlines'), next_due(s, 'bx:idle')
	return { #due, #idle, more, math.min(hold or 86400000, waiter or 86400000) }
end

-- Counts seats per tier and state, and checks the cursors and line flags.
local function audit_seats(s, seats, bad)
	local count = { [0] = { [0] = 0, 0, 0 }, { [0] = 0, 0, 0 }, { [0] = 0, 0, 0 } }
	for seat = 0, SEATS_COUNT - 1 do
		local t, b = seat_tier(seat), string.byte(seats, seat + 1)
		count[t][b] = count[t][b] + 1
		if b == 0 and seat < s.cursor[t] then
			bad[#bad + 1] = 'free seat ' .. seat .. ' below the cursor'
		end
	end
	for t = 0, 2 do
		if string.byte(seats, SEATS_COUNT + t + 1) ~= (s.waiting[t] > 0 and 1 or 0) then
			bad[#bad + 1] = 'tier ' .. t .. ': line flag'
		end
	end
	return count
end

-- Walks every hold: active ones hold their seats, booked ones book them, and no seat
-- is claimed twice. Returns the seats claimed twice by bookings.
local function audit_holds(seats, held, users, bad)
	local owner, doubles = {}, 0
	for _, key in ipairs(redis.call('KEYS', 'bx:h:*')) do
		local h = hold_read(string.sub(key, 6))
		local want = ({ a = 1, b = 2 })[h.st]
		for _, seat in ipairs(want and seats_parse(h.s) or {}) do
			if owner[seat] == 2 and want == 2 then
				doubles = doubles + 1
			elseif owner[seat] or string.byte(seats, seat + 1) ~= want then
				bad[#bad + 1] = key .. ': seat ' .. seat .. ' claimed twice or in the wrong state'
			end
			owner[seat] = want
			users[h.u] = (users[h.u] or 0) + 1
			if want == 1 then
				held[seat_tier(seat)] = held[seat_tier(seat)] + 1
			end
		end
	end
	return doubles
end

-- Checks the waiting entries and the users' totals against everything else.
local function audit_users(s, users, bad)
	local waiting = { [0] = 0, 0, 0 }
	for _, key in ipairs(redis.call('KEYS', 'bx:w:*')) do
		local v = redis.call('HMGET', key, 'st', 't', 'c')
		if tonumber(v[1]) == WAITING then
			local t, user = tonumber(v[2]), string.sub(key, 6)
			waiting[t] = waiting[t] + 1
			users[user] = (users[user] or 0) + tonumber(v[3])
		end
	end
	for t = 0, 2 do
		if waiting[t] ~= s.waiting[t] then
			bad[#bad + 1] = 'tier ' .. t .. ': waiting entries differ from the count'
		end
	end
	local totals = redis.call('HGETALL', 'bx:users')
	for i = 1, #totals, 2 do
		if tonumber(totals[i + 1]) ~= (users[totals[i]] or 0) then
			bad[#bad + 1] = 'user ' .. totals[i] .. ': total ' .. totals[i + 1]
		end
		users[totals[i]] = nil
	end
	if next(users) then
		bad[#bad + 1] = 'user ' .. next(users) .. ': seats but no total'
	end
end

-- bx_audit: {seats booked, held (pooled included), available, seats in two bookings,
-- then a text for every broken invariant}. Walks everything: for the end of a run and
-- for tests, never during one.
local function bx_audit(keys, args)
	local s = show_load(0)
	if not s then
		return { 0, 0, 0, 0, 'no show: call bx_setup' }
	end
	local seats, bad, held, users = redis.call('GET', 'bx:seats'), {}, { [0] = 0, 0, 0 }, {}
	local count = audit_seats(s, seats, bad)
	local doubles = audit_holds(seats, held, users, bad)
	audit_users(s, users, bad)
	local r = { 0, 0, 0, doubles }
	for t = 0, 2 do
		if count[t][0] ~= s.free[t] or count[t][1] ~= s.held[t] or count[t][2] ~= s.booked[t]
			or held[t] ~= s.held[t] then
			bad[#bad + 1] = 'tier ' .. t .. ': counters differ from the seats'
		end
		local pooled = s.waiting[t] > 0 and count[t][0] or 0
		r[1], r[2] = r[1] + count[t][2], r[2] + count[t][1] + pooled
		r[3] = r[3] + count[t][0] - pooled
	end
	for _, text in ipairs(bad) do
		r[#r + 1] = text
	end
	return r
end

redis.register_function('bx_setup', bx_setup)
redis.register_function('bx_hold_seats', bx_hold_seats)
redis.register_function('bx_hold_best', bx_hold_best)
redis.register_function('bx_confirm', bx_confirm)
redis.register_function('bx_release', bx_release)
redis.register_function('bx_join', bx_join)
redis.register_function('bx_poll', bx_poll)
redis.register_function('bx_expire', bx_expire)
redis.register_function { function_name = 'bx_audit', callback = bx_audit, flags = { 'no-writes' } }
