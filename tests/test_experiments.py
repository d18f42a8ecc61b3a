"""The shipped experiment configs (config/experiments/*.yaml): each one plans the paper's study.

Each config is dry-run in a copy of the workflow that has no data/ folder and no results/, so the
plan is complete and the dataset files are not needed to see it. Expected job counts are derived
here from the merged config (dictionaries merge, lists replace, as `--configfile` does):
multiagent finetuning trains 2N agents (N generators, N critics) per iteration, N without critics.
"""

from __future__ import annotations

import copy
from pathlib import Path

import jinja2.sandbox
import pytest
import yaml

from conftest import ROOT, copy_workflow, job_counts, snakemake

EXPERIMENTS = sorted((ROOT / "config" / "experiments").glob("*.yaml"))
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
PAPER_MODELS = {
    "microsoft/Phi-3-mini-128k-instruct",
    "mistralai/Mistral-7B-Instruct-v0.2",
    "meta-llama/Meta-Llama-3-8B",
}


def merged(path: Path) -> dict:
    def merge(a, b):
        out = copy.deepcopy(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
        return out

    return merge(DEFAULT, yaml.safe_load(path.read_text()))


def expected_counts(cfg: dict) -> dict[str, int]:
    defs, n_agents, L = cfg["method_definitions"], cfg["debate"]["agents"], cfg["iterations"]
    cells = len(cfg["models"]) * len(cfg["datasets"])
    finetunes, scores, owners = 0, 0, set()
    for name in cfg["methods"]:
        d = defs[name]
        owner = d.get("uses") or name
        trains = defs[owner]["train"] != "none"
        o = defs[owner]
        its = L if o.get("iterations") is None else o["iterations"]  # a method's own L, else the study's
        scores += (its + 1) if trains else 1
        if trains and owner not in owners:
            owners.add(owner)
            agents = o.get("agents") or n_agents
            # pooled methods and STaR train one model; maft-style methods one per role and agent
            finetunes += its if o["train"] in ("pooled", "star") else len(roles(cfg, owner)) * agents * its
    # a per-agent method debating like an earlier one (in definition order) copies the iteration-1
    # agents of the roles both train
    shared, earlier = 0, []
    for name in [n for n in defs if n in owners and defs[n]["train"] == "per_agent"]:
        same = [e for e in earlier if debate_key(cfg, e) == debate_key(cfg, name)]
        copied = [r for r in roles(cfg, name) if any(r in roles(cfg, e) for e in same)]
        shared += len(copied) * debate_key(cfg, name)[0]
        earlier.append(name)
    return {"finetune": (finetunes - shared) * cells, "score": scores * cells, "problems": len(cfg["datasets"])}


def debate_key(cfg: dict, name: str) -> tuple:
    d = cfg["method_definitions"][name]
    return (d.get("agents") or cfg["debate"]["agents"], d.get("rounds") or cfg["debate"]["rounds"],
            d.get("summary", True), d.get("sampling") or {}, d.get("agent_ids", False))


def roles(cfg: dict, name: str) -> list[str]:
    d = cfg["method_definitions"][name]
    rounds = d.get("rounds") or cfg["debate"]["rounds"]
    return ["generator", "critic"] if d.get("critics", True) and rounds > 1 else ["generator"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    wd = copy_workflow(tmp_path_factory.mktemp("experiments"))
    assert not (wd / "data").exists() and not (wd / "results").exists()
    return wd


def test_experiments_are_shipped():
    names = {p.name for p in EXPERIMENTS}
    assert {"phi3-math.yaml", "mistral-math.yaml", "llama3-math.yaml", "quick-gpu.yaml"} <= names
    assert {"phi3-math-full.yaml", "mistral-math-full.yaml", "llama3-math-full.yaml"} <= names


@pytest.mark.parametrize("path", EXPERIMENTS, ids=lambda p: p.stem)
def test_experiment_dry_run_plans_the_study(workdir, path):
    cfg = merged(path)
    for run in cfg["pool_with"]:  # finished runs it pools with: only their reports are read
        (workdir / f"results/{run}/report").mkdir(parents=True, exist_ok=True)
        (workdir / f"results/{run}/report/scores.csv").touch()
    proc = snakemake("-n", "--quiet", "rules", "--configfile", path, cwd=workdir, timeout=120)
    counts = job_counts(proc.stdout)
    assert counts.get("pool_runs", 0) == (1 if cfg["pool_with"] else 0)
    want = expected_counts(cfg)
    for rule, n in want.items():
        assert counts.get(rule, 0) == n, (rule, counts)
    trained = [m for m in cfg["methods"] if cfg["method_definitions"][m]["train"] != "none"]
    if trained == ["maft"]:  # 2N finetunes per iteration, per model and dataset
        n, L = cfg["debate"]["agents"], cfg["iterations"]
        assert counts["finetune"] == 2 * n * L * len(cfg["models"]) * len(cfg["datasets"])
    if all(cfg["model_definitions"][m]["source"] != "toy" for m in cfg["models"]):
        assert "toy_base_model" not in counts  # hub models only: nothing is pretrained


def test_appendix_layers_over_a_paper_study(workdir):
    base, appendix = ROOT / "config/experiments/phi3-math.yaml", ROOT / "config/experiments/appendix.yaml"
    proc = snakemake("-n", "--quiet", "rules", "--configfile", base, appendix, cwd=workdir, timeout=120)
    counts = job_counts(proc.stdout)
    L = yaml.safe_load(base.read_text())["iterations"]
    # maft 2N per iteration, single_ft and single_ft_t2 one each over L; unique_id and majority FT one
    # model at iteration 1; maft with 5 agents 10 at iteration 1
    assert counts["finetune"] == 2 * 3 * L + 2 * L + 1 + 1 + 10
    out = snakemake("-n", "--configfile", base, appendix, cwd=workdir, timeout=120).stdout
    assert "results/phi3_math/phi3/math/single_ft_t2/iter5/scores.json" in out  # the study's folder and L


@pytest.mark.parametrize("path", [p for p in EXPERIMENTS if p.stem not in ("quick-gpu", "appendix")
                                  and not p.stem.startswith("toy-")],
                         ids=lambda p: p.stem)
def test_paper_settings(path):
    cfg = merged(path)
    assert cfg["debate"]["agents"] == 3 and cfg["debate"]["rounds"] == 2  # N = 3, M = 2
    assert cfg["sampling"] == {"temperature": 1.0, "top_p": 0.9, "max_new_tokens": 2048}
    for name in cfg["models"]:
        m = cfg["model_definitions"][name]
        assert m["source"] in PAPER_MODELS
        assert m["trust_remote_code"] is False
        if m["source"] == "meta-llama/Meta-Llama-3-8B":
            assert m["chat_template"] and "<|start_header_id|>" in m["chat_template"]
    for name in cfg["datasets"]:
        d = cfg["dataset_definitions"][name]
        assert (d["n_train"], d["n_test"]) == (500, 500)
        natural = {"arithmetic": "integer", "gsm8k": "number", "math": "math", "mmlu": "letter"}[d["kind"]]
        assert d["answer"] == natural
        if d["kind"] != "arithmetic":
            assert d["path"].startswith("data/")
    ft = cfg["finetune"]
    # paper schedule (2 epochs, cosine, warmup 0.03, max length 2048) for both kinds of finetuning
    assert (ft["epochs"], ft["max_length"], ft["scheduler"], ft["warmup_ratio"]) == (2, 2048, "cosine", 0.03)
    if path.stem.endswith("-full"):  # the paper's full finetuning, at its rate, on several GPUs
        assert (ft["method"], ft["lr"]) == ("full", 1e-5)
        assert cfg["compute"]["gpus"]["finetune"] > 1 and cfg["compute"]["cuda_env"] is True
    else:  # LoRA needs a larger rate than the paper's full-finetuning 1e-5
        assert (ft["method"], ft["lr"]) == ("lora", 1e-4)


def test_every_paper_model_config_has_a_full_finetuning_variant():
    for stem in ("phi3-math", "mistral-math", "llama3-math"):
        lora, full = (merged(ROOT / f"config/experiments/{s}.yaml") for s in (stem, f"{stem}-full"))
        assert full["run"] == f"{lora['run']}_full"  # its own results folder
        for key in ("models", "datasets", "methods", "iterations", "model_definitions", "dataset_definitions",
                    "debate", "sampling", "selection"):
            assert full[key] == lora[key], key  # only the finetuning differs


def test_math_configs_sample_levels_one_to_three():
    for stem in ("phi3-math", "mistral-math", "llama3-math"):
        cfg = merged(ROOT / "config" / "experiments" / f"{stem}.yaml")
        (name,) = cfg["datasets"]
        d = cfg["dataset_definitions"][name]
        assert d["kind"] == "math" and d["levels"] == [1, 2, 3] and d["split"] == "test"
    # Figure 1: five iterations for Phi-3 and Mistral; Table 1: one for LLaMA-3
    assert merged(ROOT / "config/experiments/phi3-math.yaml")["iterations"] == 5
    assert merged(ROOT / "config/experiments/mistral-math.yaml")["iterations"] == 5
    assert merged(ROOT / "config/experiments/llama3-math.yaml")["iterations"] == 1


def test_quick_gpu_uses_a_small_instruct_model():
    cfg = merged(ROOT / "config" / "experiments" / "quick-gpu.yaml")
    (name,) = cfg["models"]
    assert cfg["model_definitions"][name]["source"] == "Qwen/Qwen2.5-0.5B-Instruct"
    assert [cfg["dataset_definitions"][d]["kind"] for d in cfg["datasets"]] == ["arithmetic"]


def test_llama3_chat_template_renders_turns_as_a_concatenation():
    """The template in the config renders Llama-3's format, and each conversation prefix is a prefix of
    the whole rendering (what maft.chat.assistant_mask needs to find the assistant turns)."""
    template = merged(ROOT / "config/experiments/llama3-math.yaml")["model_definitions"]["llama3"]["chat_template"]
    env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    tpl = env.from_string(template)
    msgs = [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A. "},
            {"role": "user", "content": "Again?"}, {"role": "assistant", "content": "B"}]

    def render(k, gen):
        return tpl.render(messages=msgs[:k], bos_token="<|begin_of_text|>", add_generation_prompt=gen)

    assert render(1, True) == ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nQ?<|eot_id|>"
                               "<|start_header_id|>assistant<|end_header_id|>\n\n")
    full = render(4, False)
    assert full.endswith("<|start_header_id|>assistant<|end_header_id|>\n\nB<|eot_id|>")
    for k in range(1, 4):
        assert full.startswith(render(k, False))
        if msgs[k]["role"] == "assistant":  # the generation prompt is where the next assistant turn starts
            assert full.startswith(render(k, True))
