"""The report: paper tables, claims, stage times and figures, on hand-made scores with known answers."""

import json
import math
import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT
from maft import claims
from maft.report import (TABLE1, TABLE2, collect, cost_table, critic_markdown, paper_table,
                         paper_table_markdown, plot_dissimilarity_accuracy, plot_diversity, plot_iterations,
                         report_markdown, stage_times, training_data, training_data_markdown)

PNG = b"\x89PNG\r\n\x1a\n"


def se(p, n=500):
    return math.sqrt(p * (1 - p) / n)


def frame(cells, model="toy", dataset="arithmetic", n=500):
    """cells: {(method, iteration): accuracy} or {(method, iteration): (accuracy, consensus, dissimilarity)}."""
    rows = []
    for (method, it), v in cells.items():
        acc, cons, dis = v if isinstance(v, tuple) else (v, None, None)
        rows.append({"model": model, "dataset": dataset, "method": method, "iteration": it, "n": n,
                     "correct": round(acc * n), "accuracy": acc, "stderr": se(acc, n), "unparsed": 0,
                     "round0_agent_accuracy": acc, "final_agent_accuracy": acc, "consensus": cons,
                     "embedding_dissimilarity": dis, "diversity_problems": n if dis is not None else None,
                     "heldout_nll": None, "pairwise_kl": None, "kl_to_base": None})
    return pd.DataFrame(rows)


def write_cell(root, model, dataset, method, it, correct, n=500, diversity=None):
    d = root / model / dataset / method / f"iter{it}"
    d.mkdir(parents=True)
    p = correct / n
    (d / "scores.json").write_text(json.dumps({
        "n": n, "correct": correct, "accuracy": p, "stderr": se(p, n), "unparsed": 0, "consensus": 0.8,
        "drop_unparsed": {"accuracy": p}, "rounds": {"0": {"mean_agent_accuracy": p}, "1": {"mean_agent_accuracy": p}},
    }))
    if diversity is not None:
        (d / "diversity.json").write_text(json.dumps({"problems": 100, **diversity}))
    return d


# --- tables ---------------------------------------------------------------------------------------------

STUDY = {("base", 0): 0.5, ("majority", 0): 0.6, ("debate", 0): 0.7,
         ("maft", 0): 0.7, ("maft", 1): 0.8, ("maft", 2): 0.9,
         ("single_ft", 0): 0.7, ("single_ft", 1): 0.75, ("single_ft", 2): 0.75}


def test_table1_rows_are_methods_in_paper_order_at_iteration_1_for_trained_methods():
    df = pd.concat([frame(STUDY), frame({("maft", 0): 0.3, ("maft", 1): 0.4, ("base", 0): 0.2}, dataset="gsm")])
    t = paper_table(df, TABLE1)
    assert list(t["method"]) == ["base", "majority", "debate", "maft"]  # star, majority_ft absent
    assert list(t.columns) == ["method", "label", "iteration", "toy / arithmetic", "toy / gsm"]
    maft = t.set_index("method").loc["maft"]
    assert maft["iteration"] == "1"
    assert maft["toy / arithmetic"] == f"80.00 ± {100 * se(0.8):.2f}"  # iteration 1, not 2 (the paper's L=1)
    assert maft["toy / gsm"] == f"40.00 ± {100 * se(0.4):.2f}"
    base = t.set_index("method").loc["base"]
    assert base["iteration"] == "0" and base["toy / arithmetic"] == "50.00 ± 2.24"
    assert t.set_index("method").loc["debate", "toy / gsm"] == ""  # debate not run on gsm


def test_table_markdown_bolds_the_best_and_says_when_empty():
    md = paper_table_markdown(frame(STUDY), TABLE1)
    assert md.splitlines()[0] == "| method | iter | toy / arithmetic |"
    assert "| Multiagent FT (ours) | 1 | **80.00 ± 1.79** |" in md
    assert "| Debate | 0 | 70.00 ± 2.05 |" in md
    empty = paper_table_markdown(frame({("base", 0): 0.5}), TABLE2)
    assert "None of this table's methods" in empty
    assert paper_table(frame({("base", 0): 0.5}), TABLE2).empty


def test_table2_holds_only_ablations():
    t = paper_table(frame(STUDY), TABLE2)
    assert list(t["method"]) == ["maft", "single_ft"]
    assert t.set_index("method").loc["single_ft", "toy / arithmetic"] == f"75.00 ± {100 * se(0.75):.2f}"


def test_collect_reads_scores_and_diversity_files(tmp_path):
    write_cell(tmp_path, "toy", "arithmetic", "maft", 0, 300, diversity={"embedding_dissimilarity": 0.2})
    write_cell(tmp_path, "toy", "arithmetic", "maft", 1, 350,
               diversity={"embedding_dissimilarity": 0.25, "embedding_dissimilarity_stderr": 0.01})
    df = collect(sorted(map(str, tmp_path.rglob("scores.json"))), sorted(map(str, tmp_path.rglob("diversity.json"))))
    assert list(df["iteration"]) == [0, 1] and list(df["correct"]) == [300, 350]
    assert list(df["embedding_dissimilarity"]) == [0.2, 0.25]
    assert list(df["diversity_problems"]) == [100, 100]
    assert pd.isna(df["embedding_dissimilarity_stderr"][0]) and df["embedding_dissimilarity_stderr"][1] == 0.01


def test_critic_table_shows_what_the_critics_did_with_shared_and_lone_answers(tmp_path):
    d = write_cell(tmp_path, "toy", "arithmetic", "maft", 1, 350)
    s = json.loads((d / "scores.json").read_text())
    s["critic_turns"] = {"shared": {"turns": 900, "kept": 720, "right_before": 630, "right_after": 600},
                         "lone": {"turns": 600, "kept": 150, "right_before": 120, "right_after": 210},
                         "changed": 630, "changed_right": 189}
    (d / "scores.json").write_text(json.dumps(s))
    write_cell(tmp_path, "toy", "arithmetic", "base", 0, 250)  # one round: no critic turns
    df = collect(sorted(map(str, tmp_path.rglob("scores.json"))))
    assert df.set_index("method").loc["maft", "critic_lone_right_after"] == 210
    assert df.set_index("method")["critic_shared_turns"].isna().loc["base"]
    (row,) = [line for line in critic_markdown(df).splitlines() if "| maft |" in line]
    # turns, shared %, shared kept %, shared right before -> after, lone kept %, lone right, changed right %
    assert row.split(" | ")[4:11] == ["1500", "60", "80", "70 → 67", "25", "20 → 35", "30"]
    assert "| base |" not in critic_markdown(df)
    assert "## What the critics did" in report_markdown(df, {"config_digest": "abc"})
    assert critic_markdown(df[df["method"] == "base"]) == ""
    assert "## What the critics did" not in report_markdown(df[df["method"] == "base"], {"config_digest": "abc"})


# --- claims ---------------------------------------------------------------------------------------------

def verdict(df, claim):
    (v,) = [v for v in claims.evaluate(df) if v.claim == claim]
    return v


def test_check_interval_and_directions():
    c = claims.Check("a − b", 0.05, 0.03, ">")
    assert c.low == pytest.approx(0.05 - 1.96 * 0.03) and c.high == pytest.approx(0.05 + 1.96 * 0.03)
    assert not c.passed  # the interval straddles 0
    assert claims.Check("a − b", 0.05, 0.03, "not >").passed
    assert claims.Check("a − b", 0.07, 0.03, ">").passed
    assert claims.Check("a − b", -0.07, 0.03, "<").passed and not claims.Check("a − b", -0.07, 0.03, "not <").passed
    d = claims.difference("x", claims.Estimate(0.7, 0.03), claims.Estimate(0.6, 0.04), ">")
    assert d.diff == pytest.approx(0.1) and d.se == pytest.approx(0.05)


def test_claim_a_supported_not_supported_and_not_tested():
    v = verdict(frame(STUDY), "a")
    assert v.status == claims.SUPPORTED
    assert [c.label for c in v.checks] == ["debate − majority", "majority − base"]
    close = frame({("base", 0): 0.5, ("majority", 0): 0.6, ("debate", 0): 0.62})  # 2 points ± 6: straddles 0
    v = verdict(close, "a")
    assert v.status == claims.NOT_SUPPORTED
    assert v.checks[0].low < 0 < v.checks[0].high
    v = verdict(frame({("base", 0): 0.5, ("debate", 0): 0.7}), "a")
    assert v.status == claims.NOT_TESTED and v.missing == ["majority"]


def test_claim_b_compares_at_the_last_common_iteration():
    df = frame({("maft", 0): 0.7, ("maft", 1): 0.8, ("maft", 2): 0.9, ("maft_nocritic", 0): 0.7,
                ("maft_nocritic", 1): 0.75, ("maft_nocritic", 2): 0.8})
    v = verdict(df, "b")
    assert v.status == claims.SUPPORTED and [c.label for c in v.checks] == ["maft − maft_nocritic (iter 2)"]
    assert v.checks[0].diff == pytest.approx(0.1)
    df.loc[(df["method"] == "maft_nocritic") & (df["iteration"] == 2), "accuracy"] = 0.89
    assert verdict(df, "b").status == claims.NOT_SUPPORTED
    assert verdict(frame({("maft", 0): 0.7, ("maft", 1): 0.8}), "b").status == claims.NOT_TESTED
    untrained = frame({("maft", 0): 0.7, ("single_ft", 0): 0.6})  # iterations: 0
    assert verdict(untrained, "b").status == claims.NOT_TESTED


def test_claim_c_needs_maft_to_improve_and_single_ft_to_plateau():
    v = verdict(frame(STUDY), "c")  # maft 80 -> 90, single_ft 75 -> 75
    assert v.status == claims.SUPPORTED
    assert [c.direction for c in v.checks] == [">", "not >", ">"]
    assert v.checks[2].diff == pytest.approx(0.1)
    both = {**STUDY, ("single_ft", 2): 0.85}  # single_ft improves as much: no plateau
    v = verdict(frame(both), "c")
    assert v.status == claims.NOT_SUPPORTED and not v.checks[1].passed
    one_iter = {k: a for k, a in STUDY.items() if k[1] <= 1}
    v = verdict(frame(one_iter), "c")
    assert v.status == claims.NOT_TESTED and "iterations" in v.missing[0]
    assert verdict(frame({("maft", 0): 0.5, ("maft", 1): 0.6, ("maft", 2): 0.7}), "c").missing == ["single_ft"]


def test_claim_d_on_consensus_and_embedding_dissimilarity():
    kept = {("maft", 0): (0.7, 0.6, 0.3), ("maft", 2): (0.9, 0.6, 0.3),
            ("single_ft", 0): (0.7, 0.6, 0.3), ("single_ft", 2): (0.75, 0.9, 0.1)}
    vs = [v for v in claims.evaluate(frame(kept)) if v.claim == "d"]
    assert [v.statement.split("(")[1].split(",")[0] for v in vs] == ["consensus", "embedding_dissimilarity"]
    assert [v.status for v in vs] == [claims.SUPPORTED, claims.SUPPORTED]
    # consensus s.e. is the bound sqrt(c(1-c)/n)
    assert vs[0].checks[0].se == pytest.approx(math.hypot(se(0.9), se(0.6)))
    lost = {**kept, ("maft", 2): (0.9, 0.9, 0.1)}  # maft loses diversity as much as single_ft
    assert [v.status for v in claims.evaluate(frame(lost)) if v.claim == "d"] == [claims.NOT_SUPPORTED] * 2
    nodiv = frame({("maft", 0): 0.7, ("maft", 1): 0.8, ("single_ft", 0): 0.7, ("single_ft", 1): 0.7})
    (v,) = [v for v in claims.evaluate(nodiv) if v.claim == "d"]
    assert v.status == claims.NOT_TESTED


def test_claims_markdown_states_verdicts_with_intervals():
    md = claims.markdown(claims.evaluate(frame(STUDY)))
    assert "**(a) debate > majority > base (no finetuning, iteration 0)** — toy / arithmetic: **supported**" in md
    assert "debate − majority = +10.00 [95% CI" in md
    assert "not tested in this run (missing: any ablation" not in md  # single_ft is an ablation, present
    assert "(d) maft keeps diversity while single_ft loses it** — toy / arithmetic: **not tested in this run " \
           "(missing: consensus or embedding_dissimilarity values)**" in md
    t = claims.table(claims.evaluate(frame(STUDY)))
    assert set(t["status"]) == {claims.SUPPORTED, claims.NOT_TESTED}


# --- stage times ----------------------------------------------------------------------------------------

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def bench(root, rel, *rows):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(HEADER + "".join(f"{s}\t0:00:01\t1\t1\t1\t1\t0\t0\t50\t{cpu}\n" for s, cpu in rows))


def test_stage_times_sum_wall_and_cpu_per_stage(tmp_path):
    cell = "toy/arithmetic/maft"
    bench(tmp_path, "base/toy.tsv", (100.0, 180.0))
    bench(tmp_path, f"{cell}/iter0/debate-train.tsv", (10.0, 15.0))
    bench(tmp_path, f"{cell}/iter0/debate-test.tsv", (5.0, "NA"))  # ended before the first sample
    bench(tmp_path, f"{cell}/iter1/shards/generator-0.tsv", (1.0, 0.5))
    bench(tmp_path, f"{cell}/iter1/shards/critic-0.tsv", (2.0, 1.5))
    bench(tmp_path, f"{cell}/iter1/agents/generator-0.tsv", (30.0, 29.0), (31.0, 30.0))  # repeat(): 2 rows
    bench(tmp_path, f"{cell}/iter1/scores.tsv", (0.5, 0.25))
    bench(tmp_path, f"{cell}/iter1/diversity.tsv", (4.0, 6.0))
    bench(tmp_path, "toy/arithmetic/star/iter0/rationales-train.tsv", (7.0, 8.0))
    bench(tmp_path, "toy/arithmetic/debate/iter0/debate-test.shared.tsv", (0.5, 0.5))  # a copied base debate
    bench(tmp_path, "toy/arithmetic/debate/iter0/diversity.shared.tsv", (0.25, 0.25))  # ... and its diversity
    t = stage_times(tmp_path).set_index("stage")
    assert list(t.index) == ["pretrain", "debate", "share", "select", "finetune", "score", "diversity",
                             "rationalize", "total"]
    assert t.loc["share", "jobs"] == 2 and t.loc["diversity", "jobs"] == 1
    assert t.loc["debate", "jobs"] == 2 and t.loc["debate", "wall_s"] == 15.0 and t.loc["debate", "cpu_s"] == 15.0
    assert t.loc["debate", "jobs_without_cpu"] == 1
    assert t.loc["select", "wall_s"] == 3.0 and t.loc["select", "cpu_s"] == 2.0
    assert t.loc["finetune", "wall_s"] == 61.0 and t.loc["finetune", "cpu_s"] == 59.0
    assert t.loc["total", "jobs"] == 11
    assert t.loc["total", "wall_s"] == pytest.approx(100 + 15 + 0.75 + 3 + 61 + 0.5 + 4 + 7)
    assert t.loc["total", "cpu_s"] == pytest.approx(180 + 15 + 0.75 + 2 + 59 + 0.25 + 6 + 8)
    assert stage_times(tmp_path / "missing").empty
    only_na = tmp_path / "na"
    bench(only_na, "toy/arithmetic/maft/iter0/debate-test.tsv", (5.0, "NA"))
    t = stage_times(only_na).set_index("stage")
    assert pd.isna(t.loc["debate", "cpu_s"]) and pd.isna(t.loc["total", "cpu_s"])  # unknown, not 0


def test_cost_table_counts_the_jobs_that_request_gpus(tmp_path):
    cell = "toy/arithmetic/maft"
    bench(tmp_path, "base/toy.tsv", (100.0, 180.0))  # the toy's pretraining: a CPU job
    bench(tmp_path, f"{cell}/iter0/debate-test.tsv", (36.0, 30.0))
    bench(tmp_path, f"{cell}/iter0/diversity.tsv", (18.0, 10.0))
    bench(tmp_path, f"{cell}/iter1/agents/generator-0.tsv", (72.0, 60.0))
    bench(tmp_path, f"{cell}/iter1/shards/generator-0.tsv", (1.0, 1.0))  # selection: CPU
    bench(tmp_path, f"{cell}/iter1/scores.tsv", (1.0, 1.0))  # scoring: CPU
    bench(tmp_path, "toy/arithmetic/star/iter0/rationales-train.tsv", (9.0, 8.0))
    bench(tmp_path, "toy/arithmetic/debate/iter0/debate-test.shared.tsv", (0.5, 0.5))  # copies: local
    bench(tmp_path, "toy/arithmetic/debate/iter0/diversity.shared.tsv", (0.5, 0.5))
    cost = cost_table(tmp_path, {"debate": 2, "finetune": 4}).set_index(["method", "iteration", "stage"])
    assert sorted(cost.index) == [("maft", 0, "debate-test"), ("maft", 0, "diversity"), ("maft", 1, "finetune"),
                                  ("star", 0, "rationales-train")]
    assert cost.loc[("maft", 0, "diversity"), "gpu_hours"] == pytest.approx(18 * 2 / 3600)
    assert cost.loc[("maft", 1, "finetune"), "gpu_hours"] == pytest.approx(72 * 4 / 3600)
    assert cost.loc[("star", 0, "rationales-train"), "gpu_hours"] == pytest.approx(9 * 2 / 3600)


# --- figures and the report -----------------------------------------------------------------------------

DIV = {("maft", 0): (0.7, 0.6, 0.3), ("maft", 1): (0.8, 0.6, 0.35), ("single_ft", 0): (0.7, 0.6, 0.3),
       ("single_ft", 1): (0.75, 0.9, 0.1), ("debate", 0): (0.7, 0.6, 0.3)}


@pytest.mark.parametrize("plot", [plot_iterations, plot_diversity, plot_dissimilarity_accuracy])
@pytest.mark.parametrize("cells", [DIV, {("base", 0): 0.5}], ids=["data", "nothing-to-plot"])
def test_figures_are_written_as_png(tmp_path, plot, cells):
    path = tmp_path / "fig.png"
    plot(frame(cells), str(path))
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 1000


def test_claim_e_five_agents_and_the_appendix_tables():
    cells = {("maft_5agents", 0): 0.6, ("maft_5agents", 1): 0.75, ("debate_5agents", 0): 0.62,
             ("majority_ft_5agents", 0): 0.6, ("majority_ft_5agents", 1): 0.64}
    v = verdict(frame(cells), "e")
    assert v.status == claims.SUPPORTED
    assert [c.label for c in v.checks] == ["maft_5agents − debate_5agents", "maft_5agents − majority_ft_5agents"]
    cells[("majority_ft_5agents", 1)] = 0.74
    assert verdict(frame(cells), "e").status == claims.NOT_SUPPORTED
    assert verdict(frame(STUDY), "e").status == claims.NOT_TESTED
    # unique ID and temperature 2 are among the baselines claim (b) checks maft against
    b = verdict(frame({**STUDY, ("unique_id", 0): 0.7, ("unique_id", 1): 0.7}), "b")
    assert "maft − unique_id (iter 1)" in [c.label for c in b.checks]
    md = report_markdown(frame({**STUDY, **cells}), {"config_digest": "abc"})
    assert "## Table 4 (appendix F)" in md and "Majority FT (5 agents)" in md
    assert "## Table 5" not in md  # no unique-ID run: no table for it
    assert "## Table 5" in report_markdown(frame({**STUDY, ("unique_id", 1): 0.7}), {"config_digest": "abc"})


def write_shard(root, method, it, name, kinds):
    """A shard parquet with the given example kinds (the other columns are not read by the report)."""
    d = root / "toy" / "arithmetic" / method / f"iter{it}" / "shards"
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{name}.parquet"
    pd.DataFrame({"problem_id": range(len(kinds)), "agent": 0, "role": "x", "kind": kinds, "messages": "[]"}).to_parquet(path)
    return path


def test_training_data_counts_kinds_per_role_summed_over_agents(tmp_path):
    files = [write_shard(tmp_path, "maft", 1, "critic-0", ["critic_corrected"] * 4 + ["critic_kept"] * 2),
             write_shard(tmp_path, "maft", 1, "critic-1", ["critic_corrected"] * 2 + ["critic_kept"] * 4),
             write_shard(tmp_path, "maft", 1, "generator-0", ["generator"] * 5),
             write_shard(tmp_path, "maft", 1, "generator-1", []),  # an agent with nothing selected
             write_shard(tmp_path, "single_ft", 1, "generator-0",
                         ["generator"] * 3 + ["critic_corrected"] + ["critic_kept"] * 3),
             write_shard(tmp_path, "star", 1, "generator-0", ["generator", "rationalization", "rationalization"])]
    df = training_data(files).set_index(["method", "role"])
    assert df.loc[("maft", "critic"), ["shards", "examples", "critic_corrected", "critic_kept"]].tolist() == [2, 12, 6, 6]
    assert df.loc[("maft", "critic"), "corrected_share"] == 0.5
    assert df.loc[("maft", "generator"), ["shards", "examples", "generator"]].tolist() == [2, 5, 5]
    assert math.isnan(df.loc[("maft", "generator"), "corrected_share"])
    assert df.loc[("single_ft", "generator"), "corrected_share"] == 0.25
    assert df.loc[("star", "generator"), "rationalization"] == 2
    md = training_data_markdown(training_data(files))
    assert "| toy | arithmetic | maft | 1 | critic | 2 | 12 | 0 | 6 | 6 | 50 | 0 |" in md
    assert "| toy | arithmetic | maft | 1 | generator | 2 | 5 | 5 | 0 | 0 | – | 0 |" in md


def test_training_data_names_a_bad_shard(tmp_path):
    bad = write_shard(tmp_path, "maft", 1, "critic-0", ["critic_corrected", "critic_wrong"])
    with pytest.raises(ValueError, match=r"critic-0.parquet: column kind holds \['critic_wrong'\]"):
        training_data([bad])
    stray = tmp_path / "elsewhere.parquet"
    bad.rename(stray)
    with pytest.raises(ValueError, match="elsewhere.parquet: not a shard path"):
        training_data([stray])
    assert training_data([]).empty


def test_report_markdown_has_tables_claims_and_stage_times():
    times = pd.DataFrame([{"stage": "debate", "jobs": 2, "wall_s": 15.0, "cpu_s": 12.0, "jobs_without_cpu": 0},
                          {"stage": "total", "jobs": 2, "wall_s": 15.0, "cpu_s": 12.0, "jobs_without_cpu": 0}])
    df = frame(STUDY)
    md = report_markdown(df, {"config_digest": "abc"}, claims_md=claims.markdown(claims.evaluate(df)), times=times)
    for heading in ("## Table 1", "## Table 2", "## Claims of the paper", "## Time per stage"):
        assert heading in md
    assert "| debate | 2 | 15.0 | 12.0 | 0 |" in md and "| **total** | 2 | 15.0 | 12.0 | 0 |" in md
    assert md.index("## Table 1") < md.index("## Claims") < md.index("## Time per stage")


def test_report_script_writes_every_output(tmp_path):
    res = tmp_path / "results"
    for method, it, k in (("maft", 0, 300), ("maft", 1, 350), ("single_ft", 0, 300), ("single_ft", 1, 310),
                          ("debate", 0, 300)):
        write_cell(res, "toy", "arithmetic", method, it, k, diversity={"embedding_dissimilarity": 0.2 + it / 10})
    bench(tmp_path / "bench", "base/toy.tsv", (10.0, 12.0))
    shard = write_shard(res, "maft", 1, "critic-0", ["critic_corrected", "critic_kept", "critic_corrected"])
    out = tmp_path / "report"
    names = {"csv": "scores.csv", "md": "scores.md", "plot": "accuracy.png", "report": "report.md",
             "cost": "cost.csv", "table1-csv": "table1.csv", "table1-md": "table1.md", "table2-csv": "table2.csv",
             "table2-md": "table2.md", "claims": "claims.csv", "training-data": "training_data.csv",
             "stage-times": "stage_times.csv",
             "fig-iterations": "fig1_iterations.png", "fig-diversity": "diversity.png",
             "fig-dissimilarity": "dissimilarity_accuracy.png"}
    args = [sys.executable, str(ROOT / "scripts/report.py"), "--scores", *map(str, sorted(res.rglob("scores.json"))),
            "--diversity", *map(str, sorted(res.rglob("diversity.json"))), "--choices", '{"config_digest": "x"}',
            "--benchmarks", str(tmp_path / "bench"), "--shards", str(shard)]
    for flag, name in names.items():
        args += [f"--{flag}", str(out / name)]
    subprocess.run(args, check=True, capture_output=True, text=True)
    for name in names.values():
        assert (out / name).stat().st_size > 0, name
    assert list(pd.read_csv(out / "table1.csv")["method"]) == ["debate", "maft"]
    assert list(pd.read_csv(out / "stage_times.csv")["stage"]) == ["pretrain", "total"]
    text = (out / "report.md").read_text()
    assert "## Claims" in text and "![Figure 1" in text and "## Provenance of the scores" in text
    assert "| toy | arithmetic | maft | 1 | critic | 1 | 3 | 0 | 2 | 1 | 67 | 0 |" in text
    assert pd.read_csv(out / "training_data.csv")["examples"].tolist() == [3]


def test_snakemake_report_html_registers_every_table_and_figure(tmp_path):
    """Only the report job runs: the study's upstream files are stand-ins marked up to date with --touch."""
    import yaml

    from conftest import copy_workflow, snakemake

    wd = copy_workflow(tmp_path / "wf")
    (wd / "fake.yaml").write_text(yaml.safe_dump({"run": "fake", "methods": ["base", "debate"], "iterations": 0}))
    res = wd / "results/fake"
    for method, k in (("base", 300), ("debate", 330)):
        cell = write_cell(res, "toy", "arithmetic", method, 0, k, diversity={"embedding_dissimilarity": 0.2})
        (cell / "debate-test.parquet").write_text("stand-in")
    (res / "data/arithmetic").mkdir(parents=True)
    for split in ("train", "test"):
        (res / f"data/arithmetic/{split}.parquet").write_text("stand-in")
    write_toy(res / "base/toy")
    bench(wd / "benchmarks/fake", "base/toy.tsv", (10.0, 12.0))
    common = ("--configfile", "fake.yaml", "--cores", "1")
    snakemake("--touch", *common, cwd=wd)
    snakemake(*common, cwd=wd)
    out = snakemake("--report", "report.html", *common, cwd=wd)
    log = out.stdout + out.stderr
    for name in ("scores.csv", "cost.csv", "accuracy.png", "table1.csv", "table2.csv", "claims.csv",
                 "training_data.csv", "stage_times.csv", "fig1_iterations.png", "diversity.png", "dissimilarity_accuracy.png"):
        assert f"Adding {name} " in log, name
    assert (wd / "report.html").stat().st_size > 0
    assert list(pd.read_csv(res / "report/table1.csv")["method"]) == ["base", "debate"]
    assert "| toy | 1,129,472 | 2500 | 591 | 92% | 72% | 81% | this run |" in (res / "report/report.md").read_text()


def write_toy(path, **extra):
    """A toy base model directory's provenance.json, as scripts/pretrain_toy.py writes it."""
    path.mkdir(parents=True)
    ev = {"greedy_accuracy": 0.92, "sampled_accuracy": 0.7233, "majority_of_3_accuracy": 0.81}
    (path / "provenance.json").write_text(json.dumps(
        {"pretraining": {"parameters": 1129472, "steps": 2500, "seconds": 591.08, "eval": ev}, **extra}))
    return path


def test_the_base_model_section_says_whether_the_run_pretrained_its_toy(tmp_path):
    from maft.report import base_models_markdown

    own = write_toy(tmp_path / "a/toy")
    shipped = write_toy(tmp_path / "b/toy", shipped_from="resources/toy/default", pretrained_by="0123456789abcdef")
    rows = base_models_markdown([str(own), str(shipped)]).splitlines()
    assert rows[2] == "| toy | 1,129,472 | 2500 | 591 | 92% | 72% | 81% | this run |"
    assert rows[3].endswith("| shipped `resources/toy/default`, pretrained at `0123456789` |")
    md = report_markdown(frame(STUDY), {"config_digest": "abc"}, base_md=base_models_markdown([str(own)]))
    assert md.index("## The toy base model") < md.index("## Table 1")
    assert "## The toy base model" not in report_markdown(frame(STUDY), {"config_digest": "abc"})


def test_provenance_section_groups_scores_by_code_and_packages(tmp_path):
    from maft.report import provenance_markdown

    files = []
    for method, code in (("maft", "abc"), ("debate", "abc"), ("base", "def+dirty")):
        d = write_cell(tmp_path, "toy", "arithmetic", method, 0, 300)
        s = json.loads((d / "scores.json").read_text())
        s["provenance"] = {"code_version": code, "config_digest": "f00", "packages": {"torch": "2.13.0"},
                           "params": {"seed": 0}}
        (d / "scores.json").write_text(json.dumps(s))
        files.append(str(d / "scores.json"))
    rows = [line for line in provenance_markdown(files).splitlines() if line.startswith("| `")]
    assert rows == ["| `abc` | `f00` | torch 2.13.0 | maft/iter0, debate/iter0 |",
                    "| `def+dirty` | `f00` | torch 2.13.0 | base/iter0 |"]


# --- pooling runs (scripts/pool_runs.py) -------------------------------------------------------------


def test_pooled_accuracy_is_the_mean_with_the_runs_standard_errors_combined():
    from maft.report import pool_scores

    a, b = frame({("maft", 1): 0.7, ("base", 0): 0.5}), frame({("maft", 1): 0.8})
    pooled = pool_scores({"s0": a, "s1": b}).set_index(["method", "iteration"])
    assert pooled.loc[("maft", 1), "accuracy"] == pytest.approx(0.75)
    assert pooled.loc[("maft", 1), "stderr"] == pytest.approx(math.hypot(se(0.7), se(0.8)) / 2)
    assert pooled.loc[("maft", 1), "s0"] == 0.7 and pooled.loc[("maft", 1), "s1"] == 0.8
    assert pooled.loc[("base", 0), "runs"] == 1 and pd.isna(pooled.loc[("base", 0), "s1"])


def test_pooled_claims_average_each_check_and_narrow_its_interval():
    one = claims.evaluate(frame(STUDY))
    shifted = claims.evaluate(frame({**STUDY, ("debate", 0): 0.62}))  # debate − majority: +10 and +2 points
    pooled = {v.statement: v for v in claims.pool([one, shifted])}
    a = next(v for v in pooled.values() if v.claim == "a")
    check = next(c for c in a.checks if c.label == "debate − majority")
    alone = next(c for v in one if v.claim == "a" for c in v.checks if c.label == "debate − majority")
    assert check.diff == pytest.approx(0.06)
    assert check.se == pytest.approx(math.hypot(alone.se, math.hypot(se(0.62), se(0.6))) / 2)
    assert check.se < alone.se
    # a claim that one run could not test is not tested in the pool
    no_single = claims.evaluate(frame({k: v for k, v in STUDY.items() if k[0] != "single_ft"}))
    c = next(v for v in claims.pool([one, no_single]) if v.claim == "c")
    assert c.status == claims.NOT_TESTED and c.missing == ["the claim tested in every pooled run"]


def test_pool_runs_script_writes_the_pooled_report_and_names_a_missing_run(tmp_path):
    for name, debate in (("s0", 0.7), ("s1", 0.62)):
        (tmp_path / name / "report").mkdir(parents=True)
        frame({**STUDY, ("debate", 0): debate}).to_csv(tmp_path / name / "report/scores.csv", index=False)
    script = [sys.executable, str(ROOT / "scripts/pool_runs.py")]
    subprocess.run([*script, str(tmp_path / "s0"), str(tmp_path / "s1"), "--out", str(tmp_path / "pooled")],
                   check=True, capture_output=True, text=True)
    text = (tmp_path / "pooled/report.md").read_text()
    assert "debate − majority = +6.00" in text and "| toy | arithmetic | debate | 0 | 70.0 | 62.0 | 66.0 |" in text
    assert set(pd.read_csv(tmp_path / "pooled/claims.csv")["claim"]) >= {"a", "b", "c"}
    bad = subprocess.run([*script, str(tmp_path / "s0"), str(tmp_path / "none"), "--out", str(tmp_path / "x")],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "none/report/scores.csv does not exist" in bad.stderr
