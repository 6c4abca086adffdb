#!/usr/bin/env python3
"""Extra false-alarm checks of 2026-12-08 (issue 18): real programs beyond
bench/realprog's inputs, each run under glibc, hakmem hardened and hakmem
debug (default options); a run fails on a non-zero exit, a 'hakmem:' line
on stderr, or (where compared) output that differs from glibc's."""
import hashlib, os, re, shutil, subprocess, sys, time
ROOT = sys.argv[1]
LIBS = {"glibc": None,
        "release": os.path.join(ROOT, "build/release/lib/libhakmem.so"),
        "hardened": os.path.join(ROOT, "build/hardened/lib/libhakmem.so"),
        "debug": os.path.join(ROOT, "build/debug/lib/libhakmem.so")}
W = "/tmp/rp/extra"
GENV = {"HOME": W, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@h", "GIT_COMMITTER_NAME": "b",
        "GIT_COMMITTER_EMAIL": "b@h"}
import glob
csrc = sorted(glob.glob(ROOT + "/allocator/*.c") + glob.glob(ROOT + "/verify/lib/*.c") +
              glob.glob(ROOT + "/verify/tools/*.c"))
incs = sum((["-I", os.path.join(ROOT, d)] for d in ("allocator", "allocator/include", "verify/include", "verify/lib")), [])
PYT = ["test_itertools", "test_functools", "test_struct", "test_array", "test_weakref",
       "test_gc", "test_pickle", "test_sort", "test_string",
       "test_textwrap", "test_deque", "test_heapq", "test_bisect", "test_tuple",
       "test_long", "test_float", "test_decimal"]
STEPS = [
  ("git-clone-main", ["git", "clone", "-q", "--no-local", "--mirror", "/tmp/rp/snap.git", W + "/repo"], False, GENV),
  ("git-log-main", ["git", "-C", W + "/repo", "log", "-p", "--stat", "--all"], True, GENV),
  ("git-blame", ["git", "-C", W + "/repo", "blame", "HEAD", "--", "allocator/class.c"], True, GENV),
  ("git-gc-main", ["git", "-C", W + "/repo", "gc", "-q", "--aggressive"], False, GENV),
  ("git-fsck-main", ["git", "-C", W + "/repo", "fsck", "--full", "--no-progress"], True, GENV),
  ("git-grep", ["git", "-C", W + "/repo", "grep", "-n", "hk_", "HEAD~20"], True, GENV),
  ("gcc-project", ["gcc", "-O2", "-g", "-std=gnu11", "-pthread", "-w", "-fsyntax-only", "-DHAKMEM_CHECK_LEVEL=0",
                   "-DHAKMEM_VARIANT_NAME=\"release\""] + incs + csrc, False, {}),
  ("gcc-O2-c", ["gcc", "-O2", "-g", "-pthread", "-w", "-c", "-DHAKMEM_CHECK_LEVEL=0",
                "-DHAKMEM_VARIANT_NAME=\"release\""] + incs + [s for s in csrc if "/allocator/" in s], False, {}),
  ("python3-tests", ["/usr/bin/python3", "-m", "test", "-q"] + PYT, False,
   {"PYTHONMALLOC": "malloc", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0"}),
]
only = sys.argv[2].split(",") if len(sys.argv) > 2 else None
fails, ref = 0, {}
for lib in LIBS:
    if os.path.exists(W): shutil.rmtree(W, ignore_errors=True)
    os.makedirs(W)
    for name, argv, cmp, env in STEPS:
        if only and not any(name.startswith(o) for o in only): continue
        e = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("HAKMEM_")}
        e.update(env)
        if LIBS[lib]: e["LD_PRELOAD"] = LIBS[lib]
        t0 = time.time()
        p = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + argv, env=e, cwd=W,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        err = p.stderr.decode(errors="replace")
        tm = err.strip().splitlines()[-1] if err.strip() else "?"
        sha = hashlib.sha256(p.stdout).hexdigest()[:12]
        st = "ok"
        if re.search(r"^hakmem: ", err, re.M): st = "REPORT " + re.search(r"^hakmem: .*$", err, re.M).group(0)
        elif p.returncode: st = "EXIT %d %s" % (p.returncode, " | ".join(err.strip().splitlines()[-3:-1]))
        elif cmp and ref.setdefault(name, sha) != sha: st = "OUTPUT DIFFERS"
        if st != "ok": fails += 1
        print("%-9s %-15s %-40s wall,maxKiB=%s out=%s" % (lib, name, st[:200], tm, sha if cmp else "-"), flush=True)
print("failures:", fails)
sys.exit(1 if fails else 0)
