#!/usr/bin/env bash
# The installed SDK, used from outside the source tree: `cmake --install` into a temporary
# prefix, then a C++ consumer (find_package), a C one (pkg-config) and Python (the installed
# package, and a wheel built by pip), each publishing a frame; the installed programs run. The
# components: C++ consumers of fleetscope::urdf (resources/urdf/fs_arm6.urdf) and
# fleetscope::mujoco, a C one of the MuJoCo C ABI (pkg-config fleetscope-mujoco), and the core
# found without their packages.
# Environment (set by tests/CMakeLists.txt): FLEETSCOPE_BUILD_DIR, FLEETSCOPE_GENERATOR,
# FLEETSCOPE_CXX, FLEETSCOPE_CC, FLEETSCOPE_PYTHON3 (empty: no Python), FLEETSCOPE_PYTHONDIR,
# FLEETSCOPE_VERSION, FLEETSCOPE_VIEWER (1 when the viewer is built), FLEETSCOPE_MUJOCO (1 when
# the MuJoCo publisher is built).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source_dir=$(cd "$here/../.." && pwd)
build=$FLEETSCOPE_BUILD_DIR
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fleetscope-sdk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
tag="sdk$$"
step() { echo "--- $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "install"; }
# Every header of the source include directories, and nothing that points back at this tree.
(cd "$source_dir/ipc/include" && find . -type f; cd "$source_dir/sim_bridge/include" && find . -type f) |
  while read -r header; do [ -f "$prefix/include/$header" ] || fail "header $header not installed"; done
if grep -rl -e "$source_dir" -e "$build" "$prefix/lib" --include='*.cmake' --include='*.pc'; then
  fail "installed CMake or pkg-config files name the source or build tree"
fi
programs=(fleetscope-sim fleetscope-shm)
[ "$FLEETSCOPE_VIEWER" = 1 ] && programs+=(fleetscope)
[ "$FLEETSCOPE_MUJOCO" = 1 ] && programs+=(fleetscope-mujoco)
for program in "${programs[@]}"; do
  [ -x "$prefix/bin/$program" ] || fail "program $program not installed"
  if ldd "$prefix/bin/$program" | grep "not found"; then fail "$program: missing libraries"; fi
done
libraries=(fleetscope)
[ "$FLEETSCOPE_MUJOCO" = 1 ] && libraries+=(fleetscope_mujoco)
for name in "${libraries[@]}"; do
  library=$(find "$prefix" -name "lib$name.so.*.*" -type f)
  [ -n "$library" ] || fail "lib$name.so not installed"
  for link in "lib$name.so" "lib$name.so.1"; do
    [ "$(readlink -f "$(dirname "$library")/$link")" = "$library" ] || fail "$link does not lead to $library"
  done
  foreign=$(nm -D --defined-only "$library" | awk '$3 !~ /^fs_/ && !($2 == "A" && $3 ~ /^FLEETSCOPE_/)')
  [ -z "$foreign" ] || fail "$library exports symbols outside the C ABI:"$'\n'"$foreign"
done

step "installed programs"
"$prefix/bin/fleetscope-sim" --robots 3 --links 4 --rate 50 --duration 0.2 --quiet --name "${tag}_sim"
"$prefix/bin/fleetscope-shm" list >/dev/null

# The core package needs none of the components' packages: the C++ consumer is configured with
# them hidden (and CMake's note that it never asked for them silenced).
hidden=(--no-warn-unused-cli -DCMAKE_DISABLE_FIND_PACKAGE_urdfdom=ON -DCMAKE_DISABLE_FIND_PACKAGE_assimp=ON -DCMAKE_DISABLE_FIND_PACKAGE_mujoco=ON)
step "C++ consumer: find_package(fleetscope), fleetscope::bridge; urdfdom, assimp and MuJoCo hidden"
cmake -S "$here/cxx" -B "$tmp/cxx" -G "$FLEETSCOPE_GENERATOR" -DCMAKE_CXX_COMPILER="$FLEETSCOPE_CXX" "${hidden[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$tmp/cxx.log" || { cat "$tmp/cxx.log"; fail "configure"; }
cmake --build "$tmp/cxx" >>"$tmp/cxx.log" || { cat "$tmp/cxx.log"; fail "C++ consumer build"; }
"$tmp/cxx/consumer" "${tag}_cxx"

step "components without their packages: OPTIONAL_COMPONENTS not found, COMPONENTS an error naming the package"
cmake -S "$here/missing_components" -B "$tmp/optional" -G "$FLEETSCOPE_GENERATOR" -DCMAKE_CXX_COMPILER="$FLEETSCOPE_CXX" \
  "${hidden[@]}" -DCMAKE_PREFIX_PATH="$prefix" -DEXPECT=optional >"$tmp/optional.log" 2>&1 ||
  { cat "$tmp/optional.log"; fail "find_package(fleetscope OPTIONAL_COMPONENTS urdf mujoco)"; }
grep 'fleetscope component' "$tmp/optional.log"
if cmake -S "$here/missing_components" -B "$tmp/required" -G "$FLEETSCOPE_GENERATOR" -DCMAKE_CXX_COMPILER="$FLEETSCOPE_CXX" \
  "${hidden[@]}" -DCMAKE_PREFIX_PATH="$prefix" -DEXPECT=required >"$tmp/required.log" 2>&1; then
  fail "find_package(fleetscope REQUIRED COMPONENTS urdf) succeeded without urdfdom"
fi
grep -q 'component urdf needs urdfdom' "$tmp/required.log" || { cat "$tmp/required.log"; fail "no reason given"; }

components=urdf
[ "$FLEETSCOPE_MUJOCO" = 1 ] && components+=" mujoco"
step "C++ consumers: find_package(fleetscope COMPONENTS $components)"
cmake -S "$here/cxx_components" -B "$tmp/components" -G "$FLEETSCOPE_GENERATOR" -DCMAKE_CXX_COMPILER="$FLEETSCOPE_CXX" \
  -DWITH_MUJOCO="$FLEETSCOPE_MUJOCO" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$tmp/components.log" ||
  { cat "$tmp/components.log"; fail "configure"; }
cmake --build "$tmp/components" >>"$tmp/components.log" || { cat "$tmp/components.log"; fail "component consumers' build"; }
"$tmp/components/urdf_consumer" "${tag}_urdf" "$source_dir/resources/urdf/fs_arm6.urdf"
if [ "$FLEETSCOPE_MUJOCO" = 1 ]; then
  "$tmp/components/mujoco_consumer" "${tag}_mujoco_cxx" "$here/mujoco/pendulums.xml"
fi

step "C consumer: pkg-config fleetscope"
export PKG_CONFIG_PATH
PKG_CONFIG_PATH=$(dirname "$(find "$prefix" -name fleetscope.pc)")
[ "$(pkg-config --modversion fleetscope)" = "$FLEETSCOPE_VERSION" ] || fail "fleetscope.pc version"
# shellcheck disable=SC2046  # pkg-config's flags are meant to split
"$FLEETSCOPE_CC" -std=c99 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags fleetscope) "$here/c/main.c" \
  -o "$tmp/c_consumer" $(pkg-config --libs fleetscope) -Wl,-rpath,"$(pkg-config --variable=libdir fleetscope)"
"$tmp/c_consumer" "${tag}_c"

if [ "$FLEETSCOPE_MUJOCO" = 1 ]; then
  step "C consumer: pkg-config fleetscope-mujoco, MuJoCo's C API"
  [ "$(pkg-config --modversion fleetscope-mujoco)" = "$FLEETSCOPE_VERSION" ] || fail "fleetscope-mujoco.pc version"
  # shellcheck disable=SC2046
  "$FLEETSCOPE_CC" -std=c99 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags fleetscope-mujoco) "$here/mujoco/main.c" \
    -o "$tmp/mujoco_consumer" $(pkg-config --libs fleetscope-mujoco) -lmujoco \
    -Wl,-rpath,"$(pkg-config --variable=libdir fleetscope-mujoco)"
  "$tmp/mujoco_consumer" "${tag}_mujoco_c" "$here/mujoco/pendulums.xml"
fi

if [ -n "$FLEETSCOPE_PYTHON3" ]; then
  step "Python consumer: the installed package"
  # A temporary prefix is on no sys.path; /usr/local needs no PYTHONPATH (README).
  (cd "$tmp" && PYTHONPATH="$prefix/$FLEETSCOPE_PYTHONDIR" FLEETSCOPE_LIBRARY='' \
    "$FLEETSCOPE_PYTHON3" "$here/consumer.py" "${tag}_py" "$prefix")

  step "Python consumer: a wheel built by pip from sim_bridge/python, no network"
  # Built from a copy, so that setuptools' build/ and egg-info stay out of the source tree.
  cp -r "$source_dir/sim_bridge/python" "$tmp/python-src"
  rm -rf "$tmp/python-src/fleetscope/__pycache__" "$tmp/python-src/fleetscope/"libfleetscope.so*
  FLEETSCOPE_LIBRARY="$build/sim_bridge/libfleetscope.so" "$FLEETSCOPE_PYTHON3" -m pip wheel --quiet \
    --no-build-isolation --no-index --no-deps --wheel-dir "$tmp/wheel" "$tmp/python-src" >"$tmp/pip.log" 2>&1 ||
    { cat "$tmp/pip.log"; fail "pip wheel"; }
  wheel=$(ls "$tmp/wheel"/fleetscope-*.whl)
  case "$(basename "$wheel")" in
    "fleetscope-$FLEETSCOPE_VERSION-py3-none-"*) ;;
    *) fail "wheel $(basename "$wheel"): expected version $FLEETSCOPE_VERSION (pyproject.toml and CMake agree), tag py3-none-<platform>" ;;
  esac
  "$FLEETSCOPE_PYTHON3" -m pip install --quiet --no-index --no-deps --target "$tmp/site" "$wheel" >"$tmp/pip.log" 2>&1 ||
    { cat "$tmp/pip.log"; fail "pip install --target"; }
  (cd "$tmp" && PYTHONPATH="$tmp/site" FLEETSCOPE_LIBRARY='' "$FLEETSCOPE_PYTHON3" "$here/consumer.py" "${tag}_wheel" "$tmp/site")
fi
echo "SDK test passed"
