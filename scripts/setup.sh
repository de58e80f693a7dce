#!/usr/bin/env bash
# Install what pdc needs on Debian 12 and build it.
#   scripts/setup.sh [BUILD_DIR] [extra meson options...]
# Installs the missing Debian packages (as root, or through sudo), then
# configures BUILD_DIR (default: build) with meson and compiles it.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential pkg-config meson ninja-build
          libzmq3-dev libczmq-dev libmsgpack-dev liblmdb-dev libuv1-dev
          libcriterion-dev libopenblas-dev libxxhash-dev libsodium-dev
          libjansson-dev iproute2 python3 python3-venv clang-format)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build=${1:-build}
shift || true
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$@" >/dev/null
elif [ $# -gt 0 ]; then
    meson configure "$build" "$@" >/dev/null
fi
ninja -C "$build"
