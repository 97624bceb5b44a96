#!/usr/bin/env bash
# Quick start, part one: installs what is missing, builds, and runs the server on
# 127.0.0.1:7878 with its data in ./var. The demo catalog is loaded the first time
# (an empty catalog only), so running this again keeps what was booked.
# Ctrl-C stops the server cleanly (in-flight work finished, everything flushed).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
setup_packages
setup_build "${BUILD_DIR:-build}"
bin="${BUILD_DIR:-build}/tools"
cat <<TXT
boxoffice: starting the server on 127.0.0.1:7878, data in ./var.
Try, in another terminal:
  $bin/boxctl locations
  $bin/boxctl events 1
  $bin/boxctl seatmap 10009
  $bin/boxctl hold 10009 --user 42 --tier vip --count 2 --together
  $bin/boxctl confirm <hold id> --user 42 --payment-ref pay-1
  $bin/boxctl search --near 48.2,16.37 --radius-km 50 --type concert
  $bin/boxctl stats
or the in-memory tour: $bin/boxdemo
TXT
exec "$bin/boxoffice" --listen 127.0.0.1:7878 --data var --demo "$@"
