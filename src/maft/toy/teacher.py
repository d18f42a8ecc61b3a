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

import numpy as np

from maft import prompts
from maft.answers import last_boxed
from maft.problems import PAPER_MAX_OPERAND, arithmetic_question, arithmetic_terms

DELTAS = (-10, -3, -2, -1, 1, 2, 3, 10)
SUBTRACTIONS = ("whole", "tens")


def solution(t: tuple[int, ...], rng: np.random.Generator, noise: float, layout: str = "steps",
             subtraction: str = "whole", noise_step: int | None = None) -> str:
    """Worked solution of a+b*c+d-e*f; with probability `noise` one intermediate result is off and
    the error propagates.

    `steps` (every solution the toy's generators learn): the steps follow the question from left to
    right, so every number a line needs is either in the question or at the end of the line just
    above it: a small model learns such local copies much sooner than look-ups several lines back (a
    measured failure of the earlier layout). `rewrite` (the `rewrite` critic's fresh solutions): the
    expression restated, then rewritten one operation a line (each line from the line above), so no
    line of it can be copied from a `steps` answer.

    `subtraction` (`steps` only): `whole` writes the final difference at once (`57-42=15`); `tens`
    takes it in two smaller steps, the tens then the units, and a negative one as minus the reverse
    difference (`57-42=17-2=15`, `12-42=-(42-12)=-(32-2)=-30`). In the `whole` layout the toy's first
    fault was this final subtraction three times as often as any other step (benchmarks/RESULTS.md "The toy"); the
    extra step also gets its share of the teacher's noise.

    `noise_step`: None puts the wrong result on any step, uniformly; k always on step k (0: b*c, 1: a+p,
    2: s1+d, 3: e*f, then the difference's steps). Spread over every step and eight offsets, each wrong
    token holds about 1% of the mass at its position, below what a nucleus of 0.9 samples, so a toy's
    sampled errors are its own; on one step at noise 0.3 the right token holds 70% there and the
    nucleus samples the teacher's errors, while the critics' lower noise stays below it
    (benchmarks/RESULTS.md "One noisy step").
    """
    if subtraction not in SUBTRACTIONS:
        raise ValueError(f"toy.subtraction: unknown layout {subtraction!r}; expected one of {SUBTRACTIONS}")
    a, b, c, d, e, f = t
    tens = layout == "steps" and subtraction == "tens"
    n_steps = 6 if tens else 5
    if noise_step is None:
        bad = int(rng.integers(0, n_steps)) if rng.random() < noise else -1
    elif 0 <= noise_step < n_steps:
        bad = noise_step if rng.random() < noise else -1
    else:
        raise ValueError(f"toy.noise_step: {noise_step!r} is not a step of this layout (0..{n_steps - 1})")
    delta = int(rng.choice(DELTAS))

    def step(k: int, value: int) -> int:
        return value + delta if k == bad else value

    p = step(0, b * c)
    s1 = step(1, a + p)
    s2 = step(2, s1 + d)
    q = step(3, e * f)
    if tens:
        big, small = max(s2, q), min(s2, q)
        y = step(4, big - small // 10 * 10)
        m = step(5, y - small % 10)
        r = m if s2 >= q else -m
        difference = f"{y}-{small % 10}={m}" if s2 >= q else f"-({q}-{s2})=-({y}-{small % 10})={r}"
    else:
        r = step(4, s2 - q)
        difference = str(r)
    if layout == "rewrite":
        lines = [f"= {a}+{b}*{c}+{d}-{e}*{f}", f"= {a}+{p}+{d}-{e}*{f}", f"= {s1}+{d}-{e}*{f}", f"= {s2}-{e}*{f}",
                 f"= {s2}-{q}", f"= {r}"]
    else:
        lines = [f"- {b}*{c}={p}", f"- {a}+{p}={s1}", f"- {s1}+{d}={s2}", f"- {s2}-{e}*{f}={s2}-{q}={difference}"]
    return "\n".join(lines) + f"\n\\boxed{{{r}}}"


def summarize(responses: list[str]) -> str:
    """The teacher's summary: the other agents' final answers, one sentence each."""
    return " ".join(f"One agent answered {last_boxed(r) or 'nothing'}." for r in responses)


def chat_example(kind: str, rng: np.random.Generator, noise: float, critic_noise: float,
                 exclude: set[tuple[int, ...]], n_others: int = 2, max_operand: int = PAPER_MAX_OPERAND,
                 critic: str = "majority", id_rate: float = 0.0, subtraction: str = "whole",
                 noise_step: int | None = None) -> list[dict]:
    """One pretraining conversation of the given kind: solve | critic | critic_concat | summarize.
    `critic` names the critic turn's design: "majority" (`revision`), "recheck" (`recheck`),
    "brief" (`brief`), "compare" (`compare`) or "rewrite" (`recheck`, solving again in the `rewrite`
    layout). With probability `id_rate` an agent's user turns carry an agent ID, as the unique-ID
    baseline sends them, so that the toy reads such prompts as a real model would. `subtraction`: how
    solutions take the final difference (`solution`)."""
    convo = _conversation(kind, rng, noise, critic_noise, exclude, n_others, max_operand, critic, subtraction,
                          noise_step)
    if kind != "summarize" and id_rate > 0 and rng.random() < id_rate:
        agent = int(rng.integers(0, n_others + 1))
        roles = iter(("generator", "critic"))
        convo = [prompts.user(prompts.with_agent_id(m["content"], next(roles), agent)) if m["role"] == "user" else m
                 for m in convo]
    return convo


def _conversation(kind: str, rng: np.random.Generator, noise: float, critic_noise: float,
                  exclude: set[tuple[int, ...]], n_others: int, max_operand: int, critic: str,
                  subtraction: str, noise_step: int | None = None) -> list[dict]:
    while True:
        t = arithmetic_terms(rng, max_operand)
        if t not in exclude:
            break
    q = arithmetic_question(t)

    def solve(p_noise: float, layout: str = "steps") -> str:
        return solution(t, rng, p_noise, layout, subtraction, noise_step)

    others = [solve(noise) for _ in range(n_others)]
    if kind == "solve":
        return [prompts.user(prompts.generator_prompt(q)), prompts.assistant(solve(noise))]
    if kind == "summarize":
        return [prompts.user(prompts.summary_request(others)), prompts.assistant(summarize(others))]
    own = solve(noise)
    summary = summarize(others) if kind == "critic" else None
    layout = "rewrite" if critic == "rewrite" else "steps"  # the layout of a critic's fresh solution
    return [
        prompts.user(prompts.generator_prompt(q)),
        prompts.assistant(own),
        prompts.user(prompts.critic_prompt(q, others, summary)),
        prompts.assistant(critic_turn(critic, own, others, lambda: solve(critic_noise, layout))),
    ]


def critic_turn(critic: str, own: str, others: list[str], solve_again) -> str:
    """The teacher's critic reply: the design's text, or a fresh solution (`solve_again()`) where the
    design gives up its own answer."""
    if critic == "compare":
        kept = recheck(own, others)
        return comparison(own, others, kept is not None) + "\n" + (kept or solve_again())
    return CRITICS[critic](own, others) or solve_again()


def revision(own: str, others: list[str]) -> str | None:
    """The teacher's critic turn when two or more agents agree: its own steps again, ending at the
    answer most agents reached (its own when no other answer is more common). None when all answers
    differ: the critic then solves the problem again (with the critics' lower noise).

    Copying its own lines is easy for a small model, where re-solving far from the question in a long
    context made its critics worse than its generators (measured); following the majority is what
    makes the other agents' answers, and a summary of them, carry signal.
    """
    mine = last_boxed(own)
    answers = [mine] + [last_boxed(r) for r in others]
    counts = {a: answers.count(a) for a in answers if a is not None}
    best = max(counts.values(), default=0)
    if best < 2:
        return None
    final = mine if counts.get(mine, 0) == best else next(a for a in answers if counts.get(a) == best)
    return own.rsplit("\\boxed", 1)[0] + f"\\boxed{{{final}}}"


def recheck(own: str, others: list[str]) -> str | None:
    """The teacher's critic turn as a check of its own answer: kept verbatim when another agent
    reached the same answer; None (solve again, with the critics' lower noise) when no other agent
    did. An answer nobody shares is likely wrong, since the toy's errors differ between samples."""
    mine = last_boxed(own)
    return own if mine is not None and mine in {last_boxed(r) for r in others} else None


def comparison(own: str, others: list[str], keep: bool) -> str:
    """The compare critic's opening: its own answer set against each other agent's, one line each,
    then the verdict. Written out before any step, so the choice between keeping its solution and
    solving again is a token the rest of the turn conditions on, not a decision a small model has to
    make silently at the first step that differs (the recheck design's critics scored no better than
    its generators: measured, benchmarks/RESULTS.md "The toy"). `keep`: the verdict, `recheck`'s."""
    mine = last_boxed(own) or "nothing"
    lines = [f"{mine} vs {last_boxed(r) or 'nothing'}: {'same' if recheck(own, [r]) else 'differ'}" for r in others]
    verdict = "I keep my answer." if keep else "I solve it again."
    return "\n".join(lines + [verdict])


def brief(own: str, others: list[str]) -> str | None:
    """The recheck critic with a short keep: its answer alone when another agent shares it, None
    (solve again) when none does. No kept turn copies solution lines, so a re-solve cannot drift into
    half a copy of the wrong solution above it (the recheck toy's failure, benchmarks/RESULTS.md "The toy"), and the
    choice is the turn's first token."""
    return None if recheck(own, others) is None else f"\\boxed{{{last_boxed(own)}}}"


# The `rewrite` critic keeps a shared answer verbatim, as `recheck` does, but solves again in another
# layout, to test whether re-solves fail by copying the wrong solution above them. They did worse, and
# the critics' faults turned out to be new arithmetic errors, not copies (benchmarks/RESULTS.md "The toy").
CRITICS = {"majority": revision, "recheck": recheck, "brief": brief, "rewrite": recheck}


def drill_text(rng: np.random.Generator, n: int, max_operand: int = PAPER_MAX_OPERAND) -> str:
    """Raw fact lines (products, and the sums and differences solutions need): cheap tokens that
    teach the facts the worked solutions rely on."""
    lines = []
    top = max_operand * max_operand + 2 * max_operand + 1
    for _ in range(n):
        a, b = (int(v) for v in rng.integers(0, max_operand + 1, size=2))
        x = int(rng.integers(-max_operand * max_operand, top))
        op = rng.random()
        lines.append(f"{a}*{b}={a * b}" if op < 0.4 else f"{x}+{a}={x + a}" if op < 0.7 else f"{x}-{a * b}={x - a * b}")
    return "\n".join(lines)
