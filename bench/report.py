#!/usr/bin/env python3
"""report.py — turns benchmark output into the markdown of bench/RESULTS.md (see run.sh).

  report.py medians --title T --command C FILE...   `name: value unit` lines, medians over files
  report.py median-of NAME FILE...                 the median of one figure, as a bare number
  report.py pipelined-best OP FILE...              of net_bench output: the median of OP's
                                                      best pipelined row, as a bare number
  report.py net --title T --command C FILE...      net_bench output as tables
  report.py onsale --rates "R..." --depths "D..." --runs N --results DIR --command C
                                                      boxbench JSON as tables
  report.py assemble --quick yes|no --results DIR  RESULTS.md from the part files
"""
import argparse
import json
import os
import re
import statistics
import sys

LINE = re.compile(r"^([A-Za-z0-9_]+): ([-0-9.]+) ?(.*)$")

# (figure, "<=" or ">=", threshold, what the target says)
TARGETS = {
    "engine": [
        ("hold_release_pairs_per_s", ">=", 3e6, "≥ 3,000,000 hold+release pairs/s"),
        ("best_available_4_front_filled_90pct_per_s", ">=", 1e6,
         "≥ 1,000,000 best-available holds/s (90% full)"),
        ("best_available_4_fragmented_90pct_per_s", ">=", 1e6,
         "≥ 1,000,000 best-available holds/s (90% full, fragmented)"),
        ("seat_state_bytes_per_seat", "<=", 1.0, "≤ 1 byte of seat state per seat"),
        ("hold_bytes_per_hold_1_seat", "<=", 68.0, "a hold ≤ 64 + 4 bytes per seat (1 seat)"),
        ("hold_bytes_per_hold_4_seats", "<=", 80.0, "a hold ≤ 64 + 4 bytes per seat (4 seats)"),
        ("search_p99_us", "<=", 1000.0, "search p99 ≤ 1 ms"),
    ],
    "wal": [
        ("durable_records_per_s_4096_appenders", ">=", 1e6,
         "≥ 1,000,000 durable 64-byte records/s (4,096 appenders)"),
        ("durable_records_per_s_256_appenders", ">=", 1e6,
         "≥ 1,000,000 durable 64-byte records/s (256 appenders)"),
        ("replay_records_per_s", ">=", 5e6, "replay ≥ 5,000,000 records/s"),
        ("recovery_full_replay_s", "<=", 3.0, "recovery of 10M records < 3 s"),
    ],
    "net": [
        ("durable_requests_per_s_64conn_pipeline1", ">=", 2e5,
         "≥ 200,000 requests/s unpipelined at 64 connections (durable holds)"),
        ("durable_aware_requests_per_s_64conn_pipeline1", ">=", 2e5,
         "≥ 200,000 requests/s unpipelined at 64 connections (durable holds, shard-aware client)"),
        ("ping_requests_per_s_64conn_pipeline1", ">=", 2e5,
         "≥ 200,000 requests/s unpipelined at 64 connections (ping)"),
        ("durable_requests_per_s_pipelined_best", ">=", 1e6,
         "≥ 1,000,000 operations/s pipelined (durable holds, the best pipelined row)"),
        ("ping_requests_per_s_64conn_pipeline32", ">=", 1e6,
         "≥ 1,000,000 operations/s pipelined (ping)"),
        ("half_max_latency_p99_us", "<=", 1000.0,
         "durable hold p99 ≤ 1 ms at half the maximum rate"),
        ("server_rss_growth_mib", "<=", 100.0, "10,000 idle connections ≤ 100 MB"),
    ],
}


def parse_file(path):
    """Figures of one run, in order: name -> (value, unit)."""
    figures = {}
    with open(path) as f:
        for line in f:
            m = LINE.match(line.strip())
            if m:
                figures.setdefault(m.group(1), (float(m.group(2)), m.group(3)))
    return figures


def parse_net_file(path):
    """net_bench output: latency lines belong to the requests/s line before them."""
    figures = {}
    case = None
    with open(path) as f:
        for line in f:
            m = LINE.match(line.strip())
            if not m:
                continue
            name, value, unit = m.group(1), float(m.group(2)), m.group(3)
            c = re.match(r"^(\w+?)_requests_per_s_(\d+conn_pipeline\d+)$", name)
            if c:
                case = name
            elif name.startswith("latency_") and case:
                name = case.replace("requests_per_s", name[len("latency_"):])
            figures[name] = (value, unit)
    return figures


def gather(runs):
    """name -> (values over runs, unit), in first-seen order."""
    out = {}
    for run in runs:
        for name, (value, unit) in run.items():
            out.setdefault(name, ([], unit))[0].append(value)
    return out


def fmt(value):
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def targets_table(part, figures):
    rows = []
    for name, op, threshold, text in TARGETS.get(part, []):
        if name not in figures:
            continue
        counted = re.search(r"\((\d+) records", figures[name][1])
        if counted and int(counted.group(1)) < 10_000_000:
            continue  # a --quick log: the target is about 10M records
        median = statistics.median(figures[name][0])
        met = median >= threshold if op == ">=" else median <= threshold
        rows.append(f"| {text} | {fmt(median)} {figures[name][1]} | "
                    f"{'met' if met else '**not met**'} |")
    if not rows:
        return ""
    return ("\nTargets (medians):\n\n| target | measured | |\n|---|---|---|\n" +
            "\n".join(rows) + "\n")


def medians_table(figures):
    lines = ["| figure | median | min | max | unit | runs |", "|---|---|---|---|---|---|"]
    for name, (values, unit) in figures.items():
        lines.append(f"| `{name}` | {fmt(statistics.median(values))} | {fmt(min(values))} | "
                     f"{fmt(max(values))} | {unit} | {len(values)} |")
    return "\n".join(lines) + "\n"


def cmd_medians(args):
    figures = gather(parse_file(p) for p in args.files)
    part = "engine" if "engine" in os.path.basename(args.files[0]) else "wal"
    print(f"## {args.title}\n\n`{args.command}`\n")
    print(medians_table(figures))
    print(targets_table(part, figures))


def cmd_median_of(args):
    figures = gather(parse_file(p) for p in args.files)
    print(int(statistics.median(figures[args.name][0])))


def pipelined_best(figures, op):
    """The name of the pipelined row of op with the highest median, or None."""
    best = None
    for name, (values, _) in figures.items():
        c = re.match(rf"^{op}_requests_per_s_(\d+)conn_pipeline(\d+)$", name)
        if c and int(c.group(2)) > 1 and (
                best is None or statistics.median(values) > statistics.median(figures[best][0])):
            best = name
    return best


def cmd_pipelined_best(args):
    figures = gather(parse_net_file(p) for p in args.files)
    best = pipelined_best(figures, args.op)
    print(int(statistics.median(figures[best][0])))


FLUSH_FIGURES = ("o_direct", "flush_mean_us", "flush_p50_us", "flush_p99_us", "flush_p999_us",
                 "flushes_over_5ms_per_s")


def flush_paragraph(med):
    """flush_bench's figures, idle and busy, and the bound they put on 64 one-request clients;
    empty when either run is missing."""
    busy = sorted(int(m.group(1)) for m in map(re.compile(r"^busy(\d+)_flush_mean_us$").match, med)
                  if m)
    runs = [("idle", "the other CPUs idle")]
    if busy:
        runs.append((f"busy{busy[0]}", f"{busy[0]} other CPU{'s' if busy[0] > 1 else ''} spinning"))
    if not all(f"{prefix}_{name}" in med for prefix, _ in runs for name in FLUSH_FIGURES):
        return ""

    def figures(prefix, what):
        return (f"mean {fmt(med[f'{prefix}_flush_mean_us'])} µs, "
                f"p50 {fmt(med[f'{prefix}_flush_p50_us'])} µs, "
                f"p99 {fmt(med[f'{prefix}_flush_p99_us'])} µs, "
                f"p99.9 {fmt(med[f'{prefix}_flush_p999_us'])} µs, "
                f"{fmt(med[f'{prefix}_flushes_over_5ms_per_s'])} flushes a second over 5 ms "
                f"({what})")

    direct = all(med[f"{prefix}_o_direct"] == 1 for prefix, _ in runs)
    mean = med["idle_flush_mean_us"]
    cap = f"{fmt(64e6 / mean)} requests/s" if mean > 0 else "no figure (a mean of 0)"
    options = f" [--busy {busy[0]}]" if busy else ""
    return (f"\nThe disk alone (`build-bench/bench/flush_bench --dir $TMP{options}`: "
            f"4 KiB writes {'with O_DIRECT ' if direct else 'through the page cache '}and "
            f"RWF_DSYNC, one at a time, as the log flushes; the writer pinned to one CPU): "
            f"{'; '.join(figures(*run) for run in runs)}. Every durable request waits for at "
            f"least one such flush, so with 64 clients that each wait for their answer the "
            f"flush alone caps durable requests at about 64 / {fmt(mean)} µs = {cap}, before "
            f"any CPU cost or wait for the flush already in flight (bench/ANALYSIS.md).\n")


def cmd_net(args):
    figures = gather(parse_net_file(p) for p in args.files)
    best = pipelined_best(figures, "durable")
    if best is not None:
        conns, depth = re.search(r"(\d+)conn_pipeline(\d+)$", best).groups()
        figures["durable_requests_per_s_pipelined_best"] = (
            figures[best][0], f"requests/s ({conns} × {depth})")
    med = {name: statistics.median(v) for name, (v, _) in figures.items()}
    print(f"## {args.title}\n\n`{args.command}`\n")
    print("Medians over the runs; latency from each request's send (closed loop).\n")
    print("| request | connections | in flight each | requests/s | p50 µs | p99 µs | p99.9 µs |")
    print("|---|---|---|---|---|---|---|")
    for name in figures:
        c = re.match(r"^(\w+?)_requests_per_s_(\d+)conn_pipeline(\d+)$", name)
        if not c or name.startswith("half_max") or name.endswith("_best"):
            continue
        op, conns, depth = c.groups()
        key = f"{op}_{{}}_{conns}conn_pipeline{depth}"
        label = {"durable": "hold/release (durable)",
                 "durable_aware": "hold/release (durable, shard-aware client)",
                 "show": "show (read)", "ping": "ping"}.get(op, op)
        print(f"| {label} | {conns} | {depth} | {fmt(med[name])} | "
              f"{fmt(med.get(key.format('p50_us'), 0))} | {fmt(med.get(key.format('p99_us'), 0))} | "
              f"{fmt(med.get(key.format('p999_us'), 0))} |")
    if "half_max_durable_requests_per_s" in med:
        print(f"\nDurable holds offered open loop at half the maximum pipelined rate "
              f"({fmt(med.get('offered_rate', 0))}/s; latency from each request's intended send "
              f"time): achieved {fmt(med['half_max_durable_requests_per_s'])}/s, "
              f"p50 {fmt(med.get('half_max_latency_p50_us', 0))} µs, "
              f"p99 {fmt(med.get('half_max_latency_p99_us', 0))} µs, "
              f"p99.9 {fmt(med.get('half_max_latency_p999_us', 0))} µs.")
    if "server_bytes_per_idle_connection" in med:
        print(f"\n{fmt(med['idle_connections'])} idle connections: the server grew by "
              f"{fmt(med['server_rss_growth_mib'])} MiB "
              f"({fmt(med['server_bytes_per_idle_connection'])} bytes each).")
    print(flush_paragraph(med), end="")
    print(targets_table("net", figures))


def load(results, name):
    path = os.path.join(results, f"onsale-{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def phase(run, name):
    for p in run["phases"]:
        if p["name"] == name:
            return p["stats"]
    return None


LINE_CEILING = 262144  # boxbench's USERS_CLOSED_CAPACITY, and 64 connections × 4,096


def capped(run):
    """Whether a closed-loop run's waiting line came within 1% of the harness's ceiling."""
    u = run["users"]
    return u["joined"] >= LINE_CEILING * 0.99 or u["arrived"] - u["booked"] >= LINE_CEILING


def median_run(results, name, runs, phase_name, key):
    """Of runs NAME-1 .. NAME-RUNS, the median by key of one phase:
    (run, its phase, lowest key, highest key, the audits' verdict over all the runs)."""
    found = []
    for k in range(1, runs + 1):
        run = load(results, f"{name}-{k}")
        if run is not None and phase(run, phase_name) is not None:
            found.append((key(phase(run, phase_name)), run))
    if not found:
        return None
    found.sort(key=lambda pair: pair[0])
    value, run = found[(len(found) - 1) // 2]
    failed = sum(1 for _, r in found if not r.get("audit", {}).get("passed"))
    audit = "passed" if failed == 0 else f"**FAILED** in {failed} of {len(found)} runs"
    return run, phase(run, phase_name), found[0][0], found[-1][0], audit


def cmd_onsale(args):
    targets = ["boxoffice", "postgres", "redis"]
    names = {"boxoffice": "boxoffice", "postgres": "PostgreSQL 15", "redis": "Redis 7"}
    print("## On-sale: boxoffice, PostgreSQL and Redis on the same machine\n")
    print(f"`{args.command}` — boxbench's on-sale workload (bench/WORKLOAD.md): one show of "
          "50,000 seats, users view the seat map, hold 1–4 seats (explicit, skewed to the "
          "front, or best-available by tier), confirm with p = 0.7 after 0.5–3 s or let the "
          "10 s hold expire, join the waiting line when told and confirm offers. 64 "
          "connections; boxoffice's client is shard-aware (`--shard-aware`: each request goes "
          "on a connection of its show's shard, PROTOCOL.md). Every system acknowledges a change only after fsync (boxoffice: "
          "group commit; PostgreSQL: synchronous_commit = on; Redis: appendfsync always). "
          "Settings: bench/peers/.\n")
    depths = args.depths.split()
    runs = int(args.runs)
    print(f"Every run was made {runs} time{'s' if runs > 1 else ''}, in rounds over all three "
          "systems; each row is the median run (by throughput for the closed loop, by p99 "
          "for the spikes), with the range over the runs.\n")
    print("### Maximum sustained rate (closed loop)\n")
    print(f"Each system runs with {', '.join(depths)} operations in flight (WAITs excluded: "
          "a user in the waiting line costs no slot); the figures are for operations sent "
          "while users arrive, over 64 connections.\n")
    print("| system | in flight | operations/s | range | p50 ms | p99 ms | p99.9 ms | bookings | "
          "users in line at the end | audit | boxoffice is × faster |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    closed = {}
    for t in targets:
        for depth in depths:
            found = median_run(args.results, f"{t}-closed-{depth}", runs, "run",
                               lambda s: s["achieved_per_s"])
            if found:
                closed[t, depth] = found
    best = {}
    for t in targets:
        for depth in depths:
            if (t, depth) not in closed:
                continue
            run, s, low, high, audit = closed[t, depth]
            if t not in best or s["achieved_per_s"] > best[t][1]["achieved_per_s"]:
                best[t] = (depth, s, capped(run))
            base = closed.get(("boxoffice", depth))
            ratio = (base[1]["achieved_per_s"] / s["achieved_per_s"]
                     if base and s["achieved_per_s"] else 0)
            lat = s["latency_ms"]
            print(f"| {names[t]} | {depth} | {fmt(s['achieved_per_s'])} | "
                  f"{fmt(low)}–{fmt(high)} | {fmt(lat['p50'])} | "
                  f"{fmt(lat['p99'])} | {fmt(lat['p999'])} | {run['users']['booked']:,} | "
                  f"{run['users']['cut']:,}{' (ceiling)' if capped(run) else ''} | {audit} | {'—' if t == 'boxoffice' else f'{ratio:.1f}'} |")
    if any(capped(found[0]) for found in closed.values()):
        print(f"\n(ceiling): the line reached the harness's ceiling of {LINE_CEILING:,} users: boxbench keeps "
              f"at most {LINE_CEILING:,} users alive, and over 64 connections the server parks "
              "at most 64 × 4,096 requests (PROTOCOL.md's limit per connection). New users "
              "could only arrive as others left, so the rate of such a run is a lower bound "
              "on the system's maximum.")
    if "boxoffice" in best:
        top = best["boxoffice"][1]["achieved_per_s"]
        floor = "≥ " if best["boxoffice"][2] else ""
        print("\nEach system's maximum (its best depth):\n")
        print("| system | maximum operations/s | at depth | boxoffice's maximum is × |")
        print("|---|---|---|---|")
        for t in targets:
            if t not in best:
                continue
            depth, s, at_ceiling = best[t]
            ratio = top / s["achieved_per_s"] if s["achieved_per_s"] else 0
            print(f"| {names[t]} | {'≥ ' if at_ceiling else ''}{fmt(s['achieved_per_s'])} | "
                  f"{depth} | {'—' if t == 'boxoffice' else f'{floor}{ratio:.1f}'} |")
    print("\n### The same spike offered to each (open loop, latency from intended send "
          "time)\n")
    print("Users arrive at the baseline rate, then at 50 × for the spike, then at the baseline "
          "again. Figures are for operations sent during the spike (WAITs excluded: their "
          "latency is time in the line).\n")
    print("| baseline users/s | system | offered ops/s | achieved ops/s | p50 ms | p99 ms | "
          "p99 range | p99.9 ms | max ms | audit | p99 / boxoffice's |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for rate in args.rates.split():
        found = {t: median_run(args.results, f"{t}-open-{rate}", runs, "spike",
                               lambda s: s["latency_ms"]["p99"]) for t in targets}
        base = found["boxoffice"][1] if found["boxoffice"] else None
        for t in targets:
            if found[t] is None:
                continue
            run, s, low, high, audit = found[t]
            lat = s["latency_ms"]
            ratio = lat["p99"] / base["latency_ms"]["p99"] if base and base["latency_ms"]["p99"] else 0
            print(f"| {rate} | {names[t]} | {fmt(s['offered_per_s'])} | "
                  f"{fmt(s['achieved_per_s'])} | {fmt(lat['p50'])} | {fmt(lat['p99'])} | "
                  f"{fmt(low)}–{fmt(high)} | "
                  f"{fmt(lat['p999'])} | {fmt(lat['max'])} | {audit} | "
                  f"{'—' if t == 'boxoffice' else f'{ratio:.1f}'} |")
    top = args.rates.split()[-1]
    print(f"\nThroughput and p99 per second across the spike at {top} users/s baseline:\n")
    for t in targets:
        png = f"results/onsale-{t}-open-{top}.png"
        if os.path.exists(os.path.join(args.results, os.path.basename(png))):
            print(f"- {names[t]}: ![{names[t]}]({png})")
    print("\nRaw JSON of every run, and per-second CSV of the first round's spikes: "
          "`bench/results/onsale-*`.")
    print("\nTargets (issue 5): boxoffice ≥ 10 × Redis and ≥ 30 × PostgreSQL in sustained "
          "throughput, with p99 at most a tenth of theirs at equal offered load. The "
          "ratios above are the measurement, met or not.")


def cmd_assemble(args):
    print("# Benchmark results\n")
    print("Written by `bash bench/run.sh` (see its header for what each part runs); every "
          "figure is printed by a benchmark program, never asserted by a test.\n")
    if args.quick == "yes":
        print("> **--quick run**: short runs that check the script works; do not quote these "
              "figures.\n")
    print("- Release build (`build-bench/`); each part below ends with the date, commit and "
          "machine it was measured at (parts can be measured again alone).")
    print("- The machine is a shared virtual machine: figures vary from run to run; the "
          "tables give medians (and min/max) over the runs.")
    print("- Why the targets marked **not met** are missed, and what was tried: "
          "`bench/ANALYSIS.md`.\n")
    for part in ("engine", "wal", "net", "onsale"):
        path = os.path.join(args.results, f"{part}.md")
        if os.path.exists(path):
            with open(path) as f:
                print(f.read().rstrip() + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command_name", required=True)
    p = sub.add_parser("medians")
    p.add_argument("--title", required=True)
    p.add_argument("--command", required=True)
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_medians)
    p = sub.add_parser("median-of")
    p.add_argument("name")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_median_of)
    p = sub.add_parser("pipelined-best")
    p.add_argument("op")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_pipelined_best)
    p = sub.add_parser("net")
    p.add_argument("--title", required=True)
    p.add_argument("--command", required=True)
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_net)
    p = sub.add_parser("onsale")
    p.add_argument("--rates", required=True)
    p.add_argument("--depths", required=True)
    p.add_argument("--runs", default="1")
    p.add_argument("--results", required=True)
    p.add_argument("--command", required=True)
    p.set_defaults(func=cmd_onsale)
    p = sub.add_parser("assemble")
    p.add_argument("--quick", default="no")
    p.add_argument("--results", required=True)
    p.set_defaults(func=cmd_assemble)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
