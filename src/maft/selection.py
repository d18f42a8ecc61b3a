"""From debate transcripts to finetuning shards (paper section 2.3-2.5, Algorithm 1 lines 21-29).

Label-free: only the final-round majority vote decides what is kept. Per agent n:
  generator  D^G_n : n's round-0 answers that equal the vote
  critic     D^C-_n: n's whole trajectories that end at the vote after a wrong (or unparsed) start
             D^C+_n: n's whole trajectories that were at the vote in round 0 and stay there
D^C_n mixes D^C- and D^C+ either as the official code did (every D^C- example, and after the k-th
one the k-th shuffled D^C+ example with probability 1/2, guarded against its IndexError), or with an
explicit share w of D^C- examples.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from maft import prompts
from maft.answers import is_correct, same_answer
from maft.seeds import derive_seed
from maft.voting import TIE_BREAKS, check_transcript, final_round_votes

SHARD_COLUMNS = ["problem_id", "agent", "role", "kind", "messages"]
# What an example is (its `kind`): a round-0 answer, a critic trajectory that reached the vote after a
# wrong start (D^C-) or stayed at it (D^C+), or a STaR rationalization
SHARD_KINDS = ("generator", "critic_corrected", "critic_kept", "rationalization")
CRITIC_MIXES = ("official", "weight")


@dataclass(frozen=True)
class SelectionSpec:
    kind: str = "integer"  # answer kind
    tie_break: str = "random"
    critic_mix: str = "official"
    w: float = 2 / 3  # share of D^C- in the critic data when critic_mix == "weight"
    seed: int = 0

    def __post_init__(self):
        # Fail when the spec is made (in the job, naming the config key), not halfway through a shard.
        if self.critic_mix not in CRITIC_MIXES:
            raise ValueError(f"selection.critic_mix: unknown critic_mix {self.critic_mix!r}; "
                             f"expected one of {CRITIC_MIXES}")
        if self.tie_break not in TIE_BREAKS:
            raise ValueError(f"debate.tie_break: unknown tie_break {self.tie_break!r}; expected one of {TIE_BREAKS}")
        if not isinstance(self.w, (int, float)) or not 0 <= self.w <= 1:
            raise ValueError(f"selection.w: {self.w!r} is not a share between 0 and 1")


def _example(row: dict, role: str, kind: str) -> dict:
    messages = json.loads(row["prompt"]) + [prompts.assistant(row["response"])]
    return {"problem_id": row["problem_id"], "agent": int(row["agent"]), "role": role, "kind": kind,
            "messages": json.dumps(messages, ensure_ascii=False)}


def _frame(examples: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(examples, columns=SHARD_COLUMNS)
    df["agent"] = df["agent"].astype("int64")
    return df


def mix_critic(corrected: list[dict], kept: list[dict], spec: SelectionSpec, rng: np.random.Generator) -> list[dict]:
    kept = [kept[i] for i in rng.permutation(len(kept))]
    if spec.critic_mix == "official":
        out = []
        for k, ex in enumerate(corrected):
            out.append(ex)
            if int(rng.integers(2)) == 1 and k < len(kept):
                out.append(kept[k])
        return out
    if spec.critic_mix == "weight":
        w = spec.w
        if w >= 1:
            return list(corrected)
        if w <= 0:
            return kept
        total = min(len(corrected) / w, len(kept) / (1 - w))
        n_c, n_k = round(total * w), round(total * (1 - w))
        pick = rng.permutation(len(corrected))[:n_c]
        return [corrected[i] for i in sorted(pick)] + kept[:n_k]
    raise ValueError(f"unknown critic_mix {spec.critic_mix!r}; expected one of {CRITIC_MIXES}")


def trajectories(transcript: pd.DataFrame, spec: SelectionSpec):
    """Yield (agent, first-round row, final-round row, vote) for every agent of every voted problem."""
    votes = final_round_votes(transcript, spec.kind, spec.tie_break, spec.seed)
    vote_of = dict(zip(votes["problem_id"], votes["vote"]))
    last = int(transcript["round"].max())
    records = transcript.sort_values(["problem_id", "agent", "round"]).to_dict("records")
    first = {(r["problem_id"], r["agent"]): r for r in records if r["round"] == 0}
    for r in records:
        if r["round"] != last:
            continue
        vote = vote_of.get(r["problem_id"])
        if not isinstance(vote, str):  # None, or NaN in pandas' str columns
            continue  # no agent produced a parsable answer: no pseudo-label, no data
        yield int(r["agent"]), first[r["problem_id"], r["agent"]], r, vote


def _classify(first: dict, last: dict, vote: str, kind: str) -> tuple[bool, str | None]:
    """(round-0 answer matches the vote, critic kind of the trajectory or None if it ends elsewhere)."""
    first_ok = same_answer(first["answer"], vote, kind)
    if not same_answer(last["answer"], vote, kind):
        return first_ok, None
    return first_ok, "critic_kept" if first_ok else "critic_corrected"


def per_agent_shards(transcript: pd.DataFrame, spec: SelectionSpec,
                     critics: bool = True) -> dict[tuple[str, int], pd.DataFrame]:
    """maft: one generator shard and (if critics) one critic shard per agent."""
    multi_round = check_transcript(transcript) > 0
    agents = sorted(int(a) for a in transcript["agent"].unique())
    gen: dict[int, list] = {n: [] for n in agents}
    crit: dict[str, dict[int, list]] = {"critic_corrected": {n: [] for n in agents},
                                        "critic_kept": {n: [] for n in agents}}
    for n, first, last, vote in trajectories(transcript, spec):
        first_ok, critic_kind = _classify(first, last, vote, spec.kind)
        if first_ok:
            gen[n].append(_example(first, "generator", "generator"))
        if multi_round and critic_kind:
            crit[critic_kind][n].append(_example(last, "critic", critic_kind))
    shards = {("generator", n): _frame(gen[n]) for n in agents}
    if critics:
        for n in agents:
            rng = np.random.default_rng(derive_seed(spec.seed, "critic-mix", n))
            shards[("critic", n)] = _frame(
                mix_critic(crit["critic_corrected"][n], crit["critic_kept"][n], spec, rng))
    return shards


def pooled_shard(transcript: pd.DataFrame, spec: SelectionSpec) -> pd.DataFrame:
    """Single-agent FT / majority FT: every agent's answers that match the vote, pooled for one model.

    Round-0 answers become generator examples; with more than one round, final-round trajectories
    that end at the vote are added as critic examples (all of them, no mixing), so that the single
    model learns both roles it plays in the debate.
    """
    multi_round = check_transcript(transcript) > 0
    examples = []
    for _, first, last, vote in trajectories(transcript, spec):
        first_ok, critic_kind = _classify(first, last, vote, spec.kind)
        if first_ok:
            examples.append(_example(first, "generator", "generator"))
        if multi_round and critic_kind:
            examples.append(_example(last, "critic", critic_kind))
    return _frame(examples)


def pooled_per_agent_shard(transcript: pd.DataFrame, spec: SelectionSpec) -> pd.DataFrame:
    """The unique-ID baseline: every agent's maft shards (D^G_n and the mixed D^C_n), pooled for one
    model. The agents stay apart through the IDs their prompts carry (debate.DebateSpec.agent_ids)."""
    shards = per_agent_shards(transcript, spec)
    return _frame([ex for key in sorted(shards) for ex in shards[key].to_dict("records")])


def star_shard(transcript: pd.DataFrame, rationales: pd.DataFrame, kind: str = "integer") -> pd.DataFrame:
    """STaR (Zelikman et al. 2022): round-0 answers that are correct per the GOLD answer, plus, for the
    problems answered wrongly, the rationalisations (answers written with the gold answer as a hint)
    that reach it. A rationalisation is trained without its hint, as STaR does. The only method that
    reads gold answers while training."""
    first = transcript[transcript["round"] == 0].sort_values(["problem_id", "agent"])
    examples = [_example(r, "generator", "generator") for r in first.to_dict("records")
                if is_correct(r["answer"], r["reference"], kind)]
    for r in rationales.sort_values(["problem_id", "agent"]).to_dict("records"):
        if is_correct(r["answer"], r["reference"], kind):
            messages = [prompts.user(r["question_prompt"]), prompts.assistant(r["response"])]
            examples.append({"problem_id": r["problem_id"], "agent": int(r["agent"]), "role": "generator",
                             "kind": "rationalization", "messages": json.dumps(messages, ensure_ascii=False)})
    return _frame(examples)
