"""Pool finished studies of the same design run with other seeds: Tables 1-2 averaged over the runs
(each run's accuracy beside it) and the paper's claims checked on the averaged differences.

    python scripts/pool_runs.py results/toy results/toy_seed1 --out results/pooled
"""

import argparse
from pathlib import Path

import pandas as pd

from maft import claims
from maft.artifacts import atomic_path
from maft.report import TABLE1, TABLE2, paper_table_markdown, pool_scores

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("runs", nargs="+", help="run folders (results/{run}) whose report/scores.csv exists")
p.add_argument("--out", required=True)
args = p.parse_args()
if len(args.runs) < 2:
    p.error("pooling needs at least two runs")
frames = {}
for run in args.runs:
    path = Path(run) / "report/scores.csv"
    if not path.exists():
        p.error(f"{path} does not exist: run that study (its report) first")
    frames[Path(run).name] = pd.read_csv(path)
pooled = pool_scores(frames)
verdicts = claims.pool([claims.evaluate(f) for f in frames.values()])
names = ", ".join(f"`{r}`" for r in args.runs)
lines = [f"# {len(frames)} runs pooled: {names}", "",
         "Each cell is the mean over the runs, ± sqrt(sum of s.e.²) / runs; runs are independent (other seeds).", "",
         "## Table 1 (accuracy % ± s.e.)", "", paper_table_markdown(pooled, TABLE1),
         "## Table 2 (same layout)", "", paper_table_markdown(pooled, TABLE2),
         "## Claims of the paper on the pooled differences", "", claims.markdown(verdicts),
         "## Accuracy of each run", "",
         "| model | dataset | method | iter | " + " | ".join(frames) + " | mean |",
         "|---|---|---|---|" + "---|" * (len(frames) + 1)]
for r in pooled.to_dict("records"):
    each = " | ".join("–" if pd.isna(r[n]) else f"{100 * r[n]:.1f}" for n in frames)
    lines.append(f"| {r['model']} | {r['dataset']} | {r['method']} | {r['iteration']} | {each} | {100 * r['accuracy']:.1f} |")
out = Path(args.out)
for name, write in (("scores.csv", lambda t: pooled.to_csv(t, index=False)),
                    ("claims.csv", lambda t: claims.table(verdicts).to_csv(t, index=False)),
                    ("report.md", lambda t: t.write_text("\n".join(lines) + "\n"))):
    with atomic_path(out / name) as tmp:
        write(tmp)
print(f"wrote {out}/report.md, scores.csv, claims.csv")
