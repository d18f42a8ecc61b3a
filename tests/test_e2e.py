"""End to end: the tiny study on the embedded toy model, on CPU, through Snakemake."""

import json
from pathlib import Path

import pandas as pd
import pytest

from conftest import TINY, job_counts, snakemake
from maft.answers import extract_answer
from maft.artifacts import read_meta
from maft.debate import TRANSCRIPT_COLUMNS
from maft.generation import resolve_dtype
from maft.selection import SHARD_COLUMNS, SelectionSpec, per_agent_shards

pytestmark = pytest.mark.slow
CELL = "results/tiny/toy/arithmetic/maft"
N, M, L, P = 3, 2, 2, 24


def test_every_artifact_is_made(tiny_run):
    wd, _ = tiny_run
    for i in range(L + 1):
        assert (wd / CELL / f"iter{i}/debate-test.parquet").exists()
        assert (wd / CELL / f"iter{i}/scores.json").exists()
    for i in range(1, L + 1):
        for role in ("generator", "critic"):
            for n in range(N):
                assert (wd / CELL / f"iter{i}/shards/{role}-{n}.parquet").exists()
                agent = wd / CELL / f"iter{i}/agents/{role}-{n}"
                assert (agent / "adapter_config.json").exists() and (agent / "adapter_model.safetensors").exists()
    for name in ("scores.csv", "scores.md", "report.md", "cost.csv", "accuracy.png"):
        assert (wd / "results/tiny/report" / name).stat().st_size > 0
    assert not list(wd.rglob(".*.tmp-*")), "temporary files left behind"


def test_transcripts_follow_the_schema_and_the_debate(tiny_run):
    wd, _ = tiny_run
    df = pd.read_parquet(wd / CELL / "iter1/debate-test.parquet")
    assert list(df.columns) == TRANSCRIPT_COLUMNS
    assert len(df) == P * N * M
    assert set(df["round"]) == {0, 1} and set(df["agent"]) == set(range(N))
    assert (df[df["round"] == 0]["role"] == "generator").all() and (df[df["round"] == 1]["role"] == "critic").all()
    # iter1's agents are the adapters of iteration 1, per agent and role
    for row in df.itertuples():
        role = "generator" if row.round == 0 else "critic"
        assert row.model.endswith(f"iter1/agents/{role}-{row.agent}")
    assert df[df["round"] == 0]["summary"].isna().all()
    assert df[df["round"] == 1]["summary"].notna().all()
    for row in df[df["round"] == 1].itertuples():
        messages = json.loads(row.prompt)
        assert [m["role"] for m in messages] == ["user", "assistant", "user"]
        assert row.summary in messages[-1]["content"]
        own = df[(df.problem_id == row.problem_id) & (df.agent == row.agent) & (df["round"] == 0)].response.iloc[0]
        assert messages[1]["content"] == own  # a critic continues its own conversation
    for row in df.itertuples():
        assert (row.answer if isinstance(row.answer, str) else None) == extract_answer(row.response)
    meta = read_meta(wd / CELL / "iter1/debate-test.parquet")
    assert meta["params"]["iteration"] == 1 and meta["config_digest"]
    # generation.dtype ("auto" is resolved on the machine that ran the job): the transcript says what it was
    asked = meta["params"]["generation"]["dtype"]
    assert meta["generation_dtype"] == str(resolve_dtype(asked, "cpu")).removeprefix("torch.")


def test_shards_are_the_selection_of_the_previous_train_debate(tiny_run):
    wd, _ = tiny_run
    transcript = pd.read_parquet(wd / CELL / "iter1/debate-train.parquet")
    expected = per_agent_shards(transcript, SelectionSpec(seed=0))
    for (role, n), want in expected.items():
        got = pd.read_parquet(wd / CELL / f"iter2/shards/{role}-{n}.parquet")
        assert list(got.columns) == SHARD_COLUMNS
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True))


def test_agents_continue_from_the_previous_iteration(tiny_run):
    wd, _ = tiny_run
    prov = json.loads((wd / CELL / "iter2/agents/generator-0/provenance.json").read_text())
    assert prov["training"]["init"].endswith("iter1/agents/generator-0")
    first = json.loads((wd / CELL / "iter1/agents/generator-0/provenance.json").read_text())
    assert first["training"]["init"] == "base"


def test_scores_are_consistent(tiny_run):
    wd, _ = tiny_run
    for i in range(L + 1):
        s = json.loads((wd / CELL / f"iter{i}/scores.json").read_text())
        assert s["n"] == P and 0 <= s["correct"] <= P
        assert s["accuracy"] == pytest.approx(s["correct"] / P)
        assert s["drop_unparsed"]["n"] == P - s["unparsed"]
    table = pd.read_csv(wd / "results/tiny/report/scores.csv")
    assert sorted(table["iteration"]) == list(range(L + 1))


def test_second_invocation_has_nothing_to_do(tiny_run):
    wd, _ = tiny_run
    proc = snakemake("-n", "--configfile", TINY, cwd=wd)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_forcing_one_iteration_reruns_only_what_follows(tiny_run):
    wd, _ = tiny_run
    target = f"{CELL}/iter2/debate-test.parquet"
    counts = job_counts(snakemake("-n", "--quiet", "rules", "--configfile", TINY, "-R", target, cwd=wd).stdout)
    assert counts == {"debate": 1, "score": 1, "diversity": 1, "report": 1, "all": 1, "total": 5}


def test_rerun_is_bit_identical(tiny_run):
    """Same config and seeds: forcing a debate, a shard and a finetune again gives the same bytes."""
    wd, _ = tiny_run
    targets = [f"{CELL}/iter1/debate-test.parquet", f"{CELL}/iter2/shards/critic-1.parquet",
               f"{CELL}/iter2/agents/generator-0"]
    files = [wd / targets[0], wd / targets[1], wd / targets[2] / "adapter_model.safetensors"]
    before = [f.read_bytes() for f in files]
    snakemake("--cores", "2", "--configfile", TINY, "--forcerun", *targets, "--until", *targets, cwd=wd)
    after = [f.read_bytes() for f in files]
    for f, a, b in zip(files, before, after):
        assert a == b, f"{f} changed on a forced rerun"


def test_provenance_command_prints_what_made_an_artifact(tiny_run):
    import subprocess
    import sys

    wd, _ = tiny_run
    for artifact in (f"{CELL}/iter1/debate-test.parquet", f"{CELL}/iter1/agents/critic-0", f"{CELL}/iter1/scores.json"):
        out = subprocess.run([sys.executable, "scripts/provenance.py", artifact], cwd=wd, capture_output=True,
                             text=True, check=True).stdout
        meta = json.loads(out)
        assert meta["config_digest"] and meta["code_version"] and "torch" in meta["packages"]
        assert meta["params"]["seed"] == 0


def test_report_names_the_choices_it_used(tiny_run):
    wd, _ = tiny_run
    text = (wd / "results/tiny/report/report.md").read_text()
    for choice in ("tie_break", "critic_mix", "summarizer", "restart_from_base", "sampling", "Config digest"):
        assert choice in text
    assert '"subtraction": "tens"' in text  # the toy's teacher, named where the study runs the toy
    assert "| random |" not in text  # values are shown as JSON
    assert '`"random"`' in text


def test_the_finetuning_data_table_counts_every_shard_on_disk(tiny_run):
    wd, _ = tiny_run
    table = pd.read_csv(wd / "results/tiny/report/training_data.csv")
    assert sorted(zip(table["iteration"], table["role"])) == [(i, r) for i in range(1, L + 1) for r in ("critic", "generator")]
    for r in table.itertuples():
        shards = [pd.read_parquet(wd / CELL / f"iter{r.iteration}/shards/{r.role}-{n}.parquet") for n in range(N)]
        kinds = pd.concat(shards)["kind"].value_counts()
        assert r.shards == N and r.examples == sum(map(len, shards))
        assert (r.generator, r.critic_corrected, r.critic_kept) == tuple(
            int(kinds.get(k, 0)) for k in ("generator", "critic_corrected", "critic_kept"))
    assert "## Finetuning data" in (wd / "results/tiny/report/report.md").read_text()


def test_cost_table_counts_every_gpu_job(tiny_run):
    wd, _ = tiny_run
    cost = pd.read_csv(wd / "results/tiny/report/cost.csv")
    ft = cost[cost["stage"] == "finetune"]
    assert sorted(ft["iteration"]) == [1, 2] and (ft["jobs"] == 2 * N).all()
    tests = cost[cost["stage"] == "debate-test"]
    assert sorted(tests["iteration"]) == [0, 1, 2]
    assert sorted(cost[cost["stage"] == "diversity"]["iteration"]) == [0, 1, 2]  # diversity runs on GPUs too
    assert (cost["gpu_hours"] > 0).all()
    assert cost["gpu_hours"].sum() == pytest.approx(cost["seconds"].sum() / 3600)  # 1 GPU per job in tiny


def test_diversity_is_measured_for_every_iteration(tiny_run):
    wd, _ = tiny_run
    for i in range(L + 1):
        d = json.loads((wd / CELL / f"iter{i}/diversity.json").read_text())
        t = pd.read_parquet(wd / CELL / f"iter{i}/debate-test.parquet")
        final = t[t["round"] == t["round"].max()]
        # consensus, recomputed: the vote's share of agents (the largest group of equal answers)
        want = final.groupby("problem_id")["answer"].apply(
            lambda a: a.dropna().value_counts().max() / len(a) if a.notna().any() else 0.0).mean()
        assert d["problems"] == P and d["consensus"] == pytest.approx(want)
        assert d["embedding_dissimilarity"] >= 0 and d["heldout_nll"] > 0
        if i == 0:  # every agent is the base model: no divergence
            assert d["pairwise_kl"] == pytest.approx(0, abs=1e-6) and d["kl_to_base"] == pytest.approx(0, abs=1e-6)
    table = pd.read_csv(wd / "results/tiny/report/scores.csv")
    assert table["heldout_nll"].notna().all()
    assert "Diversity" in (wd / "results/tiny/report/report.md").read_text()


def test_a_method_with_the_same_base_debate_copies_it(tiny_run):
    """`debate` at iter0 is maft's iter0 debate: its own job would get the same parameters and seats,
    so the pipeline copies maft's transcript instead of generating it again."""
    import shlex

    wd, _ = tiny_run
    alone = snakemake("-n", "-p", "--configfile", TINY, "--config", "methods=[debate]", cwd=wd).stdout
    cmd = next(line.split("Shell command:", 1)[1] if "Shell command:" in line else line
               for line in alone.splitlines() if "scripts/debate.py" in line and "debate/iter0/debate-test" in line)
    argv = shlex.split(cmd.strip())
    own = read_meta(wd / CELL / "iter0/debate-test.parquet")
    assert json.loads(argv[argv.index("--params") + 1]) == own["params"]
    assert argv[argv.index("--generators") + 1: argv.index("--critics")] == ["base"] * N

    target = "results/tiny/toy/arithmetic/debate/iter0/scores.json"
    diversity = "results/tiny/toy/arithmetic/debate/iter0/diversity.json"
    proc = snakemake(target, diversity, "--cores", "2", "--configfile", TINY, "--config", "methods=[maft,debate]",
                     cwd=wd)
    assert "share_base_debate_test" in proc.stdout + proc.stderr
    copy = wd / "results/tiny/toy/arithmetic/debate/iter0/debate-test.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(copy), pd.read_parquet(wd / CELL / "iter0/debate-test.parquet"))
    assert read_meta(copy)["shared_from"].endswith("maft/iter0/debate-test.parquet")
    assert json.loads((wd / target).read_text())["n"] == P
    # its diversity figures are maft's, copied rather than computed again from the same transcript
    assert "share_base_diversity" in proc.stdout + proc.stderr
    shared = json.loads((wd / diversity).read_text())
    assert shared.pop("shared_from").endswith("maft/iter0/diversity.json")
    assert shared == json.loads((wd / CELL / "iter0/diversity.json").read_text())


def test_a_one_round_method_takes_round_0_of_the_debate(tiny_run):
    """majority (3 agents, 1 round) computed by its own job, then taken as round 0 of maft's iter0
    debate: the same rows, since round 0 reads nothing of the other agents and seeds do not depend
    on the method. Its diversity is computed from the slice, not copied from maft's final round."""
    wd, _ = tiny_run
    own = wd / "results/tiny/toy/arithmetic/majority/iter0/debate-test.parquet"
    target = str(own.relative_to(wd))
    proc = snakemake(target, "--cores", "2", "--configfile", TINY, "--config", "methods=[majority]", cwd=wd)
    assert "rule debate:" in proc.stdout + proc.stderr
    computed = pd.read_parquet(own)
    own.unlink()
    diversity = target.replace("debate-test.parquet", "diversity.json")
    proc = snakemake(target, diversity, "--cores", "2", "--configfile", TINY, "--config", "methods=[maft,majority]",
                     cwd=wd)
    out = proc.stdout + proc.stderr
    assert "share_base_debate_test" in out and "share_base_diversity" not in out
    sliced = pd.read_parquet(own)
    assert set(sliced["round"]) == {0} and len(sliced) == N * P
    pd.testing.assert_frame_equal(sliced, computed)
    meta = read_meta(own)
    assert meta["shared_from"].endswith("maft/iter0/debate-test.parquet") and meta["shared_rounds"] == 1
    assert json.loads((wd / diversity).read_text())["problems"] == P


def test_a_finetuned_one_round_method_takes_round_0_of_its_owners_debate(tiny_run):
    """single-agent FT w/o debate at iteration 1 computed by its own job, then taken as round 0 of
    agent 0 of single-agent FT's iteration-1 test debate: the same model in that seat, the same seeds."""
    wd, _ = tiny_run
    cell = "results/tiny/toy/arithmetic/single_ft_nodebate/iter1"
    own = wd / cell / "debate-test.parquet"
    proc = snakemake(str(own.relative_to(wd)), "--cores", "2", "--configfile", TINY, "--config",
                     "methods=[single_ft_nodebate]", cwd=wd)
    assert "rule debate:" in proc.stdout + proc.stderr and "share_trained_debate_test" not in proc.stdout
    computed = pd.read_parquet(own)
    assert (computed["model"].str.endswith("single_ft/iter1/agents/generator-0")).all()
    own.unlink()
    proc = snakemake(f"{cell}/scores.json", f"{cell}/diversity.json", "--cores", "2", "--configfile", TINY,
                     "--config", "methods=[single_ft,single_ft_nodebate]", cwd=wd)
    out = proc.stdout + proc.stderr
    assert "share_trained_debate_test" in out and "share_trained_diversity" not in out
    sliced = pd.read_parquet(own)
    assert set(sliced["round"]) == {0} and set(sliced["agent"]) == {0} and len(sliced) == P
    pd.testing.assert_frame_equal(sliced, computed)
    meta = read_meta(own)
    assert meta["shared_from"].endswith("single_ft/iter1/debate-test.parquet") and meta["shared_agents"] == 1
    assert json.loads((wd / cell / "diversity.json").read_text())["problems"] == P


def test_an_ablation_with_the_same_iteration_1_shard_copies_the_agent(tiny_run):
    """maft w/o critic's iteration-1 generators train on maft's generator shards with maft's settings:
    the pipeline copies maft's agents instead of finetuning them again."""
    import shlex

    wd, _ = tiny_run
    nocritic = "results/tiny/toy/arithmetic/maft_nocritic/iter1"
    # its own finetune (the method alone) would run with the parameters maft's agent was trained with
    alone = snakemake("-n", "-p", f"{nocritic}/agents/generator-1", "--configfile", TINY, "--config",
                      "methods=[maft_nocritic]", cwd=wd).stdout
    cmd = next(line.split("Shell command:", 1)[1] if "Shell command:" in line else line
               for line in alone.splitlines() if "scripts/finetune.py" in line and "generator-1" in line)
    argv = shlex.split(cmd.strip())
    maft_agent = wd / CELL / "iter1/agents/generator-1"
    recorded = json.loads((maft_agent / "provenance.json").read_text())
    assert json.loads(argv[argv.index("--params") + 1]) == recorded["params"]
    # ... on the same shard: its own selection from its own (the same) base train debate
    snakemake(f"{nocritic}/shards/generator-1.parquet", "--cores", "2", "--configfile", TINY, "--config",
              "methods=[maft_nocritic]", cwd=wd)
    pd.testing.assert_frame_equal(pd.read_parquet(wd / nocritic / "shards/generator-1.parquet"),
                                  pd.read_parquet(wd / CELL / "iter1/shards/generator-1.parquet"))

    proc = snakemake(f"{nocritic}/agents/generator-1", "--cores", "2", "--configfile", TINY, "--config",
                     "methods=[maft,maft_nocritic]", cwd=wd)
    out = proc.stdout + proc.stderr
    assert "share_agents_generator" in out and "rule finetune:" not in out
    copy = wd / nocritic / "agents/generator-1"
    for name in ("adapter_config.json", "adapter_model.safetensors"):
        assert (copy / name).read_bytes() == (maft_agent / name).read_bytes()
    assert json.loads((copy / "provenance.json").read_text())["shared_from"].endswith("maft/iter1/agents/generator-1")


def test_one_agent_diversity_is_computed_without_a_model(tiny_run):
    """A single-agent debate has one response per problem: consensus 1, dissimilarity 0 by
    definition, no other agent to score it with; the job writes that without loading the model."""
    wd, _ = tiny_run
    target = "results/tiny/toy/arithmetic/base/iter0/diversity.json"
    proc = snakemake(target, "--cores", "2", "--configfile", TINY, "--config", "methods=[maft,base]", cwd=wd)
    assert proc.returncode == 0
    d = json.loads((wd / target).read_text())
    answers = pd.read_parquet(wd / target.replace("diversity.json", "debate-test.parquet"))["answer"]
    assert len(answers) == P  # one agent, one round
    # the lone agent agrees with the vote wherever its answer parsed (the tiny toy's often do not)
    assert d["problems"] == P and d["consensus"] == pytest.approx(answers.notna().mean())
    assert d["embedding_dissimilarity"] == 0.0
    assert "heldout_nll" not in d and "pairwise_kl" not in d
    logs = wd / "logs/tiny/toy/arithmetic"
    assert "Loading weights" not in (logs / "base/iter0/diversity.log").read_text()
    assert "Loading weights" in (logs / "maft/iter0/diversity.log").read_text()  # what a model load logs
