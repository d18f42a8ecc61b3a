"""Time one job of a finished study with and without extra environment variables, interleaved.

Takes the job's own shell command from Snakemake (`snakemake -n -p -f TARGET`), points its output at a
scratch path, and runs it `--repeats` times each way, alternating (the machine's speed drifts by 10-15%
between minutes; alternating spreads that over both). Run it alone, from the study's folder:

    python benchmarks/job_env.py results/toy/toy/arithmetic/maft/iter1/debate-test.parquet \
        --env GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967296

Prints wall, user and system seconds of every run, their medians, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shlex
import statistics
import subprocess
import tempfile
import time
from pathlib import Path


def job_command(target: str, snakemake_args: list[str]) -> list[str]:
    out = subprocess.run(["snakemake", "-n", "-p", "-f", target, *snakemake_args], capture_output=True, text=True,
                         check=True).stdout
    line = next((ln for ln in out.splitlines() if "python scripts/" in ln), None)
    if line is None:
        raise SystemExit(f"no job makes {target} (is it an output of a rule with a `python scripts/` command?)")
    line = re.sub(r"^\s*(Shell command:)?\s*", "", line)
    return shlex.split(line.split(" 2> ")[0])


def run(argv: list[str], env: dict) -> tuple[float, float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", help="an output file or folder of the job")
    p.add_argument("--env", action="append", required=True, help="NAME=VALUE added for the second way")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--snakemake-args", default="", help="e.g. '--configfile my.yaml'")
    args = p.parse_args()
    argv = job_command(args.target, shlex.split(args.snakemake_args))
    scratch = Path(tempfile.mkdtemp(prefix="job_env-"))
    i = argv.index("--out")
    argv[i + 1] = str(scratch / Path(argv[i + 1]).name)
    extra = dict(kv.split("=", 1) for kv in args.env)
    ways = {"baseline": dict(os.environ), "with env": {**os.environ, **extra}}
    times = {name: [] for name in ways}
    for k in range(args.repeats):
        for name, env in (ways.items() if k % 2 == 0 else reversed(ways.items())):
            t = run(argv, env)
            times[name].append(t)
            print(f"{name:9s} run {k + 1}: {t[0]:7.1f} s wall {t[1]:7.1f} s user {t[2]:6.1f} s sys", flush=True)
    med = {name: [statistics.median(x[j] for x in ts) for j in range(3)] for name, ts in times.items()}
    for name, (w, u, s) in med.items():
        print(f"{name:9s} median: {w:7.1f} s wall {u:7.1f} s user {s:6.1f} s sys (user + sys {u + s:.1f})")
    (wb, ub, sb), (we, ue, se) = med["baseline"], med["with env"]
    print(f"with env / baseline: wall {we / wb:.3f}, user + sys {(ue + se) / (ub + sb):.3f}  ({' '.join(args.env)})")


if __name__ == "__main__":
    main()
