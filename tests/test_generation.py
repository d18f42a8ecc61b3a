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


def test_a_request_can_carry_its_own_sampling(toy_with_adapters):
    base, adapters = toy_with_adapters
    backend = TransformersBackend(base, adapters, Sampling(1.0, 0.9, 16), batch_size=64, device="cpu",
                                  dtype="float32")
    reqs = requests(["a0", "a1"])
    greedy, short = Sampling(0.0, 1.0, 16), Sampling(1.0, 0.9, 3)
    own = [Request(r.messages, r.seed, r.adapter, greedy if k % 2 else short) for k, r in enumerate(reqs)]
    mixed = backend.generate(own)
    default = backend.generate(reqs)
    for k, (r, text) in enumerate(zip(own, mixed)):
        # each request is sampled as it asked, as if it had been sent alone with that setting
        alone = TransformersBackend(base, adapters, r.sampling, batch_size=64, device="cpu", dtype="float32")
        assert alone.generate([reqs[k]])[0] == text, k
    assert sum(map(len, mixed[::2])) < sum(map(len, default[::2]))  # 3 new tokens at most, not 16
    assert mixed[1::2] != default[1::2]  # greedy rows differ from the sampled ones of the default


def test_rows_that_end_leave_the_batch_without_changing_any_row(toy_with_adapters, monkeypatch):
    from transformers.cache_utils import Cache

    from maft.chat import prompt_ids
    from maft.generation import sample_batch

    base, adapters = toy_with_adapters
    backend = TransformersBackend(base, adapters, device="cpu", dtype="float32")
    reqs = requests([None, "a0", "a1"])[:12]
    prompts_ = [prompt_ids(backend.tokenizer, r.messages) for r in reqs]
    names = [r.adapter or "__base__" for r in reqs]
    seeds = [r.seed for r in reqs]
    # common tokens as "end of turn", so that the random toy's rows end after different numbers of steps
    eos = sorted({t for p in prompts_ for t in p[-12:]})[:6]
    sampling = Sampling(1.0, 0.9, 24)
    dropped = []
    original = Cache.reorder_cache
    monkeypatch.setattr(Cache, "reorder_cache", lambda self, idx: (dropped.append(len(idx)), original(self, idx)))
    together = sample_batch(backend.model, prompts_, seeds, sampling, eos, backend.tokenizer.pad_token_id, names)
    assert dropped, "no row ended early: the test does not exercise the compaction"
    assert len({len(t) for t in together}) > 2
    for i in range(len(reqs)):
        alone = sample_batch(backend.model, [prompts_[i]], [seeds[i]], sampling, eos, backend.tokenizer.pad_token_id,
                             [names[i]])
        assert alone[0] == together[i], i


def test_the_reserved_kv_cache_samples_what_the_models_own_cache_samples(toy_with_adapters, monkeypatch):
    from transformers.cache_utils import Cache, DynamicCache

    from maft import generation

    base, adapters = toy_with_adapters
    backend = TransformersBackend(base, adapters, Sampling(1.0, 0.9, 24), batch_size=5, device="cpu",
                                  dtype="float32")
    reqs = requests([None, "a0", "a1"])
    made = []
    reserved = generation.reserved_cache
    monkeypatch.setattr(generation, "reserved_cache", lambda model, room: made.append(reserved(model, room)) or made[-1])
    fast = backend.generate(reqs)
    assert made and all(type(c) is Cache for c in made)  # the toy is all full attention: the reserved cache ran
    monkeypatch.setattr(generation, "reserved_cache", lambda model, room: None)
    seen = []
    original = DynamicCache.update
    monkeypatch.setattr(DynamicCache, "update", lambda self, *a, **k: (seen.append(1), original(self, *a, **k))[1])
    assert backend.generate(reqs) == fast
    assert seen  # the second run really went through the model's own (concatenating) cache


def test_the_reserved_kv_cache_refuses_to_overflow(toy_with_adapters):
    from maft.generation import load_base_model, reserved_cache

    model = load_base_model(toy_with_adapters[0], "cpu", "float32")
    cache = reserved_cache(model, room=2)
    ids = torch.tensor([[1, 2, 3]])
    out = model(input_ids=ids, past_key_values=cache, use_cache=True)
    for _ in range(2):
        out = model(input_ids=ids[:, :1], past_key_values=out.past_key_values, use_cache=True)
    with pytest.raises(RuntimeError, match="room for 5"):
        model(input_ids=ids[:, :1], past_key_values=out.past_key_values, use_cache=True)


@pytest.mark.parametrize("sharpness", [0.1, 1.0, 5.0])
def test_the_partial_sort_samples_what_the_full_sort_samples(sharpness):
    from maft.generation import top_p_sample

    torch.manual_seed(0)
    logits = torch.randn(64, 1000) * sharpness  # flat rows need the full sort, peaked ones do not
    picks = {k: top_p_sample(logits, 1.0, 0.9, [torch.Generator().manual_seed(i) for i in range(64)], top_k_first=k)
             for k in (8, 64, 1000)}
    assert torch.equal(picks[8], picks[1000]) and torch.equal(picks[64], picks[1000])
    assert len(set(picks[1000].tolist())) > 1
