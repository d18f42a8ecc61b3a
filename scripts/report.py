"""Write the study's tables (CSV, Markdown) and accuracy plot from its scores.json files."""

import argparse
import json

from maft.artifacts import atomic_path
from maft.report import collect, cost_table, markdown, plot_accuracy, report_markdown

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--scores", nargs="+", required=True)
p.add_argument("--diversity", nargs="*", default=[])
p.add_argument("--csv", required=True)
p.add_argument("--md", required=True)
p.add_argument("--plot", required=True)
p.add_argument("--report", required=True)
p.add_argument("--choices", required=True, type=json.loads)
p.add_argument("--benchmarks", required=True, help="the run's benchmark folder (job wall times)")
p.add_argument("--cost", required=True)
args = p.parse_args()
df = collect(args.scores, args.diversity)
with atomic_path(args.csv) as tmp:
    df.to_csv(tmp, index=False)
with atomic_path(args.md) as tmp:
    tmp.write_text("# Accuracy by method and iteration\n\n" + markdown(df))
with atomic_path(args.plot) as tmp:
    plot_accuracy(df, str(tmp))
cost = cost_table(args.benchmarks, args.choices.get("gpus", {}))
with atomic_path(args.cost) as tmp:
    cost.to_csv(tmp, index=False)
with atomic_path(args.report) as tmp:
    tmp.write_text(report_markdown(df, args.choices, cost))
