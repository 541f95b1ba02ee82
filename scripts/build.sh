#!/usr/bin/env bash
# Configures and builds one flavour: scripts/build.sh [release|asan|tsan]
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
case "$flavour" in
  release) dir=build; extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan) dir=build-asan; extra=(-DCMAKE_BUILD_TYPE=Debug -DPARTI_SANITIZE=address) ;;
  tsan) dir=build-tsan; extra=(-DCMAKE_BUILD_TYPE=Debug -DPARTI_SANITIZE=thread) ;;
  *) echo "unknown flavour $flavour" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${extra[@]}" >/dev/null
ninja -C "$dir" -j2
