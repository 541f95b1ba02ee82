#!/usr/bin/env bash
# A follower rebuilt from large snapshots, and how both ends answer
# meanwhile: a 3-node RF=3 cluster whose logs are trimmed right behind the
# watermark (PARTID_LOG_RETENTION=10), MIB MiB written under KEYS partition
# keys (1: all in one partition; 8: spread over the 8 partitions, so each
# leader builds several snapshots at once), one follower killed, its data
# deleted and started again. Prints how long until the new disk serves the
# last item of every key, how many snapshots the leader built, and, from
# bench/partid_probe while that ran, the longest /health answers of the
# leader and of the rebuilt node and the longest write answer of the leader
# (a key it leads, written one after the other), and the peak resident
# memory of the leader (before and after) and of the rebuilt node.
#   bash bench/rebuild_bench.sh        # MIB=200 KEYS=1 PROBE_SECONDS=40
# KEEP=DIR copies the nodes' logs and the probes' answers (each stall with
# when it came) there before the cluster is removed.
# FAST_TIMINGS=false runs the nodes on libparti's default timings (a 6-s
# heartbeat TTL) instead of the local cluster's sub-second ones, which a
# 2-core machine busy with snapshots can outlast (a coordinator or a node
# then counted gone, and its replicas dropped and copied again).
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${MIB:-200}
KEYS=${KEYS:-1}
PROBE_SECONDS=${PROBE_SECONDS:-40}
FAST_TIMINGS=${FAST_TIMINGS:-true}
source bench/lib.sh
prepare_bench rebuild
# The node started again is not in the cluster's file: `cluster down` would
# leave it running.
more_cleanup() {
  local pid tries
  [ -f "$work/rebuilt.pid" ] || return 0
  pid=$(cat "$work/rebuilt.pid")
  kill "$pid" 2>/dev/null || return 0
  for ((tries = 0; tries < 100; tries++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}
probe=./build/bench/partid_probe
node() { jq -r ".nodes[] | select(.id==\"$1\") | .$2" "$work/cluster/cluster.json"; }
port() { echo "${1##*:}"; }

PARTID_LOG_RETENTION=10 "$ctl" --dir "$work/cluster" cluster up --nodes 3 \
  --replication-factor 3 --partitions 8 --sync false --fast-timings "$FAST_TIMINGS" >/dev/null
first=$(jq -r '.nodes[0].api' "$work/cluster/cluster.json")
head -c 250000 /dev/zero | tr '\0' x >"$work/message"
items=$((MIB * 1048576 / 250000))
for ((i = 0; i < items; i++)); do
  jq -nc --rawfile m "$work/message" --arg pk "big$((i % KEYS))" --arg rk "r$i" \
    '{partition_key: $pk, range_key: $rk, message: $m}' \
    | curl -sf -X POST "$first/items" -H 'Content-Type: application/json' --data-binary @- >/dev/null
done
p=$(curl -sf "$first/items/big0/r0" | jq .partition)
topology=$(curl -sf "$first/cluster/topology")
replicas() { jq -r ".assignment[] | select(.partition==$p) | .replicas[$1]" <<<"$topology"; }
leader=$(replicas 0)
follower=$(replicas 1)
leader_api=$(node "$leader" api)
dir=$(node "$follower" dir)
pid=$(node "$follower" pid)
probe_key=$(./build/bench/partid_keymap probe- 64 <<<"$topology" \
  | awk -v a="${leader_api#http://}" '$1 == a {print $2; exit}')
echo "$items items of 250,000 bytes under $KEYS keys; partition $p of big0: leader $leader," \
  "follower $follower wiped"

# Peak resident memory (kB) of a process so far.
peak_kb() { awk '/^VmHWM/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
leader_pid=$(node "$leader" pid)
leader_peak_before=$(peak_kb "$leader_pid")

# The same command line again, on an empty data directory: a new disk.
mapfile -d '' argv <"/proc/$pid/cmdline"
cwd=$(readlink "/proc/$pid/cwd")
kill -9 "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
rm -rf "$dir/data"
started=$(date +%s%N)
(cd "$cwd" && exec "${argv[@]}" >>"$dir/rebuilt.log" 2>&1 & echo $! >"$work/rebuilt.pid")
"$probe" --port "$(port "$leader_api")" --seconds "$PROBE_SECONDS" >"$work/leader_probe" &
"$probe" --port "$(port "$leader_api")" --seconds "$PROBE_SECONDS" --path /items \
  --body "{\"partition_key\":\"$probe_key\",\"range_key\":\"r\",\"message\":\"x\"}" \
  >"$work/leader_writes" &
new_api=""
until [ -n "$new_api" ]; do
  new_api=$(grep -o 'serving: api [^ ]*' "$dir/partid.log" "$dir/rebuilt.log" 2>/dev/null \
    | tail -1 | awk '{print $3}')
  [ -n "$new_api" ] && curl -sf "$new_api/health" >/dev/null || new_api=""
  sleep 0.1
done
"$probe" --port "$(port "$new_api")" --seconds "$((PROBE_SECONDS - 3))" >"$work/new_probe" &
all_served() {  # the new node serves the last item of every key from its own copy
  local k
  for ((k = 0; k < KEYS && k < items; k++)); do
    curl -sf "$new_api/items/big$k/r$(((items - 1 - k) / KEYS * KEYS + k))?consistency=replica" \
      >/dev/null 2>&1 || return 1
  done
}
serving=""
deadline=$(($(date +%s) + PROBE_SECONDS))
while [ "$(date +%s)" -lt "$deadline" ]; do
  if all_served; then
    serving=$(awk -v ns=$(($(date +%s%N) - started)) 'BEGIN {printf "%.1f", ns / 1e9}')
    break
  fi
  sleep 0.1
done
wait
if [ -n "$serving" ]; then
  echo "rebuilt node serves the last item of every key: $serving s after its start"
else
  echo "rebuilt node serves the last item of every key: not within $PROBE_SECONDS s of its start"
fi
mib() { awk -v kb="$1" 'BEGIN {printf "%.0f MiB", kb / 1024}'; }
echo "peak memory: leader $(mib "$leader_peak_before") before the rebuild," \
  "$(mib "$(peak_kb "$leader_pid")") after; rebuilt node $(mib "$(peak_kb "$(cat "$work/rebuilt.pid")")")"
echo "snapshots built by the leader: $(curl -sf "$leader_api/cluster/status" | jq .replication.snapshots_sent)"
topology_now=$(curl -sf "$leader_api/cluster/topology")
echo "at the end: leaderships $(jq -c '[.nodes[] | {(.id): .leads}] | add' <<<"$topology_now")," \
  "epochs $(jq -c '[.assignment[].epoch]' <<<"$topology_now"), interim $(jq .interim <<<"$topology_now")"
echo "  still rebuilding on the rebuilt node: $(curl -sf "$new_api/cluster/status" \
  | jq -c '[.partitions[] | select(.rebuilding) | .partition]')"
grep -h "snapshot for" "$(node "$leader" dir)/partid.log" | sed 's/^/  /' || true
echo "leader /health while it ran:  $(jq -c '{requests, median_ms, p99_ms, max_ms, stalls: (.stalls | length)}' "$work/leader_probe")"
echo "rebuilt node /health:          $(jq -c '{requests, median_ms, p99_ms, max_ms, stalls: (.stalls | length)}' "$work/new_probe")"
echo "leader writes while it ran:    $(jq -c '{requests, median_ms, p99_ms, max_ms, stalls: (.stalls | length), failed}' "$work/leader_writes")"
if [ -n "${KEEP:-}" ]; then
  mkdir -p "$KEEP" && (cd "$work/cluster" && find . -name '*.log' -exec cp --parents {} "$KEEP/" \;)
  cp "$work/leader_probe" "$work/leader_writes" "$work/new_probe" "$KEEP/"
fi
