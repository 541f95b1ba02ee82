#!/usr/bin/env bash
# Replicated writes: a 3-node partid cluster with RF=3 and fsync on every
# commit, next to a 3-member etcd cluster (Debian etcd-server, fsync on, its
# JSON gateway POST /v3/kv/put), both loaded by wrk with 50 connections in the
# same run on the same machine; medians over ROUNDS rounds and the ratios.
# Then transactions of two items in two partitions (POST /txn) against single
# writes in the same run. Then leader reads (each passes the read barrier: a quorum round shared by the
# reads of its time) against replica reads on the same leaders (no round), the
# in-run baseline of what the barrier costs. Then the failover time: SIGKILL of
# a partid node, until every partition has a serving leader again (compare
# with the heartbeat TTL of the timings used).
#   bash bench/replication_bench.sh        # ROUNDS=3 DURATION=10 CONNECTIONS=50
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-50}
KEYS=${KEYS:-10000}
source bench/lib.sh
prepare_bench repl-bench
etcd_pids=()
more_cleanup() {
  for p in "${etcd_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
# Ports come from below the kernel's ephemeral range (32768 up): an etcd member
# that starts first dials its peers from ephemeral ports, which could take a
# port chosen for a member not started yet. Ports handed out are not reused
# (so free_port sets $port rather than printing into a subshell).
taken=" "
free_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % 22000))
    [[ "$taken" == *" $p "* ]] && continue
    (exec 3<>/dev/tcp/127.0.0.1/"$p") 2>/dev/null && continue
    taken+="$p "
    port=$p
    return
  done
}

# --- etcd: three members on loopback.
declare -a client peer
initial=""
for i in 0 1 2; do
  free_port; client[$i]=$port
  free_port; peer[$i]=$port
  initial+="${initial:+,}e$i=http://127.0.0.1:${peer[$i]}"
done
for i in 0 1 2; do
  etcd --name "e$i" --data-dir "$work/etcd$i" \
    --listen-client-urls "http://127.0.0.1:${client[$i]}" \
    --advertise-client-urls "http://127.0.0.1:${client[$i]}" \
    --listen-peer-urls "http://127.0.0.1:${peer[$i]}" \
    --initial-advertise-peer-urls "http://127.0.0.1:${peer[$i]}" \
    --initial-cluster "$initial" --initial-cluster-state new \
    --initial-cluster-token parti-bench >"$work/etcd$i.log" 2>&1 &
  etcd_pids+=($!)
done
for i in 0 1 2; do
  for ((t = 0; ; t++)); do
    curl -sf "http://127.0.0.1:${client[$i]}/health" | grep -q true && break
    if ((t >= 150)) || ! kill -0 "${etcd_pids[$i]}" 2>/dev/null; then
      echo "etcd member e$i did not become healthy:" >&2; tail -3 "$work/etcd$i.log" >&2; exit 1
    fi
    sleep 0.2
  done
done
etcd_nodes="127.0.0.1:${client[0]},127.0.0.1:${client[1]},127.0.0.1:${client[2]}"

# --- partid: 3 nodes, RF=3, fsync on.
"$ctl" --dir "$work/cluster" cluster up --nodes 3 --replication-factor 3 --sync true >/dev/null
nodes=$(jq -r '[.nodes[].api | sub("http://"; "")] | join(",")' "$work/cluster/cluster.json")
first=$(jq -r '.nodes[0].api' "$work/cluster/cluster.json")
curl -sf "$first/cluster/topology" | ./build/bench/partid_keymap key- "$KEYS" >"$work/keymap"

export WRK_DIR="$PWD/bench/wrk" KEYS
mapfile -t partid_pids < <(jq -r '.nodes[].pid' "$work/cluster/cluster.json")
# nodes script keymap server-pid... -> one JSON line, with the servers' CPU
# per request
run_wrk() {
  local nodes=$1 script=$2 keymap=$3 before out
  shift 3
  before=$(cpu_us "$@")
  out=$(NODES="$nodes" KEYMAP="$keymap" wrk -t3 -c"$CONNECTIONS" -d"${DURATION}s" \
    -s "bench/wrk/$script.lua" "http://${nodes%%,*}" | tail -1)
  jq -c --argjson cpu $(($(cpu_us "$@") - before)) '. + {cpu_us: ($cpu / .requests)}' <<<"$out"
}
for ((r = 1; r <= ROUNDS; r++)); do
  run_wrk "$etcd_nodes" etcd_put "" "${etcd_pids[@]}" >>"$work/etcd"
  run_wrk "$nodes" write "" "${partid_pids[@]}" >>"$work/partid"
  run_wrk "$nodes" write "$work/keymap" "${partid_pids[@]}" >>"$work/aware"
  run_wrk "$nodes" txn "" "${partid_pids[@]}" >>"$work/txn"
done
# Transactions still in flight when wrk stopped finish first (their items are
# locked until then, and a write below would meet them).
for ((t = 0; ; t++)); do
  pending=0
  for u in $(jq -r '.nodes[].api' "$work/cluster/cluster.json"); do
    n=$(curl -sf "$u/metrics" | awk '$1 == "partid_txn_pending" {print $2}')
    pending=$((pending + ${n:-0}))
  done
  [ "$pending" -eq 0 ] && break
  ((t < 300)) || { echo "transactions still pending after 30 s" >&2; exit 1; }
  sleep 0.1
done
# Every key once more, so no read below finds nothing.
preload_items "$first" "$KEYS"
for ((r = 1; r <= ROUNDS; r++)); do
  QUERY="?consistency=replica" run_wrk "$nodes" read "$work/keymap" "${partid_pids[@]}" \
    >>"$work/replica_read"
  run_wrk "$nodes" read "$work/keymap" "${partid_pids[@]}" >>"$work/leader_read"
done

stat() { jq -r ".$2" "$1" | median; }
report() {  # label file [baseline file, default etcd's]
  local rps p50 p99 cpu errs base=${3:-$work/etcd}
  rps=$(stat "$2" rps); p50=$(stat "$2" p50_ms); p99=$(stat "$2" p99_ms); cpu=$(stat "$2" cpu_us)
  errs=$(jq -s 'map(.errors + .non2xx) | add' "$2")
  printf '| %s | %.0f | %.2f | %.2f | %.1f | %.2fx | %.2fx | %s |\n' "$1" "$rps" "$p50" "$p99" "$cpu" \
    "$(awk -v a="$rps" -v b="$(stat "$base" rps)" 'BEGIN {print a / b}')" \
    "$(awk -v a="$p99" -v b="$(stat "$base" p99_ms)" 'BEGIN {print a / b}')" "$errs"
}
echo "writes, 3 nodes, fsync on, $CONNECTIONS connections, ${DURATION}s x $ROUNDS rounds, medians"
echo "(CPU: the servers' user + system time per request, in microseconds, over their three processes)"
echo "| system | writes/s | p50 ms | p99 ms | CPU us | throughput vs etcd | p99 vs etcd | errors |"
echo "|---|---|---|---|---|---|---|---|"
report "etcd 3.4, 3 members (POST /v3/kv/put)" "$work/etcd"
report "partid RF=3, any node (POST /items)" "$work/partid"
report "partid RF=3, leader-aware client" "$work/aware"
echo
echo "transactions of 2 items in 2 partitions (POST /txn, any node) against single writes (any node)"
echo "(errors: 409s of transactions that met a locked item, and any failure)"
echo "| write | per s | p50 ms | p99 ms | CPU us | throughput vs single writes | p99 vs single writes | errors |"
echo "|---|---|---|---|---|---|---|---|"
report "single write (POST /items)" "$work/partid" "$work/partid"
report "transaction of 2 items (POST /txn)" "$work/txn" "$work/partid"
echo
echo "reads, leader-aware client, the same leaders: with the read barrier vs without"
echo "| read | reads/s | p50 ms | p99 ms | CPU us | throughput vs replica read | p99 vs replica read | errors |"
echo "|---|---|---|---|---|---|---|---|"
report "replica read (?consistency=replica, no round)" "$work/replica_read" "$work/replica_read"
report "leader read (read barrier)" "$work/leader_read" "$work/replica_read"
echo
# shellcheck disable=SC2046
peak_memory "partid (3 nodes)" $(jq -r '.nodes[].pid' "$work/cluster/cluster.json")
peak_memory "etcd (3 members)" "${etcd_pids[@]}"

# --- failover: SIGKILL of a node until every partition serves again.
partitions=$(curl -sf "$first/cluster/topology" | jq .partitions)
# FAILOVER_VICTIM=coordinator (default, the worst case: the node that is also
# libparti's leader, so a new one must be elected first) or worker.
want=true
[ "${FAILOVER_VICTIM:-coordinator}" = worker ] && want=false
i=0
for u in $(jq -r '.nodes[].api' "$work/cluster/cluster.json"); do
  [ "$(curl -sf "$u/cluster/status" | jq .is_leader)" = "$want" ] && break
  i=$((i + 1))
done
survivors=$(jq -r --argjson i "$i" '[.nodes | to_entries[] | select(.key != $i) | .value.api][]' \
  "$work/cluster/cluster.json")
victim=$(jq -r --argjson i "$i" '.nodes[$i].pid' "$work/cluster/cluster.json")
start=$(date +%s.%N)
kill -9 "$victim"
while :; do
  serving=0
  for u in $survivors; do
    n=$(curl -sf "$u/cluster/status" | jq '[.partitions[] | select(.serving)] | length' || echo 0)
    serving=$((serving + n))
  done
  [ "$serving" -ge "$partitions" ] && break
  sleep 0.02
done
end=$(date +%s.%N)
echo "failover: every one of $partitions partitions served again $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f", b - a}') s after SIGKILL of a node (${FAILOVER_VICTIM:-coordinator}; libparti heartbeat TTL 0.6 s and election TTL 1.5 s, fast timings)"
