"""Wall time of a finished study, per stage and in total, from Snakemake's own records.

Reads the `benchmark:` TSVs of every job (benchmarks/<run>/...) and the newest Snakemake log, and
prints seconds per rule (summed over jobs, and the jobs' count) and the study's wall time.

    make run && python benchmarks/study_time.py --run toy
"""

from __future__ import annotations

import argparse
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pandas as pd

STAGES = [("base/", "toy pretraining"), ("debate-", "debate"), ("agents/", "finetune")]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", default="toy")
    p.add_argument("--workdir", default=".")
    args = p.parse_args()
    wd = Path(args.workdir)
    seconds, jobs = defaultdict(float), defaultdict(int)
    for f in sorted((wd / "benchmarks" / args.run).rglob("*.tsv")):
        stage = next((name for key, name in STAGES if key in str(f)), "other")
        seconds[stage] += float(pd.read_csv(f, sep="\t")["s"].iloc[0])
        jobs[stage] += 1
    for stage in [name for _, name in STAGES] + ["other"]:
        if jobs[stage]:
            print(f"{stage:16s} {jobs[stage]:3d} jobs {seconds[stage]:8.1f} s of job time")
    logs = sorted((wd / ".snakemake" / "log").glob("*.snakemake.log"))
    if logs:
        stamps = [datetime.strptime(m, "%a %b %d %H:%M:%S %Y")
                  for m in re.findall(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]", logs[-1].read_text(), re.M)]
        if stamps:
            total = (max(stamps) - min(stamps)).total_seconds()
            print(f"wall time of the last snakemake invocation: {total:.0f} s ({total / 60:.1f} min)")


if __name__ == "__main__":
    main()
