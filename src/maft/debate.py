"""The multiagent debate: N agents x M rounds over a table of problems, one transcript row per
(problem, agent, round).

Round 0: generator n answers the question. Round m >= 1: critic n continues its own conversation
after reading the other agents' round m-1 answers: summarised by the summarizer (the paper's
method) or concatenated raw (the 'w/o summary' ablation). Round m only ever reads a snapshot of
round m-1 (the official code mixed rounds; paper-spec section 11, bug 9). Every round is one
batched call to the backend.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from maft import prompts
from maft.answers import extract_answer, is_correct
from maft.request import Request, Sampling
from maft.seeds import derive_seed

TRANSCRIPT_COLUMNS = [
    "problem_id", "question", "reference", "agent", "round", "role", "model", "prompt", "response",
    "answer", "summary", "seed",
]


@dataclass(frozen=True)
class Seat:
    """Which weights play one role of one agent: an adapter name of the backend (None = base)."""
    adapter: str | None
    label: str  # what the transcript's `model` column records: "base" or the agent's directory


@dataclass(frozen=True)
class DebateSpec:
    generators: list[Seat]  # one per agent
    critics: list[Seat]  # one per agent (ignored when rounds == 1)
    rounds: int
    summarize: bool = True
    summarizer: Seat = field(default_factory=lambda: Seat(None, "base"))
    max_others: int = 5
    answer_kind: str = "integer"
    sampling: Sampling | None = None  # the agents' own sampling (None: the backend's); summaries keep the backend's
    agent_ids: bool = False  # prefix each agent's user turns with its ID (the unique-ID baseline)

    def __post_init__(self):
        # The schema already bounds these; a spec built in code gets the same clear error.
        if not self.generators:
            raise ValueError("debate.agents: a debate needs at least one agent")
        if self.rounds < 1:
            raise ValueError(f"debate.rounds: {self.rounds} (a debate needs at least one round)")
        if self.rounds > 1 and len(self.critics) != len(self.generators):
            raise ValueError(f"debate: {len(self.generators)} generator(s) but {len(self.critics)} critic(s)")

    @property
    def agents(self) -> int:
        return len(self.generators)


def _others(prev: dict[int, str], n: int, rng: np.random.Generator, max_others: int) -> list[str]:
    # As in the official code: the other agents' answers in shuffled order, at most `max_others`.
    keys = [k for k in sorted(prev) if k != n]
    rng.shuffle(keys)
    return [prev[k] for k in keys[:max_others]]


def _generate(backend, reqs: list[Request], desc: str) -> list[str]:
    """The backend's responses, one per request; anything else would silently drop transcript rows."""
    out = list(backend.generate(reqs, desc=desc))
    if len(out) != len(reqs):
        raise RuntimeError(f"{desc}: the backend returned {len(out)} response(s) for {len(reqs)} request(s)")
    return out


def run_debate(backend, problems: pd.DataFrame, spec: DebateSpec, seed_key: tuple) -> pd.DataFrame:
    """Debate every problem; `seed_key` (e.g. (seed, iteration, split)) makes every seed unique."""
    rows: list[dict] = []
    template = prompts.template_for(spec.answer_kind)
    problems = problems.reset_index(drop=True)
    history = {(p, n): [] for p in range(len(problems)) for n in range(spec.agents)}
    prev: dict[int, dict[int, str]] = {}
    for rnd in range(spec.rounds):
        seats = spec.generators if rnd == 0 else spec.critics
        role = "generator" if rnd == 0 else "critic"
        summaries: dict[tuple[int, int], str | None] = {}
        others: dict[tuple[int, int], list[str]] = {}
        if rnd > 0:
            for p, prob in problems.iterrows():
                for n in range(spec.agents):
                    rng = np.random.default_rng(derive_seed(*seed_key, prob.problem_id, n, rnd, "order"))
                    others[p, n] = _others(prev[p], n, rng, spec.max_others)
            if spec.summarize and spec.agents > 1:
                keys = list(others)
                reqs = [
                    Request([prompts.user(prompts.summary_request(others[k]))],
                            derive_seed(*seed_key, problems.problem_id[k[0]], k[1], rnd, "summary"),
                            spec.summarizer.adapter)
                    for k in keys
                ]
                for k, text in zip(keys, _generate(backend, reqs, f"round {rnd} summaries")):
                    summaries[k] = text
        keys, reqs, sent = [], [], []
        for p, prob in problems.iterrows():
            for n in range(spec.agents):
                if rnd == 0:
                    text = prompts.generator_prompt(prob.question, template=template)
                else:
                    text = prompts.critic_prompt(prob.question, others[p, n], summaries.get((p, n)), template=template)
                if spec.agent_ids:
                    text = prompts.with_agent_id(text, role, n)
                messages = history[p, n] + [prompts.user(text)]
                seed = derive_seed(*seed_key, prob.problem_id, n, rnd)
                keys.append((p, n, seed))
                sent.append(messages)
                reqs.append(Request(messages, seed, seats[n].adapter, spec.sampling))
        responses = _generate(backend, reqs, f"round {rnd} {role}s")
        prev = {p: {} for p in range(len(problems))}
        for (p, n, seed), messages, text in zip(keys, sent, responses):
            prob = problems.iloc[p]
            history[p, n] = messages + [prompts.assistant(text)]
            prev[p][n] = text
            rows.append({
                "problem_id": prob.problem_id, "question": prob.question, "reference": str(prob.reference),
                "agent": n, "round": rnd, "role": role, "model": seats[n].label,
                "prompt": json.dumps(messages, ensure_ascii=False), "response": text,
                "answer": extract_answer(text, spec.answer_kind), "summary": summaries.get((p, n)),
                "seed": seed,
            })
    df = pd.DataFrame(rows, columns=TRANSCRIPT_COLUMNS)
    df["agent"] = df["agent"].astype("int64")
    df["round"] = df["round"].astype("int64")
    df["seed"] = df["seed"].astype("int64")
    return df.sort_values(["problem_id", "agent", "round"]).reset_index(drop=True)


RATIONALE_COLUMNS = TRANSCRIPT_COLUMNS + ["question_prompt"]


def rationalize(backend, transcript: pd.DataFrame, seat: Seat, seed_key: tuple, answer_kind: str = "integer") -> pd.DataFrame:
    """STaR's second pass: re-ask every round-0 answer that is wrong per the gold answer, with the
    gold answer as a hint. `question_prompt` keeps the hint-free prompt the example is trained on."""
    template = prompts.template_for(answer_kind)
    wrong = [r for r in transcript[transcript["round"] == 0].to_dict("records")
             if not is_correct(r["answer"], r["reference"], answer_kind)]
    reqs, rows = [], []
    for r in wrong:
        seed = derive_seed(*seed_key, r["problem_id"], r["agent"], "rationale")
        messages = [prompts.user(prompts.generator_prompt(r["question"], hint=r["reference"], template=template))]
        reqs.append(Request(messages, seed, seat.adapter))
        rows.append({**{k: r[k] for k in ("problem_id", "question", "reference", "agent")}, "round": 0,
                     "role": "generator", "model": seat.label, "prompt": json.dumps(messages, ensure_ascii=False),
                     "summary": None, "seed": seed,
                     "question_prompt": prompts.generator_prompt(r["question"], template=template)})
    for row, text in zip(rows, _generate(backend, reqs, "rationalize") if reqs else []):
        row["response"], row["answer"] = text, extract_answer(text, answer_kind)
    df = pd.DataFrame(rows, columns=RATIONALE_COLUMNS)
    for col in ("agent", "round", "seed"):
        df[col] = df[col].astype("int64")
    return df
