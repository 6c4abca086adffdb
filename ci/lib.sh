# ci/lib.sh - shell helpers shared by ci/test and ci/pipeline (sourced, not run):
# configure+build a preset, run ctest and tally its summary line, the install
# consumer check, and the closing summary.
# shellcheck shell=bash

HK_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HK_LOGS="$HK_ROOT/build/ci-logs"
HK_PASSED=0        # tests passed, over every ctest run
HK_SKIPPED=0       # tests that skipped themselves (SKIP_RETURN_CODE / SKIP_REGULAR_EXPRESSION)
HK_FAILED=0        # tests failed + steps that failed (configure, build, checks)
HK_ROWS=()         # one summary line per step
HK_FAILED_STEPS=() # names of the steps that failed
HK_START=$(date +%s)
HK_CMAKE_FRESH=()  # (--fresh) to reconfigure from scratch
HK_CTEST_ENV=()    # NAME=VALUE pairs hk_ctest runs ctest with
mkdir -p "$HK_LOGS"

hk_banner() { printf '\n==== %s ====\n' "$*"; }
hk_elapsed() { echo "$(( $(date +%s) - ${1:-$HK_START} ))s"; }

# hk_row <text> [failed-count]: add a summary row; with a failed-count the
# step is also named in HK_FAILED_STEPS (its text up to the colon).
hk_row() {
  HK_ROWS+=("$1")
  if ((${2:-0} > 0)); then
    HK_FAILED=$((HK_FAILED + $2))
    HK_FAILED_STEPS+=("${1%%:*}")
  fi
}

# hk_run_logged <log> <cmd...>: run quietly into <log>; on failure show its tail.
hk_run_logged() {
  local log=$1; shift
  if "$@" >"$log" 2>&1; then
    return 0
  fi
  echo "---- FAILED: $* (last lines of $log) ----"
  tail -n 60 "$log"
  return 1
}

# hk_build <preset>: configure and build; records a row; 0 on success.
hk_build() {
  local p=$1 t0; t0=$(date +%s)
  if hk_run_logged "$HK_LOGS/$p.configure.log" cmake --preset "$p" "${HK_CMAKE_FRESH[@]}" &&
     hk_run_logged "$HK_LOGS/$p.build.log" cmake --build --preset "$p"; then
    echo "build $p: ok ($(hk_elapsed "$t0"))"
    return 0
  fi
  hk_row "build $p: FAILED (logs in build/ci-logs/$p.*.log)" 1
  return 1
}

# hk_check_labels <preset>: every test of the tree carries a contract label.
hk_check_labels() {
  if ! "$HK_ROOT/ci/check-labels" "$HK_ROOT/build/$1"; then
    hk_row "labels $1: FAILED (tests without a contract label)" 1
    return 1
  fi
}

# hk_layers <preset>: ci/layers on build/<preset> (no link-level cycle among
# the allocator's objects; the layer order docs/architecture.md states); one
# row either way, a failed one counted.
hk_layers() {
  local p=$1 log="$HK_LOGS/$1.layers.log" rc=0 what against
  hk_banner "layers $p: ci/layers build/$p"
  "$HK_ROOT/ci/layers" "$HK_ROOT/build/$p" >"$log" 2>&1 || rc=$?
  cat "$log"
  what=$(sed -n 's/^layers build\/[^:]*: \(FAILED, \)\{0,1\}//p' "$log")
  against=$(grep -c '^  against the documented order: ' "$log" || true)
  if grep -q '^  documented order: holds' "$log"; then what+="; documented order holds"; fi
  ((against == 0)) || what+="; $against against the documented order"
  if ((rc == 0)); then
    hk_row "layers $p: $what"
  else
    hk_row "layers $p: FAILED (${what:-ci/layers exit $rc}; build/ci-logs/$p.layers.log)" 1
  fi
  return $((rc != 0))
}

# hk_count <label> <preset>...: how many tests carry <label> in these trees.
hk_count() {
  local label=$1 n=0 p; shift
  for p in "$@"; do
    [[ -d "$HK_ROOT/build/$p" ]] || continue
    n=$((n + $("$HK_ROOT/ci/check-labels" --count "$label" "$HK_ROOT/build/$p")))
  done
  echo "$n"
}

# hk_ctest <row-name> <ctest args...>: run ctest, show its output, and tally
# its own summary line ("N% tests passed, F tests failed out of T").
hk_ctest() {
  local name=$1 log rc line total failed skipped; shift
  log="$HK_LOGS/ctest.${name//[^A-Za-z0-9_.-]/_}.log"
  hk_banner "ctest $name: ctest $*"
  set +e
  env "${HK_CTEST_ENV[@]}" ctest "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [[ -n "$line" ]]; then
    total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
    failed=$(sed -E 's/.* ([0-9]+) tests? failed.*/\1/' <<<"$line")
  elif grep -q 'No tests were found' "$log"; then
    line="no tests"; total=0; failed=0
  else
    line="ctest did not finish"; total=0; failed=0
  fi
  # ctest counts a skipped test as passed; list it apart.
  skipped=$(grep -cE '^[[:space:]]+[0-9]+ - .* \(Skipped\)$' "$log" || true)
  HK_PASSED=$((HK_PASSED + total - failed - skipped))
  HK_SKIPPED=$((HK_SKIPPED + skipped))
  ((skipped == 0)) || line="$line ($skipped skipped)"
  if ((rc != 0 && failed == 0)); then
    hk_row "ctest $name: $line (ctest exit $rc)" 1
  else
    hk_row "ctest $name: $line" "$failed"
  fi
  return $((rc != 0))
}

# hk_lane_ctest <row-name> <preset> <ctest filter args...>: ctest on
# build/<preset> with that preset's environment (sanitizer options) and these
# label filters.  Not `ctest --preset`: CMake 3.25 ignores -LE there and ANDs
# -L with the test preset's own filter.
hk_lane_ctest() {
  local name=$1 p=$2 rc=0; shift 2
  mapfile -t HK_CTEST_ENV < <("$HK_ROOT/ci/preset-env" "$p")
  hk_ctest "$name" --test-dir "$HK_ROOT/build/$p" -j 2 --output-on-failure \
    --no-tests=ignore "$@" || rc=$?
  HK_CTEST_ENV=()
  return $rc
}

# hk_consumer_check <preset>: install that build into a temporary prefix and
# build + run ci/consumer against the installed copy (CMake package, pkg-config,
# static library, LD_PRELOAD).
hk_consumer_check() {
  local p=$1 prefix bdir missing=() f
  prefix=$(mktemp -d /tmp/hakmem-install.XXXXXX)
  bdir="$HK_ROOT/build/consumer"
  hk_banner "install check: cmake --install build/$p --prefix $prefix"
  if ! hk_run_logged "$HK_LOGS/install.log" cmake --install "$HK_ROOT/build/$p" --prefix "$prefix"; then
    hk_row "install $p: FAILED" 1; rm -rf "$prefix"; return 1
  fi
  for f in lib/libhakmem.so lib/libhakmem.a include/hakmem.h lib/pkgconfig/hakmem.pc \
           lib/cmake/hakmem/hakmemConfig.cmake lib/cmake/hakmem/hakmemConfigVersion.cmake \
           lib/cmake/hakmem/hakmemTargets.cmake; do
    [[ -e "$prefix/$f" ]] || missing+=("$f")
  done
  if [[ -e "$prefix/lib/libhakmem_core.a" ]]; then missing+=("(libhakmem_core.a must not be installed)"); fi
  if ((${#missing[@]})); then
    echo "install check: missing from the installed tree: ${missing[*]}"
    hk_row "install $p: FAILED (${missing[*]})" 1; rm -rf "$prefix"; return 1
  fi
  echo "install check: $(cd "$prefix" && find . -type f | sort | tr '\n' ' ')"
  rm -rf "$bdir"
  if hk_run_logged "$HK_LOGS/consumer.configure.log" \
       env PKG_CONFIG_PATH="$prefix/lib/pkgconfig" \
       cmake -S "$HK_ROOT/ci/consumer" -B "$bdir" -G Ninja \
         -DCMAKE_PREFIX_PATH="$prefix" -DHAKMEM_EXPECTED_PREFIX="$prefix" \
         -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF &&
     hk_run_logged "$HK_LOGS/consumer.build.log" cmake --build "$bdir" -j 2; then
    hk_ctest "consumer (installed $p)" --test-dir "$bdir" --output-on-failure -j 2 || true
  else
    hk_row "consumer (installed $p): FAILED to configure or build" 1
  fi
  rm -rf "$prefix"
}

# hk_summary <title>: print the rows, then the closing line
# "total: N passed, N failed, N skipped"; the status is 0 only when nothing failed.
hk_summary() {
  local r
  hk_banner "$1 summary ($(hk_elapsed))"
  for r in "${HK_ROWS[@]}"; do echo "  $r"; done
  echo "total: $HK_PASSED passed, $HK_FAILED failed, $HK_SKIPPED skipped"
  return $((HK_FAILED != 0))
}
