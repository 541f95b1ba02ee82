#!/usr/bin/env bash
# What an online partition split costs a loaded cluster: a 3-node local
# cluster, RF 3, fsync on, P=8 partitions preloaded with KEYS items; each
# round runs wrk writes (uniform keys through every node) twice for DURATION
# seconds: once as the baseline, once with a split of the next partition
# begun 2 s in. Prints medians over ROUNDS rounds: throughput and p99 with the
# split against the baseline of the same round, the split's wall time (POST
# /cluster/split to the layout showing it done), the items it moved, and the
# requests that still failed (the node a client reached holds a refused write
# and retries it, --hold-ms).
#   bash bench/split_bench.sh          # ROUNDS=3 DURATION=10 CONNECTIONS=50 KEYS=40000
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
KEYS=${KEYS:-40000}
[ "${SKIP_INSTALL:-0}" = 1 ] || bash scripts/install-deps.sh
bash scripts/build.sh release >/dev/null

ctl=./build/src/partid/partictl
work=$(mktemp -d /tmp/parti-split-XXXXXX)
cleanup() {
  "$ctl" --dir "$work/cluster" cluster down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
source bench/lib.sh

export PARTID_ADMIN_TOKEN="bench-$$"  # the nodes and partictl read it
"$ctl" --dir "$work/cluster" cluster up --nodes 3 --replication-factor 3 --partitions 8 >/dev/null
nodes=$(jq -r '[.nodes[].api | sub("http://"; "")] | join(",")' "$work/cluster/cluster.json")
first=$(jq -r '.nodes[0].api' "$work/cluster/cluster.json")
preload_items "$first" "$KEYS"

export WRK_DIR="$PWD/bench/wrk" NODES="$nodes" KEYS
run_wrk() { wrk -t3 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/wrk/write.lua "http://${nodes%%,*}" | tail -1; }

for ((r = 1; r <= ROUNDS; r++)); do
  run_wrk >>"$work/base"
  (
    sleep 2
    start=$(date +%s.%N)
    "$ctl" --url "$first" split --wait 120 >/dev/null
    awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {print a - b}' >>"$work/split_seconds"
  ) &
  run_wrk >>"$work/during"
  wait
done

moved=$(grep -h "items copied to partition" "$work"/cluster/node-*/partid.log | sed -E 's/.*: ([0-9]+) items copied.*/\1/' | paste -sd' ')
b_rps=$(jq -r .rps "$work/base" | median); s_rps=$(jq -r .rps "$work/during" | median)
b_p99=$(jq -r .p99_ms "$work/base" | median); s_p99=$(jq -r .p99_ms "$work/during" | median)
echo "partid 3 nodes, RF 3, fsync, P=8 -> $((8 + ROUNDS)), $KEYS items preloaded, wrk writes $CONNECTIONS connections, ${DURATION}s x $ROUNDS rounds, medians"
echo "| run | writes/s | p99 ms | failed requests (all rounds) |"
echo "|---|---|---|---|"
printf '| baseline | %.0f | %.2f | %s |\n' "$b_rps" "$b_p99" "$(jq -s 'map(.errors + .non2xx) | add' "$work/base")"
printf '| with a split | %.0f | %.2f | %s |\n' "$s_rps" "$s_p99" "$(jq -s 'map(.errors + .non2xx) | add' "$work/during")"
printf 'throughput with a split: %.2fx the baseline; p99 %.2fx\n' \
  "$(awk -v a="$s_rps" -v b="$b_rps" 'BEGIN {print a / b}')" "$(awk -v a="$s_p99" -v b="$b_p99" 'BEGIN {print a / b}')"
printf 'split wall time: median %.2f s (%s)\n' "$(median <"$work/split_seconds")" "$(paste -sd' ' "$work/split_seconds")"
echo "items moved per split: $moved"
curl -sf "$first/cluster/topology" | jq -c '.layout'
