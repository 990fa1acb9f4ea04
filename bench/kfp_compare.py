"""Times `mlopsgen build` of the flagship against kfp compiling the flagship's DSL twin.

    python3 bench/kfp_compare.py --mlopsgen-bin target/release/mlopsgen \
        --python /path/to/venv/bin/python [--runs 11]

Both sides are timed as whole processes (start-up and imports included), each run into a fresh
directory, and the median of N runs is reported:

- mlopsgen: `mlopsgen build specs/flagship.yaml --out <dir>`, every target, both environments;
- kfp: a Python process that imports the twin (`tests/conformance/kfp_parity/flagship.py`: kfp
  2.17.3 + google-cloud-pipeline-components 2.22.0) and compiles its two pipelines to JSON, one
  environment. `--python` must have those packages.
"""
import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KFP_SCRIPT = """
import sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {twins!r})
import flagship
from kfp import compiler
for name, func in flagship.PIPELINES.items():
    compiler.Compiler().compile(func, f"{{sys.argv[1]}}/{{name}}.json")
"""
IMPORTS_ONLY = """
import sys, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, {twins!r})
import flagship
"""


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_of(runs, make_cmd):
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as out:
            times.append(timed(make_cmd(out)))
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mlopsgen-bin", default=str(REPO / "target" / "release" / "mlopsgen"))
    parser.add_argument("--python", default="python3", help="a Python with kfp and GCPC installed")
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    spec = REPO / "specs" / "flagship.yaml"
    twins = str(REPO / "tests" / "conformance" / "kfp_parity")
    script, imports = KFP_SCRIPT.format(twins=twins), IMPORTS_ONLY.format(twins=twins)
    # One untimed run of each warms the file cache.
    median_of(1, lambda out: [args.mlopsgen_bin, "build", str(spec), "--out", out])
    median_of(1, lambda out: [args.python, "-c", script, out])
    ours = median_of(args.runs, lambda out: [args.mlopsgen_bin, "build", str(spec), "--out", out])
    theirs = median_of(args.runs, lambda out: [args.python, "-c", script, out])
    imported = median_of(args.runs, lambda out: [args.python, "-c", imports, out])
    print(f"mlopsgen build (flagship, all targets, 2 environments): median {ours * 1000:.1f} ms over {args.runs} runs")
    print(f"kfp compile (flagship DSL twin, 2 pipelines, 1 environment): median {theirs * 1000:.1f} ms over {args.runs} runs")
    print(f"  of which importing the DSL (kfp, GCPC, aiplatform): median {imported * 1000:.1f} ms")
    print(f"kfp / mlopsgen: {theirs / ours:.1f}x")


if __name__ == "__main__":
    main()
