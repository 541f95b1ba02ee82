#!/usr/bin/env bash
# What an online partition split, and a merge, cost a loaded cluster: a
# 3-node local cluster, RF 3, fsync on, P=8 partitions preloaded with KEYS
# items; each round runs wrk writes (uniform keys through every node) three
# times for DURATION seconds: as the baseline, with a split of the next
# partition begun 2 s in, and with a merge of that partition back begun 2 s
# in (so each round ends where it began). Prints medians over ROUNDS rounds:
# throughput and p99 during each against the baseline of the same round,
# the wall time (POST to the layout showing it done), the items moved, and
# the requests that still failed (the node a client reached holds a refused
# write and retries it, --hold-ms).
#   bash bench/split_bench.sh          # ROUNDS=3 DURATION=10 CONNECTIONS=50 KEYS=40000
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
KEYS=${KEYS:-40000}
source bench/lib.sh
prepare_bench split

export PARTID_ADMIN_TOKEN="bench-$$"  # the nodes and partictl read it
"$ctl" --dir "$work/cluster" cluster up --nodes 3 --replication-factor 3 --partitions 8 >/dev/null
nodes=$(jq -r '[.nodes[].api | sub("http://"; "")] | join(",")' "$work/cluster/cluster.json")
first=$(jq -r '.nodes[0].api' "$work/cluster/cluster.json")
preload_items "$first" "$KEYS"

export WRK_DIR="$PWD/bench/wrk" NODES="$nodes" KEYS
run_wrk() { wrk -t3 -c"$CONNECTIONS" -d"${DURATION}s" -s bench/wrk/write.lua "http://${nodes%%,*}" | tail -1; }

for ((r = 1; r <= ROUNDS; r++)); do
  run_wrk >>"$work/base"
  for op in split merge; do
    (
      sleep 2
      start=$(date +%s.%N)
      "$ctl" --url "$first" "$op" --wait 120 >/dev/null
      awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN {print a - b}' >>"$work/${op}_seconds"
    ) &
    run_wrk >>"$work/$op"
    wait
  done
done

moved() { grep -h "^.*\] $1 of partition .* items copied" "$work"/cluster/node-*/partid.log | sed -E 's/.*: ([0-9]+) items copied.*/\1/' | paste -sd' '; }
b_rps=$(jq -r .rps "$work/base" | median); b_p99=$(jq -r .p99_ms "$work/base" | median)
echo "partid 3 nodes, RF 3, fsync, P=8 <-> 9, $KEYS items preloaded, wrk writes $CONNECTIONS connections, ${DURATION}s x $ROUNDS rounds, medians"
echo "| run | writes/s | p99 ms | failed requests (all rounds) |"
echo "|---|---|---|---|"
printf '| baseline | %.0f | %.2f | %s |\n' "$b_rps" "$b_p99" "$(jq -s 'map(.errors + .non2xx) | add' "$work/base")"
for op in split merge; do
  rps=$(jq -r .rps "$work/$op" | median); p99=$(jq -r .p99_ms "$work/$op" | median)
  printf '| with a %s | %.0f | %.2f | %s |\n' "$op" "$rps" "$p99" "$(jq -s 'map(.errors + .non2xx) | add' "$work/$op")"
  echo "$op: throughput $(awk -v a="$rps" -v b="$b_rps" 'BEGIN {printf "%.2f", a / b}')x the baseline, p99 $(awk -v a="$p99" -v b="$b_p99" 'BEGIN {printf "%.2f", a / b}')x;" \
    "wall time median $(median <"$work/${op}_seconds" | awk '{printf "%.2f", $1}') s ($(paste -sd' ' "$work/${op}_seconds")); items moved: $(moved "$op")"
done
grep -h "took its keys over" "$work"/cluster/node-*/partid.log | sed -E 's/.*took its keys over: //' | paste -sd' '
curl -sf "$first/cluster/topology" | jq -c '.layout'
