# Shared by the bench scripts (sourced).

# The median of the numbers on stdin.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

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
