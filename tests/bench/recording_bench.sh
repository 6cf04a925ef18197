#!/usr/bin/env bash
# Recording figures (prints them; not a timed test): the reference fleet (fleetscope-sim, 100 robots
# x 30 links at 60 Hz, real time) recorded by fleetscope-shm record for S seconds: file size (and
# extrapolated to 10 minutes), recorder CPU (user + system over wall time, % of one core, from
# wait4's rusage), frames recorded and lost; then open + seek timings of the file.
# Usage: bash tests/bench/recording_bench.sh [build dir] [seconds]
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
seconds=${2:-60}
out=$(mktemp -d)
sim=""
cleanup() {
  if [ -n "$sim" ]; then kill -TERM "$sim" 2>/dev/null || true; wait "$sim" 2>/dev/null || true; fi
  rm -rf "$out"
}
trap cleanup EXIT

name="bench.rec.$$"
"$build/sim_bridge/fleetscope-sim" --name "$name" --robots 100 --links 30 --rate 60 --rtf 1 --quiet &
sim=$!
sleep 1.5
echo "recording_bench: fleetscope-sim 100 robots x 30 links at 60 Hz, recorded for ${seconds} s (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
/usr/bin/python3 - "$build/ipc/fleetscope-shm" "$name" "$out/run.mcap" "$seconds" <<'PY'
import os, re, subprocess, sys, time
shm, name, path, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
start = time.monotonic()
p = subprocess.Popen([shm, "record", name, "-o", path, "--seconds", str(seconds)], stdout=subprocess.PIPE, text=True)
output = p.stdout.read()
_, status, usage = os.wait4(p.pid, 0)
wall = time.monotonic() - start
if status != 0:
    sys.exit(f"recording_bench: fleetscope-shm record failed:\n{output}")
size = os.path.getsize(path)
cpu = usage.ru_utime + usage.ru_stime
m = re.search(r"(\d+) frames recorded, (\d+) frames lost, (\d+) keyframes", output)
frames, lost, keys = (int(x) for x in m.groups()) if m else (0, 0, 0)
print(f"file        {size / 1e6:.1f} MB for {seconds:.0f} s = {size / seconds / 1e6:.3f} MB/s, "
      f"{size / seconds * 600 / 1e6:.0f} MB per 10 minutes (goal <= 150 MB)")
print(f"recorder    CPU {100 * cpu / wall:.1f} % of a core (user {usage.ru_utime:.2f} s + system {usage.ru_stime:.2f} s "
      f"over {wall:.1f} s), max RSS {usage.ru_maxrss / 1024:.0f} MiB")
print(f"frames      {frames} recorded ({frames / seconds:.1f}/s), {lost} lost, {keys} keyframes")
PY
if [ -x "$build/tests/fleetscope-recording-seek" ]; then
  "$build/tests/fleetscope-recording-seek" "$out/run.mcap" "$name"
fi
