#!/usr/bin/env bash
# fuzz/afl-smoke.sh - a short AFL++ run of one target (CTest fuzz.afl-smoke.<t>
# in the afl preset): afl-fuzz in persistent mode with the custom mutator
# library, from the target's seeds, for a few seconds; passes when AFL++
# executed inputs and saved no crash or hang.
#   fuzz/afl-smoke.sh TARGET_BINARY MUTATOR_SO SEEDS DICT OUT_DIR SECONDS
set -euo pipefail
bin=$1 mut=$2 seeds=$3 dict=$4 out=$5 secs=$6
rm -rf "$out"
mkdir -p "$(dirname "$out")"
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 AFL_NO_AFFINITY=1
export AFL_CUSTOM_MUTATOR_LIBRARY=$mut HKF_TARGET=$(basename "$bin") AFL_ALLOW_TMP=1
export AFL_SKIP_BIN_CHECK=0 AFL_QUIET=1
afl-fuzz -V "$secs" -i "$seeds" -o "$out" -x "$dict" -t 25000 -- "$bin" > "$out.log" 2>&1 || {
  tail -20 "$out.log"; echo "afl-smoke: afl-fuzz failed (log $out.log)"; exit 1; }
stats="$out/default/fuzzer_stats"
[[ -f $stats ]] || { echo "afl-smoke: no $stats"; exit 1; }
get() { awk -v k="$1" '$1 == k {print $3}' "$stats"; }
echo "afl-smoke: $(basename "$bin"): $(get execs_done) execs, $(get execs_per_sec) per second, corpus $(get corpus_count), crashes $(get saved_crashes), hangs $(get saved_hangs)"
[[ $(get execs_done) -gt 0 && $(get saved_crashes) -eq 0 && $(get saved_hangs) -eq 0 ]]
