#!/usr/bin/env bash
# fuzz/oss-fuzz/test-build.sh - runs fuzz/oss-fuzz/build.sh here with the
# environment OSS-Fuzz and ClusterFuzzLite set for a libFuzzer + ASan build
# (CC, CXX, CFLAGS, CXXFLAGS, LIB_FUZZING_ENGINE, SANITIZER, FUZZING_ENGINE,
# ARCHITECTURE, SRC, WORK, OUT), then checks what it must produce: every
# target binary, its seed corpus zip, dictionary and options, and that each
# binary replays its seed corpus and fuzzes for a few hundred runs.
# Invariant: everything happens under the scratch directory given (CTest
# fuzz.oss-fuzz.build passes one in the build tree).
#   fuzz/oss-fuzz/test-build.sh SOURCE_DIR SCRATCH_DIR
set -euo pipefail
srcdir=$(cd "${1:?usage: test-build.sh SOURCE_DIR SCRATCH_DIR}" && pwd)
scratch=${2:?usage: test-build.sh SOURCE_DIR SCRATCH_DIR}
rm -rf "$scratch"
mkdir -p "$scratch/src" "$scratch/work" "$scratch/out"
ln -s "$srcdir" "$scratch/src/hakmem"
export SRC="$scratch/src" WORK="$scratch/work" OUT="$scratch/out"
export CC=clang CXX=clang++ SANITIZER=address FUZZING_ENGINE=libfuzzer ARCHITECTURE=x86_64
export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
export CXXFLAGS="$CFLAGS"
export LIB_FUZZING_ENGINE="-fsanitize=fuzzer"
export ASAN_OPTIONS="allocator_may_return_null=1:detect_leaks=1"
"$srcdir/fuzz/oss-fuzz/build.sh" > "$scratch/build.log" 2>&1 || {
  tail -30 "$scratch/build.log"
  echo "test-build: build.sh failed (log: $scratch/build.log)"
  exit 1
}
fail=0
for t in fuzz_trace fuzz_large fuzz_mt fuzz_api_edges fuzz_trace_parser fuzz_misuse; do
  for f in "$OUT/$t" "$OUT/${t}_seed_corpus.zip" "$OUT/$t.dict" "$OUT/$t.options"; do
    [[ -s $f ]] || { echo "test-build: missing $f"; fail=1; }
  done
  [[ -x $OUT/$t ]] || continue
  mkdir -p "$WORK/seeds/$t" "$WORK/new/$t"
  (cd "$WORK/seeds/$t" && unzip -q -o "$OUT/${t}_seed_corpus.zip")
  if ! (cd "$OUT" && "./$t" -runs=300 -dict="$t.dict" -max_len=4096 "$WORK/new/$t" "$WORK/seeds/$t") \
       > "$WORK/$t.log" 2>&1; then
    tail -20 "$WORK/$t.log"
    echo "test-build: $t failed on its seed corpus (log: $WORK/$t.log)"
    fail=1
  else
    echo "test-build: $t ok ($(unzip -l "$OUT/${t}_seed_corpus.zip" | tail -1 | awk '{print $2}') seeds, $(grep -o 'Done [0-9]* runs' "$WORK/$t.log"))"
  fi
done
exit $fail
