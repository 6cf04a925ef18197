#!/usr/bin/env bash
# MuJoCo: what publishing costs next to the physics. Runs fleetscope-mujoco on the 100-humanoid
# scene (1,601 links) as fast as it goes and prints its per-second lines and summary: physics
# step time and publish time per frame (mean, p99) and publish/step (goal: below 1 %).
# Usage: bash tests/bench/mujoco_bench.sh [BUILD_DIR] [SIMULATED_SECONDS] [CONTROLS]
set -euo pipefail
build="${1:-build}"
seconds="${2:-5}"
controls="${3:-random}"
scene="$build/resources/mujoco/humanoid100.xml"
[ -f "$scene" ] || { echo "no $scene: build the project first (it generates the scene)" >&2; exit 1; }
exec "$build/sim_bridge/fleetscope-mujoco" "$scene" --rtf 0 --duration "$seconds" --controls "$controls" \
  --name "bench.mujoco.$$"
