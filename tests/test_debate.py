"""The debate loop's requests: who is asked what, with which sampling (a recording backend, no model)."""

from __future__ import annotations

import json

import pandas as pd

from maft.debate import DebateSpec, Seat, run_debate
from maft.generation import Sampling


class RecordingBackend:
    """Answers every request with a fixed solution and keeps the requests it was sent."""

    def __init__(self):
        self.sent = []

    def generate(self, requests, desc=""):
        self.sent += [(desc, r) for r in requests]
        return [f"- {r.seed % 7}\n\\boxed{{{r.seed % 3}}}" for r in requests]


PROBLEMS = pd.DataFrame({"problem_id": ["p0", "p1"], "question": ["What is 1+2*3+4-5*6?", "What is 2+2*2+2-2*2?"],
                         "reference": ["-19", "4"]})


def debate(**kw):
    backend = RecordingBackend()
    seats = [Seat(None, "base")] * 3
    transcript = run_debate(backend, PROBLEMS, DebateSpec(seats, seats, 2, **kw), (0, 0, "test"))
    return backend.sent, transcript


def test_agent_ids_prefix_every_agent_turn_with_its_role_and_number():
    sent, transcript = debate(agent_ids=True)
    for row in transcript.to_dict("records"):
        users = [m["content"] for m in json.loads(row["prompt"]) if m["role"] == "user"]
        n = row["agent"] + 1
        assert users[0].startswith(f"[generator agent {n}] Can you solve")
        if row["round"] == 1:
            assert users[1].startswith(f"[critic agent {n}] Here is a summary")
    summaries = [r for desc, r in sent if "summaries" in desc]
    assert summaries and not any(r.messages[0]["content"].startswith("[") for r in summaries)
    _, plain = debate()
    assert not plain["prompt"].str.contains("agent 1]").any()


def test_a_methods_own_sampling_goes_to_its_agents_not_to_the_summarizer():
    hot = Sampling(2.0, 0.9, 96)
    sent, _ = debate(sampling=hot)
    agents = [r for desc, r in sent if "summaries" not in desc]
    summaries = [r for desc, r in sent if "summaries" in desc]
    assert len(agents) == 2 * 3 * 2 and all(r.sampling == hot for r in agents)
    assert len(summaries) == 2 * 3 and all(r.sampling is None for r in summaries)  # the study's sampling
