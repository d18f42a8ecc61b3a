"""The vLLM backend's request plumbing, against a test double of the `vllm` API (vLLM needs a GPU and
pulls a CUDA stack, so it is not installed here), plus a GPU smoke test against real vLLM."""

import json
import sys
import types

import numpy as np
import pytest

from maft import prompts
from maft.chat import prompt_ids
from maft.debate import DebateSpec, Seat, run_debate
from maft.generation import Request, Sampling
from maft.toy.model import build_tokenizer
from maft.toy.teacher import chat_example


class FakeLLM:
    """Records what the backend asks of vLLM and answers deterministically."""
    instances: list = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls = []
        FakeLLM.instances.append(self)

    def get_tokenizer(self):
        return FakeLLM.tokenizer

    def generate(self, prompts, sampling_params, use_tqdm=True, lora_request=None):
        self.calls.append((prompts, sampling_params, lora_request))
        loras = lora_request if isinstance(lora_request, list) else [lora_request] * len(prompts)
        out = []
        for p, sp, lora in zip(prompts, sampling_params, loras):
            name = lora.lora_name if lora is not None else "base"
            text = f"{name} says \\boxed{{{sp.kwargs['seed'] % 3}}}"
            out.append(types.SimpleNamespace(outputs=[types.SimpleNamespace(text=text)]))
        return out


class FakeSamplingParams:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


class FakeLoRARequest:
    def __init__(self, lora_name, lora_int_id, lora_path):
        self.lora_name, self.lora_int_id, self.lora_path = lora_name, lora_int_id, lora_path


@pytest.fixture
def fake_vllm(monkeypatch):
    vllm = types.ModuleType("vllm")
    vllm.LLM, vllm.SamplingParams = FakeLLM, FakeSamplingParams
    lora = types.ModuleType("vllm.lora")
    request = types.ModuleType("vllm.lora.request")
    request.LoRARequest = FakeLoRARequest
    for name, mod in (("vllm", vllm), ("vllm.lora", lora), ("vllm.lora.request", request)):
        monkeypatch.setitem(sys.modules, name, mod)
    rng = np.random.default_rng(0)
    texts = ["\n".join(m["content"] for m in chat_example(k, rng, 0.4, 0.2, set()))
             for k in ("solve", "critic", "summarize") for _ in range(40)]
    FakeLLM.tokenizer = build_tokenizer(texts, 400)
    FakeLLM.instances = []
    return FakeLLM


def adapters(tmp_path, ranks):
    out = {}
    for i, r in enumerate(ranks):
        d = tmp_path / f"agent{i}"
        d.mkdir()
        (d / "adapter_config.json").write_text(json.dumps({"r": r, "peft_type": "LORA"}))
        out[f"agent{i}"] = str(d)
    return out


def test_engine_is_built_for_every_adapter(fake_vllm, tmp_path):
    from maft.vllm_backend import VLLMBackend

    VLLMBackend("base-model", adapters(tmp_path, [16, 16, 32, 16, 16, 16]), Sampling(1.0, 0.9, 64),
                tensor_parallel_size=4)
    kw = fake_vllm.instances[-1].kwargs
    assert kw["model"] == "base-model" and kw["tensor_parallel_size"] == 4
    assert kw["enable_lora"] is True and kw["max_loras"] >= 6 and kw["max_lora_rank"] == 32
    assert kw["trust_remote_code"] is False


def test_requests_carry_prompt_ids_seeds_and_adapters(fake_vllm, tmp_path):
    from maft.vllm_backend import VLLMBackend

    ads = adapters(tmp_path, [16, 16])
    backend = VLLMBackend("base-model", ads, Sampling(0.7, 0.8, 33), tensor_parallel_size=1)
    msgs = [[prompts.user(prompts.generator_prompt(f"What is the result of {i}+1*2+3-4*5?"))] for i in range(3)]
    reqs = [Request(msgs[0], 11, "agent0"), Request(msgs[1], 22, "agent1"), Request(msgs[2], 33, None)]
    texts = backend.generate(reqs)
    assert texts == ["agent0 says \\boxed{2}", "agent1 says \\boxed{1}", "base says \\boxed{0}"]
    sent, params, loras = fake_vllm.instances[-1].calls[-1]
    # the same token ids the transformers backend would send: the model's own chat template
    assert [p["prompt_token_ids"] for p in sent] == [prompt_ids(FakeLLM.tokenizer, m) for m in msgs]
    assert [p.kwargs["seed"] for p in params] == [11, 22, 33]
    for p in params:
        assert (p.kwargs["temperature"], p.kwargs["top_p"], p.kwargs["max_tokens"]) == (0.7, 0.8, 33)
        assert FakeLLM.tokenizer.eos_token_id in p.kwargs["stop_token_ids"]
    assert loras[0].lora_path == ads["agent0"] and loras[1].lora_path == ads["agent1"] and loras[2] is None
    assert loras[0].lora_int_id != loras[1].lora_int_id
    with pytest.raises(KeyError, match="agent7"):
        backend.generate([Request(msgs[0], 1, "agent7")])


def test_a_debate_routes_roles_to_their_adapters(fake_vllm, tmp_path):
    from maft.vllm_backend import VLLMBackend

    ads = adapters(tmp_path, [16] * 4)  # agent0/1: generators, agent2/3: critics
    backend = VLLMBackend("base-model", ads, Sampling(), tensor_parallel_size=1)
    import pandas as pd

    problems = pd.DataFrame({"problem_id": ["p0", "p1"], "question": ["What is the result of 1+2*3+4-5*6?"] * 2,
                             "reference": ["-19", "-19"]})
    spec = DebateSpec([Seat("agent0", "g0"), Seat("agent1", "g1")], [Seat("agent2", "c0"), Seat("agent3", "c1")], 2)
    df = run_debate(backend, problems, spec, (0, 1, "test"))
    calls = fake_vllm.instances[-1].calls
    # round 0 generators, then summaries on the base model, then critics
    assert [l.lora_name for l in calls[0][2]] == ["agent0", "agent1"] * 2
    assert all(l is None for l in calls[1][2])
    assert [l.lora_name for l in calls[2][2]] == ["agent2", "agent3"] * 2
    assert set(df[df["round"] == 1]["model"]) == {"c0", "c1"}
    assert df["summary"].notna().sum() == 4


def test_full_checkpoint_agents_get_an_engine_each_in_turn(fake_vllm, tmp_path):
    from maft.vllm_backend import VLLMBackend

    ads = adapters(tmp_path, [8])  # agent0: a LoRA adapter on the base
    for name in ("full1", "full2"):  # full finetuning: complete model directories
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
        ads[name] = str(tmp_path / name)
    backend = VLLMBackend("base-model", ads, Sampling(), tensor_parallel_size=1)
    assert fake_vllm.instances[-1].kwargs["max_loras"] == 1  # only the LoRA agent on the base engine
    msgs = [prompts.user("What is the result of 1+2*3+4-5*6?")]
    names = ["full1", None, "agent0", "full2", "full1"]
    texts = backend.generate([Request(msgs, i, n) for i, n in enumerate(names)])
    engines = [e.kwargs["model"] for e in fake_vllm.instances]
    # the running base engine serves its requests first, then one engine per full checkpoint, in turn
    assert engines == ["base-model", ads["full1"], ads["full2"]]
    for e in fake_vllm.instances[1:]:
        assert "enable_lora" not in e.kwargs and len(e.calls) == 1 and e.calls[0][2] is None
    assert [len(e.calls[0][0]) for e in fake_vllm.instances[1:]] == [2, 1]
    assert texts[2].startswith("agent0 says") and texts[1].startswith("base says")
    assert [t.split(" says")[0] for t in (texts[0], texts[3], texts[4])] == ["base"] * 3  # no LoRARequest
    assert backend.engine_model == ads["full2"]  # one engine alive: the last one used


@pytest.mark.gpu
def test_vllm_smoke_on_gpu(tmp_path):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    pytest.importorskip("vllm")
    from maft.toy.model import build_model
    from maft.vllm_backend import VLLMBackend

    tok = FakeLLM.tokenizer if hasattr(FakeLLM, "tokenizer") else None
    if tok is None:
        rng = np.random.default_rng(0)
        tok = build_tokenizer(["\n".join(m["content"] for m in chat_example("solve", rng, 0.4, 0.2, set()))
                               for _ in range(100)], 400)
    model = build_model(tok, {"hidden_size": 64, "layers": 2, "heads": 2})
    model.save_pretrained(tmp_path / "toy")
    tok.save_pretrained(tmp_path / "toy")
    backend = VLLMBackend(str(tmp_path / "toy"), {}, Sampling(1.0, 0.9, 16), tensor_parallel_size=1,
                          gpu_memory_utilization=0.3)
    out = backend.generate([Request([prompts.user("hi")], seed=s) for s in range(4)])
    assert len(out) == 4 and all(isinstance(t, str) for t in out)


def test_job_parameters_choose_the_backend(fake_vllm, tmp_path):
    from maft.generation import make_backend
    from maft.vllm_backend import VLLMBackend

    params = {"generation": {"backend": "vllm", "dtype": "auto", "tensor_parallel_size": 2},
              "model": {"trust_remote_code": False, "chat_template": None},
              "sampling": {"temperature": 1.0, "top_p": 0.9, "max_new_tokens": 8}}
    backend = make_backend("base-model", adapters(tmp_path, [8]), params)
    assert isinstance(backend, VLLMBackend)
    assert fake_vllm.instances[-1].kwargs["tensor_parallel_size"] == 2
