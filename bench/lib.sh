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
