#!/usr/bin/env bash
# Viewer figures from the real program under Xvfb, read from its --kpi-log:
#  1. 100 robots x 10-30 links moving at 60 Hz: fps, frame ms, pose-to-photon latency p50/p99,
#     viewer CPU (% of one core) and RSS;
#  2. a paused writer (100 x 30 links, nothing published): frames per second and CPU while idle.
# Usage: bash tests/bench/viewer_bench.sh [build dir] [seconds per phase]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-20}
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$out"' EXIT

summarise() {  # file label: medians over the records after the first 3 s (start-up)
  /usr/bin/python3 - "$1" "$2" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])][3:]
if not rows:
    sys.exit(f"{sys.argv[2]}: no KPI records")
m = lambda k: statistics.median(r[k] for r in rows)
print(f"{sys.argv[2]}: {len(rows)} s, fps {m('fps'):.1f}, frame {m('frame_ms'):.2f} ms, ingest {m('ingest_us'):.1f} us, "
      f"dirty {m('dirty_links_per_frame'):.0f}/frame, latency p50 {m('latency_ms_p50'):.1f} ms p99 {m('latency_ms_p99'):.1f} ms "
      f"(worst p99 {max(r['latency_ms_p99'] for r in rows):.1f}), CPU {m('cpu_percent'):.0f} % of a core, RSS {m('rss_mib'):.0f} MiB")
PY
}

run_viewer() {  # segment kpi-file
  timeout $((seconds + 10)) xvfb-run -a -s "-screen 0 ${FLEETSCOPE_BENCH_SCREEN:-1280x800}x24" "$build/app/fleetscope" --attach "$1" --kpi-log "$2" \
    >/dev/null 2>&1 &
  local viewer=$!
  sleep "$seconds"
  pkill -TERM -P "$viewer" 2>/dev/null || true
  pkill -TERM -f "fleetscope --attach $1" 2>/dev/null || true
  wait "$viewer" 2>/dev/null || true
}

name="bench.viewer.$$"
"$build/sim_bridge/fleetscope-sim" --name "$name" --robots 100 --links 10-30 --rate 60 --quiet &
sim=$!
sleep 1
run_viewer "$name" "$out/moving.jsonl"
kill -TERM "$sim"; wait "$sim" || true
summarise "$out/moving.jsonl" "moving (100 robots, 60 Hz)"

"$build/tests/fleetscope-test-writer" "$name.idle" paused 100 30 >/dev/null &
writer=$!
sleep 1
run_viewer "$name.idle" "$out/idle.jsonl"
kill -TERM "$writer"; wait "$writer" || true
summarise "$out/idle.jsonl" "idle (paused writer, 100 x 30 links)"
