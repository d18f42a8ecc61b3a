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
        both = a0.join(a1, rsuffix="_last")
        ok0 = [is_correct(a, r, kind) for a, r in zip(both["answer"], both["reference"])]
        ok1 = [is_correct(a, r, kind) for a, r in zip(both["answer_last"], both["reference"])]
        out["transitions"] = {
            "wrong_to_right": sum(1 for x, y in zip(ok0, ok1) if not x and y),
            "right_to_wrong": sum(1 for x, y in zip(ok0, ok1) if x and not y),
            "changed_answer": sum(1 for a, b in zip(both["answer"], both["answer_last"])
                                  if not same_answer(a, b, kind)),
        }
    return out
