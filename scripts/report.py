"""Write the study's report from its scores.json / diversity.json files and benchmark folder: tables (CSV,
Markdown), the paper's Tables 1-2, its claims checked on this run, time per stage, and figures."""

import argparse
import json

from maft import claims
from maft.artifacts import atomic_path
from maft.report import (TABLE1, TABLE2, base_models_markdown, collect, cost_table, markdown, paper_table, paper_table_markdown,
                         plot_accuracy, plot_dissimilarity_accuracy, plot_diversity, plot_iterations,
                         provenance_markdown, report_markdown, stage_times, training_data, training_data_markdown)

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--scores", nargs="+", required=True)
p.add_argument("--diversity", nargs="*", default=[])
p.add_argument("--csv", required=True)
p.add_argument("--md", required=True)
p.add_argument("--plot", required=True)
p.add_argument("--report", required=True)
p.add_argument("--choices", required=True, type=json.loads)
p.add_argument("--benchmarks", required=True, help="the run's benchmark folder (job wall and CPU times)")
p.add_argument("--cost", required=True)
p.add_argument("--base-models", nargs="*", default=[], help="the toy base model directories the study made")
p.add_argument("--shards", nargs="*", default=[], help="the study's finetuning shards (what each agent trained on)")
for name in ("table1-csv", "table1-md", "table2-csv", "table2-md", "claims", "training-data", "stage-times", "fig-iterations",
             "fig-diversity", "fig-dissimilarity"):
    p.add_argument(f"--{name}", required=True)
args = p.parse_args()


def write_text(path, text):
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_csv(path, frame):
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_plot(path, plot, frame):
    with atomic_path(path) as tmp:
        plot(frame, str(tmp))


df = collect(args.scores, args.diversity)
write_csv(args.csv, df)
write_text(args.md, "# Accuracy by method and iteration\n\n" + markdown(df))
for labels, csv, md, title in ((TABLE1, args.table1_csv, args.table1_md, "Table 1: methods"),
                               (TABLE2, args.table2_csv, args.table2_md, "Table 2: ablations")):
    write_csv(csv, paper_table(df, labels))
    write_text(md, f"# {title} (accuracy % ± s.e.)\n\n" + paper_table_markdown(df, labels))
verdicts = claims.evaluate(df)
write_csv(args.claims, claims.table(verdicts))
write_plot(args.plot, plot_accuracy, df)
write_plot(args.fig_iterations, plot_iterations, df)
write_plot(args.fig_diversity, plot_diversity, df)
write_plot(args.fig_dissimilarity, plot_dissimilarity_accuracy, df)
cost = cost_table(args.benchmarks, args.choices.get("gpus", {}))
write_csv(args.cost, cost)
data = training_data(args.shards)
write_csv(args.training_data, data)
times = stage_times(args.benchmarks)
write_csv(args.stage_times, times)
write_text(args.report, report_markdown(df, args.choices, cost, claims_md=claims.markdown(verdicts), times=times,
                                        provenance_md=provenance_markdown(args.scores),
                                        base_md=base_models_markdown(args.base_models) if args.base_models else None,
                                        training_md=training_data_markdown(data) if len(data) else None))
