"""The one voting function: majority over parsed answers, grouped by answer equivalence."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from maft.answers import same_answer
from maft.seeds import derive_seed

TIE_BREAKS = ("random", "lexicographic")


def majority_vote(answers: Sequence[str | None], kind: str = "integer", tie_break: str = "random",
                  rng: np.random.Generator | None = None) -> str | None:
    """The most frequent answer (None when nothing parsed).

    Ties: 'random' picks uniformly among the tied answers with `rng` (the paper); 'lexicographic'
    picks the largest answer string (the official code's `sorted(...)[-1]`).
    """
    groups: list[list[str]] = []
    for a in answers:
        if not isinstance(a, str):
            continue  # unparsed (None, or NaN read back from parquet)
        for g in groups:
            if same_answer(g[0], a, kind):
                g.append(a)
                break
        else:
            groups.append([a])
    if not groups:
        return None
    top = max(len(g) for g in groups)
    tied = [g[0] for g in groups if len(g) == top]
    if len(tied) == 1:
        return tied[0]
    if tie_break == "lexicographic":
        return sorted(tied)[-1]
    if tie_break == "random":
        rng = rng if rng is not None else np.random.default_rng(0)
        return tied[int(rng.integers(len(tied)))]
    raise ValueError(f"unknown tie_break {tie_break!r}; expected one of {TIE_BREAKS}")


def mean_agreement(votes: pd.DataFrame) -> float:
    """Consensus: the mean share of agents whose final answer is the vote (NaN without problems)."""
    return float((votes["agree"] / votes["agents"]).mean()) if len(votes) else float("nan")


def final_round_votes(transcript: pd.DataFrame, kind: str = "integer", tie_break: str = "random",
                      seed: int = 0) -> pd.DataFrame:
    """Per problem: the vote over the final round, how many agents agree with it and how many parsed."""
    last = int(transcript["round"].max())
    final = transcript[transcript["round"] == last]
    out = []
    for pid, g in final.groupby("problem_id", sort=True):
        # missing answers are NaN in pandas' str columns; count only real strings as parsed
        answers = [a if isinstance(a, str) else None for a in g.sort_values("agent")["answer"]]
        rng = np.random.default_rng(derive_seed(seed, "tie", pid))
        vote = majority_vote(answers, kind, tie_break, rng)
        agree = sum(same_answer(a, vote, kind) for a in answers)
        out.append({"problem_id": pid, "reference": str(g["reference"].iloc[0]), "vote": vote,
                    "agree": agree, "parsed": sum(a is not None for a in answers), "agents": len(answers)})
    return pd.DataFrame(out, columns=["problem_id", "reference", "vote", "agree", "parsed", "agents"])
