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


def consensus(transcript: pd.DataFrame, kind: str = "integer", tie_break: str = "random", seed: int = 0) -> float:
    """The consensus diversity metric of a transcript: `mean_agreement` of its final-round votes."""
    return mean_agreement(final_round_votes(transcript, kind, tie_break, seed))


def check_transcript(transcript: pd.DataFrame, source: str = "transcript", every_round: bool = True) -> int:
    """The last round of a debate transcript, after checking its shape; raises naming the faulty row.

    No (problem, agent, round) may appear twice, and with `every_round` (what the selection needs)
    every (problem, agent) must have each round 0..last: a truncated, merged or hand-edited file
    would otherwise shift votes silently or fail deep inside the selection. Voting alone only
    reads the final round, so it accepts a transcript of that round.
    """
    _check_keys(transcript, source)
    last = int(transcript["round"].max())
    if every_round:
        _check_every_round(transcript, last, source)
    return last


KEYS = ["problem_id", "agent", "round"]


def _check_keys(transcript: pd.DataFrame, source: str) -> None:
    missing = [c for c in KEYS + ["answer"] if c not in transcript.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}")
    if len(transcript) == 0:
        raise ValueError(f"{source}: no rows (an empty debate)")
    for col in KEYS:
        if transcript[col].isna().any():
            row = int(np.flatnonzero(transcript[col].isna().to_numpy())[0])
            raise ValueError(f"{source}: row {row} has no {col!r}")
    if int(transcript["round"].min()) < 0:
        raise ValueError(f"{source}: negative round {int(transcript['round'].min())}")
    dup = transcript.duplicated(KEYS)
    if dup.any():
        r = transcript[dup].iloc[0]
        raise ValueError(f"{source}: problem {r['problem_id']!r} agent {r['agent']} round {r['round']} appears twice")


def _check_every_round(transcript: pd.DataFrame, last: int, source: str) -> None:
    # without duplicates, last + 1 rows per (problem, agent) means exactly the rounds 0..last
    counts = transcript.groupby(["problem_id", "agent"], sort=True).size()
    short = counts[counts != last + 1]
    if len(short):
        pid, agent = short.index[0]
        mine = (transcript["problem_id"] == pid) & (transcript["agent"] == agent)
        have = sorted(int(x) for x in transcript.loc[mine, "round"])
        raise ValueError(f"{source}: problem {pid!r} agent {agent} has rounds {have}, expected 0..{last} "
                         "(a truncated or hand-edited transcript?)")


def final_round_votes(transcript: pd.DataFrame, kind: str = "integer", tie_break: str = "random",
                      seed: int = 0) -> pd.DataFrame:
    """Per problem: the vote over the final round, how many agents agree with it and how many parsed."""
    last = check_transcript(transcript, every_round=False)
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
