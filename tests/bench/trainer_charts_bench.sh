#!/usr/bin/env bash
# The Trainer panel under several runs: 8 telemetry writers (runs), each writing 50 trainer-like
# tags at 1,000 scalar records/s in all (fleetscope-telemetry-load --tags 50), the viewer on the
# Trainer panel for N seconds (every tag a chart, 8 runs a chart). Prints the viewer's CPU, the CPU
# it spends on telemetry (poll + refresh + paint; the goal is at most 5 % of a core), records/s
# taken and lost. Then the writer side: the scalar history's size per tag and its write cost.
# Usage: bash tests/bench/trainer_charts_bench.sh [build dir] [seconds]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-20}
out=$(mktemp -d)
trap 'kill -TERM $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$out"' EXIT
prefix="bench.charts.$$"
"$build/tests/fleetscope-telemetry-load" --workers 8 --rate 1000 --tags 50 --prefix "$prefix" >/dev/null &
sleep 2
timeout $((seconds + 15)) xvfb-run -a -s "-screen 0 1600x1000x24" "$build/app/fleetscope" --attach-all \
  --kpi-log "$out/kpi.jsonl" --dashboard-tab trainer >/dev/null 2>&1 &
viewer=$!
sleep "$seconds"
kill -TERM "$viewer" 2>/dev/null || true
pkill -TERM -f "fleetscope --attach-all --kpi-log $out/kpi.jsonl" 2>/dev/null || true
wait "$viewer" 2>/dev/null || true
/usr/bin/python3 - "$out/kpi.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][3:]  # after start-up
if not rows:
    sys.exit("no KPI records")
mean = lambda k: sum(r.get(k, 0) for r in rows) / len(rows)
print(f"8 runs x 50 tags, 8,000 records/s: viewer CPU {mean('cpu_percent'):.1f} % of a core, "
      f"telemetry (poll + refresh + paint) {mean('telemetry_cpu_percent'):.2f} %, "
      f"records lost {rows[-1].get('telemetry_lost', 0)}, over {len(rows)} s")
PY
"$build/tests/ipc_bench" --benchmark_filter='TelemetryScalar$|TelemetryScalarNoHistory' --benchmark_min_time=0.5 2>/dev/null | grep BM_ || true
echo "scalar history: 1,024 buckets a tag = 49,216 bytes a tag (64 + 48 x 1,024); 1,000,000 steps kept at 1,024 steps a bucket"
