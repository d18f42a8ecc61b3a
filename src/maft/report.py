"""Collect scores.json files into tables and plots."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

_CELL = re.compile(r"(?P<model>[^/]+)/(?P<dataset>[^/]+)/(?P<method>[^/]+)/iter(?P<iter>\d+)/scores\.json$")


DIVERSITY = ("embedding_dissimilarity", "heldout_nll", "pairwise_kl", "kl_to_base")


def collect(score_files: list[str], diversity_files: list[str] = ()) -> pd.DataFrame:
    """One row per (model, dataset, method, iteration): scores, and diversity where computed."""
    diversity = {}
    for f in diversity_files:
        m = _CELL.search(str(f).replace("diversity.json", "scores.json"))
        if m:
            d = json.loads(Path(f).read_text())
            diversity[(m["model"], m["dataset"], m["method"], int(m["iter"]))] = {k: d.get(k) for k in DIVERSITY}
    rows = []
    for f in score_files:
        m = _CELL.search(str(f))
        if not m:
            raise ValueError(f"{f}: not a results/<run>/<model>/<dataset>/<method>/iter<i>/scores.json path")
        s = json.loads(Path(f).read_text())
        rounds = s.get("rounds", {})
        rows.append({
            "model": m["model"], "dataset": m["dataset"], "method": m["method"], "iteration": int(m["iter"]),
            "n": s["n"], "correct": s["correct"], "accuracy": s["accuracy"], "stderr": s["stderr"],
            "unparsed": s["unparsed"], "accuracy_drop_unparsed": s["drop_unparsed"]["accuracy"],
            "consensus": s.get("consensus"),
            "round0_agent_accuracy": rounds.get("0", {}).get("mean_agent_accuracy"),
            "final_agent_accuracy": rounds.get(str(max(map(int, rounds))) if rounds else "0", {}).get(
                "mean_agent_accuracy"),
            "config_digest": s.get("provenance", {}).get("config_digest"),
            **diversity.get((m["model"], m["dataset"], m["method"], int(m["iter"])), {k: None for k in DIVERSITY}),
        })
    return pd.DataFrame(rows).sort_values(["model", "dataset", "method", "iteration"]).reset_index(drop=True)


def _fmt(x, digits=3) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def diversity_markdown(df: pd.DataFrame) -> str:
    lines = ["| model | dataset | method | iter | consensus | embedding dissimilarity | held-out NLL | pairwise KL | KL to base |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in df.itertuples():
        lines.append(f"| {r.model} | {r.dataset} | {r.method} | {r.iteration} | {_fmt(r.consensus)} | "
                     f"{_fmt(r.embedding_dissimilarity)} | {_fmt(r.heldout_nll)} | {_fmt(r.pairwise_kl)} | "
                     f"{_fmt(r.kl_to_base)} |")
    return "\n".join(lines) + "\n"


def markdown(df: pd.DataFrame) -> str:
    lines = ["| model | dataset | method | iter | accuracy (%) | n | unparsed | round-0 agents (%) | final agents (%) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in df.itertuples():
        lines.append(
            f"| {r.model} | {r.dataset} | {r.method} | {r.iteration} | {100 * r.accuracy:.1f} ± {100 * r.stderr:.1f}"
            f" | {r.n} | {r.unparsed} | {100 * r.round0_agent_accuracy:.1f} | {100 * r.final_agent_accuracy:.1f} |")
    return "\n".join(lines) + "\n"


def plot_accuracy(df: pd.DataFrame, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = list(df.groupby(["model", "dataset"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.6), squeeze=False)
    for ax, ((model, dataset), g) in zip(axes[0], panels):
        for method, h in g.groupby("method"):
            ax.errorbar(h["iteration"], 100 * h["accuracy"], yerr=100 * h["stderr"], marker="o", capsize=3,
                        label=method)
        ax.set_title(f"{model} / {dataset}")
        ax.set_xlabel("finetuning iteration")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png")
    plt.close(fig)


_BENCH = re.compile(r"(?P<model>[^/]+)/(?P<dataset>[^/]+)/(?P<method>[^/]+)/iter(?P<iter>\d+)/"
                    r"(?P<stage>debate-(?:train|test)|agents/[^/]+)\.tsv$")


def cost_table(bench_dir: str | Path, gpus: dict) -> pd.DataFrame:
    """Wall time and GPU-hours (GPUs requested x wall time) per method, iteration and stage, from the
    `benchmark:` files of the debate and finetune jobs."""
    rows = []
    for f in sorted(Path(bench_dir).rglob("*.tsv")):
        m = _BENCH.search(f.as_posix())
        if not m:
            continue
        stage = "finetune" if m["stage"].startswith("agents/") else m["stage"]
        seconds = float(pd.read_csv(f, sep="\t")["s"].iloc[0])
        n_gpus = gpus.get("finetune" if stage == "finetune" else "debate", 1)
        rows.append({"model": m["model"], "dataset": m["dataset"], "method": m["method"],
                     "iteration": int(m["iter"]), "stage": stage, "seconds": seconds,
                     "gpu_hours": seconds * n_gpus / 3600})
    cols = ["model", "dataset", "method", "iteration", "stage", "jobs", "seconds", "gpu_hours"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)
    out = df.groupby(["model", "dataset", "method", "iteration", "stage"], as_index=False).agg(
        jobs=("seconds", "size"), seconds=("seconds", "sum"), gpu_hours=("gpu_hours", "sum"))
    return out[cols]


def report_markdown(df: pd.DataFrame, choices: dict, cost: pd.DataFrame | None = None) -> str:
    """The study's report: the choices it made where the paper is silent, then the scores."""
    lines = ["# maft study report", "", f"Config digest: `{choices['config_digest']}`", "",
             "## Choices where the paper is silent", "", "| choice | value |", "|---|---|"]
    for key in sorted(k for k in choices if k != "config_digest"):
        lines.append(f"| {key} | `{json.dumps(choices[key], sort_keys=True)}` |")
    lines += ["", "## Accuracy (final-round majority vote, test split; ± binomial s.e.; unparsed = wrong)", "",
              markdown(df), "![accuracy](accuracy.png)", "",
              "## Diversity of the test responses (paper section 4.2; lower consensus = more diverse)", "",
              diversity_markdown(df)]
    if cost is not None and len(cost):
        lines += ["## Cost (wall time of the jobs; GPU-hours = GPUs requested x wall time)", "",
                  "| model | dataset | method | iter | stage | jobs | seconds | GPU-hours |", "|---|---|---|---|---|---|---|---|"]
        for r in cost.itertuples():
            lines.append(f"| {r.model} | {r.dataset} | {r.method} | {r.iteration} | {r.stage} | {r.jobs} | "
                         f"{r.seconds:.0f} | {r.gpu_hours:.3f} |")
        lines.append("")
    return "\n".join(lines)
