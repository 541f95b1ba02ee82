#!/usr/bin/env bash
# Configures and builds one flavour: scripts/build.sh [release|asan|tsan]
# Sanitizer flavours build what their tests run (the test binaries, partid,
# partictl), not the examples and benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
sanitized=(parti_concurrency_tests parti_integration_tests partid partictl)
case "$flavour" in
  release) dir=build; extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo); targets=() ;;
  asan)
    dir=build-asan; extra=(-DCMAKE_BUILD_TYPE=Debug -DPARTI_SANITIZE=address)
    targets=(parti_unit_tests "${sanitized[@]}") ;;
  # The unit tests are logic on one thread: nothing there for TSan to check.
  tsan)
    dir=build-tsan; extra=(-DCMAKE_BUILD_TYPE=Debug -DPARTI_SANITIZE=thread)
    targets=("${sanitized[@]}") ;;
  *) echo "unknown flavour $flavour" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${extra[@]}" >/dev/null
ninja -C "$dir" -j2 "${targets[@]}"
