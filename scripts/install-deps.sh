#!/usr/bin/env bash
# Installs every Debian package Parti needs to build, test, benchmark and run.
# Idempotent: apt-get skips what is already installed.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
  build-essential cmake ninja-build pkg-config clang-format lld \
  nats-server libnats-dev libssl-dev \
  libboost-dev libboost-system-dev \
  librocksdb-dev libprotobuf-dev protobuf-compiler \
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev libxxhash-dev nlohmann-json3-dev \
  libgtest-dev libgmock-dev libbenchmark-dev \
  libjemalloc-dev \
  curl procps jq wrk redis-server redis-tools etcd-server >/dev/null
