"""benchlib.py - what bench/run, bench/sweep and bench/report share.

Allocator specs and their libraries, workload specs, locating the bench
programs, running one program once under one allocator (with the identity
checks), parsing its result line, small statistics helpers, progress on
stderr, and the date/machine/commit/command header of every report.
Python 3 standard library only.
"""
import csv
import datetime
import glob
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
RELEASE_SO = os.path.join(REPO, "build", "release", "lib", "libhakmem.so")
LIBDIR = "/lib/x86_64-linux-gnu"
# LLVM's scudo (hardened allocator), from libclang-rt-14-dev (ci/setup).
SCUDO_GLOB = "/usr/lib/llvm-*/lib/clang/*/lib/linux/" \
    "libclang_rt.scudo_standalone-x86_64.so"
SCUDO = (sorted(glob.glob(SCUDO_GLOB)) or [SCUDO_GLOB])[-1]
PEERS = {
    "jemalloc": LIBDIR + "/libjemalloc.so.2",
    "mimalloc": LIBDIR + "/libmimalloc.so.2",
    "tcmalloc": LIBDIR + "/libtcmalloc_minimal.so.4",
    "scudo": SCUDO,
}
# Peers the programs name by their library's file name (common.c knows
# jemalloc, mimalloc and tcmalloc by name): --expect is their path.
BY_PATH = {"scudo"}
HAKMEM = {  # label -> (build preset, variant the library must report)
    "hakmem": ("release", None),
    "hakmem-hardened": ("hardened", "hardened"),
    "hakmem-debug": ("debug", "debug"),
}
WORKLOADS = ["random_mixed", "tiny_hot", "tiny_hot_held", "larson",
             "mid_large_mt", "rss_tiny", "whale", "realloc_grow",
             "json", "mir", "vm", "frag", "vmlimit", "large_blocks", "burst",
             "prodcons", "churn", "false_sharing", "lifetimes"]
# --smoke: every program (larson in both modes) briefly, to check it runs and
# prints a well-formed line.
SMOKE = ["random_mixed:--ops=20000", "tiny_hot:--ops=20000",
         "tiny_hot_held:--ops=20000",
         "larson:--ops=20000 --round=1000 --ms=0",
         "larson:--mode=pc --ops=20000 --ms=0",
         "larson:--ops=20000 --round=1000 --ms=0 --sized=1",
         "mid_large_mt:--ops=20000",
         "rss_tiny:--count=1000", "whale:--ops=20 --pages=1",
         "realloc_grow:--ops=20000",
         "json:--iters=5", "mir:--iters=2", "vm:--iters=2",
         "frag:--rounds=2 --count=2000",
         "prodcons:--ops=20000 --ms=0", "prodcons:--threads=1 --ops=2000 --ms=0",
         "churn:--gens=3 --ms=0", "churn:--gens=2 --ms=0 --log=1 --max=64K",
         "false_sharing:--ops=1000 --ms=0",
         "false_sharing:--mode=passive --ops=1000 --ms=0",
         "lifetimes:--ops=20000 --ms=0"]
# What bench/run runs without workload arguments: every program with its
# defaults, plus the variants worth a line of their own.
DEFAULT_WORKLOADS = ["random_mixed", "tiny_hot", "tiny_hot_held", "larson",
                     "larson:--mode=pc", "mid_large_mt", "rss_tiny", "whale",
                     "whale:--pages=1", "realloc_grow", "json", "mir", "vm",
                     "frag", "prodcons", "prodcons:--batch=1", "churn",
                     "churn:--log=1 --max=256K",
                     "false_sharing", "false_sharing:--mode=passive",
                     "larson:--sized=1", "lifetimes"]
DEFAULT_ALLOCATORS = ["glibc", "jemalloc", "mimalloc", "tcmalloc"]
# Named sets for -a (mixable with single names): 'hardened' is the
# hardening issue's comparison, release against hardened against scudo.
ALLOCATOR_SETS = {
    "hardened": ["hakmem", "hakmem-hardened", "scudo"],
    "peers": ["glibc", "jemalloc", "mimalloc", "tcmalloc", "scudo"],
}
FIELDS = ["bench", "allocator", "variant", "path", "ops", "secs",
          "ops_per_sec", "ns_per_op", "minflt", "rss_delta_kb",
          "peak_rss_kb"]
# Printed by the programs but not required (older builds lack them).
OPTIONAL_FIELDS = ["cpu_secs", "cpu_ns_per_op"]
CSV_COLUMNS = (["time", "workload", "rep", "label", "preload", "status"]
               + FIELDS + OPTIONAL_FIELDS + ["ir", "ir_per_op", "params",
                                            "line"])
# --metric: wall time per op (throughput) or CPU time per op (all threads;
# excludes time the process was preempted, steadier on a shared machine).
METRICS = {"wall": "ns_per_op", "cpu": "cpu_ns_per_op"}


class Fail(Exception):
    """A setup or run error that ends bench/run."""


class Alloc:
    def __init__(self, label, preload, expect, variant=None):
        self.label, self.preload = label, preload
        self.expect, self.variant = expect, variant


def parse_alloc(spec, opts):
    """glibc, a peer name, hakmem[-hardened|-debug], or NAME=/path.so."""
    if "=" in spec:
        label, path = spec.split("=", 1)
        path = os.path.abspath(path)
        alloc = Alloc(label, path, path)
    elif spec == "glibc":
        alloc = Alloc("glibc", None, "glibc")
    elif spec in PEERS:
        alloc = Alloc(spec, PEERS[spec],
                      PEERS[spec] if spec in BY_PATH else spec)
    elif spec in HAKMEM:
        preset, variant = HAKMEM[spec]
        given = {"hakmem": opts.hakmem,
                 "hakmem-hardened": opts.hakmem_hardened}.get(spec)
        path = os.path.abspath(given or os.path.join(
            REPO, "build", preset, "lib", "libhakmem.so"))
        alloc = Alloc(spec, path,
                      "hakmem:" + variant if variant else "hakmem", variant)
    else:
        raise Fail("unknown allocator '%s' (glibc, %s, %s or NAME=/path.so)"
                   % (spec, ", ".join(PEERS), ", ".join(HAKMEM)))
    if alloc.preload and not os.path.isfile(alloc.preload):
        raise Fail("allocator %s: no library at %s%s" % (
            alloc.label, alloc.preload,
            " (build it first, or pass --hakmem)" if spec in HAKMEM else ""))
    return alloc


def parse_workload(spec):
    """'name' or 'name:ARGS' (ARGS split like a shell would)."""
    name, _, rest = spec.partition(":")
    if name not in WORKLOADS:
        raise Fail("unknown workload '%s' (one of: %s)"
                   % (name, " ".join(WORKLOADS)))
    return spec, name, shlex.split(rest)


def find_bin(opts):
    """The directory that holds the bench programs."""
    cands = [opts.bin, os.environ.get("BENCH_BIN"),
             os.path.join(REPO, "build", "release", "bin")]
    cands += sorted(glob.glob(os.path.join(REPO, "build", "*", "bin")))
    for d in cands:
        if d and os.access(os.path.join(d, "random_mixed"), os.X_OK):
            return os.path.abspath(d)
    raise Fail("no bench programs found (tried %s); build them, or pass "
               "--bin DIR" % ", ".join(c for c in cands if c))


def parse_line(text):
    """The 'bench=...' line of a program's stdout as a dict, or None."""
    for line in text.splitlines():
        if line.startswith("bench="):
            kv = dict(t.split("=", 1) for t in line.split() if "=" in t)
            kv["line"] = line
            return kv
    return None


def run_one(opts, bindir, workload, alloc, callgrind=False,
            env_extra=None):
    """Runs one program once; returns the parsed result dict (status "ok",
    or the failure).  env_extra: variables to set for this run only."""
    spec, prog, wargs = workload
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("BENCH_EXPECT", None)
    env.update(env_extra or {})
    if alloc.preload:
        env["LD_PRELOAD"] = alloc.preload
    cmd = [os.path.join(bindir, prog)] + wargs + ["--expect", alloc.expect]
    if callgrind:
        cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
               "--callgrind-out-file=/dev/null"] + cmd
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                           timeout=opts.timeout)
    except subprocess.TimeoutExpired:
        return {"status": "timeout"}
    if p.returncode == 3:
        lines = p.stderr.strip().splitlines() or ["(no message)"]
        raise Fail("%s under %s: wrong allocator: %s" % (
            spec, alloc.label, lines[-1]))
    res = parse_line(p.stdout)
    if p.returncode != 0 or res is None:
        tail = " | ".join(p.stderr.strip().splitlines()[-3:])
        return {"status": "exit %d: %s" % (p.returncode, tail)}
    bad = [f for f in FIELDS if f not in res]
    try:
        float(res.get("ns_per_op", "x"))
        int(res.get("ops", "x"))
    except ValueError:
        bad.append("numbers")
    if bad or res["bench"] != prog:
        return {"status": "malformed line (%s): %s"
                % (",".join(bad) or "bench", res["line"])}
    check_identity(spec, alloc, res)
    res["status"] = "ok"
    if callgrind:
        m = re.search(r"Collected\s*:\s*([\d,]+)", p.stderr)
        ir = int(m.group(1).replace(",", "")) if m else 0
        ops = int(res.get("ops", "0") or 0)
        if ir and ops:
            res["ir"], res["ir_per_op"] = ir, "%.1f" % (ir / ops)
    return res


def check_identity(spec, alloc, res):
    """Second check, on the printed line, of what --expect already checked."""
    got, path = res.get("allocator", "?"), res.get("path", "")
    want = alloc.expect.split(":")[0]
    ok = (got == want or (alloc.preload and alloc.expect == alloc.preload
                          and path == alloc.preload))
    if alloc.variant and res.get("variant") != alloc.variant:
        ok = False
    if not ok:
        raise Fail("%s under %s: the run reports allocator=%s variant=%s "
                   "path=%s" % (spec, alloc.label, got, res.get("variant"),
                                path))


def fnum(x, nd=2):
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return "%.0f" % x
    return ("%." + str(nd) + "f") % x


def med(vals):
    return statistics.median(vals) if vals else None


def column(rows, key):
    out = []
    for r in rows:
        try:
            out.append(float(r[key]))
        except (KeyError, ValueError, TypeError):
            pass
    return out




# A row whose runs spread wider than this around their median (either way)
# is not ranked: its ratio to the baseline would not decide anything.
SPREAD_LIMIT = 0.10


def spread(s):
    """The larger relative distance of min or max from the median."""
    if not s.get("med"):
        return 0.0
    return max(s["max"] / s["med"] - 1.0, 1.0 - s["min"] / s["med"])


def pick_baseline(stats, given=None):
    """The given label if it has data, else the fastest median among the
    rows within SPREAD_LIMIT (the fastest of all when none is)."""
    have = [l for l in stats if stats[l].get("med") is not None]
    if given in have:
        return given
    steady = [l for l in have if spread(stats[l]) <= SPREAD_LIMIT]
    return min(steady or have, key=lambda l: stats[l]["med"])


def rank_flag(s, base, is_base):
    """(ratio text, flag text) of a row against the baseline row: wide
    spreads are said instead of ranked; else 'noise' when the min-max
    ranges overlap, 'clear' when they do not."""
    ratio = fnum(s["med"] / base["med"]) if base["med"] else "-"
    sp, bsp = spread(s), spread(base)
    if s["n"] < 2:
        return ratio, "baseline (single run)" if is_base else "single run"
    if sp > SPREAD_LIMIT:
        return "-", "spread ±%s%%: not ranked" % pct(sp)
    if is_base:
        return ratio, "baseline (±%s%%)" % pct(sp)
    if s["n"] < 2 or base["n"] < 2:
        return ratio, "single run"
    if bsp > SPREAD_LIMIT:
        return "-", "baseline spread ±%s%%: not ranked" % pct(bsp)
    if s["min"] <= base["max"] and base["min"] <= s["max"]:
        return ratio, "noise (ranges overlap, ±%s%%)" % pct(sp)
    return ratio, "clear (±%s%%)" % pct(sp)


def pct(frac):
    """A spread as percent text: one decimal below 20%, so a row just over
    the limit does not read as 10%."""
    return "%.1f" % (100 * frac) if frac < 0.2 else "%.0f" % (100 * frac)


def add_common_args(ap):
    """The options every bench tool that runs programs takes."""
    ap.add_argument("-a", "--allocators", default=None,
                    help="comma-separated allocators or sets (%s; "
                    "default: %s, plus hakmem when "
                    "build/release/lib/libhakmem.so exists)"
                    % ("; ".join("%s = %s" % (k, ",".join(v)) for k, v in
                                 ALLOCATOR_SETS.items()),
                       ",".join(DEFAULT_ALLOCATORS)))
    ap.add_argument("--reps", type=int, default=5,
                    help="runs per workload and allocator (default 5)")
    ap.add_argument("--csv", help="write every raw line to this CSV")
    ap.add_argument("--hakmem", help="libhakmem.so for 'hakmem' (default "
                    "build/release/lib/libhakmem.so)")
    ap.add_argument("--hakmem-hardened", help="libhakmem.so for "
                    "'hakmem-hardened' (default build/hardened/lib/...)")
    ap.add_argument("--bin", help="directory of the bench programs "
                    "(default: $BENCH_BIN, build/release/bin, build/*/bin)")
    ap.add_argument("--metric", choices=sorted(METRICS), default="wall",
                    help="what ns/op means in the tables: wall time per op "
                    "(default) or process CPU time per op")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds a single run may take (default 300)")


def allocators(opts):
    """The Alloc list opts asks for (the default set when none)."""
    specs = opts.allocators.split(",") if opts.allocators else (
        DEFAULT_ALLOCATORS + (["hakmem"] if os.path.isfile(
            opts.hakmem or RELEASE_SO) else []))
    specs = [m for s in specs for m in ALLOCATOR_SETS.get(s.strip(), [s])]
    allocs = [parse_alloc(s.strip(), opts) for s in specs if s.strip()]
    if len({a.label for a in allocs}) != len(allocs):
        raise Fail("allocator labels must be distinct")
    return allocs


def csv_writer(path, columns):
    """(file, csv.DictWriter) with the header written, or (None, None)."""
    if not path:
        return None, None
    out = open(path, "w", newline="")
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    return out, writer


def params_of(res):
    """The program-specific tokens of a result line."""
    return " ".join(t for t in res.get("line", "").split()
                    if t.split("=", 1)[0] not in FIELDS + OPTIONAL_FIELDS)

def progress(msg, final=False):
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + msg + ("\n" if final else ""))
    else:
        sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def git_commit():
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short",
                               "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def header(tool, argv, load_before):
    """The date/machine/load/commit/command block; load_before is
    os.getloadavg() taken before the runs."""
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "\n".join([
        "## %s results" % tool, "",
        "- date: %s" % datetime.datetime.now(datetime.timezone.utc)
        .strftime("%Y-%m-%d %H:%M UTC"),
        "- machine: %s, %d cores, Linux %s, %s" % (
            cpu, os.cpu_count() or 0, platform.release(),
            platform.libc_ver()[0] + " " + platform.libc_ver()[1]),
        "- load average (1/5/15 min) before the runs: %.2f %.2f %.2f, "
        "after: %.2f %.2f %.2f" % (tuple(load_before) + os.getloadavg()),
        "- commit: %s" % git_commit(),
        "- command: `%s %s`" % (tool, " ".join(shlex.quote(a) for a in argv)),
        ""])


# --targets issue3: the "Must reach" figures of issue 3 (allocator core).
TARGET_SETS = {
    "issue3": ["random_mixed:hakmem:ns<=1.0*fastest",
               "tiny_hot:hakmem:ns<=1.0*fastest",
               "larson:hakmem:ns<=1.0*mimalloc",
               "random_mixed:hakmem:peak_rss<=1.1*mimalloc",
               "larson:hakmem:peak_rss<=1.1*mimalloc",
               "rss_tiny:hakmem:rss_delta<=1.25*glibc"],
}
# --targets issue20: its "Must reach" on the multi-threaded kinds and the
# single-threaded one (release at or below the fastest peer), and the
# hardening issue's bound for hardened on each (time within 1.5x release,
# peak RSS within 1.3x).
_ISSUE20 = ["prodcons", "prodcons:--batch=1", "churn",
            "churn:--log=1 --max=256K", "false_sharing",
            "false_sharing:--mode=passive", "larson", "larson:--sized=1",
            "larson:--mode=pc", "lifetimes"]
TARGET_SETS["issue20"] = (
    ["%s:hakmem:ns<=1.0*fastest" % w for w in _ISSUE20]
    + ["%s:hakmem-hardened:ns<=1.5*hakmem" % w for w in _ISSUE20]
    + ["%s:hakmem-hardened:peak_rss<=1.3*hakmem" % w for w in _ISSUE20])
# --targets issue18: the hardening issue's cost bound on every workload of
# the default set: hardened within 1.5x release and faster than scudo in
# time, within 1.3x release in peak RSS (run with -a hardened).
TARGET_SETS["issue18"] = (
    ["%s:hakmem-hardened:ns<=1.5*hakmem" % w for w in DEFAULT_WORKLOADS]
    + ["%s:hakmem-hardened:ns<=1.0*scudo" % w for w in DEFAULT_WORKLOADS]
    + ["%s:hakmem-hardened:peak_rss<=1.3*hakmem" % w
       for w in DEFAULT_WORKLOADS])
TARGET_KEYS = {"ns": None, "peak_rss": "peak_rss_kb",
               "rss_delta": "rss_delta_kb", "minflt": "minflt",
               "ir": "ir_per_op"}
TARGET_RE = re.compile(r"^(.+):([^:]+):(\w+)<=([0-9.]+)\*([\w.-]+)$")


def check_targets(exprs, results, cg, metric):
    """Markdown lines, one per target, and whether any failed.
    A target is WORKLOAD:LABEL:KEY<=FACTOR*REF with KEY one of ns (the
    --metric), peak_rss, rss_delta, minflt, ir, and REF an allocator label
    or 'fastest' (the smallest median among the other allocators)."""
    lines, failed = ["### targets", ""], False
    for expr in exprs:
        m = TARGET_RE.match(expr)
        if not m or m.group(3) not in TARGET_KEYS:
            raise Fail("bad target '%s' (want WORKLOAD:LABEL:KEY<=F*REF, "
                       "KEY in %s)" % (expr, ", ".join(TARGET_KEYS)))
        spec, label, key, factor, ref = m.groups()
        col = TARGET_KEYS[key] or metric
        src = cg if key == "ir" else results

        def vals(lab):
            return column([r for r in src.get((spec, lab), [])
                           if r.get("status") == "ok"], col)

        def value(lab):
            return med(vals(lab))
        got = value(label)
        others = {l: value(l) for (s, l) in src if s == spec and l != label}
        others = {l: v for l, v in others.items() if v is not None}
        if ref == "fastest" and others:
            peers = {l: v for l, v in others.items()
                     if not l.startswith("hakmem")} or others
            ref = min(peers, key=peers.get)
        want = others.get(ref)
        if got is None or want is None:
            lines.append("- %s: no data" % expr)
            failed = True
            continue
        ratio = got / want if want else float("inf")
        ok = ratio <= float(factor)
        failed |= not ok
        a, b = vals(label), vals(ref)
        noise = key != "ir" and len(a) > 1 and len(b) > 1 and \
            min(a) <= max(b) and min(b) <= max(a)
        wide = [max(max(v) / med(v) - 1, 1 - min(v) / med(v))
                for v in (a, b) if key == "ns" and len(v) > 1 and med(v)]
        note = ""
        if wide and max(wide) > SPREAD_LIMIT:
            note = "; undecided: runs spread ±%s%% (limit ±%.0f%%)" % (
                pct(max(wide)), 100 * SPREAD_LIMIT)
        elif noise:
            note = "; min-max ranges overlap: noise"
        lines.append("- %s %s: %s %s vs %s %s = %.3f× (limit %s×)%s" % (
            "PASS" if ok else "FAIL", expr, label, fnum(got), ref,
            fnum(want), ratio, factor, note))
    return lines + [""], failed
