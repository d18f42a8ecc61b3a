"""Diversity of the agents' test responses (paper section 4.2, appendix C; formulas paper-spec section 8).

- consensus: share of agents whose final answer equals the vote (lower = more diverse).
- embedding dissimilarity: mean over problems and agent pairs of 1 - cos(e_j, e_k) of the final
  responses' embeddings.
- held-out NLL: NLL of critic j's final response under another critic h != j (token mean);
  higher = the agents have specialised apart.
- pairwise KL: token-level KL(p_j || p_k) between two agents' next-token distributions along
  agent j's own response, averaged over tokens, pairs and problems.
- KL to base: the same between each agent and the base model.

The likelihood metrics take a `score` callable, (messages, response, adapter) -> per-token
log-probability rows, so they are testable without a model; `ModelScorer` provides it for a base
model with LoRA adapters.
"""

from __future__ import annotations

import contextlib
import itertools
import json

import numpy as np
import pandas as pd
import torch

from maft.generation import BASE, adapter_rows
from maft.voting import consensus  # noqa: F401  (a diversity metric; in voting, where it needs no torch)


def cosine_dissimilarity(embeddings: np.ndarray) -> float:
    """Mean 1 - cos over all pairs of rows of one problem's response embeddings."""
    e = np.asarray(embeddings, dtype=float)
    norms = np.linalg.norm(e, axis=1, keepdims=True)
    e = e / np.where(norms == 0, 1, norms)
    pairs = list(itertools.combinations(range(len(e)), 2))
    if not pairs:
        return 0.0
    return float(np.mean([1.0 - float(e[i] @ e[j]) for i, j in pairs]))


def embedding_dissimilarity(transcript: pd.DataFrame, embed) -> float:
    """`embed(list[str]) -> array (n, d)`; the final-round responses of each problem are compared."""
    final = transcript[transcript["round"] == transcript["round"].max()]
    per_problem = [cosine_dissimilarity(embed(list(g.sort_values("agent")["response"])))
                   for _, g in final.groupby("problem_id")]
    return float(np.mean(per_problem)) if per_problem else float("nan")


def kl_rows(logp: torch.Tensor, logq: torch.Tensor) -> torch.Tensor:
    """KL(p || q) per row of log-probability rows (tokens x vocab)."""
    return (logp.exp() * (logp - logq)).sum(-1)


def likelihood_metrics(transcript: pd.DataFrame, score, adapters: list[str | None]) -> dict:
    """Held-out NLL, pairwise KL between agents and KL to the base model, on the final round.

    `adapters[n]` names agent n's weights in the final round (None = base). `score(messages,
    response, adapter)` returns (token_ids, logprob_rows): the response's token ids and, for each,
    the log-distribution that predicted it under the given weights.
    """
    final = transcript[transcript["round"] == transcript["round"].max()]
    n = len(adapters)
    nll, pair_kl, base_kl = [], [], []
    for _, g in final.groupby("problem_id"):
        for r in g.sort_values("agent").to_dict("records"):
            j = int(r["agent"])
            under = _score_all(score, json.loads(r["prompt"]), r["response"], [None, *adapters])
            ids, own = under[adapters[j]]
            if len(ids) == 0:
                continue
            base_kl.append(float(kl_rows(own, under[None][1]).mean()))
            for k in range(n):
                if k == j:
                    continue
                other = under[adapters[k]][1]
                pair_kl.append(float(kl_rows(own, other).mean()))
                if k == (j + 1) % n:  # the held-out critic that scores agent j's response
                    nll.append(float(-other.gather(-1, ids[:, None]).mean()))
    mean = lambda xs: float(np.mean(xs)) if xs else float("nan")  # noqa: E731
    return {"heldout_nll": mean(nll), "pairwise_kl": mean(pair_kl), "kl_to_base": mean(base_kl)}


def _score_all(score, messages: list[dict], response: str, adapters: list) -> dict:
    """{adapter: score(messages, response, adapter)} for each distinct adapter: one batched forward when
    the scorer has `many` (the same tokens under every agent's weights), else one call each."""
    distinct = list(dict.fromkeys(adapters))
    if hasattr(score, "many"):
        return dict(zip(distinct, score.many(messages, response, distinct)))
    return {a: score(messages, response, a) for a in distinct}


class ModelScorer:
    """`score` for likelihood_metrics: a base model with named LoRA adapters (generation.with_row_adapters:
    vectorised, or PEFT), teacher-forced."""

    def __init__(self, model, tokenizer):
        self.model, self.tokenizer = model, tokenizer
        self.routed = hasattr(model, "peft_config") or hasattr(model, "multilora")  # rows can pick adapters

    def __call__(self, messages: list[dict], response: str, adapter: str | None):
        return self.many(messages, response, [adapter])[0]

    @torch.no_grad()
    def many(self, messages: list[dict], response: str, adapters: list[str | None]) -> list[tuple]:
        """(ids, logprob rows) under each adapter: one forward pass, one batch row per adapter."""
        from maft import prompts
        from maft.chat import prompt_ids, render_ids

        prompt = prompt_ids(self.tokenizer, messages)
        full = render_ids(self.tokenizer, messages + [prompts.assistant(response)], add_generation_prompt=False)
        if full[: len(prompt)] != prompt or len(full) <= len(prompt):
            return [(torch.zeros(0, dtype=torch.long), torch.zeros(0, 1))] * len(adapters)
        device = next(self.model.parameters()).device
        names = [a or BASE for a in adapters] if self.routed else [BASE]
        x = torch.tensor([full] * len(names), device=device)
        with adapter_rows(self.model, names if self.routed else None) as forward:
            logits = forward(input_ids=x).logits[:, len(prompt) - 1: len(full) - 1]
        rows = torch.log_softmax(logits.float().cpu(), dim=-1)
        ids = torch.tensor(full[len(prompt):])
        return [(ids, rows[i if self.routed else 0]) for i in range(len(adapters))]


class AgentScorer:
    """`score` over agents of both kinds: LoRA names go to the base model's scorer (adapters on it),
    full-checkpoint names (finetune.method full) to their own model's scorer."""

    def __init__(self, base: ModelScorer, full: dict[str, ModelScorer]):
        self.base, self.full = base, full

    def __call__(self, messages: list[dict], response: str, adapter: str | None):
        return self.many(messages, response, [adapter])[0]

    def many(self, messages: list[dict], response: str, adapters: list[str | None]) -> list[tuple]:
        lora = [a for a in adapters if a not in self.full]
        out = dict(zip(lora, self.base.many(messages, response, lora))) if lora else {}
        out.update({a: self.full[a](messages, response, None) for a in adapters if a in self.full})
        return [out[a] for a in adapters]


def hidden_state_embedder(model, tokenizer):
    """Embeddings from a causal LM's last hidden layer, mean-pooled (the base model's own view)."""

    @torch.no_grad()
    def embed(texts: list[str]) -> np.ndarray:
        out = []
        device = next(model.parameters()).device
        # PEFT keeps its first adapter active; the vectorised layers are the base outside adapter_rows
        off = model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()
        with off:
            for t in texts:
                ids = tokenizer(t or " ", return_tensors="pt", add_special_tokens=False)["input_ids"].to(device)
                h = model(input_ids=ids, output_hidden_states=True).hidden_states[-1][0]
                out.append(h.float().mean(0).cpu().numpy())
        return np.stack(out)

    return embed


def encoder_embedder(name: str):
    """Mean-pooled encoder embeddings from a hub id or local path (T5-3B's encoder on a cluster, or a
    sentence encoder such as all-MiniLM-L6-v2 offline)."""
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name)
    model = AutoModel.from_pretrained(name).eval()
    encoder = model.get_encoder() if hasattr(model, "get_encoder") else model

    @torch.no_grad()
    def embed(texts: list[str]) -> np.ndarray:
        batch = tok([t or " " for t in texts], return_tensors="pt", padding=True, truncation=True, max_length=512)
        h = encoder(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        mask = batch["attention_mask"][..., None].float()
        return ((h * mask).sum(1) / mask.sum(1)).float().numpy()

    return embed
