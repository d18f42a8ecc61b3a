"""The batched multi-adapter sampler: per-row adapters and per-row seeds."""

import numpy as np
import pytest
import torch

from maft import prompts
from maft.generation import Request, Sampling, TransformersBackend
from maft.toy.model import build_model, build_tokenizer
from maft.toy.teacher import chat_example


@pytest.fixture(scope="module")
def toy_with_adapters(tmp_path_factory):
    from peft import LoraConfig, get_peft_model

    root = tmp_path_factory.mktemp("gen")
    rng = np.random.default_rng(0)
    tok = build_tokenizer(["\n".join(m["content"] for m in chat_example(k, rng, 0.4, 0.2, set()))
                           for k in ("solve", "critic") for _ in range(60)], 300)
    torch.manual_seed(0)
    cfg = {"hidden_size": 32, "layers": 2, "heads": 2}
    build_model(tok, cfg).save_pretrained(root / "base")
    tok.save_pretrained(root / "base")
    adapters = {}
    for i in range(2):
        torch.manual_seed(10 + i)
        m = get_peft_model(build_model(tok, cfg), LoraConfig(r=8, lora_alpha=64, target_modules="all-linear",
                                                               init_lora_weights=False))
        m.save_pretrained(root / f"a{i}")
        adapters[f"a{i}"] = str(root / f"a{i}")
    return str(root / "base"), adapters


def requests(adapters):
    qs = [f"What is the result of {i}+2*3+4-5*{i}?" for i in range(6)]
    return [Request([prompts.user(prompts.generator_prompt(q))], seed=100 + k, adapter=a)
            for k, (q, a) in enumerate((q, a) for q in qs for a in adapters)]


def test_mixed_batch_equals_each_adapter_alone(toy_with_adapters):
    base, adapters = toy_with_adapters
    greedy = Sampling(0.0, 1.0, 12)
    mixed = TransformersBackend(base, adapters, greedy, batch_size=64, device="cpu", dtype="float32")
    reqs = requests([None, "a0", "a1"])
    together = mixed.generate(reqs)
    for name in (None, "a0", "a1"):
        alone = TransformersBackend(base, {name: adapters[name]} if name else {}, greedy, batch_size=64,
                                    device="cpu", dtype="float32")
        idx = [i for i, r in enumerate(reqs) if r.adapter == name]
        out = alone.generate([reqs[i] for i in idx])
        assert [together[i] for i in idx] == out, name
    # the adapters really change the outputs (otherwise the check above proves nothing)
    assert len({together[i] for i in range(3)}) > 1 or len({together[i] for i in range(3, 6)}) > 1


def test_a_response_depends_on_its_seed_not_on_its_batch(toy_with_adapters):
    base, adapters = toy_with_adapters
    backend = TransformersBackend(base, adapters, Sampling(1.0, 0.9, 16), batch_size=4, device="cpu",
                                  dtype="float32")
    reqs = requests(["a0", "a1"])
    all_at_once = backend.generate(reqs)
    backend.batch_size = 64
    again = backend.generate(list(reversed(reqs)))[::-1]
    assert all_at_once == again
    alone = backend.generate([reqs[3]])
    assert alone[0] == all_at_once[3]
    other_seed = backend.generate([Request(reqs[3].messages, seed=999, adapter=reqs[3].adapter)])
    differs = [backend.generate([Request(r.messages, seed=r.seed + 1, adapter=r.adapter)])[0] != o
               for r, o in zip(reqs[:6], all_at_once[:6])]
    assert any(differs) or other_seed[0] != alone[0]  # seeds matter
