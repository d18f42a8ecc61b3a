"""Scores of a test debate on hand-built transcripts: the vote's accuracy, the answers' moves, and
what the critics did with shared and lone round-0 answers."""

import pandas as pd
import pytest

from maft.scoring import score


def transcript(rounds: list[list[list[str | None]]], references: list[str]) -> pd.DataFrame:
    """rounds[m][p][n]: agent n's answer to problem p in round m."""
    rows = []
    for m, answers in enumerate(rounds):
        for p, row in enumerate(answers):
            for n, a in enumerate(row):
                rows.append({"problem_id": f"p{p}", "agent": n, "round": m, "answer": a, "reference": references[p]})
    return pd.DataFrame(rows)


def test_vote_accuracy_counts_unparsed_as_wrong():
    t = transcript([[["5", "5", "7"], [None, None, "3"]]], ["5", "3"])
    s = score(t, tie_break="lexicographic")
    assert (s["n"], s["correct"], s["unparsed"]) == (2, 2, 0)
    t = transcript([[["5", "5", "7"], [None, None, None]]], ["5", "3"])
    s = score(t)
    assert (s["correct"], s["unparsed"]) == (1, 1) and s["accuracy"] == 0.5
    assert s["drop_unparsed"]["accuracy"] == 1.0
    assert "critic_turns" not in s  # one round: no critic


def test_critic_turns_split_shared_and_lone_answers():
    # problem 0: agents 0 and 1 share 5 (right), agent 2 is alone with 7; problem 1: all differ, one unparsed
    round0 = [["5", "5", "7"], ["1", "2", None]]
    round1 = [["5", "6", "5"], ["1", "3", None]]
    s = score(transcript([round0, round1], ["5", "3"]))
    c = s["critic_turns"]
    # shared: p0 agents 0 (kept, right -> right) and 1 (changed, right -> wrong)
    assert c["shared"] == {"turns": 2, "kept": 1, "right_before": 2, "right_after": 1}
    # lone: p0 agent 2 (7 -> 5, wrong -> right), p1 agent 0 (kept 1), agent 1 (2 -> 3, right after),
    # agent 2 (unparsed both times: kept, not a change)
    assert c["lone"] == {"turns": 4, "kept": 2, "right_before": 0, "right_after": 2}
    assert (c["changed"], c["changed_right"]) == (3, 2)
    assert c["shared"]["turns"] + c["lone"]["turns"] == 6
    assert s["transitions"]["wrong_to_right"] == 2 and s["transitions"]["right_to_wrong"] == 1


@pytest.mark.parametrize("kind,a,b", [("integer", "5", "05"), ("number", "0.5", "1/2")])
def test_critic_turns_compare_answers_as_the_vote_does(kind, a, b):
    s = score(transcript([[[a, b, "9"]], [[b, a, "9"]]], ["5"]), kind=kind)
    assert s["critic_turns"]["shared"]["turns"] == 2 and s["critic_turns"]["shared"]["kept"] == 2
