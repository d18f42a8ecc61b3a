"""Collect scores.json files into tables and plots."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd

from maft.scoring import CRITIC_COUNTS
from maft.selection import SHARD_KINDS

# one method's folder after `iter` finetunings (rules/common.smk CELL), and the files the report reads in it
_CELL_DIR = r"(?P<model>[^/]+)/(?P<dataset>[^/]+)/(?P<method>[^/]+)/iter(?P<iter>\d+)/"
_CELL = re.compile(_CELL_DIR + r"scores\.json$")
_SHARD = re.compile(_CELL_DIR + r"shards/(?P<role>[a-z]+)-\d+\.parquet$")
_SHARD_KEYS = ["model", "dataset", "method", "iteration", "role"]


DIVERSITY = ("embedding_dissimilarity", "heldout_nll", "pairwise_kl", "kl_to_base")


def critic_columns(turns: dict | None) -> dict:
    """scores.json's `critic_turns` (maft.scoring.critic_turns) as flat columns; None without critics."""
    turns = turns or {}
    out = {f"critic_{g}_{k}": turns.get(g, {}).get(k) for g in ("shared", "lone") for k in CRITIC_COUNTS}
    return {**out, "critic_changed": turns.get("changed"), "critic_changed_right": turns.get("changed_right")}


def collect(score_files: list[str], diversity_files: list[str] = ()) -> pd.DataFrame:
    """One row per (model, dataset, method, iteration): scores, and diversity where computed."""
    diversity = {}
    for f in diversity_files:
        m = _CELL.search(str(f).replace("diversity.json", "scores.json"))
        if m:
            d = json.loads(Path(f).read_text())
            diversity[(m["model"], m["dataset"], m["method"], int(m["iter"]))] = {
                **{k: d.get(k) for k in DIVERSITY}, "diversity_problems": d.get("problems"),
                # standard errors, where a diversity file carries them (the claims use them over a bound)
                **{f"{k}_stderr": d[f"{k}_stderr"] for k in DIVERSITY if f"{k}_stderr" in d}}
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
            **critic_columns(s.get("critic_turns")),
            **diversity.get((m["model"], m["dataset"], m["method"], int(m["iter"])),
                            {k: None for k in (*DIVERSITY, "diversity_problems")}),
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


def critic_markdown(df: pd.DataFrame) -> str:
    """What the critics did with their round-0 answers (maft.scoring.critic_turns), for the debates
    that had critic rounds; empty when none had."""
    has = df[df["critic_shared_turns"].notna()] if "critic_shared_turns" in df else df.iloc[:0]
    if has.empty:
        return ""

    def pct(k, n):
        return "–" if not n else f"{100 * k / n:.0f}"

    lines = ["| model | dataset | method | iter | turns | shared (%) | shared: kept (%) "
             "| shared: right before → after (%) | lone: kept (%) | lone: right before → after (%) "
             "| changed answers right (%) | round-0 agents right (%) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in has.itertuples():
        st, lt = int(r.critic_shared_turns), int(r.critic_lone_turns)
        shared = f"{pct(r.critic_shared_right_before, st)} → {pct(r.critic_shared_right_after, st)}"
        lone = f"{pct(r.critic_lone_right_before, lt)} → {pct(r.critic_lone_right_after, lt)}"
        lines.append(f"| {r.model} | {r.dataset} | {r.method} | {r.iteration} | {st + lt} | {pct(st, st + lt)} | "
                     f"{pct(r.critic_shared_kept, st)} | {shared} | {pct(r.critic_lone_kept, lt)} | {lone} | "
                     f"{pct(r.critic_changed_right, r.critic_changed)} | {100 * r.round0_agent_accuracy:.0f} |")
    return "\n".join(lines) + "\n"


def training_data(shard_files: list[str]) -> pd.DataFrame:
    """One row per (model, dataset, method, iteration, role): how many examples of each kind
    (maft.selection.SHARD_KINDS) its shards hold, summed over agents, and the share of corrected
    trajectories among the critic examples."""
    rows = []
    for f in shard_files:
        m = _SHARD.search(str(f))
        if m is None:
            raise ValueError(f"{f}: not a shard path (.../{{model}}/{{dataset}}/{{method}}/iter{{i}}/shards/{{role}}-{{n}}.parquet)")
        kinds = pd.read_parquet(f, columns=["kind"])["kind"].value_counts()
        unknown = sorted(set(kinds.index) - set(SHARD_KINDS))
        if unknown:
            raise ValueError(f"{f}: column kind holds {unknown}; expected {list(SHARD_KINDS)}")
        rows.append({"model": m["model"], "dataset": m["dataset"], "method": m["method"],
                     "iteration": int(m["iter"]), "role": m["role"], "shards": 1, "examples": int(kinds.sum()),
                     **{k: int(kinds.get(k, 0)) for k in SHARD_KINDS}})
    columns = [*_SHARD_KEYS, "shards", "examples", *SHARD_KINDS, "corrected_share"]
    if not rows:
        return pd.DataFrame(columns=columns)
    df = pd.DataFrame(rows).groupby(_SHARD_KEYS, as_index=False, sort=False).sum()
    critic = df["critic_corrected"] + df["critic_kept"]
    df["corrected_share"] = (df["critic_corrected"] / critic.where(critic > 0)).astype(float)
    return df[columns]


def training_data_markdown(df: pd.DataFrame) -> str:
    lines = ["| model | dataset | method | iter | role | shards | examples | round-0 answers | critic: corrected "
             "| critic: kept | corrected share of critic examples (%) | rationalizations |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in df.itertuples():
        share = "–" if math.isnan(r.corrected_share) else f"{100 * r.corrected_share:.0f}"
        lines.append(f"| {r.model} | {r.dataset} | {r.method} | {r.iteration} | {r.role} | {r.shards} | {r.examples} | "
                     f"{r.generator} | {r.critic_corrected} | {r.critic_kept} | {share} | {r.rationalization} |")
    return "\n".join(lines) + "\n"


def markdown(df: pd.DataFrame) -> str:
    lines = ["| model | dataset | method | iter | accuracy (%) | n | unparsed | round-0 agents (%) | final agents (%) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in df.itertuples():
        lines.append(
            f"| {r.model} | {r.dataset} | {r.method} | {r.iteration} | {100 * r.accuracy:.1f} ± {100 * r.stderr:.1f}"
            f" | {r.n} | {r.unparsed} | {100 * r.round0_agent_accuracy:.1f} | {100 * r.final_agent_accuracy:.1f} |")
    return "\n".join(lines) + "\n"


# The paper's tables: rows = methods (its order and names), one column per model / dataset.
TABLE1 = {"base": "Base", "majority": "Majority", "debate": "Debate", "star": "STaR",
          "majority_ft": "Majority FT", "maft": "Multiagent FT (ours)"}
TABLE2 = {"maft": "Multiagent FT (ours)", "maft_nosummary": "Multiagent FT w/o summary",
          "maft_nocritic": "Multiagent FT w/o critic", "single_ft": "Single-agent FT",
          "single_ft_nodebate": "Single-agent FT w/o debate", "majority_ft": "Majority FT"}
# The appendix: Table 4 (5 agents, 2 rounds), Table 5 (unique IDs), and Figure 10's temperature-2 baseline.
TABLE4 = {"debate_5agents": "Debate (5 agents)", "majority_ft_5agents": "Majority FT (5 agents)",
          "maft_5agents": "Multiagent FT (ours, 5 agents)"}
TABLE5 = {"base": "Base", "debate": "Debate", "unique_id": "Unique ID", "maft": "Multiagent FT (ours)"}
APPENDIX = (("Table 4 (appendix F): 5 agents, 2 rounds", TABLE4, tuple(TABLE4)),
            ("Table 5 (appendix E.2): one model told its agents apart by ID", TABLE5, ("unique_id",)),
            ("Appendix E.1: single-agent FT sampled at temperature 2",
             {"single_ft": "Single-agent FT", "single_ft_t2": "Single-agent FT, temperature 2",
              "maft": "Multiagent FT (ours)"}, ("single_ft_t2",)))
FIG1_METHODS = ("maft", "single_ft", "single_ft_t2")  # Figure 1, with Figure 10's baseline where it ran


def table_cells(df: pd.DataFrame, methods, iteration: int = 1) -> pd.DataFrame:
    """One row per (method, model, dataset): the score after `iteration` finetunings (the paper's L=1),
    or the last one before it; untrained methods have only iteration 0."""
    picked = df[df["method"].isin(list(methods)) & (df["iteration"] <= iteration)]
    if picked.empty:
        return picked.assign(column=pd.Series(dtype=str))
    last = picked.groupby(["model", "dataset", "method"])["iteration"].transform("max")
    out = picked[picked["iteration"] == last].copy()
    out["column"] = out["model"] + " / " + out["dataset"]
    return out.reset_index(drop=True)


def _columns(cells: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(cells.sort_values(["model", "dataset"])["column"]))


def _cell(r) -> str:
    return f"{100 * r.accuracy:.2f} ± {100 * r.stderr:.2f}"


def pool_scores(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Accuracy over independent runs (seeds; `collect` frames by run name): the mean of the runs that
    have the cell, s.e. sqrt(sum se²) / k, and each run's accuracy in a column of its own."""
    keys = ["model", "dataset", "method", "iteration"]
    long = pd.concat([f[keys + ["accuracy", "stderr"]].assign(run=name) for name, f in frames.items()])
    pooled = long.groupby(keys).agg(accuracy=("accuracy", "mean"), runs=("run", "count"),
                                    stderr=("stderr", lambda s: math.sqrt((s ** 2).sum()) / len(s)))
    each = long.pivot_table(index=keys, columns="run", values="accuracy")[list(frames)]
    return pooled.join(each).reset_index()


def paper_table(df: pd.DataFrame, labels: dict, iteration: int = 1) -> pd.DataFrame:
    """The paper's layout: `method, label, iteration`, then "accuracy ± s.e." (%) per model / dataset."""
    cells = table_cells(df, labels, iteration)
    cols = _columns(cells)
    rows = []
    for method, label in labels.items():
        mine = cells[cells["method"] == method]
        if mine.empty:
            continue  # absent from the run: absent from the table
        row = {"method": method, "label": label,
               "iteration": ",".join(str(i) for i in sorted(set(mine["iteration"])))}
        row.update({c: "" for c in cols})
        row.update({r.column: _cell(r) for r in mine.itertuples()})
        rows.append(row)
    return pd.DataFrame(rows, columns=["method", "label", "iteration", *cols])


def paper_table_markdown(df: pd.DataFrame, labels: dict, iteration: int = 1) -> str:
    """Markdown of paper_table; the best accuracy of each column in bold, as in the paper."""
    table = paper_table(df, labels, iteration)
    if table.empty:
        return "_None of this table's methods (" + ", ".join(labels) + ") ran in this study._\n"
    cells = table_cells(df, labels, iteration)
    best = cells.groupby("column")["accuracy"].max()
    cols = list(table.columns[3:])
    lines = ["| method | iter | " + " | ".join(cols) + " |", "|---|---|" + "---|" * len(cols)]
    for row in table.to_dict("records"):
        out = []
        for c in cols:
            hit = cells[(cells["method"] == row["method"]) & (cells["column"] == c)]
            bold = not hit.empty and hit["accuracy"].iloc[0] == best[c]
            out.append(f"**{row[c]}**" if bold else (row[c] or "–"))
        lines.append(f"| {row['label']} | {row['iteration']} | " + " | ".join(out) + " |")
    return "\n".join(lines) + "\n"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panels(n: int, width: float = 5.0, height: float = 3.6):
    plt = _pyplot()
    fig, axes = plt.subplots(1, max(n, 1), figsize=(width * max(n, 1), height), squeeze=False)
    return plt, fig, axes[0]


def _save(plt, fig, path: str, **savefig) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120, format="png", **savefig)
    plt.close(fig)


MARKERS = "os^Dv<>pP*Xh"


def _style(methods) -> dict:
    """One colour and marker per method, the same in every panel: with a study's 15 methods the default
    10-colour cycle would give two methods one colour."""
    plt = _pyplot()
    cmap = plt.get_cmap("tab20")
    return {m: {"color": cmap(i % 20), "marker": MARKERS[i % len(MARKERS)]} for i, m in enumerate(sorted(methods))}


def _placeholder(path: str, text: str) -> None:
    """A declared figure whose data the run lacks still gets a file, saying why it is empty."""
    plt, fig, axes = _panels(1, 6, 2.5)
    axes[0].axis("off")
    axes[0].text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    _save(plt, fig, path)


def plot_iterations(df: pd.DataFrame, path: str, methods=FIG1_METHODS) -> None:
    """Figure 1: accuracy over finetuning iterations, maft vs single-agent FT, one panel per model / dataset."""
    sub = df[df["method"].isin(methods)]
    if sub.empty:
        return _placeholder(path, f"Figure 1: none of {', '.join(methods)} ran in this study.")
    panels = list(sub.groupby(["model", "dataset"]))
    plt, fig, axes = _panels(len(panels))
    style = _style(methods)
    for ax, ((model, dataset), g) in zip(axes, panels):
        for method in methods:
            h = g[g["method"] == method].sort_values("iteration")
            if len(h):
                ax.errorbar(h["iteration"], 100 * h["accuracy"], yerr=100 * h["stderr"], capsize=3, label=method,
                            **style[method])
        ax.set_title(f"{model} / {dataset}")
        ax.set_xlabel("finetuning iteration")
        ax.set_ylabel("accuracy (%)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    _save(plt, fig, path)


DIVERSITY_PLOTS = {"consensus": "consensus (lower = more diverse)",
                   "embedding_dissimilarity": "embedding dissimilarity",
                   "heldout_nll": "held-out NLL", "pairwise_kl": "pairwise KL", "kl_to_base": "KL to base"}


def _line_label(method: str, model: str, dataset: str, many: bool) -> str:
    return f"{method} ({model}/{dataset})" if many else method


def plot_diversity(df: pd.DataFrame, path: str) -> None:
    """Figures 3, 6, 7: each diversity metric over iterations, one panel per metric, one line per method."""
    metrics = [m for m in DIVERSITY_PLOTS if m in df and df[m].notna().any()]
    if not metrics:
        return _placeholder(path, "No diversity metric was computed in this study.")
    many = df[["model", "dataset"]].drop_duplicates().shape[0] > 1
    plt, fig, axes = _panels(len(metrics), 4.2)
    lines = df[["model", "dataset", "method"]].drop_duplicates().itertuples(index=False)
    style = _style([_line_label(m, mo, d, many) for mo, d, m in lines])
    for ax, metric in zip(axes, metrics):
        for (model, dataset, method), h in df[df[metric].notna()].groupby(["model", "dataset", "method"]):
            h = h.sort_values("iteration")
            label = _line_label(method, model, dataset, many)
            ax.plot(h["iteration"], h[metric], label=label, **style[label])
        ax.set_title(DIVERSITY_PLOTS[metric])
        ax.set_xlabel("finetuning iteration")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    # one legend for every panel, beside them, so that no panel's lines are hidden under it
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    _save(plt, fig, path, bbox_inches="tight")  # the legend stands outside the axes


def plot_dissimilarity_accuracy(df: pd.DataFrame, path: str) -> None:
    """Figure 4: embedding dissimilarity against accuracy, one labelled point per (method, iteration)."""
    sub = df[df["embedding_dissimilarity"].notna()] if "embedding_dissimilarity" in df else df.iloc[:0]
    if sub.empty:
        return _placeholder(path, "Embedding dissimilarity was not computed in this study.")
    panels = list(sub.groupby(["model", "dataset"]))
    plt, fig, axes = _panels(len(panels))
    style = _style(sub["method"].unique())
    for ax, ((model, dataset), g) in zip(axes, panels):
        for method, h in g.groupby("method"):
            h = h.sort_values("iteration")
            # a faint line joins one method's iterations: the trajectory the paper's Figure 4 shows
            ax.plot(h["embedding_dissimilarity"], 100 * h["accuracy"], alpha=0.3, color=style[method]["color"])
            ax.scatter(h["embedding_dissimilarity"], 100 * h["accuracy"], label=method, **style[method])
            for r in h.itertuples():
                ax.annotate(f"{method}@{r.iteration}", (r.embedding_dissimilarity, 100 * r.accuracy),
                            fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set_title(f"{model} / {dataset}")
        ax.set_xlabel("embedding dissimilarity")
        ax.set_ylabel("accuracy (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _save(plt, fig, path)


def plot_accuracy(df: pd.DataFrame, path: str) -> None:
    """Accuracy over iterations of every method of the study."""
    plot_iterations(df, path, methods=tuple(sorted(df["method"].unique())))


# The jobs that request GPUs (rules/: debate, rationalize, diversity, finetune); copies are local rules.
_BENCH = re.compile(r"(?P<model>[^/]+)/(?P<dataset>[^/]+)/(?P<method>[^/]+)/iter(?P<iter>\d+)/"
                    r"(?P<stage>debate-(?:train|test)|rationales-train|diversity|agents/[^/]+)\.tsv$")


def cost_table(bench_dir: str | Path, gpus: dict) -> pd.DataFrame:
    """Wall time and GPU-hours (GPUs requested x wall time) per method, iteration and stage, from the
    `benchmark:` files of the jobs that request GPUs: debates, STaR's rationales, diversity (on the
    debate's GPUs) and finetunes."""
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


STAGES = ("pretrain", "data", "debate", "share", "select", "finetune", "score", "diversity", "rationalize")


def bench_stage(relative: str) -> str:
    """The pipeline stage of a benchmark file, from its path under the run's benchmark folder
    (rules/*.smk: base/{model}.tsv, {cell}/debate-{split}[.shared].tsv, {cell}/shards/..., {cell}/agents/..., ...)."""
    parts = relative.split("/")
    name = parts[-1]
    if parts[0] == "base":
        return "pretrain"
    if parts[0] == "data":
        return "data"
    if name.endswith(".shared.tsv"):  # a base debate, or its diversity, copied from another method
        return "share"
    if len(parts) > 1 and parts[-2] in ("shards", "agents"):
        return "select" if parts[-2] == "shards" else "finetune"
    return {"scores.tsv": "score", "diversity.tsv": "diversity", "rationales-train.tsv": "rationalize"}.get(
        name, "debate" if name.startswith("debate-") else "other")


def read_benchmark(path: str | Path) -> tuple[float, float | None]:
    """(wall s, CPU s) of one job; `repeat()` rows add up; CPU time is NA when the job ended before
    Snakemake's first sample."""
    t = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
    cpu = pd.to_numeric(t["cpu_time"], errors="coerce") if "cpu_time" in t else pd.Series(dtype=float)
    return float(t["s"].sum()), (float(cpu.sum()) if cpu.notna().any() else None)


def stage_times(bench_dir: str | Path) -> pd.DataFrame:
    """Wall and CPU seconds per stage (jobs, sums) and a `total` row, from every benchmark TSV of a run."""
    rows = []
    root = Path(bench_dir)
    for f in sorted(root.rglob("*.tsv")):
        wall, cpu = read_benchmark(f)
        rows.append({"stage": bench_stage(f.relative_to(root).as_posix()), "wall_s": wall, "cpu_s": cpu,
                     "cpu_missing": cpu is None})
    cols = ["stage", "jobs", "wall_s", "cpu_s", "jobs_without_cpu"]
    if not rows:
        return pd.DataFrame(columns=cols)
    df = pd.DataFrame(rows)
    cpu_sum = lambda c: c.sum(min_count=1)  # noqa: E731 -- NaN, not 0, when no job of a stage was sampled
    out = df.groupby("stage", as_index=False).agg(jobs=("wall_s", "size"), wall_s=("wall_s", "sum"),
                                                  cpu_s=("cpu_s", cpu_sum), jobs_without_cpu=("cpu_missing", "sum"))
    order = {s: i for i, s in enumerate(STAGES)}
    out = out.sort_values("stage", key=lambda c: c.map(lambda s: order.get(s, len(order)))).reset_index(drop=True)
    total = {"stage": "total", "jobs": out["jobs"].sum(), "wall_s": out["wall_s"].sum(),
             "cpu_s": cpu_sum(out["cpu_s"]), "jobs_without_cpu": out["jobs_without_cpu"].sum()}
    return pd.concat([out, pd.DataFrame([total])], ignore_index=True)[cols]


def stage_times_markdown(times: pd.DataFrame) -> str:
    if times.empty:
        return "_No benchmark files were found for this run._\n"
    lines = ["| stage | jobs | wall (s) | CPU (s) | jobs without CPU sample |", "|---|---|---|---|---|"]
    for r in times.itertuples():
        name = f"**{r.stage}**" if r.stage == "total" else r.stage
        lines.append(f"| {name} | {r.jobs} | {r.wall_s:.1f} | {_fmt(r.cpu_s, 1)} | {r.jobs_without_cpu} |")
    return "\n".join(lines) + "\n"


def base_models_markdown(dirs: list[str]) -> str:
    """The toy base models the study started from: size, pretraining, quality on fresh problems, and
    whether this run pretrained it or reused the shipped one (maft.toy.shipped)."""
    lines = ["| model | parameters | steps | pretraining s | greedy | sampled | majority of 3 | made by |",
             "|---|---|---|---|---|---|---|---|"]
    for d in dirs:
        prov = json.loads((Path(d) / "provenance.json").read_text())
        info, ev = prov["pretraining"], prov["pretraining"]["eval"]
        made = (f"shipped `{prov['shipped_from']}`, pretrained at `{str(prov.get('pretrained_by'))[:10]}`"
                if "shipped_from" in prov else "this run")
        lines.append(f"| {Path(d).name} | {info['parameters']:,} | {info['steps']} | {info['seconds']:.0f} | "
                     f"{ev['greedy_accuracy']:.0%} | {ev['sampled_accuracy']:.0%} | {ev['majority_of_3_accuracy']:.0%} "
                     f"| {made} |")
    return "\n".join(lines) + "\n\nAccuracy on fresh problems (none of the study's), measured when the toy was pretrained: greedy, and sampled at temperature 1 with top-p 0.9.\n"


def provenance_markdown(score_files: list[str]) -> str:
    """Which code, packages and config made the scores: one row per distinct provenance, with the
    cells it covers (more than one row means the scores mix code or package versions)."""
    groups: dict[str, list[str]] = {}
    for f in score_files:
        prov = json.loads(Path(f).read_text()).get("provenance", {})
        m = _CELL.search(str(f))
        key = json.dumps({k: prov.get(k) for k in ("code_version", "config_digest", "packages")}, sort_keys=True)
        groups.setdefault(key, []).append(f"{m['method']}/iter{m['iter']}" if m else str(f))
    lines = ["| code version | config digest | packages | scores |", "|---|---|---|---|"]
    for key, cells in groups.items():
        prov = json.loads(key)
        packages = ", ".join(f"{k} {v}" for k, v in sorted((prov["packages"] or {}).items()))
        lines.append(f"| `{prov['code_version']}` | `{prov['config_digest']}` | {packages} | {', '.join(cells)} |")
    return "\n".join(lines) + "\n\n`python scripts/provenance.py <artifact>` prints the full record of any file.\n"


def report_markdown(df: pd.DataFrame, choices: dict, cost: pd.DataFrame | None = None, *,
                    claims_md: str | None = None, times: pd.DataFrame | None = None,
                    provenance_md: str | None = None, base_md: str | None = None,
                    training_md: str | None = None) -> str:
    """The study's report: the choices it made where the paper is silent, then the scores."""
    lines = ["# maft study report", "", f"Config digest: `{choices['config_digest']}`", "",
             "## Choices where the paper is silent", "", "| choice | value |", "|---|---|"]
    for key in sorted(k for k in choices if k != "config_digest"):
        lines.append(f"| {key} | `{json.dumps(choices[key], sort_keys=True)}` |")
    if base_md:
        lines += ["", "## The toy base model", "", base_md.rstrip()]
    lines += ["", "## Table 1: methods (accuracy % ± s.e.; trained methods after 1 finetuning iteration, "
              "as in the paper; untrained methods at iteration 0)", "", paper_table_markdown(df, TABLE1),
              "## Table 2: ablations (same layout)", "", paper_table_markdown(df, TABLE2)]
    for title, labels, marker in APPENDIX:  # only where the study ran the variant
        if df["method"].isin(marker).any():
            lines += [f"## {title} (same layout)", "", paper_table_markdown(df, labels)]
    if claims_md is not None:
        lines += ["## Claims of the paper, checked on this run", "", claims_md]
    lines += ["## Accuracy (final-round majority vote, test split; ± binomial s.e.; unparsed = wrong)", "",
              markdown(df), "![accuracy](accuracy.png)", "",
              "![Figure 1: maft vs single-agent FT over iterations](fig1_iterations.png)", ""]
    critics = critic_markdown(df)
    if critics:
        lines += ["## What the critics did (round 0 → final round, test split)", "",
                  "Each agent's round-0 answer is *shared* when another agent reached the same one, *lone* "
                  "otherwise (unparsed included): what a summary of the others shows it. Critics beat the "
                  "vote when they keep shared answers and turn lone ones right; a changed answer helps only "
                  "when it is right more often than a round-0 answer (last two columns).", "", critics]
    if training_md:
        lines += ["## Finetuning data (the examples each iteration's shards hold, summed over agents)", "",
                  "A per-agent method's critic shards mix corrected trajectories (a wrong round-0 answer, then "
                  "the vote: D^C-) and kept ones (the vote throughout: D^C+) by `selection.critic_mix`; a pooled "
                  "method's one shard holds every agent's round-0 answers that match the vote and every "
                  "trajectory that ends at it, unmixed. The corrected share is how often a critic is taught to "
                  "change its answer rather than keep it.", "", training_md]
    lines += ["## Diversity of the test responses (paper section 4.2; lower consensus = more diverse)", "",
              diversity_markdown(df), "![diversity over iterations](diversity.png)", "",
              "![embedding dissimilarity vs accuracy](dissimilarity_accuracy.png)", ""]
    if times is not None:
        lines += ["## Time per stage (Snakemake benchmark files: wall and CPU seconds, summed over jobs)", "",
                  stage_times_markdown(times)]
    if cost is not None and len(cost):
        lines += ["## Cost (wall time of the jobs; GPU-hours = GPUs requested x wall time)", "",
                  "| model | dataset | method | iter | stage | jobs | seconds | GPU-hours |", "|---|---|---|---|---|---|---|---|"]
        for r in cost.itertuples():
            lines.append(f"| {r.model} | {r.dataset} | {r.method} | {r.iteration} | {r.stage} | {r.jobs} | "
                         f"{r.seconds:.0f} | {r.gpu_hours:.3f} |")
        lines.append("")
    if provenance_md is not None:
        lines += ["## Provenance of the scores", "", provenance_md]
    return "\n".join(lines)
