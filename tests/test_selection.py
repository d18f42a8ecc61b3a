"""Data selection on hand-made transcripts (paper-spec sections 2.3-2.5, Algorithm 1 lines 21-29).

Vote: majority over the FINAL round. Per agent n:
  D^G_n  : n's round-0 response whose answer equals the vote              -> [user0, assistant0]
  D^C-_n : round 0 wrong (or unparsed), final round equals the vote       -> [user0, asst0, user1, asst1]
  D^C+_n : round 0 equals the vote and the final round equals the vote    -> same trajectory
  final round != vote: no critic example. No parsed final answer at all: no data for the problem.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pandas.testing as pdt
import pytest

from maft import prompts
from maft.debate import TRANSCRIPT_COLUMNS
from maft.selection import (SHARD_COLUMNS, SelectionSpec, mix_critic, per_agent_shards, pooled_per_agent_shard,
                            pooled_shard, trajectories)

# ---------------------------------------------------------------------------------------------
# hand-built transcripts
# ---------------------------------------------------------------------------------------------


def question(pid: str) -> str:
    return f"What is the result of problem {pid}?"


def response(pid: str, agent: int, rnd: int, answer) -> str:
    box = f"\\boxed{{{answer}}}" if answer is not None else "I am not sure."
    return f"[{pid}|agent{agent}|round{rnd}] reasoning ... {box}"


def problem_rows(pid: str, answers: list[tuple], reference: str = "0") -> list[dict]:
    """Rows of one problem: answers[n] = (round-0 answer, ..., final answer) of agent n.

    prompt = the JSON chat messages sent: round 0 the generator prompt, later rounds the agent's own
    history plus a critic prompt showing the other agents' previous responses.
    """
    rounds = len(answers[0])
    rows = []
    history = {n: [] for n in range(len(answers))}
    prev: dict[int, str] = {}
    for rnd in range(rounds):
        cur = {}
        for n, ans in enumerate(answers):
            if rnd == 0:
                msg = prompts.user(prompts.generator_prompt(question(pid)))
            else:
                others = [prev[k] for k in sorted(prev) if k != n]
                msg = prompts.user(prompts.critic_prompt(question(pid), others, None))
            sent = history[n] + [msg]
            text = response(pid, n, rnd, ans[rnd])
            rows.append({
                "problem_id": pid, "question": question(pid), "reference": reference, "agent": n,
                "round": rnd, "role": "generator" if rnd == 0 else "critic", "model": "base",
                "prompt": json.dumps(sent), "response": text, "answer": ans[rnd], "summary": None,
                "seed": 1000 * n + rnd,
            })
            history[n] = sent + [prompts.assistant(text)]
            cur[n] = text
        prev = cur
    return rows


def transcript(problems: dict[str, list[tuple]]) -> pd.DataFrame:
    rows = [r for pid, answers in problems.items() for r in problem_rows(pid, answers)]
    df = pd.DataFrame(rows, columns=TRANSCRIPT_COLUMNS)
    for c in ("agent", "round", "seed"):
        df[c] = df[c].astype("int64")
    return df


# 3 agents x 2 rounds; every (agent, problem) case is listed in EXPECTED below.
CASES = {
    # everyone right from the start: vote 5
    "p1": [("5", "5"), ("5", "5"), ("5", "5")],
    # agent 0 wrong -> corrected, agent 1 unparsed -> corrected, agent 2 right -> kept: vote 5
    "p2": [("4", "5"), (None, "5"), ("5", "5")],
    # agent 2 right at round 0 but leaves the vote in the final round: vote 7
    "p3": [("7", "7"), ("7", "7"), ("7", "8")],
    # agent 0 wrong and stays wrong (final != vote): vote 6
    "p4": [("9", "9"), ("6", "6"), ("3", "6")],
    # no agent parses in the final round (round 0 parsed): no vote, no data
    "p5": [("3", None), ("3", None), ("3", None)],
    # answer forms: the unicode minus is the same answer as '-2': vote -2
    "p6": [("\u22122", "-2"), ("1", "-2"), ("-2", "\u22122")],
}

# (agent) -> problems in D^G, D^C-, D^C+ (worked out by hand from CASES and the rules above)
EXPECTED = {
    0: {"generator": {"p1", "p3", "p6"}, "critic_corrected": {"p2"}, "critic_kept": {"p1", "p3", "p6"}},
    1: {"generator": {"p1", "p3", "p4"}, "critic_corrected": {"p2", "p6"}, "critic_kept": {"p1", "p3", "p4"}},
    2: {"generator": {"p1", "p2", "p3", "p6"}, "critic_corrected": {"p4"}, "critic_kept": {"p1", "p2", "p6"}},
}

SPEC = SelectionSpec(kind="integer", tie_break="lexicographic", critic_mix="official", seed=0)


@pytest.fixture(scope="module")
def t() -> pd.DataFrame:
    return transcript(CASES)


def by_kind(shard: pd.DataFrame) -> dict[str, set[str]]:
    kinds = ("generator", "critic_corrected", "critic_kept")
    return {k: set(shard.loc[shard["kind"] == k, "problem_id"]) for k in kinds}


def msgs(shard: pd.DataFrame, pid: str) -> list[dict]:
    rows = shard[shard["problem_id"] == pid]
    assert len(rows) == 1, f"{pid}: {len(rows)} rows"
    return json.loads(rows["messages"].iloc[0])


# ---------------------------------------------------------------------------------------------
# classification
# ---------------------------------------------------------------------------------------------


def test_generator_shards(t):
    shards = per_agent_shards(t, SPEC)
    for n in range(3):
        g = shards["generator", n]
        assert set(g["problem_id"]) == EXPECTED[n]["generator"], n
        assert (g["kind"] == "generator").all() and (g["role"] == "generator").all()
        assert (g["agent"] == n).all()
        assert len(g) == len(EXPECTED[n]["generator"])  # one example per problem


def test_critic_classification_via_weight_extremes(t):
    # w = 1: only D^C-; w = 0: only D^C+ (all of them)
    only_corrected = per_agent_shards(t, SelectionSpec(tie_break="lexicographic", critic_mix="weight", w=1.0))
    only_kept = per_agent_shards(t, SelectionSpec(tie_break="lexicographic", critic_mix="weight", w=0.0))
    for n in range(3):
        c = only_corrected["critic", n]
        assert set(c["problem_id"]) == EXPECTED[n]["critic_corrected"], n
        assert (c["kind"] == "critic_corrected").all()
        k = only_kept["critic", n]
        assert set(k["problem_id"]) == EXPECTED[n]["critic_kept"], n
        assert len(k) == len(EXPECTED[n]["critic_kept"])
        assert (k["kind"] == "critic_kept").all()
        assert (c["role"] == "critic").all() and (k["role"] == "critic").all()


def test_pooled_shard_pools_all_agents_without_mixing(t):
    pooled = pooled_shard(t, SPEC)
    assert list(pooled.columns) == SHARD_COLUMNS
    for n in range(3):
        mine = pooled[pooled["agent"] == n]
        assert by_kind(mine) == EXPECTED[n], n
    total = sum(len(v) for e in EXPECTED.values() for v in e.values())
    assert len(pooled) == total
    assert set(pooled["agent"]) == {0, 1, 2}


def test_unique_id_pools_exactly_the_per_agent_shards(t):
    pooled = pooled_per_agent_shard(t, SPEC)
    shards = per_agent_shards(t, SPEC)
    assert list(pooled.columns) == SHARD_COLUMNS
    assert len(pooled) == sum(len(s) for s in shards.values())
    for (role, n), shard in shards.items():
        mine = pooled[(pooled["agent"] == n) & (pooled["role"] == role)].reset_index(drop=True)
        pdt.assert_frame_equal(mine, shard.reset_index(drop=True))  # maft's data, critic mixing included


def test_unvoted_problem_contributes_nothing(t):
    shards = per_agent_shards(t, SPEC)
    for df in list(shards.values()) + [pooled_shard(t, SPEC)]:
        assert "p5" not in set(df["problem_id"])


def test_trajectories_cover_exactly_the_voted_problems(t):
    got = [(n, first["problem_id"], last["problem_id"], first["round"], last["round"], vote)
           for n, first, last, vote in trajectories(t, SPEC)]
    votes = {"p1": "5", "p2": "5", "p3": "7", "p4": "6", "p6": "-2"}  # p5: nothing parsed, no vote
    assert sorted((n, p) for n, p, *_ in got) == sorted((n, p) for p in votes for n in range(3))
    for n, p0, p1, r0, r1, vote in got:
        assert p0 == p1 and (r0, r1) == (0, 1)
        assert isinstance(vote, str) and int(vote) == int(votes[p0])


def test_final_answer_off_the_vote_gives_no_critic_example(t):
    pooled = pooled_shard(t, SPEC)
    critic = pooled[pooled["role"] == "critic"]
    assert not ((critic["problem_id"] == "p3") & (critic["agent"] == 2)).any()  # right -> wrong
    assert not ((critic["problem_id"] == "p4") & (critic["agent"] == 0)).any()  # wrong -> wrong
    # ... but agent 2's correct round-0 answer on p3 is still generator data
    gen = pooled[pooled["role"] == "generator"]
    assert ((gen["problem_id"] == "p3") & (gen["agent"] == 2)).any()


def test_shard_columns_and_keys(t):
    shards = per_agent_shards(t, SPEC)
    assert set(shards) == {(r, n) for r in ("generator", "critic") for n in range(3)}
    for df in shards.values():
        assert list(df.columns) == SHARD_COLUMNS
        assert df["agent"].dtype == "int64"
    no_critics = per_agent_shards(t, SPEC, critics=False)
    assert set(no_critics) == {("generator", n) for n in range(3)}


# ---------------------------------------------------------------------------------------------
# message content and per-agent separation
# ---------------------------------------------------------------------------------------------


def test_generator_messages_are_user0_assistant0(t):
    g = per_agent_shards(t, SPEC)["generator", 1]
    m = msgs(g, "p4")
    assert m == [prompts.user(prompts.generator_prompt(question("p4"))),
                 prompts.assistant(response("p4", 1, 0, "6"))]


def test_critic_messages_are_the_full_trajectory(t):
    c = per_agent_shards(t, SelectionSpec(tie_break="lexicographic", critic_mix="weight", w=1.0))["critic", 0]
    m = msgs(c, "p2")
    others = [response("p2", 1, 0, None), response("p2", 2, 0, "5")]
    assert m == [
        prompts.user(prompts.generator_prompt(question("p2"))),
        prompts.assistant(response("p2", 0, 0, "4")),
        prompts.user(prompts.critic_prompt(question("p2"), others, None)),
        prompts.assistant(response("p2", 0, 1, "5")),
    ]
    assert [x["role"] for x in m] == ["user", "assistant", "user", "assistant"]


def test_per_agent_separation(t):
    shards = per_agent_shards(t, SelectionSpec(tie_break="lexicographic", critic_mix="weight", w=0.0))
    shards_c = per_agent_shards(t, SelectionSpec(tie_break="lexicographic", critic_mix="weight", w=1.0))
    for (role, n), df in list(shards.items()) + list(shards_c.items()):
        assert (df["agent"] == n).all()
        for text in df["messages"]:
            for m in json.loads(text):
                if m["role"] == "assistant":
                    assert m["content"].startswith("[p") and f"|agent{n}|" in m["content"], (role, n, m)
                    for other in set(range(3)) - {n}:
                        assert f"|agent{other}|" not in m["content"]


def test_unparsed_nan_round0_counts_as_wrong():
    # answers read back from parquet are NaN, not None; the start must still count as unparsed/wrong
    t = transcript({"q": [("4", "4"), (None, "4"), ("4", "4")]})
    t["answer"] = t["answer"].astype(object).where(t["answer"].notna(), float("nan"))
    pooled = pooled_shard(t, SPEC)
    agent1 = pooled[pooled["agent"] == 1]
    assert agent1["kind"].tolist() == ["critic_corrected"]


def test_single_round_transcript_gives_only_generator_data():
    t = transcript({"q1": [("3",), ("3",), ("4",)], "q2": [("1",), ("2",), ("2",)]})
    shards = per_agent_shards(t, SPEC)
    assert set(shards["generator", 0]["problem_id"]) == {"q1"}
    assert set(shards["generator", 1]["problem_id"]) == {"q1", "q2"}
    assert set(shards["generator", 2]["problem_id"]) == {"q2"}
    for n in range(3):
        assert len(shards["critic", n]) == 0
    assert set(pooled_shard(t, SPEC)["kind"]) == {"generator"}


# ---------------------------------------------------------------------------------------------
# critic mixing
# ---------------------------------------------------------------------------------------------


def mixed_transcript(n_corrected: int, n_kept: int) -> pd.DataFrame:
    """Agent 0 is corrected on the first n_corrected problems and keeps the vote on the next n_kept;
    agents 1 and 2 always answer the vote."""
    problems = {}
    for i in range(n_corrected):
        problems[f"c{i:03d}"] = [("99", "1"), ("1", "1"), ("1", "1")]
    for i in range(n_kept):
        problems[f"k{i:03d}"] = [("1", "1"), ("1", "1"), ("1", "1")]
    return transcript(problems)


def _critic0(t, **kw) -> pd.DataFrame:
    return per_agent_shards(t, SelectionSpec(tie_break="lexicographic", **kw))["critic", 0]


@pytest.mark.parametrize("n_corrected, n_kept", [(30, 30), (30, 5), (5, 30), (10, 0), (0, 10)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_official_mix(n_corrected, n_kept, seed):
    t = mixed_transcript(n_corrected, n_kept)
    c = _critic0(t, critic_mix="official", seed=seed)  # must not raise (official code: IndexError)
    corrected = c[c["kind"] == "critic_corrected"]
    kept = c[c["kind"] == "critic_kept"]
    # every corrected example, exactly once
    assert sorted(corrected["problem_id"]) == [f"c{i:03d}" for i in range(n_corrected)]
    # kept examples: distinct, from D^C+, never more than the corrected ones
    assert kept["problem_id"].is_unique
    assert set(kept["problem_id"]) <= {f"k{i:03d}" for i in range(n_kept)}
    assert len(kept) <= n_corrected
    assert len(kept) <= n_kept
    if n_corrected == 0:
        assert len(c) == 0


def test_official_mix_adds_about_half_as_many_kept():
    # after each of 60 corrected examples a kept one is added with probability 1/2 -> ~30 (sd ~3.9)
    t = mixed_transcript(60, 80)
    counts = [int((_critic0(t, critic_mix="official", seed=s)["kind"] == "critic_kept").sum()) for s in range(3)]
    for k in counts:
        assert 15 <= k <= 45, counts


def test_mix_critic_official_direct_more_corrected_than_kept():
    corrected = [{"id": f"c{i}"} for i in range(20)]
    kept = [{"id": f"k{i}"} for i in range(2)]
    for seed in range(20):
        out = mix_critic(corrected, kept, SelectionSpec(critic_mix="official"), np.random.default_rng(seed))
        ids = [e["id"] for e in out]
        assert [i for i in ids if i.startswith("c")] == [f"c{i}" for i in range(20)]  # order kept
        assert len([i for i in ids if i.startswith("k")]) <= 2


@pytest.mark.parametrize("n_corrected, n_kept", [(20, 20), (20, 30), (12, 40)])
def test_weight_mix(n_corrected, n_kept):
    t = mixed_transcript(n_corrected, n_kept)
    only_c = _critic0(t, critic_mix="weight", w=1.0)
    assert set(only_c["kind"]) == {"critic_corrected"} and len(only_c) == n_corrected
    only_k = _critic0(t, critic_mix="weight", w=0.0)
    assert set(only_k["kind"]) == {"critic_kept"} and len(only_k) == n_kept
    half = _critic0(t, critic_mix="weight", w=0.5)
    n_c = int((half["kind"] == "critic_corrected").sum())
    n_k = int((half["kind"] == "critic_kept").sum())
    assert abs(n_c - n_k) <= 1
    assert n_c >= 0.9 * min(n_corrected, n_kept)  # uses (nearly) all of the scarcer kind
    assert half["problem_id"].is_unique


def test_weight_mix_two_thirds_share():
    t = mixed_transcript(30, 30)
    c = _critic0(t, critic_mix="weight", w=2 / 3)
    share = (c["kind"] == "critic_corrected").mean()
    assert abs(share - 2 / 3) < 0.05
    assert c["problem_id"].is_unique


def test_unknown_critic_mix_raises(t):
    with pytest.raises(ValueError, match="blend"):
        per_agent_shards(t, SelectionSpec(tie_break="lexicographic", critic_mix="blend"))


# ---------------------------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("critic_mix", ["official", "weight"])
def test_same_inputs_and_seed_give_identical_shards(critic_mix):
    t = mixed_transcript(25, 25)
    spec = SelectionSpec(tie_break="random", critic_mix=critic_mix, w=0.5, seed=7)
    a = per_agent_shards(t, spec)
    b = per_agent_shards(t.sample(frac=1.0, random_state=1), spec)  # row order must not matter
    assert set(a) == set(b)
    for key in a:
        pdt.assert_frame_equal(a[key].reset_index(drop=True), b[key].reset_index(drop=True))
    pdt.assert_frame_equal(pooled_shard(t, spec), pooled_shard(t, spec))
