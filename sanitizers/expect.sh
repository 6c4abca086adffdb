#!/bin/sh
# expect.sh - run a program under a tool and pass only if the tool reported:
# every PATTERN (grep -E) appears in its combined output, and either the
# tool stopped the program (exit status not 0, and no "misuse NOT detected"
# line) or, with --status N, the tool let it run on and exited N at the end
# (valgrind's --error-exitcode).
# The proof tests of sanitizers/CMakeLists.txt call it; it cannot pass on a
# run in which the tool stayed silent.
#   expect.sh [--status N] PATTERN... -- COMMAND [ARG...]
want=""
if [ "$1" = "--status" ]; then want=$2; shift 2; fi
pats=""
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  pats="$pats
$1"
  shift
done
[ "$1" = "--" ] || { echo "expect.sh: missing -- COMMAND" >&2; exit 2; }
shift
out=$(mktemp "${TMPDIR:-/tmp}/hk-expect.XXXXXX")
"$@" >"$out" 2>&1
rc=$?
cat "$out"
fail=0
if [ -z "$want" ] && grep -q "misuse NOT detected" "$out"; then
  echo "expect.sh: FAIL: the program ran to its end: the tool did not stop or flag the misuse"
  fail=1
fi
if [ -n "$want" ]; then
  [ "$rc" -eq "$want" ] || { echo "expect.sh: FAIL: exit status $rc, want $want"; fail=1; }
else
  [ "$rc" -ne 0 ] || { echo "expect.sh: FAIL: exit status 0, the tool reported nothing fatal"; fail=1; }
fi
echo "$pats" | while IFS= read -r p; do
  [ -z "$p" ] && continue
  if grep -Eq -- "$p" "$out"; then echo "expect.sh: found: $p"
  else echo "expect.sh: FAIL: not in the output: $p"; echo x >"$out.miss"; fi
done
[ -e "$out.miss" ] && fail=1
rm -f "$out" "$out.miss"
[ "$fail" -eq 0 ] && echo "expect.sh: PASS (exit status $rc)"
exit "$fail"
