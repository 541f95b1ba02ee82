#!/usr/bin/env bash
# The libparti demo: installs, builds, starts a local nats-server (JetStream, temp
# store, free port) and three example workers that share 12 partitions; shows
# their assignments; stops one worker and shows the survivors taking over.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release

work=$(mktemp -d /tmp/parti-demo-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 14222)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for FILE PATTERN SECONDS: wait until PATTERN appears in FILE.
wait_for() {
  local deadline=$((SECONDS + $3))
  until grep -q "$2" "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then echo "timed out waiting for '$2' in $1" >&2; exit 1; fi
    sleep 0.1
  done
}

nats-server -js -a 127.0.0.1 -p "$port" -sd "$work/nats" >"$work/nats.log" 2>&1 &
pids+=($!)
until (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; do sleep 0.1; done
echo "== nats-server on 127.0.0.1:$port (store $work/nats)"

for i in 1 2 3; do
  ./build/examples/parti_worker --nats "nats://127.0.0.1:$port" --partitions 12 --fast \
    >"$work/worker$i.log" 2>&1 &
  pids+=($!)
done
# The newest line a worker printed about itself ("[node-N] ...").
latest() { { grep -E '^\[node-[0-9]+\]' "$work/worker$1.log" || true; } | tail -1; }
# Wait until every listed worker has seen the same newest assignment version.
settle() {
  local deadline=$((SECONDS + 30))
  while :; do
    local versions
    versions=$(for i in "$@"; do { grep -oE 'assignment v[0-9]+' "$work/worker$i.log" || true; } | tail -1; done | sort -u | wc -l)
    local pending=0
    for i in "$@"; do grep -qE '^\[node-[0-9]+\] stable' "$work/worker$i.log" || pending=1; done
    [ "$pending" = 0 ] && [ "$versions" = 1 ] && break
    if [ $SECONDS -ge $deadline ]; then echo "workers did not settle" >&2; exit 1; fi
    sleep 0.1
  done
}

settle 1 2 3
echo "== three workers share 12 partitions:"
for i in 1 2 3; do echo "   $(latest $i)"; done

count() { cat "$work/worker1.log" "$work/worker3.log" | grep -cE '^\[node-[0-9]+\] assignment v' || true; }
before=$(count)
leaving=$(latest 2 | grep -oE '^\[node-[0-9]+\]')
echo "== stopping $leaving (clean leave); the survivors take over its partitions"
kill -TERM "${pids[2]}"
wait_for "$work/worker2.log" "stopped cleanly" 15
deadline=$((SECONDS + 15))
until [ "$(count)" -gt "$before" ]; do
  if [ $SECONDS -ge $deadline ]; then echo "survivors did not take over" >&2; exit 1; fi
  sleep 0.1
done
settle 1 3
echo "== after the leave:"
for i in 1 3; do echo "   $(latest $i)"; done
echo "== done"
