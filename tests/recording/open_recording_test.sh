#!/usr/bin/env bash
# recording_viewer: the viewer replays a recording. Records a real writer (fleetscope-test-writer,
# geometry mode) for 1.5 s, then `fleetscope --open FILE --replay-from 1 --screenshot PNG` must draw
# it and exit 0; a file that is not MCAP, a missing file and a bad --replay-speed must exit
# non-zero with a message naming the problem.
# Also the reference fleet (fleetscope-sim) drawn at two times of its recording: the images differ.
# Environment: FLEETSCOPE_VIEWER, FLEETSCOPE_SHM, FLEETSCOPE_TEST_WRITER, FLEETSCOPE_SIM, FLEETSCOPE_WORK.
set -euo pipefail
work="${FLEETSCOPE_WORK:?}/recording-viewer-$$"
mkdir -p "$work"
name="recview$$"
writer=""
cleanup() {
  if [ -n "$writer" ]; then kill -TERM "$writer" 2>/dev/null || true; wait "$writer" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
viewer() {
  if [ -z "${DISPLAY:-}" ]; then
    xvfb-run -a -s "-screen 0 1280x800x24" "$FLEETSCOPE_VIEWER" "$@"
  else
    "$FLEETSCOPE_VIEWER" "$@"
  fi
}
"$FLEETSCOPE_TEST_WRITER" "$name" steady 4 5 geometry >"$work/writer.out" &
writer=$!
for _ in $(seq 400); do grep -q ready "$work/writer.out" && break; sleep 0.05; done
"$FLEETSCOPE_SHM" record "$name" -o "$work/run.mcap" --seconds 1.5 >/dev/null
kill -TERM "$writer"; wait "$writer" || true; writer=""

viewer --open "$work/run.mcap" --replay-from 1 --screenshot "$work/shot.png" --size 320x240 --no-dashboards \
  2>"$work/err.txt" || { cat "$work/err.txt"; echo "FAIL: the viewer did not replay the recording"; exit 1; }
[ -s "$work/shot.png" ] || { echo "FAIL: no screenshot"; exit 1; }

# The reference fleet recorded, drawn at two times of the recording: the robots moved between them.
"$FLEETSCOPE_SIM" --name "$name.sim" --robots 6 --links 8 --quiet &
writer=$!
sleep 1
"$FLEETSCOPE_SHM" record "$name.sim" -o "$work/sim.mcap" --seconds 2 >/dev/null
kill -TERM "$writer"; wait "$writer" || true; writer=""
for t in 0.2 1.5; do
  viewer --open "$work/sim.mcap" --replay-from "$t" --replay-speed 0 --screenshot "$work/sim-$t.png" --size 320x240 \
    --camera "6,-6,5@2,2,0" --no-dashboards 2>"$work/err.txt" || { cat "$work/err.txt"; echo "FAIL: replay at $t s"; exit 1; }
done
if cmp -s "$work/sim-0.2.png" "$work/sim-1.5.png"; then
  echo "FAIL: the recording drawn at 0.2 s and at 1.5 s look the same"
  exit 1
fi

expect_failure() {  # pattern, viewer arguments...
  local pattern=$1
  shift
  if viewer "$@" >"$work/out.txt" 2>&1; then
    echo "FAIL: fleetscope $* succeeded"
    exit 1
  fi
  grep -q -- "$pattern" "$work/out.txt" || { cat "$work/out.txt"; echo "FAIL: no '$pattern' in the message"; exit 1; }
}
echo "not a recording" >"$work/junk.mcap"
expect_failure "not an MCAP file" --open "$work/junk.mcap" --screenshot "$work/x.png" --no-dashboards
expect_failure "cannot open" --open "$work/missing.mcap" --screenshot "$work/x.png" --no-dashboards
expect_failure "replay-speed" --open "$work/run.mcap" --replay-speed 50
expect_failure "only apply with --open" --replay-from 3
echo "recording_viewer: replayed, and bad input refused"
