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


def test_responses_with_many_adapters_equal_each_adapter_alone(toy_with_adapters):
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


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])  # bfloat16: what `auto` picks on an AMX CPU
def test_a_response_depends_on_its_seed_not_on_its_batch(toy_with_adapters, dtype):
    base, adapters = toy_with_adapters
    backend = TransformersBackend(base, adapters, Sampling(1.0, 0.9, 16), batch_size=4, device="cpu",
                                  dtype=dtype)
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
    from maft.generation import cache_argument, load_base_model, reserved_cache

    model = load_base_model(toy_with_adapters[0], "cpu", "float32")
    cache, arg = reserved_cache(model, room=2), cache_argument(model)
    ids = torch.tensor([[1, 2, 3]])
    model(input_ids=ids, use_cache=True, **{arg: cache})
    for _ in range(2):
        model(input_ids=ids[:, :1], use_cache=True, **{arg: cache})
    with pytest.raises(RuntimeError, match="room for 5"):
        model(input_ids=ids[:, :1], use_cache=True, **{arg: cache})


def padded_batch(tokenizer, reqs):
    from maft.chat import prompt_ids

    encoded = [prompt_ids(tokenizer, r.messages) for r in reqs]
    width = max(map(len, encoded))
    ids = torch.full((len(encoded), width), tokenizer.pad_token_id)
    attn = torch.ones((len(encoded), width), dtype=torch.long)
    for i, p in enumerate(encoded):
        ids[i, width - len(p):] = torch.tensor(p)
        attn[i, :width - len(p)] = 0
    return ids, attn, (attn.cumsum(-1) - 1).clamp(min=0)


def test_a_prefill_in_chunks_of_rows_equals_the_whole_batch(toy_with_adapters):
    from maft.generation import prefill

    base, adapters = toy_with_adapters
    backend = TransformersBackend(base, adapters, device="cpu", dtype="float32")
    reqs = requests([None, "a0", "a1"])[:11]
    reqs += [Request([prompts.user(prompts.generator_prompt("What is 1+1?" * 3))], 7, "a1")]  # a longer prompt
    ids, attn, pos = padded_batch(backend.tokenizer, reqs)
    names = [r.adapter or "__base__" for r in reqs]
    calls = []
    model = backend.model
    model.register_forward_pre_hook(lambda m, a, kw: calls.append(kw["input_ids"].shape[0]), with_kwargs=True)
    with torch.no_grad():
        whole_logits, whole = prefill(model, ids, attn, pos, names, 8, None)
        assert calls == [12]
        logits, chunked = prefill(model, ids, attn, pos, names, 8, 3 * ids.shape[1])
    assert calls[1:] == [3, 3, 3, 3]  # four chunks of 3 rows, adapters mixed inside each
    torch.testing.assert_close(logits, whole_logits, rtol=0, atol=1e-6)
    for a, b in zip(chunked.layers, whole.layers):
        torch.testing.assert_close(a.keys, b.keys, rtol=0, atol=1e-6)
        assert a.room_k.shape == b.room_k.shape  # the joined cache has the same room for new tokens
    assert len(set(whole_logits.argmax(-1).tolist())) > 1  # rows differ: a mix-up would show


def test_chunked_prefill_samples_what_the_whole_batch_samples(toy_with_adapters):
    base, adapters = toy_with_adapters
    reqs = requests([None, "a0", "a1"])
    out = {}
    for tokens in (None, 40):  # 40 tokens: one or two rows per chunk
        backend = TransformersBackend(base, adapters, Sampling(1.0, 0.9, 16), batch_size=64, device="cpu",
                                      dtype="float32", prefill_tokens=tokens)
        out[tokens] = backend.generate(reqs)
    assert out[40] == out[None]
    assert TransformersBackend(base, {}, device="cpu").prefill_tokens is not None  # CPU default: chunks


def test_the_backend_batches_one_agent_at_a_time(toy_with_adapters, monkeypatch):
    from maft import generation

    base, adapters = toy_with_adapters
    backend = TransformersBackend(base, adapters, Sampling(1.0, 0.9, 8), batch_size=4, device="cpu",
                                  dtype="float32")
    reqs = requests([None, "a0", "a1"])  # 6 requests of each, interleaved
    batches = []
    original = generation.sample_batch
    monkeypatch.setattr(generation, "sample_batch", lambda model, p, s, sm, e, pad, names, tokens:
                        (batches.append(names), original(model, p, s, sm, e, pad, names, tokens))[1])
    backend.generate(reqs)
    # each agent's 6 requests in the fewest batches of at most 4, of equal sizes: only its LoRA columns run
    assert sorted((b[0], len(b)) for b in batches) == sorted((a, 3) for a in ("__base__", "a0", "a1") for _ in "xy")
    assert all(len(set(b)) == 1 for b in batches)


def test_length_batches_are_few_even_and_sorted():
    from maft.generation import length_batches

    lengths = [5, 1, 9, 3, 7, 2, 8]
    batches = length_batches(list("abcdefg"), lengths, 3)
    assert [len(b) for b in batches] == [2, 2, 3]
    assert [x for b in batches for x in b] == ["b", "f", "d", "a", "e", "g", "c"]  # shortest first
    assert length_batches(list("ab"), [1, 2], 8) == [["a", "b"]]
    assert length_batches([], [], 4) == []


def test_the_kv_cache_goes_by_the_name_the_model_takes(toy_with_adapters, caplog):
    import inspect
    import warnings

    from maft.generation import cache_argument, load_base_model

    model = load_base_model(toy_with_adapters[0], "cpu", "float32")
    takes = inspect.signature(model.forward).parameters
    assert cache_argument(model) == ("cache" if "cache" in takes else "past_key_values")

    class OldModel(torch.nn.Module):
        def forward(self, input_ids=None, past_key_values=None, use_cache=None):
            return input_ids

    assert cache_argument(OldModel()) == "past_key_values"
    backend = TransformersBackend(toy_with_adapters[0], toy_with_adapters[1], Sampling(1.0, 0.9, 4),
                                  device="cpu", dtype="float32")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        backend.generate(requests([None, "a0"])[:4])
    said = [str(w.message) for w in seen] + [r.getMessage() for r in caplog.records]
    assert not [m for m in said if "past_key_values" in m], said


@pytest.mark.parametrize("sharpness", [0.1, 1.0, 5.0])
def test_the_partial_sort_samples_what_the_full_sort_samples(sharpness):
    from maft.generation import top_p_sample

    torch.manual_seed(0)
    logits = torch.randn(64, 1000) * sharpness  # flat rows need the full sort, peaked ones do not
    picks = {k: top_p_sample(logits, 1.0, 0.9, [torch.Generator().manual_seed(i) for i in range(64)], top_k_first=k)
             for k in (8, 64, 1000)}
    assert torch.equal(picks[8], picks[1000]) and torch.equal(picks[64], picks[1000])
    assert len(set(picks[1000].tolist())) > 1


def test_auto_dtype_is_bfloat16_where_the_hardware_multiplies_it(monkeypatch):
    from maft import generation

    monkeypatch.setattr(generation, "fast_cpu_bfloat16", lambda: True)
    assert generation.resolve_dtype("auto", "cpu") == torch.bfloat16
    assert generation.resolve_dtype("float32", "cpu") == torch.float32  # an explicit dtype always wins
    monkeypatch.setattr(generation, "fast_cpu_bfloat16", lambda: False)
    assert generation.resolve_dtype("auto", "cpu") == torch.float32
    assert generation.resolve_dtype("auto", "cuda:0") == torch.bfloat16


def test_a_bfloat16_backend_runs_its_adapters_in_bfloat16_and_says_so(toy_with_adapters):
    base, adapters = toy_with_adapters
    reqs = requests([None, "a0", "a1"])
    half = TransformersBackend(base, adapters, Sampling(1.0, 0.9, 12), batch_size=8, device="cpu", dtype="bfloat16")
    assert half.dtype == "bfloat16"
    assert {layer.lora_a.dtype for layer in half.model.multilora.layers} == {torch.bfloat16}
    out = half.generate(reqs)
    assert out == half.generate(reqs) and all(isinstance(t, str) for t in out)  # reproducible per seed
    full = TransformersBackend(base, adapters, Sampling(1.0, 0.9, 12), batch_size=8, device="cpu", dtype="float32")
    assert full.dtype == "float32" and full.generate(reqs) != out  # the dtype really changed the arithmetic
