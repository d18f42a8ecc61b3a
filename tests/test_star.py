"""STaR: gold-filtered answers plus hint-written rationalisations, trained without the hint."""

import json

import pandas as pd

from maft import prompts
from maft.debate import RATIONALE_COLUMNS, TRANSCRIPT_COLUMNS, Seat, rationalize
from maft.selection import SHARD_COLUMNS, star_shard


def first_round(answers: dict[str, tuple[str, str | None]]) -> pd.DataFrame:
    """problem id -> (reference, parsed answer) for one agent, one round."""
    rows = []
    for pid, (ref, ans) in answers.items():
        q = f"What is the result of {pid}?"
        rows.append({"problem_id": pid, "question": q, "reference": ref, "agent": 0, "round": 0,
                     "role": "generator", "model": "base",
                     "prompt": json.dumps([prompts.user(prompts.generator_prompt(q))]),
                     "response": f"work \\boxed{{{ans}}}" if ans else "no answer", "answer": ans,
                     "summary": None, "seed": 1})
    return pd.DataFrame(rows, columns=TRANSCRIPT_COLUMNS)


class EchoHintBackend:
    """Answers a hinted prompt with the hinted value: records what it was asked."""

    def __init__(self):
        self.requests = []

    def generate(self, requests, desc=""):
        self.requests += requests
        out = []
        for r in requests:
            text = r.messages[-1]["content"]
            hint = text.split("the correct answer is ")[1].rstrip(".)")
            out.append(f"so \\boxed{{{hint if hint != '7' else '8'}}}")  # fails to reach '7'
        return out


def test_rationalize_asks_only_wrong_answers_with_the_gold_hint():
    t = first_round({"p1": ("5", "5"), "p2": ("6", "9"), "p3": ("7", None), "p4": ("4", "1")})
    backend = EchoHintBackend()
    r = rationalize(backend, t, Seat(None, "base"), (0, 0, "r"))
    assert list(r.columns) == RATIONALE_COLUMNS
    assert sorted(r["problem_id"]) == ["p2", "p3", "p4"]  # p1 was right
    for req, row in zip(backend.requests, r.to_dict("records")):
        assert f"the correct answer is {row['reference']}" in req.messages[0]["content"]
        assert "Hint" not in row["question_prompt"]


def test_star_shard_keeps_gold_correct_answers_and_successful_rationalisations():
    t = first_round({"p1": ("5", "5"), "p2": ("6", "9"), "p3": ("7", None), "p4": ("4", "1")})
    r = rationalize(EchoHintBackend(), t, Seat(None, "base"), (0, 0, "r"))
    shard = star_shard(t, r)
    assert list(shard.columns) == SHARD_COLUMNS
    kinds = dict(zip(shard["problem_id"], shard["kind"]))
    # p1 right at once; p2, p4 rationalised to the gold answer; p3's rationalisation missed it
    assert kinds == {"p1": "generator", "p2": "rationalization", "p4": "rationalization"}
    for row in shard.to_dict("records"):
        messages = json.loads(row["messages"])
        assert [m["role"] for m in messages] == ["user", "assistant"]
        assert "Hint" not in messages[0]["content"]  # trained without the hint, as in STaR
