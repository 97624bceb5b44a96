# plot.gp — boxbench's per-second time series as a PNG: throughput above, latency
# below, on one time axis, so that the spike and what it does to p99 line up.
#
# boxbench runs it as: gnuplot -e "csv='run.csv'; png='run.png'; title='...'" plot.gp
# The CSV columns (bench/histogram.c, bench_recorder_csv):
#   1 second  2 phase  3 users_arrived  4 offered_ops  5 completed_ops  6 ok_ops
#   7 refused_ops  8 p50_ms  9 p90_ms  10 p99_ms  11 max_ms  12 holds_ok
#   13 confirms_ok  14 waits_completed  15 in_flight
# Every column but waits_completed leaves WAITs out (their latency is time in the
# line); offered_ops counts by intended send time, the others by completion time.

if (!exists("csv")) csv = 'boxbench.csv'
if (!exists("png")) png = 'boxbench.png'
if (!exists("title")) title = 'boxbench'

set datafile separator ','
set terminal pngcairo size 1200,800 font ',10'
set output png
set key top right
set grid
set multiplot layout 2,1 title title

set ylabel 'per second'
set format x ''
set xlabel ''
set lmargin 12
plot csv using 1:4 skip 1 with lines lw 2 title 'offered ops', \
     '' using 1:5 skip 1 with lines lw 2 title 'completed ops', \
     '' using 1:3 skip 1 with lines lw 1 title 'users arrived', \
     '' using 1:13 skip 1 with lines lw 1 title 'confirms ok'

set ylabel 'latency, ms (log)'
set xlabel 'seconds since the start'
set format x '%g'
set logscale y
# A second with no completions has 0 ms: leave it out of a log scale.
plot csv using 1:($8 > 0 ? $8 : 1/0) skip 1 with lines lw 1 title 'p50', \
     '' using 1:($10 > 0 ? $10 : 1/0) skip 1 with lines lw 2 title 'p99', \
     '' using 1:($11 > 0 ? $11 : 1/0) skip 1 with lines lw 1 dt 2 title 'max'

unset multiplot
