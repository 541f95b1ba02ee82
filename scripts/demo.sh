#!/usr/bin/env bash
# The main job: installs, builds, and runs a local Parti cluster doing real
# work: `partictl cluster up` starts a nats-server (JetStream) and three
# partid nodes on loopback, every partition replicated on all three (RF=3);
# items are written through one node and read back through another; a fourth
# node joins and drains again (`partictl cluster resize`); one node
# is killed with SIGKILL and the items are still read and written through the
# others; the topology and per-node counts are shown; the cluster is stopped.
# (scripts/worker-demo.sh shows libparti on its own.)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release

ctl=./build/src/partid/partictl
work=$(mktemp -d /tmp/parti-demo-XXXXXX)
dir="$work/cluster"
cleanup() {
  "$ctl" --dir "$dir" cluster down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The nodes read their admin token from the environment (PARTID_ADMIN_TOKEN),
# and so does partictl: the split and merge below are an operator's actions.
export PARTID_ADMIN_TOKEN="demo-$$"
echo "== partictl cluster up --nodes 3 --replication-factor 3: nats-server + 3 partid nodes under $dir"
"$ctl" --dir "$dir" cluster up --nodes 3 --replication-factor 3 --partitions 64
mapfile -t urls < <(jq -r '.nodes[].api' "$dir/cluster.json")

echo
echo "== writing 6 items, each through a different node than it is read from"
for i in 0 1 2 3 4 5; do
  "$ctl" --url "${urls[$((i % 3))]}" put "user-$i" "hello from user $i" --range-key "2026-11-23"
done
"$ctl" --url "${urls[0]}" put user-0 "a newer entry" --range-key "2026-11-24"

echo
echo "== reading them back through the next node"
for i in 0 1 2 3 4 5; do
  "$ctl" --url "${urls[$(((i + 1) % 3))]}" get "user-$i"
done

echo
echo "== a transaction across partitions: user-0 pays user-1 30, all or nothing, and only if"
echo "   neither balance changed since it was read (--if-seq: the sequence the read showed)"
"$ctl" --url "${urls[0]}" put balance-user-0 100
"$ctl" --url "${urls[0]}" put balance-user-1 0
seq0=$("$ctl" --url "${urls[1]}" --json get balance-user-0 | jq '.items[0].sequence')
seq1=$("$ctl" --url "${urls[1]}" --json get balance-user-1 | jq '.items[0].sequence')
transfer() {
  "$ctl" --url "${urls[1]}" txn --put balance-user-0 "" "$1" --if-seq balance-user-0 "" "$seq0" \
    --put balance-user-1 "" "$2" --if-seq balance-user-1 "" "$seq1"
}
transfer 70 30
echo "-- the same transfer again from the same reads: refused whole, nothing written"
if transfer 40 60; then echo "unexpected: a stale transfer committed" >&2; exit 1; fi
echo "-- both balances, read through node 2"
"$ctl" --url "${urls[2]}" get balance-user-0
"$ctl" --url "${urls[2]}" get balance-user-1

echo
echo "== topology (as node ${urls[2]} sees it)"
"$ctl" --url "${urls[2]}" topology

echo
echo "== item counts per node"
"$ctl" --url "${urls[1]}" list || true

echo
echo "== one node's status"
"$ctl" --url "${urls[1]}" status

echo
echo "== partictl cluster resize --nodes 4: a fourth node joins and takes replicas"
"$ctl" --dir "$dir" cluster resize --nodes 4
echo "== user-1, read through the new node"
"$ctl" --url "$(jq -r '.nodes[3].api' "$dir/cluster.json")" get user-1
echo "== partictl cluster resize --nodes 3: the newest node drains and leaves"
"$ctl" --dir "$dir" cluster resize --nodes 3

echo
echo "== partictl split: partition 0 of 64 splits online; about half of its keys move to a new"
echo "   partition 64 through the replicated logs (linear hashing: P grows one partition at a time)"
"$ctl" --url "${urls[1]}" split --wait 60
"$ctl" --url "${urls[2]}" topology | head -2
echo "== every item, read through node 0 after the split"
for i in 0 1 2 3 4 5; do "$ctl" --url "${urls[0]}" get "user-$i"; done
echo "== partictl merge: partition 64 merges back into 0 (the split undone, online)"
"$ctl" --url "${urls[2]}" merge --wait 60
"$ctl" --url "${urls[0]}" topology | head -2
echo "== every item, read through node 1 after the merge"
for i in 0 1 2 3 4 5; do "$ctl" --url "${urls[1]}" get "user-$i"; done

echo
echo "== SIGKILL of node 0; its partitions fail over to the other replicas"
kill -9 "$(jq -r '.nodes[0].pid' "$dir/cluster.json")"
for i in 0 1 2 3 4 5; do
  # A write that lands during the failover gets 503 with Retry-After: retry.
  until "$ctl" --url "${urls[1]}" put "user-$i" "written after the failover" --range-key "2026-11-25" 2>/dev/null; do
    sleep 0.2
  done
done
echo "== every item, read through node 2 (each partition key now has its 2026-11-25 entry first)"
for i in 0 1 2 3 4 5; do "$ctl" --url "${urls[2]}" get "user-$i"; done

echo
echo "== a bad request gets one clear error shape"
curl -s -X POST "${urls[1]}/items" -d '{"partition_key": 42}' || true
echo

echo
echo "== partictl cluster down"
"$ctl" --dir "$dir" cluster down
