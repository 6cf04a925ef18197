#!/usr/bin/env bash
# Dashboards under load, from the real viewer's --kpi-log, in one run:
#   load: fleetscope-sim (100 robots x 10-30 links, 60 Hz), 64 telemetry writers at 1,000 scalar
#         records/s each (fleetscope-telemetry-load) and the PPO-like trainer;
#   then the viewer three times against that same load, N seconds each:
#     1. dashboards window closed (telemetry is still polled; nothing is drawn),
#     2. dashboards open on the RL trainer panel (the trainer's 17 tags, and 2 tags from 64 writers each),
#     3. dashboards open on the environment pool panel (65 workers in the table).
# Prints per phase: 3D fps, viewer CPU, CPU spent on telemetry (poll + refresh + paint), records/s
# taken, records lost; then the fps change against phase 1.
# Usage: bash tests/bench/dashboard_bench.sh [build dir] [seconds per phase]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-20}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=$(mktemp -d)
trap 'kill -TERM $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$out"' EXIT
prefix="bench.dash.$$"

"$build/sim_bridge/fleetscope-sim" --name "$prefix.fleet" --robots 100 --links 10-30 --rate 60 --quiet &
"$build/tests/fleetscope-telemetry-load" --workers 64 --rate 1000 --prefix "$prefix.load" >/dev/null &
OPENBLAS_NUM_THREADS=1 PYTHONPATH="$build/python" /usr/bin/python3 "$root/sim_bridge/examples/ppo_trainer.py" \
  --name "$prefix.trainer" --pool-name "$prefix.pool" >/dev/null &
sleep 3

run_viewer() {  # kpi-file viewer-options...
  local kpi=$1
  shift
  timeout $((seconds + 15)) xvfb-run -a -s "-screen 0 1600x1000x24" "$build/app/fleetscope" --attach-all \
    --kpi-log "$kpi" "$@" >/dev/null 2>&1 &
  local viewer=$!
  sleep "$seconds"
  pkill -TERM -f "fleetscope --attach-all --kpi-log $kpi" 2>/dev/null || true
  wait "$viewer" 2>/dev/null || true
}

run_viewer "$out/closed.jsonl" --no-dashboards
run_viewer "$out/trainer.jsonl" --dashboard-tab trainer
run_viewer "$out/envpool.jsonl" --dashboard-tab envpool

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
base = None
for phase, label in (("closed", "dashboards closed"), ("trainer", "RL trainer panel open"),
                     ("envpool", "environment pool panel open")):
    rows = [json.loads(l) for l in open(f"{sys.argv[1]}/{phase}.jsonl")][5:]  # skip start-up
    if len(rows) < 3:
        sys.exit(f"{label}: too few KPI records")
    m = lambda k: statistics.median(r[k] for r in rows)
    rate = (rows[-1]["telemetry_records"] - rows[0]["telemetry_records"]) / (len(rows) - 1)
    lost = rows[-1]["telemetry_lost"] - rows[0]["telemetry_lost"]
    fps = m("fps")
    base = base or fps
    print(f"{label}: {len(rows)} s, 3D {fps:.1f} fps ({(fps / base - 1) * 100:+.1f} % vs closed), frame {m('frame_ms'):.1f} ms, "
          f"viewer CPU {m('cpu_percent'):.0f} %, telemetry CPU {m('telemetry_cpu_percent'):.2f} % "
          f"(max {max(r['telemetry_cpu_percent'] for r in rows):.2f} %) of a core, "
          f"{rate:.0f} records/s taken, {lost} lost, RSS {m('rss_mib'):.0f} MiB")
PY
