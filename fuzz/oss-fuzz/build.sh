#!/bin/bash -eu
# fuzz/oss-fuzz/build.sh - builds every hakmem fuzz target the way OSS-Fuzz
# and ClusterFuzzLite expect: compiler and flags from $CC/$CXX/$CFLAGS/
# $CXXFLAGS (sanitizer and coverage flags included), the engine from
# $LIB_FUZZING_ENGINE, sources in $SRC/hakmem (or $HAKMEM_SRC), scratch in
# $WORK, results in $OUT: one binary per target plus its
# <target>_seed_corpus.zip (corpus/<target>/ and corpus/regressions/<target>/),
# <target>.dict and <target>.options.
# Invariants: the same sources as the CMake presets (allocator/ as
# hakmem_core, verify/ as hakmem_verify, fuzz/harness.c and the target
# file); nothing is written outside $WORK and $OUT; the debug variant (every
# check) is what gets fuzzed, as in the fuzz and afl presets.
src=${HAKMEM_SRC:-$SRC/hakmem}
build=$WORK/hakmem-build
targets="fuzz_trace fuzz_large fuzz_mt fuzz_api_edges fuzz_trace_parser fuzz_misuse"

gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
# The libraries, with the fuzzing flags from the environment (CMake reads
# CFLAGS); HAKMEM_SANITIZE stays empty since $CFLAGS already has them.
cmake -S "$src" -B "$build" "${gen[@]}" -DCMAKE_C_COMPILER="$CC" \
  -DCMAKE_BUILD_TYPE=None -DBUILD_TESTING=OFF -DHAKMEM_VARIANT=debug \
  -DHAKMEM_FUZZ_ENGINE=none -DHAKMEM_SANITIZE= -DHAKMEM_WERROR=OFF
cmake --build "$build" --target hakmem_core hakmem_verify -j"$(nproc)"

inc=(-I "$src/fuzz" -I "$src/verify/include" -I "$src/allocator/include")
libs=("$build/lib/libhakmem_verify.a" "$build/lib/libhakmem_core.a" -lpthread -ldl)
common=()
for f in harness hkf_common mutator; do
  $CC $CFLAGS -std=gnu11 "${inc[@]}" -c "$src/fuzz/$f.c" -o "$WORK/hkf_$f.o"
  common+=("$WORK/hkf_$f.o")
done
for t in $targets; do
  $CC $CFLAGS -std=gnu11 "${inc[@]}" -c "$src/fuzz/$t.c" -o "$WORK/$t.o"
  # libFuzzer and the other engines are C++: link with $CXX
  $CXX $CXXFLAGS "$WORK/$t.o" "${common[@]}" $LIB_FUZZING_ENGINE "${libs[@]}" -o "$OUT/$t"
  cp "$src/fuzz/$t.dict" "$src/fuzz/$t.options" "$OUT/"
  rm -f "$OUT/${t}_seed_corpus.zip"
  (cd "$src/corpus" && find "$t" "regressions/$t" -type f ! -name '.*' -print0 2>/dev/null |
     xargs -0 zip -q -j "$OUT/${t}_seed_corpus.zip")
done
echo "hakmem: built $(echo $targets | wc -w) fuzz targets into $OUT"
