#!/bin/sh
# preload_test.sh - run real programs with and without
# LD_PRELOAD=libhakmem.so and compare their output byte for byte
# (stdout, stderr and exit status).  Driven by CTest (allocator/tests/CMakeLists.txt),
# one case per test; usable by hand:
#   sh preload_test.sh build/release/lib/libhakmem.so python|cc|git|sort|sed_awk|ls|early|verbose|stats
# Exit 0 = same output, 1 = difference (diff shown), 77 = skipped (tool missing).
set -u

LIB=${1:?usage: preload_test.sh LIBHAKMEM_SO CASE}
CASE=${2:?usage: preload_test.sh LIBHAKMEM_SO CASE}
case "$LIB" in /*) ;; *) LIB="$(pwd)/$LIB" ;; esac
[ -f "$LIB" ] || { echo "preload_test: $LIB does not exist"; exit 1; }
SRCDIR=$(cd "$(dirname "$0")/../.." && pwd)

T=$(mktemp -d "${TMPDIR:-/tmp}/hk-preload.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
export LC_ALL=C TZ=UTC
unset HAKMEM_VERBOSE HAKMEM_STATS

need() {
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || { echo "preload_test: $tool not installed, skipping"; exit 77; }
  done
}

fail() {
  echo "preload_test[$CASE]: FAIL: $*"
  exit 1
}

# run_both NAME CMD...: run CMD in $T/plain and $T/pre (the latter with
# LD_PRELOAD), in directories of identical layout, and compare results.
run_both() {
  name=$1
  shift
  for side in plain pre; do
    mkdir -p "$T/$side"
    if [ "$side" = pre ]; then
      (cd "$T/$side" && LD_PRELOAD="$LIB" "$@") >"$T/$name.$side.out" 2>"$T/$name.$side.err"
    else
      (cd "$T/$side" && "$@") >"$T/$name.$side.out" 2>"$T/$name.$side.err"
    fi
    echo $? >"$T/$name.$side.rc"
  done
  for s in out err rc; do
    if ! cmp -s "$T/$name.plain.$s" "$T/$name.pre.$s"; then
      echo "preload_test[$CASE/$name]: std$s differs with LD_PRELOAD=$LIB:"
      diff "$T/$name.plain.$s" "$T/$name.pre.$s" | head -20
      exit 1
    fi
  done
  [ "$(cat "$T/$name.plain.rc")" = 0 ] || fail "$name exited $(cat "$T/$name.plain.rc") even without LD_PRELOAD"
  echo "preload_test[$CASE/$name]: identical ($(wc -c <"$T/$name.plain.out") bytes of output)"
}

PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || echo python3)

case "$CASE" in
python)
  need "$PY"
  run_both dicts "$PY" -c '
import json, re, hashlib, collections
d = {}
for i in range(80000):
    d["k%d" % (i * 7919 % 1000003)] = [i, str(i) * (i % 7), {"x": i % 13}]
for i in range(0, 80000, 3):
    d.pop("k%d" % (i * 7919 % 1000003), None)
items = sorted(d.items(), key=lambda kv: (len(kv[1][1]), kv[0]))
blob = json.dumps(items[:5000], sort_keys=True)
words = re.findall(r"[a-z0-9]+", blob * 3)
cnt = collections.Counter(words).most_common(10)
s = set(range(0, 300000, 7)) ^ set(range(0, 300000, 11))
big = "".join(str(x) for x in sorted(s)[:50000])
print(len(d), len(blob), cnt, len(s), hashlib.sha256(big.encode()).hexdigest())
'
  # threads freeing each other's objects, fork and a subprocess
  run_both threads_fork "$PY" -c '
import os, sys, threading, queue, subprocess
q = queue.Queue()
def produce(n):
    for i in range(n):
        q.put({"i": i, "s": "x" * (i % 300), "l": list(range(i % 50))})
def consume(n, out):
    tot = 0
    for _ in range(n):
        o = q.get()
        tot += len(o["s"]) + sum(o["l"])
    out.append(tot)
out = []
ts = [threading.Thread(target=produce, args=(20000,)) for _ in range(2)]
ts += [threading.Thread(target=consume, args=(20000, out)) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
print(sum(out))
sys.stdout.flush()
for k in range(3):
    pid = os.fork()
    if pid == 0:
        x = [str(i) * 10 for i in range(50000)]
        os._exit(len(x) % 251)
    _, st = os.waitpid(pid, 0)
    print("child", k, os.waitstatus_to_exitcode(st))
print(subprocess.run(["sh", "-c", "echo sub; ls / | wc -l"], capture_output=True, text=True).stdout)
'
  ;;
cc)
  need cc
  cat >"$T/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct node { struct node *next; int v; };
static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
int main(void) {
  int a[1000];
  struct node *head = NULL;
  for (int i = 0; i < 1000; i++) a[i] = (i * 7919) % 1009;
  qsort(a, 1000, sizeof a[0], cmp);
  for (int i = 0; i < 1000; i++) {
    struct node *n = malloc(sizeof *n);
    n->v = a[i]; n->next = head; head = n;
  }
  long sum = 0;
  while (head) { struct node *n = head; sum += n->v; head = n->next; free(n); }
  printf("sum=%ld first=%d last=%d\n", sum, a[0], a[999]);
  return 0;
}
EOF
  run_both compile sh -c "cp '$T/prog.c' prog.c && cc -O2 -Wall -c prog.c -o prog.o && cc prog.o -o prog && ./prog"
  cmp "$T/plain/prog.o" "$T/pre/prog.o" || fail "object files differ"
  echo "preload_test[cc]: object files identical"
  ;;
git)
  need git
  GIT_DATE="2024-01-01T00:00:00Z"
  run_both repo env GIT_AUTHOR_NAME=hk GIT_AUTHOR_EMAIL=hk@example.invalid GIT_COMMITTER_NAME=hk \
    GIT_COMMITTER_EMAIL=hk@example.invalid GIT_AUTHOR_DATE=$GIT_DATE GIT_COMMITTER_DATE=$GIT_DATE \
    GIT_CONFIG_NOSYSTEM=1 HOME="$T" sh -c '
set -e
git init -q -b main repo
cd repo
i=0
while [ $i -lt 20 ]; do
  seq $i $((i * 50 + 100)) > f$i.txt
  git add f$i.txt
  git commit -q -m "commit $i"
  i=$((i + 1))
done
git mv f3.txt g3.txt
git commit -q -m rename
git log --format="%H %an %s" | head -25
git show --stat HEAD~2
git diff HEAD~5 HEAD --stat
git gc -q
git fsck --strict 2>&1
git rev-list --count HEAD'
  if git -C "$SRCDIR" rev-parse --git-dir >/dev/null 2>&1; then
    run_both project git -C "$SRCDIR" log --oneline -5
  fi
  ;;
sort)
  need sort awk
  awk 'BEGIN { srand(7); for (i = 0; i < 200000; i++) printf "%08d %s %d\n", int(rand() * 1e8), substr("abcdefghijklmnopqrstuvwxyz", int(rand() * 26) + 1, int(rand() * 20) + 1), i }' >"$T/in.txt"
  run_both sort sh -c "sort '$T/in.txt' | md5sum; sort -k2,2 -k1,1n '$T/in.txt' | md5sum; sort -u -k2,2 '$T/in.txt' | head -50; sort -S 1M -T . '$T/in.txt' | tail -3; sort --parallel=2 -S 64M -k3,3n '$T/in.txt' | md5sum"
  ;;
sed_awk)
  need sed awk
  seq 1 150000 | awk '{ printf "line %d word%d %s\n", $1, $1 % 97, ($1 % 3 ? "alpha" : "beta gamma") }' >"$T/in.txt"
  run_both sed sh -c "sed -e 's/word\([0-9]*\)/W<\1>/' -e '/beta/s/gamma/DELTA/g' -e '5~7d' '$T/in.txt' | md5sum; sed -n '1000,1010p' '$T/in.txt'"
  run_both awk sh -c "awk '{ c[\$3]++; s[\$3] = s[\$3] \$2 } END { for (k in c) print k, c[k], length(s[k]) }' '$T/in.txt' | sort; awk -F' ' '{ x = x \$2 } NR % 1000 == 0 { n += length(x); x = \"\" } END { print n }' '$T/in.txt'"
  ;;
ls)
  need ls
  run_both ls ls -la /usr/lib
  run_both ls_r sh -c 'ls -laR /usr/include | head -2000'
  ;;
early)
  # Another preloaded library allocates from its constructor (before or
  # after hakmem's own), from a thread it starts there, through dlsym, and
  # frees in its destructor: start-up and exit must be safe.
  need cc "$PY"
  cat >"$T/early.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static char *keep[64];
static void *thr(void *a) { (void)a; for (int i = 0; i < 64; i++) free(malloc(i * 100 + 1)); return strdup("thread"); }
__attribute__((constructor(101))) static void early(void) {
  for (int i = 0; i < 64; i++) { keep[i] = malloc(i * 37 + 1); memset(keep[i], i, i * 37 + 1); }
  void *(*m)(size_t) = (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc");
  void *p = m ? m(100) : NULL;
  free(p);
  pthread_t t; void *r = NULL;
  if (pthread_create(&t, NULL, thr, NULL) == 0) { pthread_join(t, &r); free(r); }
  char *s = NULL;
  if (asprintf(&s, "%d", 42) > 0) free(s);
}
__attribute__((destructor)) static void late(void) {
  long sum = 0;
  for (int i = 0; i < 64; i++) { for (int j = 0; j < i * 37 + 1; j++) sum += (unsigned char)keep[i][j]; free(keep[i]); }
  dprintf(1, "early.so: sum %ld\n", sum);
}
EOF
  cc -O1 -shared -fPIC -o "$T/early.so" "$T/early.c" -lpthread || fail "cannot build early.so"
  for order in first last; do
    if [ $order = first ]; then pre="$T/early.so $LIB"; else pre="$LIB $T/early.so"; fi
    LD_PRELOAD="$T/early.so" "$PY" -c "print('hello')" >"$T/e.plain" 2>&1
    LD_PRELOAD="$pre" "$PY" -c "print('hello')" >"$T/e.pre" 2>&1 || fail "preload order $order: exit $?"
    cmp -s "$T/e.plain" "$T/e.pre" || { diff "$T/e.plain" "$T/e.pre" | head; fail "output differs (early.so $order)"; }
    echo "preload_test[early/$order]: identical ($(tr '\n' ' ' <"$T/e.pre"))"
  done
  ;;
verbose)
  need sh
  HAKMEM_VERBOSE=1 LD_PRELOAD="$LIB" sh -c 'echo hello' >"$T/v.out" 2>"$T/v.err" || fail "sh exited $?"
  [ "$(cat "$T/v.out")" = hello ] || fail "stdout changed under HAKMEM_VERBOSE=1: $(cat "$T/v.out")"
  grep -qi hakmem "$T/v.err" || fail "HAKMEM_VERBOSE=1 printed nothing mentioning hakmem on stderr (got: $(head -c 200 "$T/v.err"))"
  echo "preload_test[verbose]: stderr: $(head -n 3 "$T/v.err")"
  # without the variable the library stays silent
  LD_PRELOAD="$LIB" sh -c 'echo hello' >"$T/q.out" 2>"$T/q.err"
  [ ! -s "$T/q.err" ] || fail "libhakmem.so printed to stderr without HAKMEM_VERBOSE: $(head -c 200 "$T/q.err")"
  ;;
stats)
  need sh sort
  seq 1 20000 >"$T/n.txt"
  HAKMEM_STATS=1 LD_PRELOAD="$LIB" sort -r "$T/n.txt" >"$T/s.out" 2>"$T/s.err" || fail "sort exited $?"
  sort -r "$T/n.txt" | cmp -s - "$T/s.out" || fail "sort output changed under HAKMEM_STATS=1"
  [ -s "$T/s.err" ] || fail "HAKMEM_STATS=1 printed nothing at exit"
  grep -qi hakmem "$T/s.err" || fail "HAKMEM_STATS=1 output does not mention hakmem"
  # the issue's list: per-class allocs, frees, refills, remote frees,
  # superslab counts, syscall counts; and sort's allocations were counted
  for word in allocs frees refills remote_frees superslabs mmap; do
    grep -q "$word" "$T/s.err" || fail "HAKMEM_STATS=1 output has no '$word'"
  done
  n=$(sed -n 's/.*[^_]allocs=\([0-9][0-9]*\).*/\1/p' "$T/s.err" | head -n 1)
  [ "${n:-0}" -gt 0 ] || fail "HAKMEM_STATS=1 reports no allocations for sort (allocs=${n:-missing})"
  echo "preload_test[stats]: $(wc -l <"$T/s.err") lines of stats on stderr"
  ;;
*)
  echo "preload_test: unknown case $CASE"
  exit 2
  ;;
esac
echo "preload_test[$CASE]: PASS"
exit 0
