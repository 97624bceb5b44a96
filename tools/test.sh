#!/usr/bin/env bash
# Quick start, part two: installs what is missing, builds, and runs every test:
# the suite in an optimised build, then again under AddressSanitizer and
# UndefinedBehaviorSanitizer (with a shorter model run: sanitizers are slow).
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
setup_packages

echo "== tests (debugoptimized) =="
setup_build build
meson test -C build --print-errorlogs

echo "== tests under ASan + UBSan =="
setup_build build-sanitize -Db_sanitize=address,undefined -Db_lundef=false \
	-Dc_args=-fno-sanitize-recover=all \
	-Dmodel_steps=200000
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	meson test -C build-sanitize --print-errorlogs

echo "== smoke run of the engine benchmark (figures not meaningful) =="
build/bench/engine_bench --quick --only hold_release
