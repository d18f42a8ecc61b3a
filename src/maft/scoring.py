"""Scores of a test debate: accuracy of the final-round vote against the reference."""

from __future__ import annotations

import math

import pandas as pd

from maft.answers import is_correct, same_answer
from maft.voting import final_round_votes, mean_agreement


def binomial(k: int, n: int) -> dict:
    p = k / n if n else 0.0
    return {"n": n, "correct": k, "accuracy": p, "stderr": math.sqrt(p * (1 - p) / n) if n else 0.0}


def score(transcript: pd.DataFrame, kind: str = "integer", tie_break: str = "random", seed: int = 0) -> dict:
    """Accuracy (unparsed counted wrong), the official code's drop-unparsed variant, and per-round detail."""
    votes = final_round_votes(transcript, kind, tie_break, seed)
    correct = [is_correct(v, r, kind) for v, r in zip(votes["vote"], votes["reference"])]
    unparsed = int(votes["vote"].isna().sum())
    out = binomial(sum(correct), len(votes))
    out["unparsed"] = unparsed
    out["drop_unparsed"] = binomial(sum(correct), len(votes) - unparsed)
    out["consensus"] = mean_agreement(votes) if len(votes) else 0.0
    rounds = {}
    for rnd, g in transcript.groupby("round"):
        ok = [is_correct(a, r, kind) for a, r in zip(g["answer"], g["reference"])]
        rounds[str(int(rnd))] = {"mean_agent_accuracy": sum(ok) / len(ok),
                                 "unparsed_share": float(g["answer"].isna().mean())}
    out["rounds"] = rounds
    # How the answers moved between the first and the final round (corrected vs broken answers).
    if len(rounds) > 1:
        last = int(transcript["round"].max())
        a0 = transcript[transcript["round"] == 0].set_index(["problem_id", "agent"])
        a1 = transcript[transcript["round"] == last].set_index(["problem_id", "agent"])
        both = a0.join(a1.add_suffix("_last"))
        ok0 = [is_correct(a, r, kind) for a, r in zip(both["answer"], both["reference"])]
        ok1 = [is_correct(a, r, kind) for a, r in zip(both["answer_last"], both["reference"])]
        out["transitions"] = {
            "wrong_to_right": sum(1 for x, y in zip(ok0, ok1) if not x and y),
            "right_to_wrong": sum(1 for x, y in zip(ok0, ok1) if x and not y),
            "changed_answer": sum(1 for a, b in zip(both["answer"], both["answer_last"])
                                  if not same_answer(a, b, kind)),
        }
        out["critic_turns"] = critic_turns(both, ok0, ok1, kind)
    return out


CRITIC_COUNTS = ("turns", "kept", "right_before", "right_after")  # per group of `critic_turns`


def critic_turns(both: pd.DataFrame, ok0: list[bool], ok1: list[bool], kind: str = "integer") -> dict:
    """What the critics did with their round-0 answers, split by what a summary shows them: whether
    another agent reached the same answer in round 0 ("shared") or nobody did ("lone", unparsed
    included). Counts of turns, answers kept, right before and right after, and of changed answers
    that are right. A critic beats the vote when it keeps shared answers and turns lone ones right.
    An answer unparsed in both rounds counts as kept here (`transitions` counts it as changed).

    both: one row per (problem_id, agent), columns `answer` (round 0) and `answer_last`.
    """
    groups = {g: dict.fromkeys(CRITIC_COUNTS, 0) for g in ("shared", "lone")}
    changed = changed_right = 0
    round0 = both["answer"].groupby(level="problem_id").apply(list).to_dict()
    for ((pid, _), row), before, after in zip(both.iterrows(), ok0, ok1):
        own, last = row["answer"], row["answer_last"]
        shared = sum(same_answer(own, a, kind) for a in round0[pid]) > 1  # itself and another agent
        g = groups["shared" if shared else "lone"]
        kept = same_answer(own, last, kind) or (not isinstance(own, str) and not isinstance(last, str))
        g["turns"] += 1
        g["kept"] += kept
        g["right_before"] += before
        g["right_after"] += after
        changed += not kept
        changed_right += after and not kept
    return {**groups, "changed": changed, "changed_right": changed_right}
