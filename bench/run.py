"""Whole-process benchmarks of mlopsgen, with the kfp comparison, as one Markdown report.

    python3 bench/run.py [--python VENV/bin/python] [--runs 7] [--sizes 1,10,100,1000]
                         [--kfp-sizes 1,10] [--steps 5] [--no-build] [--report FILE]

It builds the release binaries (`mlopsgen`, and `specgen` and `readtree` from `bench/`), writes
specs of N pipelines x M steps with `specgen` (and their kfp DSL twins), then times, as whole
processes and as the median of `--runs` runs each:

- `mlopsgen build` into a fresh directory;
- `mlopsgen build --check` of an up-to-date tree (the no-op a pre-commit hook runs), with its memo
  and with `MLOPSGEN_NO_MEMO=1` (a full compile);
- `mlopsgen diff` with nothing to report;
- `readtree`: read and sha256 every file of the output tree, the least an up-to-date check that
  trusts no timestamps must do (the baseline for `build --check`);
- kfp compiling the same pipelines from their DSL twin (the flagship's hand-written twin, and the
  generated twins for `--kfp-sizes`), imports included, as a kfp user's compile step runs.

Wall time is what the targets are about; CPU time (user + sys) is reported beside it because the
development machine is shared and noisy. Peak RSS is the largest `ru_maxrss` over the runs.
"""
import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
import kfp_compare

TARGET = REPO / "target" / "release"
TWINS = REPO / "tests" / "conformance" / "kfp_parity"


class Sample:
    """Medians of wall and CPU time (seconds) and the peak RSS (KiB) of one command."""

    def __init__(self, walls, cpus, rss):
        self.wall = statistics.median(walls)
        self.cpu = statistics.median(cpus)
        self.rss = max(rss)
        self.runs = len(walls)


def run_once(cmd, expect=(0,), env=None):
    """Runs a command (with extra `env` variables); returns (wall seconds, user+sys seconds, max RSS KiB)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in expect:
        err = proc.stderr.read().decode(errors="replace")[-2000:]
        raise SystemExit(f"{' '.join(map(str, cmd))} exited {code}:\n{err}")
    proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def measure(runs, make_cmd, before=None, expect=(0,), env=None):
    """Median over `runs` runs, after one untimed warm-up; `before()` runs untimed before each."""
    walls, cpus, rss = [], [], []
    for i in range(runs + 1):
        if before:
            before()
        wall, cpu, peak = run_once(make_cmd(), expect, env)
        if i:  # the first run warms the page cache
            walls.append(wall)
            cpus.append(cpu)
            rss.append(peak)
    return Sample(walls, cpus, rss)


def bench_spec(args, spec, work):
    """The four mlopsgen measurements and the baseline for one spec."""
    mlopsgen, readtree = args.mlopsgen, str(TARGET / "readtree")
    out = work / "out"
    fresh = lambda: shutil.rmtree(out, ignore_errors=True)
    memo = {"MLOPSGEN_CACHE_DIR": str(work / "memo")}
    build = lambda: [mlopsgen, "build", str(spec), "--out", str(out)]
    check = lambda: [mlopsgen, "build", "--check", str(spec), "--out", str(out)]
    row = {"build": measure(args.runs, build, before=fresh, env=memo)}
    run_once(build(), env=memo)
    # what a pre-commit hook runs: the memo of the last up-to-date compile, then re-hashing the tree
    row["check"] = measure(args.runs, check, env=memo)
    # the same check compiling the spec again (as after an mlopsgen upgrade or any doubt)
    row["check_full"] = measure(args.runs, check, env={**memo, "MLOPSGEN_NO_MEMO": "1"})
    row["diff"] = measure(args.runs, lambda: [mlopsgen, "diff", str(spec), "--out", str(out)])
    row["read"] = measure(args.runs, lambda: [readtree, str(out)])
    row["files"] = sum(len(files) for _, _, files in os.walk(out))
    row["bytes"] = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    fresh()
    return row


KFP_GENERATED = """
import sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {twins!r})
sys.path.insert(0, {here!r})
import {module} as twin
from kfp import compiler
for name, func in twin.PIPELINES.items():
    compiler.Compiler().compile(func, f"{{sys.argv[1]}}/{{name}}.json")
"""


def bench_kfp(args, dsl: Path, runs):
    """kfp compiling every pipeline of a generated DSL twin (imports included)."""
    script = KFP_GENERATED.format(twins=str(TWINS), here=str(dsl.parent), module=dsl.stem)
    out = dsl.parent / f"{dsl.stem}-kfp-out"

    def fresh():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

    return measure(runs, lambda: [args.python, "-c", script, str(out)], before=fresh)


def bench_kfp_flagship(args, work):
    """kfp compiling the flagship's hand-written DSL twin (`bench/kfp_compare.py`'s script)."""
    script = kfp_compare.KFP_SCRIPT.format(twins=str(TWINS))
    out = work / "kfp-flagship"

    def fresh():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

    return measure(args.runs, lambda: [args.python, "-c", script, str(out)], before=fresh)


def ms(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds < 10 else f"{seconds:.1f} s"


def mb(kib):
    return f"{kib / 1024:.1f} MB"


def verdict(ok):
    return "met" if ok else "**not met**"


def machine():
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}"


def load():
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


def report(args, rows, kfp_rows, flagship_kfp, started_load):
    fl = rows["flagship"]
    sizes = [n for n in args.sizes if n in rows]
    lines = []
    add = lines.append
    add(f"Machine: {machine()}; load average {started_load} at the start, {load()} at the end; "
        f"output trees in {args.tmp or tempfile.gettempdir()}.")
    add(f"Every figure is the median of {args.runs} whole-process runs (wall time; CPU = user + sys in brackets);")
    add(f"generated specs have {args.steps} steps per pipeline. `mlopsgen build` writes every target for 2 environments.")
    add("")
    add("| target | measured | ratio / figure | verdict |")
    add("|---|---|---|---|")
    if flagship_kfp:
        ratio = flagship_kfp.wall / fl["build"].wall
        add(f"| flagship `build` ≥ 200× faster than kfp compiling its pipelines | {ms(fl['build'].wall)} vs kfp {ms(flagship_kfp.wall)} "
            f"| **{ratio:.0f}×** | {verdict(ratio >= 200)} |")
    v, b = rows["minimal"], fl["build"]
    add(f"| `validate specs/minimal.yaml` ≤ 2 ms | {ms(v.wall)} (CPU {ms(v.cpu)}) | {ms(v.wall)} | {verdict(v.wall <= 0.002)} |")
    add(f"| flagship `build` into a fresh directory ≤ 5 ms | {ms(b.wall)} (CPU {ms(b.cpu)}) | {ms(b.wall)} | {verdict(b.wall <= 0.005)} |")
    chk, rd = fl["check"], fl["read"]
    add(f"| flagship no-op `build --check` in single-digit ms | {ms(chk.wall)} (CPU {ms(chk.cpu)}) | {ms(chk.wall)} | {verdict(chk.wall < 0.010)} |")
    full = fl["check_full"]
    add(f"| … the same check with the memo disabled (full compile) | {ms(full.wall)} (CPU {ms(full.cpu)}) | {ms(full.wall)} | (no target) |")
    add(f"| … within 3× of reading the output tree | read+hash {ms(rd.wall)} (CPU {ms(rd.cpu)}) "
        f"| **{chk.wall / rd.wall:.1f}×** (CPU {chk.cpu / rd.cpu:.1f}×) | {verdict(chk.wall <= 3 * rd.wall)} |")
    if 1000 in rows:
        b = rows[1000]["build"]
        add(f"| 1000 pipelines `build` under 1 s | {ms(b.wall)} (CPU {ms(b.cpu)}) | {ms(b.wall)} | {verdict(b.wall < 1)} |")
        if 100 in rows:
            r = b.wall / rows[100]["build"].wall
            rc = b.cpu / rows[100]["build"].cpu
            add(f"| time(1000) / time(100) ≤ 12 | {ms(rows[100]['build'].wall)} → {ms(b.wall)} | **{r:.1f}** (CPU {rc:.1f}) | {verdict(r <= 12)} |")
        peak = max(rows[1000][k].rss for k in ("build", "check", "check_full", "diff"))
        add(f"| 1000 pipelines peak RSS under 50 MB | build {mb(b.rss)}, check {mb(rows[1000]['check'].rss)}, diff {mb(rows[1000]['diff'].rss)} "
            f"| {mb(peak)} | {verdict(peak < 50 * 1024)} |")
    add("")
    add("| spec | files | bytes | `build` | `build --check` | `--check`, no memo | `diff` | read+hash tree | check / read | peak RSS (build) |")
    add("|---|---|---|---|---|---|---|---|---|---|")
    for key in ["flagship"] + sizes:
        r = rows[key]
        name = "flagship" if key == "flagship" else f"N = {key}"
        add(f"| {name} | {r['files']} | {r['bytes'] / 1e6:.1f} MB | {ms(r['build'].wall)} ({ms(r['build'].cpu)}) "
            f"| {ms(r['check'].wall)} ({ms(r['check'].cpu)}) | {ms(r['check_full'].wall)} ({ms(r['check_full'].cpu)}) | {ms(r['diff'].wall)} ({ms(r['diff'].cpu)}) "
            f"| {ms(r['read'].wall)} ({ms(r['read'].cpu)}) | {r['check'].wall / r['read'].wall:.1f}× | {mb(r['build'].rss)} |")
    if flagship_kfp or kfp_rows:
        add("")
        add("| pipelines | kfp compile (imports included) | `mlopsgen build` (all targets, 2 envs) | kfp / mlopsgen |")
        add("|---|---|---|---|")
        if flagship_kfp:
            add(f"| flagship (2, hand-written twin, 1 env) | {ms(flagship_kfp.wall)} | {ms(fl['build'].wall)} | **{flagship_kfp.wall / fl['build'].wall:.0f}×** |")
        for n, k in kfp_rows.items():
            add(f"| N = {n} (generated twin, 1 env; {k.runs} runs) | {ms(k.wall)} | {ms(rows[n]['build'].wall)} | **{k.wall / rows[n]['build'].wall:.0f}×** |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", default=os.environ.get("KFP_PYTHON", ""),
                        help="a Python with kfp 2.17 and GCPC 2.22 (default $KFP_PYTHON, else "
                             "$MLOPSGEN_TOOLS/venv-main/bin/python from tests/conformance/setup.sh; skipped if absent)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--sizes", default="1,10,100,1000")
    parser.add_argument("--kfp-sizes", default="1,10,100", help="generated specs kfp compiles too ('' for none)")
    parser.add_argument("--kfp-runs", type=int, default=5)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--no-build", action="store_true", help="use the binaries already in target/release")
    parser.add_argument("--mlopsgen", default=str(TARGET / "mlopsgen"),
                        help="the mlopsgen binary to time (default: target/release/mlopsgen), e.g. an older build")
    parser.add_argument("--report", type=Path, help="also write the Markdown report to this file")
    parser.add_argument("--tmp", help="where output trees go (default: the system temp dir; tmpfs such as "
                                      "/dev/shm leaves the disk's state out of the figures)")
    args = parser.parse_args()
    args.sizes = [int(n) for n in args.sizes.split(",") if n]
    kfp_sizes = [int(n) for n in args.kfp_sizes.split(",") if n]
    if not args.python:
        tools = Path(os.environ.get("MLOPSGEN_TOOLS", REPO / "target" / "conformance-tools"))
        candidate = tools / "venv-main" / "bin" / "python"
        args.python = str(candidate) if candidate.exists() else ""
    started_load = load()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "-q", "--bin", "mlopsgen", "-p", "mlopsgen",
                        "--bin", "specgen", "--bin", "readtree", "-p", "mlopsgen-bench"], cwd=REPO, check=True)
    rows, kfp_rows, flagship_kfp = {}, {}, None
    with tempfile.TemporaryDirectory(prefix="mlopsgen-bench-", dir=args.tmp) as tmp:
        work = Path(tmp)
        print("flagship: mlopsgen …", file=sys.stderr)
        rows["flagship"] = bench_spec(args, REPO / "specs" / "flagship.yaml", work)
        # start-up cost (issue 20): the smallest spec, checked without writing anything
        rows["minimal"] = measure(args.runs, lambda: [args.mlopsgen, "validate", str(REPO / "specs" / "minimal.yaml")])
        if args.python:
            print("flagship: kfp …", file=sys.stderr)
            flagship_kfp = bench_kfp_flagship(args, work)
        for n in args.sizes:
            spec, dsl = work / f"bench{n}.yaml", work / f"bench_twin_{n}.py"
            subprocess.run([str(TARGET / "specgen"), str(n), str(args.steps), str(spec), str(dsl)], check=True)
            print(f"N = {n}: mlopsgen …", file=sys.stderr)
            rows[n] = bench_spec(args, spec, work)
            if args.python and n in kfp_sizes:
                print(f"N = {n}: kfp …", file=sys.stderr)
                kfp_rows[n] = bench_kfp(args, dsl, args.kfp_runs)
    text = report(args, rows, kfp_rows, flagship_kfp, started_load)
    print(text)
    if args.report:
        args.report.write_text(text)


if __name__ == "__main__":
    main()
