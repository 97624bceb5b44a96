#!/usr/bin/env bash
# Installs what boxoffice needs from Debian (only what is missing) and builds it.
# Sourced by start.sh and test.sh; BUILD_DIR and MESON_ARGS may be set by the caller.
set -euo pipefail

BOXOFFICE_PACKAGES=(meson ninja-build pkg-config gcc libc6-dev
	liburing-dev libxxhash-dev libcriterion-dev libjansson-dev)

setup_packages() {
	local missing=() package
	for package in "${BOXOFFICE_PACKAGES[@]}" "$@"; do
		if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null |
			grep -q "install ok installed"; then
			missing+=("$package")
		fi
	done
	((${#missing[@]} == 0)) && return 0
	local sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo="sudo"
	fi
	echo "setup: installing ${missing[*]}" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# setup_build DIR [meson options...]: configures DIR once, then builds it.
setup_build() {
	local dir="$1"
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" "$@" >/dev/null
	fi
	if ! meson compile -C "$dir" >"$dir/compile.log" 2>&1; then
		grep -E -B2 -A8 "error|FAILED" "$dir/compile.log" | head -60 >&2
		echo "setup: the build in $dir failed (whole log: $dir/compile.log)" >&2
		return 1
	fi
}
