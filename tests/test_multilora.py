"""The vectorised multi-LoRA path computes what PEFT computes, row by row, and hands PEFT what it cannot."""

import numpy as np
import pytest
import torch

from maft import prompts
from maft.generation import BASE, Request, Sampling, TransformersBackend, adapter_rows, load_base_model
from maft.toy.model import build_model, build_tokenizer
from maft.toy.teacher import chat_example

CFG = {"hidden_size": 32, "layers": 2, "heads": 2}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    root = tmp_path_factory.mktemp("multilora")
    rng = np.random.default_rng(1)
    tok = build_tokenizer(["\n".join(m["content"] for m in chat_example("solve", rng, 0.4, 0.2, set()))
                           for _ in range(60)], 300)
    torch.manual_seed(0)
    build_model(tok, CFG).save_pretrained(root / "base")
    tok.save_pretrained(root / "base")
    return root


def save_adapter(root, name, seed, **lora):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    model = get_peft_model(load_base_model(str(root / "base"), "cpu", "float32"),
                           LoraConfig(init_lora_weights=False, **lora))
    model.save_pretrained(root / name)
    return str(root / name)


def batch(tok, n):
    texts = [f"What is the result of {i}+2*3+4-5*{i}?" + " again" * (i % 3) for i in range(n)]
    enc = tok(texts, return_tensors="pt", padding=True)
    return enc["input_ids"], enc["attention_mask"]


def logits(backend, names):
    ids, attn = batch(backend.tokenizer, len(names))
    with torch.no_grad(), adapter_rows(backend.model, names) as forward:
        return forward(input_ids=ids, attention_mask=attn).logits


ADAPTERS = {  # ranks, scalings and target sets that differ between adapters
    "a": dict(r=8, lora_alpha=64, target_modules="all-linear"),
    "b": dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]),
    "c": dict(r=8, lora_alpha=16, target_modules="all-linear", use_rslora=True),
}


@pytest.fixture(scope="module")
def adapters(base):
    return {name: save_adapter(base, name, seed, **lora) for seed, (name, lora) in enumerate(ADAPTERS.items())}


def test_a_mixed_batch_gives_peft_logits_on_every_row(base, adapters):
    names = [BASE, "a", "b", "c", "a", BASE, "c", "b"]
    fast = TransformersBackend(str(base / "base"), adapters, device="cpu", dtype="float32")
    peft = TransformersBackend(str(base / "base"), adapters, device="cpu", dtype="float32", vectorised=False)
    assert hasattr(fast.model, "multilora") and not hasattr(peft.model, "multilora")
    got, want = logits(fast, names), logits(peft, names)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # each adapter changes its rows, and base rows are the base model's
    plain = logits(TransformersBackend(str(base / "base"), {}, device="cpu", dtype="float32"), names)
    for i, name in enumerate(names):
        assert torch.equal(got[i], plain[i]) == (name == BASE), name


@pytest.mark.parametrize("names", [["a", BASE, "a"], ["b", "b"], ["c", "a", BASE]])
def test_a_batch_computes_only_the_adapters_it_uses(base, adapters, names):
    fast = TransformersBackend(str(base / "base"), adapters, device="cpu", dtype="float32")
    peft = TransformersBackend(str(base / "base"), adapters, device="cpu", dtype="float32", vectorised=False)
    torch.testing.assert_close(logits(fast, names), logits(peft, names), atol=1e-5, rtol=1e-5)
    q_proj = next(layer for layer in fast.model.multilora.layers if layer.base is fast.model.get_submodule(
        "model.layers.0.self_attn.q_proj").base)
    with fast.model.multilora.rows([None if n == BASE else n for n in names]):
        used = {n for n in names if n != BASE}
        assert q_proj.active_a.shape[0] == sum(ADAPTERS[n]["r"] for n in used)
        assert q_proj.mask.shape[0] == (1 if len(set(names)) == 1 else len(names))
    assert q_proj.mask is None and q_proj.active_a is None


def test_greedy_generation_matches_peft(base, adapters):
    reqs = [Request([prompts.user(prompts.generator_prompt(f"What is {i}+1*2+3-4*{i}?"))], seed=i,
                    adapter=[None, "a", "b", "c"][i % 4]) for i in range(12)]
    greedy = Sampling(0.0, 1.0, 10)
    fast = TransformersBackend(str(base / "base"), adapters, greedy, device="cpu", dtype="float32").generate(reqs)
    slow = TransformersBackend(str(base / "base"), adapters, greedy, device="cpu", dtype="float32",
                               vectorised=False).generate(reqs)
    assert fast == slow


def test_adapters_it_cannot_vectorise_go_through_peft(base, adapters):
    # per-module alphas: not handled here, so PEFT must run them (not a wrongly scaled vectorised answer)
    odd = save_adapter(base, "odd", 7, r=4, lora_alpha=8, target_modules="all-linear", alpha_pattern={"q_proj": 2})
    mixed = {"a": adapters["a"], "odd": odd}
    backend = TransformersBackend(str(base / "base"), mixed, device="cpu", dtype="float32")
    assert not hasattr(backend.model, "multilora")
    names = ["odd", "a", BASE]
    torch.testing.assert_close(logits(backend, names), logits(
        TransformersBackend(str(base / "base"), mixed, device="cpu", dtype="float32", vectorised=False), names))


def test_an_unknown_adapter_name_is_an_error(base, adapters):
    backend = TransformersBackend(str(base / "base"), {"a": adapters["a"]}, device="cpu", dtype="float32")
    with pytest.raises(KeyError, match="zzz"):
        logits(backend, ["a", "zzz"])
