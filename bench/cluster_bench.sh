#!/usr/bin/env bash
# Load benchmark of a 3-node local partid cluster with wrk, next to
# redis-benchmark against one local redis-server, in the same run on the same
# machine; prints medians over ROUNDS rounds and the ratios to Redis.
#   bash bench/cluster_bench.sh            # ROUNDS=3 DURATION=10 CONNECTIONS=50 SYNC=false
# SYNC=true makes every partid commit fsync (Redis here does not fsync).
# "any node": uniform keys through every node, 2 in 3 forwarded to their
# leader. "leader-aware": each connection sends only keys its node leads (what
# a topology-aware client does; bench/partid_keymap computes the mapping).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
KEYS=${KEYS:-10000}
SYNC=${SYNC:-false}
source bench/lib.sh
prepare_bench bench
redis_pid=""
more_cleanup() {
  [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null || true
}

# --- Redis: SET and GET, 50 connections, no pipelining, 100-byte values.
# A random port may be taken (a connect cannot see every use of it): a server
# that exits before it answers is started again on another one.
start_redis() {
  local tries
  redis_port=$((30000 + RANDOM % 20000))
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
    >"$work/redis.log" 2>&1 &
  redis_pid=$!
  for ((tries = 0; tries < 100; tries++)); do
    redis-cli -p "$redis_port" ping >/dev/null 2>&1 && return 0
    kill -0 "$redis_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}
until start_redis; do kill "$redis_pid" 2>/dev/null || true; done

# --- partid: 3 nodes, keys written once so reads find them.
"$ctl" --dir "$work/cluster" cluster up --nodes 3 --sync "$SYNC" >/dev/null
nodes=$(jq -r '[.nodes[].api | sub("http://"; "")] | join(",")' "$work/cluster/cluster.json")
first=$(jq -r '.nodes[0].api' "$work/cluster/cluster.json")
preload_items "$first" "$KEYS"

curl -sf "$first/cluster/topology" | ./build/bench/partid_keymap key- "$KEYS" >"$work/keymap"

export WRK_DIR="$PWD/bench/wrk" NODES="$nodes" KEYS
mapfile -t partid_pids < <(jq -r '.nodes[].pid' "$work/cluster/cluster.json")
run_wrk() {  # script keymap -> one JSON line, with the nodes' CPU per request
  local before out
  before=$(cpu_us "${partid_pids[@]}")
  out=$(KEYMAP="$2" wrk -t3 -c"$CONNECTIONS" -d"${DURATION}s" -s "bench/wrk/$1.lua" \
    "http://${nodes%%,*}" | tail -1)
  jq -c --argjson cpu $(($(cpu_us "${partid_pids[@]}") - before)) \
    '. + {cpu_us: ($cpu / .requests)}' <<<"$out"
}
run_redis() {  # test -> "rps p50 p99 cpu_us_per_request" (redis-server's CPU)
  local before out n=$((DURATION * 60000))
  before=$(cpu_us "$redis_pid")
  out=$(redis-benchmark -p "$redis_port" -c "$CONNECTIONS" -n "$n" -r "$KEYS" -d 100 \
    -t "$1" --csv -q | tail -1 | tr -d '"')
  awk -F, -v cpu=$(($(cpu_us "$redis_pid") - before)) -v n="$n" '{print $2, $5, $7, cpu / n}' \
    <<<"$out"
}

for ((r = 1; r <= ROUNDS; r++)); do
  for t in set get; do run_redis "$t" >>"$work/redis_$t"; done
  run_wrk write "" >>"$work/partid_write"
  run_wrk read "" >>"$work/partid_read"
  run_wrk write "$work/keymap" >>"$work/aware_write"
  run_wrk read "$work/keymap" >>"$work/aware_read"
done

report() {  # label partid_file redis_file
  local p_rps p_p50 p_p99 p_cpu r_rps r_p50 r_p99 r_cpu errs
  p_rps=$(jq -r .rps "$2" | median); p_p50=$(jq -r .p50_ms "$2" | median)
  p_p99=$(jq -r .p99_ms "$2" | median); p_cpu=$(jq -r .cpu_us "$2" | median)
  errs=$(jq -s 'map(.errors + .non2xx) | add' "$2")
  r_rps=$(awk '{print $1}' "$3" | median); r_p50=$(awk '{print $2}' "$3" | median)
  r_p99=$(awk '{print $3}' "$3" | median); r_cpu=$(awk '{print $4}' "$3" | median)
  printf '| %s | %.0f | %.2f | %.2f | %.1f | %.0f | %.2f | %.2f | %.1f | %.2fx | %s |\n' "$1" \
    "$p_rps" "$p_p50" "$p_p99" "$p_cpu" "$r_rps" "$r_p50" "$r_p99" "$r_cpu" \
    "$(awk -v a="$p_rps" -v b="$r_rps" 'BEGIN {print a / b}')" "$errs"
}
echo "partid 3 nodes (sync=$SYNC) vs redis-server, $CONNECTIONS connections, ${DURATION}s x $ROUNDS rounds, medians"
echo "(CPU: the servers' user + system time per request, in microseconds: partid's three nodes, redis-server)"
echo "| op | partid req/s | p50 ms | p99 ms | CPU us | redis req/s | p50 ms | p99 ms | CPU us | partid/redis | partid errors |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
report "write, any node (POST /items vs SET)" "$work/partid_write" "$work/redis_set"
report "read, any node (GET /items/{pk}/{rk} vs GET)" "$work/partid_read" "$work/redis_get"
report "write, leader-aware client" "$work/aware_write" "$work/redis_set"
report "read, leader-aware client" "$work/aware_read" "$work/redis_get"
echo
# shellcheck disable=SC2046
peak_memory "partid (3 nodes)" $(jq -r '.nodes[].pid' "$work/cluster/cluster.json")
peak_memory "redis-server" "$redis_pid"
