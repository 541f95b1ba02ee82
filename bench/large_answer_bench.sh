#!/usr/bin/env bash
# What one client listing a large key costs the other clients of its node: wrk
# reads single items (10 connections) on a 1-node cluster, alone and while
# another client lists a key of 200 items of 250 KB (a 50-MB answer) over and
# over; medians over ROUNDS rounds, and the ratios of the two in the same run.
# RELAYED=1: two nodes; reads and the listing go to the first node, and the
# listed key is led by the second, so its answer is relayed in parts.
# SMALL=1: the key holds 10,000 items of 10 bytes instead (a listing of many
# small items: ~0.9 MB of JSON, few bytes of messages), listed 10,000 at a time.
#   SKIP_INSTALL=1 bash bench/large_answer_bench.sh   # ROUNDS=3 DURATION=8 RELAYED=0 SMALL=0
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-8}
RELAYED=${RELAYED:-0}
SMALL=${SMALL:-0}
source bench/lib.sh
prepare_bench large

"$ctl" --dir "$work/cluster" cluster up --nodes $((RELAYED + 1)) --sync false >/dev/null
url=$(jq -r '.nodes[0].api' "$work/cluster/cluster.json")
leader=$(jq -r ".nodes[$RELAYED].api" "$work/cluster/cluster.json")
preload_items "$url" 10000
# A key the listed node leads: the first of big0, big1, ... on its address.
big=$(curl -sf "$url/cluster/topology" | ./build/bench/partid_keymap big 1000 |
  awk -v n="${leader#http://}" '$1 == n {print $2}' | head -1 || true)
if [ "$SMALL" = 1 ]; then
  listed="a key of 10,000 items of 10 bytes"
  count=10000
  for ((start = 0; start < count; start += 1000)); do
    jq -nc --arg k "$big" --argjson s "$start" \
      '{items: [range($s; $s + 1000) | {partition_key: $k, range_key: "r\(.)", message: "0123456789"}]}' |
      curl -sf -o /dev/null -X POST --data-binary @- "$url/items/batch"
  done
else
  listed="a 50-MB key (200 items of 250 KB)"
  count=200
  message=$(head -c 250000 /dev/zero | tr '\0' 'x')
  for i in $(seq -w 1 200); do
    printf '{"partition_key":"%s","range_key":"r%s","message":"%s"}' "$big" "$i" "$message" >"$work/item"
    curl -sf -o /dev/null -X POST --data-binary @"$work/item" "$url/items"
  done
fi

export WRK_DIR="$PWD/bench/wrk" NODES="${url#http://}" KEYS=10000
reads() { wrk -t1 -c10 -d"${DURATION}s" -s bench/wrk/read.lua "$url" | tail -1; }
list_until() {  # deadline (seconds since start of the script) -> lists made
  local n=0
  while [ "$SECONDS" -lt "$1" ]; do
    curl -sf -o /dev/null "$url/items/$big?limit=$count"
    n=$((n + 1))
  done
  echo "$n"
}

for ((r = 1; r <= ROUNDS; r++)); do
  reads >>"$work/alone"
  list_until $((SECONDS + DURATION + 1)) >>"$work/lists" &
  reads >>"$work/listed"
  wait
done

stat() { jq -r ".$2" "$1" | median; }
echo "partid, $((RELAYED + 1)) node(s): single-item reads (wrk, 10 connections, ${DURATION}s x $ROUNDS rounds, medians)"
echo "alone and while one client lists $listed ($(median <"$work/lists") lists per round$([ "$RELAYED" = 1 ] && echo ', relayed from the other node'))"
echo "| reads | req/s | p50 ms | p99 ms |"
echo "|---|---|---|---|"
for f in alone listed; do
  printf '| %s | %.0f | %.2f | %.2f |\n' "$f" "$(stat "$work/$f" rps)" "$(stat "$work/$f" p50_ms)" \
    "$(stat "$work/$f" p99_ms)"
done
awk -v a="$(stat "$work/alone" rps)" -v b="$(stat "$work/listed" rps)" \
  -v c="$(stat "$work/alone" p99_ms)" -v d="$(stat "$work/listed" p99_ms)" \
  'BEGIN {printf "while listing: throughput %.2fx, p99 %.1fx of alone\n", b / a, d / c}'
