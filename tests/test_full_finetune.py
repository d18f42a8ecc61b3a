"""Full finetuning (finetune.method full, the paper's setting): real on CPU without DeepSpeed; the
DeepSpeed ZeRO-3 launch is checked by construction here and run for real by the `gpu` test."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from conftest import ROOT, env
from maft import prompts
from maft.debate import DebateSpec, Seat, run_debate
from maft.finetune import DEEPSPEED_CONFIG, launch_command, launch_processes, uses_deepspeed
from maft.generation import Request, Sampling, TransformersBackend, split_agents
from toyfactory import finetune_cfg, finetune_command, run_finetune, toy_base, toy_shard

FULL = finetune_cfg(method="full", lr=1e-3, epochs=1, batch_size=4)


@pytest.fixture(scope="module")
def full_agents(tmp_path_factory):
    root = tmp_path_factory.mktemp("full")
    base = toy_base(root / "base")
    shard = toy_shard(root / "shard.parquet", 16)
    run_finetune(shard, base, root / "iter1", FULL, root / "scratch1")
    run_finetune(shard, base, root / "iter2", FULL, root / "scratch2", init=str(root / "iter1"))
    return base, str(root / "iter1"), str(root / "iter2")


def weights(path):
    return load_file(os.path.join(path, "model.safetensors"))


def test_full_finetune_gives_a_complete_model_whose_weights_changed(full_agents):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base, first, second = full_agents
    for d in (first, second):
        assert not os.path.exists(os.path.join(d, "adapter_config.json"))
        AutoModelForCausalLM.from_pretrained(d)  # loads by itself, no base needed
        assert AutoTokenizer.from_pretrained(d).chat_template
    b, f, s = weights(base), weights(first), weights(second)
    assert b.keys() == f.keys()
    changed = [k for k in b if not torch.equal(b[k], f[k])]
    assert len(changed) == len(b), "every weight is trained, not an adapter"
    assert any(not torch.equal(f[k], s[k]) for k in f)
    prov = json.loads(open(os.path.join(second, "provenance.json")).read())
    assert prov["training"]["init"] == first and prov["training"]["method"] == "full"
    assert prov["training"]["trained"] and prov["training"]["steps"] == 4


def test_debate_with_full_checkpoint_agents(full_agents):
    base, first, second = full_agents
    agents = {"agent0": first, "agent1": second}
    assert split_agents(agents) == ({}, agents)
    greedy = Sampling(0.0, 1.0, 12)
    backend = TransformersBackend(base, agents, greedy, batch_size=8, device="cpu", dtype="float32")
    problems = pd.DataFrame({"problem_id": ["p0", "p1"], "reference": ["-19", "7"],
                             "question": ["What is the result of 1+2*3+4-5*6?", "What is the result of 3+2*2+4-1*4?"]})
    spec = DebateSpec([Seat("agent0", first), Seat("agent0", first)], [Seat("agent1", second), Seat("agent1", second)], 2)
    df = run_debate(backend, problems, spec, (0, 1, "test"))
    assert len(df) == 2 * 2 * 2 and set(df[df["round"] == 1]["model"]) == {second}
    # each distinct model is loaded once, and a full agent answers exactly as that model alone would
    assert set(backend.loaded) == {first, second}
    reqs = [Request([prompts.user(prompts.generator_prompt(q))], seed=i, adapter=a)
            for i, q in enumerate(problems["question"]) for a in (None, "agent0", "agent1")]
    together = backend.generate(reqs)
    for name, path in ((None, base), ("agent0", first), ("agent1", second)):
        alone = TransformersBackend(path, {}, greedy, batch_size=8, device="cpu", dtype="float32")
        idx = [i for i, r in enumerate(reqs) if r.adapter == name]
        assert [together[i] for i in idx] == alone.generate([Request(reqs[i].messages, reqs[i].seed) for i in idx])


def test_diversity_scores_full_checkpoint_agents_with_their_own_model(full_agents):
    from maft.diversity import AgentScorer, ModelScorer
    from maft.generation import load_base_model, load_tokenizer

    base, first, _ = full_agents
    tok = load_tokenizer(base)
    own = ModelScorer(load_base_model(first, "cpu", "float32"), tok)
    scorer = AgentScorer(ModelScorer(load_base_model(base, "cpu", "float32"), tok), {"a0": own})
    msgs = [prompts.user(prompts.generator_prompt("What is the result of 1+2*3+4-5*6?"))]
    ids, via_agent = scorer(msgs, "1+6=7", "a0")
    _, direct = own(msgs, "1+6=7", None)
    _, on_base = scorer(msgs, "1+6=7", None)
    assert len(ids) and torch.equal(via_agent, direct) and not torch.equal(via_agent, on_base)


def test_launcher_uses_torchrun_only_for_full_finetuning_on_gpus():
    full, lora = {"method": "full"}, {"method": "lora"}
    assert launch_processes(full, 4, 4, {}) == 4
    assert launch_processes(full, 8, 2, {}) == 2          # never more processes than visible GPUs
    assert launch_processes(full, 0, 2, {}) == 1
    assert launch_processes(full, 4, 0, {}) == 0          # CPU: in-process, no DeepSpeed
    assert launch_processes({**full, "device": "cpu"}, 4, 4, {}) == 0
    assert launch_processes(lora, 4, 4, {}) == 0
    assert launch_processes(full, 4, 4, {"LOCAL_RANK": "0"}) == 0  # already launched: train
    cmd = launch_command("scripts/finetune.py", ["--params", "{}", "--out", "x"], 4)
    assert cmd[:5] == [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=4"]
    assert cmd[5:] == ["scripts/finetune.py", "--params", "{}", "--out", "x"]


def test_zero3_config_is_valid_and_used_for_full_finetuning_on_gpus():
    ds = json.loads(DEEPSPEED_CONFIG.read_text())
    assert DEEPSPEED_CONFIG == ROOT / "config/deepspeed/zero3.json"
    assert ds["zero_optimization"]["stage"] == 3
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True  # full weights saved
    assert ds["train_micro_batch_size_per_gpu"] == "auto" and ds["bf16"]["enabled"] == "auto"
    assert uses_deepspeed({"method": "full", "device": "cuda"})
    assert not uses_deepspeed({"method": "full", "device": "cpu"})
    assert not uses_deepspeed({"method": "lora", "device": "cuda"})
    rule = (ROOT / "rules/finetune.smk").read_text()
    assert "--gpus {resources.gpu}" in rule  # the job's GPU count reaches the launcher
    cuda_env = (ROOT / "envs/maft-cuda.yaml").read_text()
    assert "deepspeed" in cuda_env and "deepspeed" not in (ROOT / "envs/maft-cpu.yaml").read_text()


@pytest.mark.gpu
def test_full_finetune_with_deepspeed_on_gpus(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    pytest.importorskip("deepspeed")
    base = toy_base(tmp_path / "base")
    shard = toy_shard(tmp_path / "shard.parquet", 16)
    cfg = finetune_cfg(method="full", device="auto", epochs=1, batch_size=4)
    cmd = finetune_command(shard, base, tmp_path / "agent", cfg, tmp_path / "scratch")
    cmd += ["--gpus", str(torch.cuda.device_count())]
    proc = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "deepspeed" in (proc.stdout + proc.stderr).lower()  # trained under ZeRO-3, not plain DDP
    w, b = weights(tmp_path / "agent"), weights(base)
    assert any(not torch.equal(w[k].float(), b[k].float()) for k in b if k in w)
    assert not (tmp_path / "scratch").exists()
