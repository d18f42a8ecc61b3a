"""Majority vote (paper-spec section 2.2): parsed answers only, grouped by equivalence, ties broken
at random (paper) or toward the largest answer string (official code's sorted(...)[-1])."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from maft.debate import TRANSCRIPT_COLUMNS
from maft.voting import final_round_votes, majority_vote

NAN = float("nan")


def test_clear_majority():
    assert majority_vote(["3", "5", "3"]) == "3"
    assert majority_vote(["5", "3", "3", "5", "5"]) == "5"
    assert majority_vote(["7"]) == "7"


def test_majority_independent_of_order():
    assert majority_vote(["1", "2", "2"]) == majority_vote(["2", "1", "2"]) == majority_vote(["2", "2", "1"]) == "2"


def test_unparsed_answers_are_ignored():
    # Two unparsed answers would outvote '4' if None/NaN were counted as an answer.
    assert majority_vote([None, None, "4"]) == "4"
    assert majority_vote([NAN, NAN, "4"]) == "4"
    assert majority_vote([None, NAN, "4", "9", "9"]) == "9"


@pytest.mark.parametrize("answers", [[], [None], [None, None, None], [NAN, NAN], [None, NAN]])
@pytest.mark.parametrize("tie_break", ["random", "lexicographic"])
def test_all_unparsed_gives_none(answers, tie_break):
    assert majority_vote(answers, tie_break=tie_break) is None


@pytest.mark.parametrize("tied", [["3", "12"], ["12", "3"], ["-5", "5"], ["100", "99", "7"], ["2", "10", "1"]])
def test_lexicographic_tie_takes_largest_string(tied):
    # official rule: sorted(zip(counts, answers))[-1][1] -> among equal counts, the largest string
    expected = max(tied)  # string comparison, not numeric
    assert majority_vote(tied, tie_break="lexicographic") == expected


def test_lexicographic_example_is_string_not_numeric_order():
    # '3' > '12' as strings although 3 < 12 as numbers
    assert majority_vote(["3", "12"], tie_break="lexicographic") == "3"
    assert majority_vote(["12", "3", "12", "3", None], tie_break="lexicographic") == "3"


def test_lexicographic_tie_ignores_non_tied_answers():
    # '9' is the largest string but only appears once; the tie is between '10' and '2' (2 votes each)
    assert majority_vote(["10", "2", "9", "10", "2"], tie_break="lexicographic") == "2"


def test_random_tie_picks_only_among_tied():
    for seed in range(50):
        vote = majority_vote(["10", "2", "9", "10", "2"], tie_break="random", rng=np.random.default_rng(seed))
        assert vote in {"10", "2"}


def test_random_tie_is_reproducible_for_a_seed():
    answers = ["1", "2", "3"]
    for seed in range(20):
        a = majority_vote(answers, tie_break="random", rng=np.random.default_rng(seed))
        b = majority_vote(answers, tie_break="random", rng=np.random.default_rng(seed))
        assert a == b


def test_random_tie_reaches_every_tied_answer():
    seen = {majority_vote(["3", "12"], tie_break="random", rng=np.random.default_rng(s)) for s in range(64)}
    assert seen == {"3", "12"}  # lexicographic would only ever give '3'
    seen3 = {majority_vote(["1", "2", "3", None], tie_break="random", rng=np.random.default_rng(s))
             for s in range(100)}
    assert seen3 == {"1", "2", "3"}


def test_equivalent_forms_vote_together():
    # '-27' and '−27' (unicode minus) are one answer with two votes, beating '5' and '6'
    vote = majority_vote(["-27", "5", "\u221227", "6"], tie_break="lexicographic")
    assert vote in {"-27", "\u221227"}
    # '27.0' and '27' likewise outvote two distinct others
    assert majority_vote(["27.0", "3", "27", "4"], tie_break="lexicographic") in {"27", "27.0"}


def test_no_tie_means_tie_break_irrelevant():
    for tb in ("random", "lexicographic"):
        assert majority_vote(["1", "1", "9"], tie_break=tb) == "1"


def test_unknown_tie_break_raises_naming_it():
    with pytest.raises(ValueError, match="coin_flip"):
        majority_vote(["1", "2"], tie_break="coin_flip")


# ---------------------------------------------------------------------------------------------
# final_round_votes
# ---------------------------------------------------------------------------------------------


def _row(pid: str, agent: int, rnd: int, answer, reference: str = "2") -> dict:
    response = f"response of agent {agent} in round {rnd}: \\boxed{{{answer}}}"
    return {"problem_id": pid, "question": f"question {pid}", "reference": reference, "agent": agent,
            "round": rnd, "role": "generator" if rnd == 0 else "critic", "model": "base",
            "prompt": json.dumps([{"role": "user", "content": "q"}]), "response": response,
            "answer": answer, "summary": None, "seed": 1000 * agent + rnd}


def _transcript(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=TRANSCRIPT_COLUMNS)
    df["agent"] = df["agent"].astype("int64")
    df["round"] = df["round"].astype("int64")
    return df


def test_final_round_votes_uses_only_last_round():
    rows = []
    # p1: round 0 unanimously '1', final round '2','2','3' -> vote '2' (round 0 would say '1')
    for n, (a0, a1) in enumerate([("1", "2"), ("1", "2"), ("1", "3")]):
        rows += [_row("p1", n, 0, a0), _row("p1", n, 1, a1)]
    # p2: round 0 says '7' twice, final round '8' twice and one unparsed
    for n, (a0, a1) in enumerate([("7", "8"), ("7", None), ("9", "8")]):
        rows += [_row("p2", n, 0, a0, reference="8"), _row("p2", n, 1, a1, reference="8")]
    # p3: final round entirely unparsed (round 0 parsed) -> no vote
    for n in range(3):
        rows += [_row("p3", n, 0, "4", reference="4"), _row("p3", n, 1, None, reference="4")]
    votes = final_round_votes(_transcript(rows), tie_break="lexicographic").set_index("problem_id")

    assert list(votes.index) == ["p1", "p2", "p3"]
    assert votes.loc["p1", "vote"] == "2"
    assert votes.loc["p1", "agree"] == 2
    assert votes.loc["p1", "parsed"] == 3
    assert votes.loc["p1", "agents"] == 3
    assert votes.loc["p1", "reference"] == "2"

    assert votes.loc["p2", "vote"] == "8"
    assert votes.loc["p2", "agree"] == 2
    assert votes.loc["p2", "parsed"] == 2
    assert votes.loc["p2", "agents"] == 3

    assert pd.isna(votes.loc["p3", "vote"])
    assert votes.loc["p3", "agree"] == 0
    assert votes.loc["p3", "parsed"] == 0
    assert votes.loc["p3", "agents"] == 3


def test_final_round_votes_three_rounds_uses_round_two():
    rows = []
    for n, answers in enumerate([("1", "5", "6"), ("1", "5", "6"), ("1", "5", "5")]):
        rows += [_row("q", n, r, a) for r, a in enumerate(answers)]
    votes = final_round_votes(_transcript(rows), tie_break="lexicographic")
    assert votes["vote"].tolist() == ["6"]
    assert votes["agree"].tolist() == [2]


def test_final_round_votes_nan_answers_are_unparsed():
    # what a parquet round-trip gives for missing answers: NaN, not None
    rows = []
    for n, a in enumerate(["3", NAN, NAN]):
        rows += [_row("p", n, 0, "3"), _row("p", n, 1, a)]
    votes = final_round_votes(_transcript(rows), tie_break="lexicographic")
    assert votes["vote"].tolist() == ["3"]
    assert votes["parsed"].tolist() == [1]
    assert votes["agree"].tolist() == [1]


def test_final_round_votes_random_ties_reproducible_per_seed():
    rows = []
    for i in range(30):
        for n, a in enumerate(["1", "2"]):
            rows += [_row(f"p{i:02d}", n, 0, a), _row(f"p{i:02d}", n, 1, a)]
    t = _transcript(rows)
    v1 = final_round_votes(t, tie_break="random", seed=3)["vote"].tolist()
    v2 = final_round_votes(t, tie_break="random", seed=3)["vote"].tolist()
    assert v1 == v2
    assert set(v1) <= {"1", "2"}
    # over 30 independent problems, a per-problem random tie break gives both answers
    assert set(v1) == {"1", "2"}
