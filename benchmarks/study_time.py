"""Wall time of a finished study, per stage and in total, from Snakemake's own records.

Reads the `benchmark:` TSVs of every job (benchmarks/<run>/..., classified as the report does) and
the newest Snakemake log, and prints seconds per stage (summed over jobs, and the jobs' count) and
the wall time of the last Snakemake invocation.

    make run && python benchmarks/study_time.py --run toy
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime
from pathlib import Path

from maft.report import stage_times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", default="toy")
    p.add_argument("--workdir", default=".")
    args = p.parse_args()
    wd = Path(args.workdir)
    for r in stage_times(wd / "benchmarks" / args.run).itertuples():
        print(f"{r.stage:12s} {r.jobs:4d} jobs {r.wall_s:8.1f} s of job time")
    logs = sorted((wd / ".snakemake" / "log").glob("*.snakemake.log"))
    if logs:
        stamps = [datetime.strptime(m, "%a %b %d %H:%M:%S %Y")
                  for m in re.findall(r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]", logs[-1].read_text(), re.M)]
        if stamps:
            total = (max(stamps) - min(stamps)).total_seconds()
            print(f"wall time of the last snakemake invocation: {total:.0f} s ({total / 60:.1f} min)")


if __name__ == "__main__":
    main()
