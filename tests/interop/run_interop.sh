#!/usr/bin/env bash
# recording_interop: a fleetscope recording read by the reference MCAP reader (@mcap/core under
# Node). Installs the pinned npm packages (package-lock.json) into the build tree once, records a
# real writer (fleetscope-test-writer, geometry mode: poses, layout with every visual kind,
# telemetry) with fleetscope-shm record, and has read_recording.js check channels, message counts
# and decoded values; then the same for a recording killed with SIGKILL and rebuilt by
# fleetscope-shm recover.
# Then a recording with --foxglove: validate_foxglove.js validates its Foxglove channels against
# npm @foxglove/schemas (ajv) and checks their counts and poses.
# Environment: FLEETSCOPE_INTEROP_DIR (work folder in the build tree), FLEETSCOPE_SHM,
# FLEETSCOPE_TEST_WRITER.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work="${FLEETSCOPE_INTEROP_DIR:?}"
shm="${FLEETSCOPE_SHM:?}"
test_writer="${FLEETSCOPE_TEST_WRITER:?}"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "recording_interop: needs node and npm (Debian: nodejs npm; bash .ci/setup installs them)" >&2
  exit 1
fi
mkdir -p "$work"
if ! cmp -s "$here/package-lock.json" "$work/package-lock.json" || [ ! -d "$work/node_modules/@mcap/core" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$work/"
  (cd "$work" && npm ci --no-audit --no-fund --loglevel=error)
fi

name="interop$$"
file="$work/interop-$$.mcap"
killed="$work/interop-$$-killed.mcap"
fixed="$work/interop-$$-fixed.mcap"
foxglove="$work/interop-$$-foxglove.mcap"
out="$work/writer-$$.out"
writer=""
recorder=""
cleanup() {
  [ -n "$recorder" ] && kill -KILL "$recorder" 2>/dev/null || true
  [ -n "$writer" ] && kill -TERM "$writer" 2>/dev/null || true
  [ -n "$writer" ] && wait "$writer" 2>/dev/null || true
  rm -f "$file" "$killed" "$fixed" "$foxglove" "$out"
}
trap cleanup EXIT
"$test_writer" "$name" steady 4 5 geometry >"$out" &
writer=$!
for _ in $(seq 400); do grep -q ready "$out" && break; sleep 0.05; done
grep -q ready "$out" || { echo "recording_interop: the test writer did not start" >&2; exit 1; }

"$shm" record "$name" -o "$file" --seconds 2 --keyframe-interval 0.5
NODE_PATH="$work/node_modules" node "$here/read_recording.js" "$file" "$name" 4 5

# Killed mid-recording, then recovered: still a valid MCAP file for the reference reader.
"$shm" record "$name" -o "$killed" &
recorder=$!
sleep 2.6
kill -KILL "$recorder"
wait "$recorder" 2>/dev/null || true
recorder=""
"$shm" recover "$killed" -o "$fixed"
NODE_PATH="$work/node_modules" node "$here/read_recording.js" "$fixed" "$name" 4 5

# With the Foxglove channels: valid against the published schemas, one transform message a frame.
"$shm" record "$name" -o "$foxglove" --seconds 2 --keyframe-interval 0.5 --foxglove
NODE_PATH="$work/node_modules" node "$here/validate_foxglove.js" "$foxglove" "$name" 4 5
echo "recording_interop: the files read by @mcap/core match what was written; the Foxglove channels are valid"
