#!/usr/bin/env bash
# The viewer with many segments on the machine (fleetscope-many-segments: 1000 segments x 2 robots
# of 3-5 links at 30 Hz, one writer process), measured from its --kpi-log under Xvfb:
#  a. polls per second of a viewer attached to ONE segment, with only that segment on the machine
#     and with 1000 (segments it does not read must not slow its frame loop);
#  b. --attach-all with 1000 segments: sources attached, fps, frame ms, ingest, polls, CPU, RSS;
#  c. `fleetscope-shm list` wall time with 1000 segments;
#  d. viewer shutdown time, SIGTERM to exit, attached to one and attached to all.
# One line per figure. Medians over the KPI records after the first 5 s (start-up, attaching).
# Usage: bash tests/bench/many_segments_bench.sh [build dir] [seconds per viewer run]
# FLEETSCOPE_VIEWER, FLEETSCOPE_SHM and FLEETSCOPE_BENCH_SEGMENTS override the viewer, the
# fleetscope-shm program and the segment count (1000).
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-20}
viewer=${FLEETSCOPE_VIEWER:-$build/app/fleetscope}
shm=${FLEETSCOPE_SHM:-$build/ipc/fleetscope-shm}
generator=$build/tests/fleetscope-many-segments
segments=${FLEETSCOPE_BENCH_SEGMENTS:-1000}
screen=${FLEETSCOPE_BENCH_SCREEN:-1600x1000}
for p in "$viewer" "$shm" "$generator"; do
  [ -x "$p" ] || { echo "many_segments_bench: $p is missing (build fleetscope, fleetscope-shm, fleetscope-many-segments)" >&2; exit 2; }
done
out=$(mktemp -d)
prefix="bench.many.$$"
gen=""
stop_generator() {
  if [ -n "$gen" ]; then
    kill -TERM "$gen" 2>/dev/null || true
    wait "$gen" 2>/dev/null || true
    gen=""
  fi
}
trap 'stop_generator; rm -rf "$out"' EXIT
# The viewer restores its layout and "attach automatically" from QSettings: never the user's.
export XDG_CONFIG_HOME="$out/config"

start_generator() {  # segment-count prefix
  "$generator" --segments "$1" --prefix "$2" --robots 2 --links 3-5 --rate 30 >"$out/generator.log" 2>&1 &
  gen=$!
  # Segments exist once the first line is printed.
  for _ in $(seq 1 200); do
    grep -q "segments" "$out/generator.log" 2>/dev/null && return 0
    kill -0 "$gen" 2>/dev/null || { cat "$out/generator.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "many_segments_bench: the generator did not start" >&2
  exit 1
}

run_viewer() {  # kpi-file shutdown-file viewer-arguments...: runs $seconds, then SIGTERM, timed to exit
  local kpi=$1 shutdown=$2
  shift 2
  timeout $((seconds + 60)) xvfb-run -a -s "-screen 0 ${screen}x24" bash -c '
    seconds=$1 kpi=$2 shutdown=$3 viewer=$4
    shift 4
    "$viewer" --kpi-log "$kpi" "$@" >/dev/null 2>&1 &
    v=$!
    sleep "$seconds"
    t0=$(date +%s%N)
    kill -TERM "$v"
    rc=0
    wait "$v" || rc=$?
    t1=$(date +%s%N)
    echo "$(( (t1 - t0) / 1000000 )) $rc" >"$shutdown"
  ' viewer-run "$seconds" "$kpi" "$shutdown" "$viewer" "$@"
}

kpi() {  # file label field...: median of each field after the first 5 records
  /usr/bin/python3 - "$@" <<'PY'
import json, statistics, sys
path, label, fields = sys.argv[1], sys.argv[2], sys.argv[3:]
try:
    records = [json.loads(l) for l in open(path)]
except OSError:
    records = []
rows = records[5:]
if not rows:
    print(f"{label}: only {len(records)} KPI records (one a second) in the whole run: the frame loop starved")
    sys.exit(0)
names = {"polls": "polls/s", "fps": "fps", "frame_ms": "frame ms", "ingest_us": "ingest us",
         "cpu_percent": "CPU % of a core", "rss_mib": "RSS MiB", "sources": "sources attached",
         "instances": "links drawn", "latency_ms_p50": "latency p50 ms", "latency_ms_p99": "latency p99 ms"}
for f in fields:
    values = [r[f] for r in rows if f in r]
    if not values:
        print(f"{label}: {names.get(f, f)}: n/a (not in the KPI log)")
        continue
    print(f"{label}: {names.get(f, f)}: {statistics.median(values):.1f} (min {min(values):.1f}, max {max(values):.1f}, {len(values)} s)")
PY
}

shutdown_line() {  # file label
  read -r ms rc <"$1"
  echo "$2: shutdown SIGTERM to exit: $ms ms (exit code $rc)"
}

# a. One segment alone, then the same viewer attached to one of 1000.
start_generator 1 "$prefix.solo"
run_viewer "$out/solo.jsonl" "$out/solo.shutdown" --attach "$prefix.solo.0000"
stop_generator
kpi "$out/solo.jsonl" "a. attached to 1, 1 segment on the machine" polls fps cpu_percent

start_generator "$segments" "$prefix"
n=$(ls /dev/shm | grep -c "^fleetscope\.$prefix\." || true)
echo "generator: $n segments on the machine ($(ls /dev/shm | grep -c '^fleetscope\.' || true) fleetscope segments in all)"
run_viewer "$out/one.jsonl" "$out/one.shutdown" --attach "$prefix.0000"
kpi "$out/one.jsonl" "a. attached to 1, $n segments on the machine" polls fps cpu_percent
shutdown_line "$out/one.shutdown" "d. attached to 1 of $n"

# c. fleetscope-shm list (median wall time of 3).
for i in 1 2 3; do
  s=$(date +%s%N)
  "$shm" list >"$out/list.txt"
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
done | sort -n | sed -n 2p | { read -r ms; echo "c. fleetscope-shm list, $n segments: $ms ms (median of 3), $(( $(wc -l <"$out/list.txt") - 1 )) rows"; }

# b. + d. Attached to all.
run_viewer "$out/all.jsonl" "$out/all.shutdown" --attach-all
kpi "$out/all.jsonl" "b. --attach-all, $n segments" sources instances fps frame_ms ingest_us polls latency_ms_p50 cpu_percent rss_mib
shutdown_line "$out/all.shutdown" "d. attached to all $n"
stop_generator
left=$(ls /dev/shm | grep -c "^fleetscope\.$prefix\." || true)
echo "segments left behind by the generator: $left"
