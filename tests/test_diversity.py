"""Diversity metrics on constructed cases whose values are known."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from maft.diversity import consensus, cosine_dissimilarity, embedding_dissimilarity, kl_rows, likelihood_metrics


def transcript(final_answers: list[list[str | None]], responses=None) -> pd.DataFrame:
    rows = []
    for p, answers in enumerate(final_answers):
        for n, a in enumerate(answers):
            text = responses[p][n] if responses else f"answer \\boxed{{{a}}}"
            rows.append({"problem_id": f"p{p}", "question": "q", "reference": "1", "agent": n, "round": 1,
                         "role": "critic", "model": "m", "prompt": json.dumps([{"role": "user", "content": "q"}]),
                         "response": text, "answer": a, "summary": "s", "seed": 0})
    return pd.DataFrame(rows)


def test_consensus_of_agreeing_and_disagreeing_agents():
    assert consensus(transcript([["3", "3", "3"]])) == 1.0
    assert consensus(transcript([["1", "2", "3"]])) == pytest.approx(1 / 3)
    assert consensus(transcript([["3", "3", "3"], ["3", "3", "4"]])) == pytest.approx((1 + 2 / 3) / 2)


def test_cosine_dissimilarity_known_geometry():
    assert cosine_dissimilarity(np.ones((3, 4))) == pytest.approx(0.0)
    assert cosine_dissimilarity(np.eye(2)) == pytest.approx(1.0)
    assert cosine_dissimilarity(np.array([[1.0, 0.0], [-1.0, 0.0]])) == pytest.approx(2.0)
    assert cosine_dissimilarity(np.array([[1.0, 0.0], [1.0, 1.0]])) == pytest.approx(1 - 1 / math.sqrt(2))


def test_identical_responses_have_zero_embedding_dissimilarity():
    def embed(texts):  # a deterministic bag-of-characters embedding
        return np.array([[t.count(c) for c in "0123456789abcdefghijklmnopqrstuvwxyz\\{}"] for t in texts], float)

    same = transcript([["3"] * 3], [["the answer is \\boxed{3}"] * 3])
    assert embedding_dissimilarity(same, embed) == pytest.approx(0.0)
    different = transcript([["3", "4", "5"]], [["aaa", "zzz", "aaa"]])
    assert embedding_dissimilarity(different, embed) == pytest.approx(2 / 3)  # pairs: 1, 0, 1


class TableScorer:
    """Each adapter has a fixed next-token distribution over a 2-token vocabulary."""

    def __init__(self, probs: dict):
        self.probs = probs

    def __call__(self, messages, response, adapter):
        ids = torch.tensor([0, 1, 0])
        row = torch.log(torch.tensor(self.probs[adapter]))
        return ids, row.expand(3, 2)


def test_same_weights_give_zero_kl():
    t = transcript([["1", "1", "1"], ["2", "1", "1"]])
    scorer = TableScorer({None: [0.5, 0.5], "a": [0.5, 0.5], "b": [0.5, 0.5], "c": [0.5, 0.5]})
    m = likelihood_metrics(t, scorer, ["a", "b", "c"])
    assert m["pairwise_kl"] == pytest.approx(0.0) and m["kl_to_base"] == pytest.approx(0.0)
    assert m["heldout_nll"] == pytest.approx(math.log(2))


def test_kl_and_heldout_nll_match_their_formulas():
    p, q = [0.9, 0.1], [0.5, 0.5]
    kl_pq = 0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5)
    kl_qp = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    t = transcript([["1", "1"]])
    m = likelihood_metrics(t, TableScorer({None: q, "a": p, "b": q}), ["a", "b"])
    assert m["pairwise_kl"] == pytest.approx((kl_pq + kl_qp) / 2)
    assert m["kl_to_base"] == pytest.approx((kl_pq + 0.0) / 2)
    # agent 0's tokens [0,1,0] scored by agent 1 (q) and agent 1's by agent 0 (p)
    nll_under_q = -math.log(0.5)
    nll_under_p = -(2 * math.log(0.9) + math.log(0.1)) / 3
    assert m["heldout_nll"] == pytest.approx((nll_under_q + nll_under_p) / 2)


def test_kl_rows_is_zero_only_for_equal_rows():
    a = torch.log_softmax(torch.tensor([[1.0, 2.0, 3.0]]), -1)
    b = torch.log_softmax(torch.tensor([[3.0, 2.0, 1.0]]), -1)
    assert float(kl_rows(a, a)) == pytest.approx(0.0, abs=1e-7)
    assert float(kl_rows(a, b)) > 0.1


def test_model_scorer_on_a_real_model_with_adapters(tmp_path):
    """A zero-initialised LoRA equals the base (KL 0); a random one does not; NLL is finite."""
    from peft import LoraConfig, PeftModel, get_peft_model

    from maft.diversity import ModelScorer
    from maft.toy.model import build_model, build_tokenizer
    from maft.toy.teacher import chat_example

    rng = np.random.default_rng(0)
    tok = build_tokenizer(["\n".join(m["content"] for m in chat_example("solve", rng, 0.4, 0.2, set()))
                           for _ in range(80)], 300)
    torch.manual_seed(0)
    base = build_model(tok, {"hidden_size": 32, "layers": 1, "heads": 2})
    for name, init in (("same", True), ("other", False)):
        m = get_peft_model(build_model(tok, {"hidden_size": 32, "layers": 1, "heads": 2}),
                           LoraConfig(r=8, target_modules="all-linear", init_lora_weights=init))
        m.save_pretrained(tmp_path / name)
    base.load_state_dict(build_model(tok, {"hidden_size": 32, "layers": 1, "heads": 2}).state_dict())
    model = PeftModel.from_pretrained(base, tmp_path / "same", adapter_name="same")
    model.load_adapter(tmp_path / "other", adapter_name="other")
    model.eval()
    t = transcript([["5", "5"]], [["- 1*2=2\n\\boxed{5}", "- 3*4=12\n\\boxed{5}"]])
    m = likelihood_metrics(t, ModelScorer(model, tok), ["same", "other"])
    assert m["kl_to_base"] > 0  # only agent 1 ("other") differs from the base
    ids, rows = ModelScorer(model, tok)([{"role": "user", "content": "q"}], "- 1*2=2", "same")
    _, base_rows = ModelScorer(model, tok)([{"role": "user", "content": "q"}], "- 1*2=2", None)
    assert torch.allclose(rows, base_rows, atol=1e-5)
    assert tok.decode(ids).startswith("- 1*2=2")
    assert math.isfinite(m["heldout_nll"]) and m["pairwise_kl"] > 0


@pytest.mark.parametrize("vectorised", [True, False], ids=["multilora", "peft"])
def test_scoring_and_embedding_with_adapters_loaded(tmp_path, vectorised):
    """One batched forward scores a response under every adapter as separate calls would, and the
    'base' embedder reads the base model even with adapters loaded (PEFT keeps one active)."""
    from peft import LoraConfig, get_peft_model

    from maft.diversity import ModelScorer, hidden_state_embedder
    from maft.generation import load_base_model, with_row_adapters
    from maft.toy.model import build_model, build_tokenizer
    from maft.toy.teacher import chat_example

    rng = np.random.default_rng(0)
    tok = build_tokenizer(["\n".join(m["content"] for m in chat_example("solve", rng, 0.4, 0.2, set()))
                           for _ in range(80)], 300)
    small = {"hidden_size": 32, "layers": 1, "heads": 2}
    torch.manual_seed(0)
    build_model(tok, small).save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    for name in ("a", "b"):
        m = get_peft_model(build_model(tok, small), LoraConfig(r=8, target_modules="all-linear",
                                                               init_lora_weights=False))
        m.save_pretrained(tmp_path / name)
    plain = load_base_model(str(tmp_path / "base"), "cpu", "float32")
    model = with_row_adapters(load_base_model(str(tmp_path / "base"), "cpu", "float32"),
                              {n: str(tmp_path / n) for n in ("a", "b")}, vectorised=vectorised)
    assert hasattr(model, "multilora") == vectorised
    msgs, response = [{"role": "user", "content": "q"}], "- 1*2=2\n\\boxed{2}"
    scorer = ModelScorer(model, tok)
    batched = scorer.many(msgs, response, ["a", None, "b"])
    for adapter, (ids, rows) in zip(["a", None, "b"], batched):
        one_ids, one_rows = scorer(msgs, response, adapter)
        assert torch.equal(ids, one_ids) and torch.allclose(rows, one_rows, atol=1e-5)
    assert not torch.allclose(batched[0][1], batched[1][1], atol=1e-3)  # a random adapter differs
    base_rows = ModelScorer(plain, tok)(msgs, response, None)[1]
    assert torch.allclose(batched[1][1], base_rows, atol=1e-5)
    texts = ["- 1*2=2", "- 3*4=12 and more"]
    assert np.allclose(hidden_state_embedder(model, tok)(texts), hidden_state_embedder(plain, tok)(texts), atol=1e-5)
