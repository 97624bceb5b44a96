#!/usr/bin/env bash
# Quick start, part one: installs what is missing, builds, and runs the main job.
# Until the server lands this is the engine demo: the demo catalog and one customer
# session, printed.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/setup.sh
setup_packages
setup_build "${BUILD_DIR:-build}"
exec "${BUILD_DIR:-build}/tools/boxdemo" "$@"
