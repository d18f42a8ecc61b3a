"""Workflow-level tests that need no model: lint, config validation, dry-run plans."""

import functools
import tempfile
from pathlib import Path

import yaml

import conftest
from conftest import ROOT, TINY, copy_workflow, job_counts

DEFAULT = yaml.safe_load((ROOT / "config/config.yaml").read_text())
# Plans are checked in a clean copy of the workflow: results already in the checkout would shrink them.
WF = copy_workflow(Path(tempfile.mkdtemp(prefix="maft-workflow-")))
snakemake = functools.partial(conftest.snakemake, cwd=WF)


def test_lint_is_clean():
    proc = snakemake("--lint")
    assert "Congratulations" in proc.stdout + proc.stderr


def test_default_study_plans_the_whole_comparison():
    counts = job_counts(snakemake("-n", "--quiet", "rules").stdout)
    n, L = DEFAULT["debate"]["agents"], DEFAULT["iterations"]
    assert len(DEFAULT["methods"]) == 10
    # Figure 1's maft (2N a round) and single_ft, and STaR, over L; majority FT and maft w/o summary at
    # L = 1; maft w/o critic's generators are maft's iteration-1 generators (the same shards): copied
    assert counts["finetune"] == 2 * n * L + L + L + 1 + 2 * n
    assert counts["share_agents_generator"] == n
    assert counts["select_shard"] == counts["finetune"]
    # computed debates: maft 7, maft_nosummary 3, maft_nocritic 1 (iter1 test), single_ft 5,
    # majority_ft 1 (iter1 test), star 5 (train 1..2, test 1..3); debate, majority, base: none.
    # One-round base debates are round 0 of maft's; single_ft's 1-agent evaluation at iter 1..L is
    # round 0 of agent 0 of single_ft's test debate (the same model in that seat)
    assert counts["debate"] == (L + L + 1) + 3 + 1 + (L - 1 + L) + 1 + (L - 1 + L)
    assert counts["share_trained_debate_test"] == L and "share_trained_diversity" not in counts
    # copied base debates: test (maft_nocritic, single_ft, debate; single_ft_nodebate, majority_ft:
    # round 0; star, majority, base: copies of those), train (single_ft; majority_ft and star: round 0)
    assert counts["share_base_debate_test"] == 8 and counts["share_base_debate_train"] == 3
    assert counts["score"] == (L + 1) * 4 + 2 * 3 + 3  # iterated, L = 1, untrained
    # a wholly copied base test debate has its source's diversity figures: copied too (not a round-0 slice)
    assert counts["share_base_diversity"] == 6
    assert counts["diversity"] + counts["share_base_diversity"] == counts["score"]
    assert counts["toy_base_model"] == 1 and counts["problems"] == 1


def _planned(stdout: str, key: str) -> dict[str, list[str]]:
    """{rule: the files of its jobs' `key` line (input or output)} from a verbose dry run."""
    out, rule = {}, None
    for line in stdout.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
        elif rule and line.strip().startswith(f"{key}:"):
            out.setdefault(rule, []).extend(f.strip() for f in line.split(":", 1)[1].split(","))
    return out


def test_the_report_reads_exactly_the_shards_the_study_selects(tmp_path):
    """Its finetuning-data table covers every finetune of the study and no copied agent's shard."""
    for extra in ([], ["--config", "methods=[maft,maft_nocritic,single_ft_nodebate]"]):
        out = snakemake("-n", *extra).stdout
        selected = _planned(out, "output")["select_shard"]
        read = [f for f in _planned(out, "input")["report"] if "/shards/" in f]
        assert sorted(read) == sorted(selected) and len(read) == len(set(read))
    assert len(_planned(snakemake("-n").stdout, "output")["select_shard"]) == 31


def test_the_method_alone_plans_every_iteration():
    counts = job_counts(snakemake("-n", "--quiet", "rules", "--config", "methods=[maft]").stdout)
    n, L = DEFAULT["debate"]["agents"], DEFAULT["iterations"]
    assert counts["finetune"] == 2 * n * L  # exactly 2N finetunes per iteration
    assert counts["select_shard"] == 2 * n * L
    assert counts["debate"] == L + (L + 1)  # train debates of iter 0..L-1, test debates of iter 0..L
    assert counts["score"] == L + 1
    assert counts["toy_base_model"] == 1 and counts["problems"] == 1


def _priorities(stdout: str) -> dict[tuple[str, str], int]:
    """{(rule, output): priority} from a dry run (Snakemake prints `priority:` only when it is not 0)."""
    out, rule, output = {}, None, None
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith(("rule ", "localrule ")):
            rule, output = line.split()[1].rstrip(":"), None
            out.setdefault((rule, ""), 0)
        elif line.startswith("output:") and rule:
            output = line.split(":", 1)[1].strip().split(",")[0]
            out[(rule, output)] = 0
        elif line.startswith("priority:") and rule and output:
            out[(rule, output)] = int(line.split(":")[1])
    return out


def test_long_chains_are_scheduled_first():
    jobs = _priorities(snakemake("-n").stdout)
    cell = "results/toy/toy/arithmetic/{}/iter{}/{}"

    def prio(rule, method, it, name):
        return jobs[(rule, cell.format(method, it, name))]

    n, L = DEFAULT["debate"]["agents"], DEFAULT["iterations"]
    # single-agent FT's pooled finetunes are the study's longest chain, then maft's and STaR's
    assert [prio("finetune", "single_ft", i, "agents/generator-0") for i in range(1, L + 1)] == [n * 3, n * 2, n]
    assert [prio("finetune", "maft", i, "agents/critic-1") for i in range(1, L + 1)] == [3, 2, 1]
    assert prio("select_shard", "maft", 1, "shards/critic-1.parquet") == 3
    assert prio("debate", "maft", 0, "debate-train.parquet") == L
    assert prio("debate", "single_ft", 1, "debate-train.parquet") == n * (L - 1)
    # single_ft copies maft's base train debate: the copy starts the longest chain
    assert prio("share_base_debate_train", "single_ft", 0, "debate-train.parquet") == n * L
    assert prio("rationalize", "star", 0, "rationales-train.parquet") == L
    assert prio("finetune", "maft_nosummary", 1, "agents/critic-0") == 1
    # a test debate ends its branch: it only fills the gaps
    assert prio("debate", "maft", 1, "debate-test.parquet") == prio("debate", "single_ft", 1, "debate-test.parquet") == 0


def test_tiny_config_plans_two_iterations():
    counts = job_counts(snakemake("-n", "--quiet", "rules", "--configfile", TINY).stdout)
    assert counts["finetune"] == 2 * 3 * 2


def test_methods_share_base_debates_and_train_only_what_they_need(tmp_path):
    cfg = tmp_path / "methods.yaml"
    cfg.write_text(yaml.safe_dump({"methods": ["maft", "maft_nocritic", "debate", "majority", "base"]}))
    counts = job_counts(snakemake("-n", "--quiet", "rules", "--configfile", cfg).stdout)
    n, L = 3, DEFAULT["iterations"]
    # maft: generators and critics over L; maft_nocritic: generators only, at its own L = 1 (Table 2),
    # and those are maft's iteration-1 generators, copied
    assert counts["finetune"] == 2 * n * L and counts["share_agents_generator"] == n
    # untrained methods are evaluated at iter0 only
    assert counts["score"] == (L + 1) + 2 + 3
    # iter0 is the base model's debate: maft computes it; maft_nocritic and debate copy it, majority and
    # base take its round 0. maft_nocritic trains nothing itself, so it needs no train debate
    assert "share_base_debate_train" not in counts and counts["share_base_debate_test"] == 4
    assert counts["debate"] == (L + L + 1) + 1  # maft, maft_nocritic (iter1 test)


def test_unknown_config_key_is_named(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"debate": {"agent": 3}}))
    proc = snakemake("-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    assert "'agent' was unexpected" in proc.stdout + proc.stderr


def test_impossible_value_is_named(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"debate": {"agents": 0, "rounds": 2}}))
    proc = snakemake("-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "agents" in out and "minimum" in out


def test_unknown_method_is_named(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"methods": ["maft", "mafft"]}))
    proc = snakemake("-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    assert "'mafft' has no entry in method_definitions" in proc.stdout + proc.stderr


def test_single_iteration_can_be_targeted():
    target = "results/toy/toy/arithmetic/maft/iter1/scores.json"
    counts = job_counts(snakemake("-n", target, "--quiet", "rules").stdout)
    assert counts["finetune"] == 6  # only iteration 1's agents
    assert counts["debate"] == 2  # iter0 train debate and iter1 test debate
    assert "report" not in counts


def test_slurm_profile_dry_runs_without_slurm():
    proc = snakemake("-n", "--quiet", "rules", "--profile", "profiles/slurm", "--config", "methods=[maft]")
    assert job_counts(proc.stdout)["finetune"] == 18


def test_pooled_methods_train_one_model_and_share_it(tmp_path):
    cfg = tmp_path / "pooled.yaml"
    cfg.write_text(yaml.safe_dump({"methods": ["single_ft", "single_ft_nodebate", "majority_ft"]}))
    proc = snakemake("-n", "--quiet", "rules", "--configfile", cfg)
    counts = job_counts(proc.stdout)
    L = DEFAULT["iterations"]
    # one finetune per iteration for each pooled method (majority FT: its own L = 1); single_ft_nodebate
    # reuses single_ft's model
    assert counts["finetune"] == L + 1
    assert counts["select_shard"] == L + 1
    assert counts["score"] == 2 * (L + 1) + 2
    # train debates of both trainers and test debates of single_ft and majority FT; the one-round base
    # debates (single_ft without debate's, majority FT's train and test) are round 0 of single_ft's, and
    # so are single_ft without debate's test debates after it (single_ft's model in agent 0's seat)
    assert counts["debate"] == (L + L + 1) + 1
    assert counts["share_base_debate_test"] == 2 and counts["share_base_debate_train"] == 1
    assert counts["share_trained_debate_test"] == L


def test_methods_run_their_own_number_of_iterations(tmp_path):
    cfg = tmp_path / "iterations.yaml"
    cfg.write_text(yaml.safe_dump({"methods": ["maft", "single_ft", "single_ft_nodebate"], "iterations": 1,
                                   "method_definitions": {"single_ft": {"train": "pooled", "iterations": 3}}}))
    counts = job_counts(snakemake("-n", "--quiet", "rules", "--configfile", cfg).stdout)
    # maft: 2N finetunes at iteration 1 only; single_ft: one model per iteration, 1..3
    assert counts["finetune"] == 2 * 3 * 1 + 3
    # scores: maft iter0..1, single_ft and single_ft_nodebate (its agents) iter0..3
    assert counts["score"] == 2 + 4 + 4


def test_pooled_dry_run_names_the_shared_model(tmp_path):
    cfg = tmp_path / "pooled.yaml"
    cfg.write_text(yaml.safe_dump({"methods": ["single_ft_nodebate"], "iterations": 1}))
    out = snakemake("-n", "--configfile", cfg).stdout
    assert "single_ft/iter1/agents/generator-0" in out
    assert "single_ft_nodebate/iter1/agents" not in out


def test_zero_shot_transfer_reuses_agents_trained_on_another_dataset(tmp_path):
    cfg = tmp_path / "transfer.yaml"
    cfg.write_text(yaml.safe_dump({
        "datasets": ["gsm8k"], "methods": ["maft"],
        "dataset_definitions": {"gsm8k": {"kind": "gsm8k", "answer": "number", "n_train": 10, "n_test": 10,
                                          "path": "data/gsm8k/test.jsonl", "transfer_from": "arithmetic"}},
    }))
    proc = snakemake("-n", "--configfile", cfg, "--quiet", "rules")
    counts = job_counts(proc.stdout)
    L, n = DEFAULT["iterations"], DEFAULT["debate"]["agents"]
    assert counts["finetune"] == 2 * n * L  # the arithmetic agents, trained once
    assert counts["score"] == L + 1  # scores on GSM8K only
    assert counts["debate"] == L + (L + 1)  # arithmetic train debates, GSM8K test debates
    assert counts["problems"] == 2
    plan_text = snakemake("-n", "--configfile", cfg).stdout
    assert "toy/gsm8k/maft/iter1/debate-test.parquet" in plan_text
    assert "toy/gsm8k/maft/iter1/agents" not in plan_text
    assert "toy/arithmetic/maft/iter1/agents/critic-0" in plan_text


def test_transfer_from_an_unknown_dataset_is_named(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({"dataset_definitions": {"arithmetic": {"transfer_from": "mathh"}}}))
    proc = snakemake("-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    assert "transfer_from: 'mathh' is not a defined dataset" in proc.stdout + proc.stderr


def test_star_plans_rationalisations_and_one_model(tmp_path):
    cfg = tmp_path / "star.yaml"
    cfg.write_text(yaml.safe_dump({"methods": ["star"]}))
    counts = job_counts(snakemake("-n", "--quiet", "rules", "--configfile", cfg).stdout)
    L = DEFAULT["iterations"]
    assert counts["rationalize"] == L and counts["finetune"] == L and counts["select_shard"] == L


def test_other_seeds_are_pooled_with_the_run_once_they_exist(tmp_path):
    """pool_with: the report of this run and those of finished runs with other seeds, pooled by one
    job; a run that has not been made is named as a missing input."""
    wd = copy_workflow(tmp_path / "wf")
    cfg = wd / "config/experiments/toy-seeds.yaml"
    proc = snakemake("-n", "--quiet", "rules", "--configfile", cfg, cwd=wd, check=False)
    assert proc.returncode != 0 and "results/toy_seed1/report/scores.csv" in proc.stdout + proc.stderr
    for run in ("toy_seed1", "toy_seed2"):
        (wd / f"results/{run}/report").mkdir(parents=True)
        (wd / f"results/{run}/report/scores.csv").write_text("model,dataset,method,iteration\n")
    counts = job_counts(snakemake("-n", "--quiet", "rules", "--configfile", cfg, cwd=wd).stdout)
    assert counts["pool_runs"] == 1 and counts["report"] == 1
    plan_ = snakemake("-n", "-p", "results/toy/pooled/report.md", "--configfile", cfg, cwd=wd).stdout
    assert "scripts/pool_runs.py results/toy results/toy_seed1 results/toy_seed2 --out results/toy/pooled" in plan_
    # the default study pools nothing
    assert "pool_runs" not in job_counts(snakemake("-n", "--quiet", "rules", cwd=wd).stdout)


def test_a_run_is_not_pooled_with_itself():
    proc = snakemake("-n", "--config", "pool_with=[toy]", check=False)
    assert proc.returncode != 0 and "pool_with: 'toy' is this run itself" in proc.stdout + proc.stderr
