# Shared by the bench scripts (sourced).

# Installs (unless SKIP_INSTALL=1) and builds what a bench runs, and sets ctl
# (partictl) and work (a temporary directory named after $1): on exit the local
# cluster under $work/cluster is stopped, more_cleanup runs if the script
# defines it (its own servers), and $work is removed.
prepare_bench() {
  [ "${SKIP_INSTALL:-0}" = 1 ] || bash scripts/install-deps.sh
  bash scripts/build.sh release >/dev/null
  ctl=./build/src/partid/partictl
  work=$(mktemp -d "/tmp/parti-$1-XXXXXX")
  trap end_bench EXIT
}
end_bench() {
  "$ctl" --dir "$work/cluster" cluster down >/dev/null 2>&1 || true
  if declare -F more_cleanup >/dev/null; then more_cleanup; fi
  rm -rf "$work"
}

# The median of the numbers on stdin.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# CPU time (user + system) the given processes have used so far, in
# microseconds: taken before and after a load, the difference over the
# requests served is the servers' CPU per request, a figure the machine's
# speed of the hour moves less than throughput.
cpu_us() {
  local hz pid ticks=0
  hz=$(getconf CLK_TCK)
  for pid in "$@"; do
    ticks=$((ticks + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo $((ticks * 1000000 / hz))
}

# "label: peak resident memory A / B / C MiB" for the given processes
# (VmHWM: the most each has held since it started, i.e. over the whole load).
peak_memory() {
  local label=$1 pid out=""
  shift
  for pid in "$@"; do
    out+="${out:+ / }$(awk '/^VmHWM:/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status" 2>/dev/null || echo '?')"
  done
  echo "$label: peak resident memory $out MiB"
}

# Writes items key-0 .. key-<n-1> (range key "r", 100-byte messages) through
# the node at URL, 1000 per batch, so reads of any key find it.
preload_items() {
  local url=$1 n=$2 start
  for ((start = 0; start < n; start += 1000)); do
    jq -nc --argjson s "$start" --argjson k "$n" \
      '{items: [range($s; [$s + 1000, $k] | min) | {partition_key: "key-\(.)", range_key: "r", message: ("x" * 100)}]}' \
      | curl -sf -X POST "$url/items/batch" -H 'Content-Type: application/json' --data-binary @- >/dev/null
  done
}
