"""Synthetic pretraining text for the toy: a 'noisy teacher' that writes worked solutions.

Why noisy: a toy trained on clean solutions makes systematic errors (a wrongly memorised product
repeats in every sample), so voting and consensus finetuning gain nothing. A teacher that, with
some probability, perturbs one intermediate result (which then propagates) gives the toy errors
that differ between samples, as a real LLM's sampled reasoning does (toy-model-notes.md).

The mix also holds debate-format conversations (a critic turn after a summary or after the other
agents' raw answers, and the summarizer's own task) so that the toy can play every role of the
debate. The toy is pretrained with gold answers, like any base model learning arithmetic; the
finetuning methods downstream never see them (only STaR does, by definition).
"""

from __future__ import annotations

import re

import numpy as np

from maft import prompts
from maft.answers import last_boxed
from maft.problems import arithmetic_question, arithmetic_terms

DELTAS = (-10, -3, -2, -1, 1, 2, 3, 10)


def solution(t: tuple[int, ...], rng: np.random.Generator, noise: float) -> str:
    """Bullet-point solution of a+b*c+d-e*f; with probability `noise` one step is off and propagates."""
    a, b, c, d, e, f = t
    bad = int(rng.integers(0, 5)) if rng.random() < noise else -1
    delta = int(rng.choice(DELTAS))

    def step(k: int, value: int) -> int:
        return value + delta if k == bad else value

    p = step(0, b * c)
    q = step(1, e * f)
    s1 = step(2, a + p)
    s2 = step(3, s1 + d)
    r = step(4, s2 - q)
    lines = [f"- {b}*{c}={p}", f"- {e}*{f}={q}", f"- {a}+{p}={s1}", f"- {s1}+{d}={s2}", f"- {s2}-{q}={r}"]
    return "\n".join(lines) + f"\n\\boxed{{{r}}}"


_RESULT = re.compile(r"=\s*(-?\d+)")


def summarize(responses: list[str]) -> str:
    """The teacher's summary: each other agent's two products and its final answer."""
    parts = []
    for r in responses:
        found = _RESULT.findall(r)
        p, q = (found + ["?", "?"])[:2]
        ans = last_boxed(r) or "?"
        parts.append(f"One agent found {p} and {q}, answer {ans}.")
    return " ".join(parts)


def chat_example(kind: str, rng: np.random.Generator, noise: float, critic_noise: float,
                 exclude: set[tuple[int, ...]], n_others: int = 2) -> list[dict]:
    """One pretraining conversation of the given kind: solve | critic | critic_concat | summarize."""
    while True:
        t = arithmetic_terms(rng)
        if t not in exclude:
            break
    q = arithmetic_question(t)
    others = [solution(t, rng, noise) for _ in range(n_others)]
    if kind == "solve":
        return [prompts.user(prompts.generator_prompt(q)), prompts.assistant(solution(t, rng, noise))]
    if kind == "summarize":
        return [prompts.user(prompts.summary_request(others)), prompts.assistant(summarize(others))]
    own = solution(t, rng, noise)
    summary = summarize(others) if kind == "critic" else None
    return [
        prompts.user(prompts.generator_prompt(q)),
        prompts.assistant(own),
        prompts.user(prompts.critic_prompt(q, others, summary)),
        prompts.assistant(solution(t, rng, critic_noise)),
    ]


def drill_text(rng: np.random.Generator, n: int) -> str:
    """Raw fact lines (products of 0..29, and the sums and differences solutions need): cheap
    tokens that teach the facts the worked solutions rely on."""
    lines = []
    for _ in range(n):
        a, b = (int(v) for v in rng.integers(0, 30, size=2))
        op = rng.random()
        if op < 0.5:
            lines.append(f"{a}*{b}={a * b}")
        else:
            x = int(rng.integers(-300, 900))
            lines.append(f"{x}+{a * b}={x + a * b}" if op < 0.75 else f"{x}-{a * b}={x - a * b}")
    return "\n".join(lines)
