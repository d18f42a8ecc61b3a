"""Robustness (issue #5): model outputs of any shape, bad inputs, and security hygiene.

1. Fuzzing: arbitrary responses (empty, huge, unicode, unbalanced braces, several boxes, no answer)
   go through extraction, voting and the data selection; nothing crashes and every shard holds
   exactly the examples the paper's rules ask for (checked against the trained text itself).
2. Bad input: every config, data, transcript or model fault raises an error naming the key, file
   or row at fault.
3. Security: trust_remote_code stays off unless opted in, tokens are never logged, config strings
   reach shell commands quoted.
"""

from __future__ import annotations

import ast
import copy
import io
import json
import logging
import re
import shlex
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from snakemake.utils import validate

import conftest
from conftest import ROOT, copy_workflow
from maft import prompts
from maft.answers import ANSWER_KINDS, extract_answer, last_boxed, same_answer
from maft.datasets import DatasetFileError, dataset_splits, load_gsm8k, load_math, load_mmlu
from maft.debate import TRANSCRIPT_COLUMNS, DebateSpec, Seat, run_debate
from maft.selection import SHARD_COLUMNS, SelectionSpec, per_agent_shards, pooled_shard
from maft.voting import check_transcript, final_round_votes

SCHEMA = str(ROOT / "config" / "config.schema.yaml")
DEFAULT = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
FUZZ = settings(max_examples=100, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# =============================================================================================
# 1. model outputs of any shape
# =============================================================================================

_PIECES = ["\\boxed{", "\\fbox{", "{", "}", "\\boxed{3}", "\\boxed{-3}", "\\boxed{\u22123}", "\\boxed{3.0}",
           "\\boxed{}", "\\boxed{ 7 }", "(A)", "(b)", "\\boxed{B}", "#### 3", "#### 1,000", "\\frac{1}{2}",
           "\\boxed{\\frac{1}{2}}", "\\boxed{0.5}", "\\boxed{\\text{(C)}}", "\u00fc", "\U0001F600", "\u200b",
           "\x00", "\n", " ", "$", "\\", "1e99999", "9" * 50]
_piece = st.sampled_from(_PIECES)
RESPONSES = st.one_of(
    st.lists(st.one_of(_piece, st.text(max_size=6)), max_size=10).map("".join),
    st.builds(lambda p, k: p * k, _piece, st.integers(200, 3000)),  # a model stuck in a loop
    st.just(""),
)


def _naive_last_boxed(text: str) -> str | None:
    """The specification of last_boxed, written the slow obvious way: scan each box to its close."""
    for m in reversed(list(re.finditer(r"\\(?:boxed|fbox)\s*\{", text))):
        depth = 1
        for i in range(m.end(), len(text)):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            if depth == 0:
                return text[m.end():i].strip() or None
    return None


@FUZZ
@given(st.lists(st.one_of(_piece, st.text(max_size=4)), max_size=30).map("".join))
def test_last_boxed_matches_its_naive_specification(text):
    assert last_boxed(text) == _naive_last_boxed(text)


@pytest.mark.parametrize("text", [
    "\\boxed{" * 50_000,  # thousands of unclosed boxes: quadratic with a scan per box
    "\\boxed{" + "{" * 100_000 + "}" * 100_001,  # deep nesting
    "x" * 1_000_000 + "\\boxed{3}",  # a megabyte of text
    "(A" * 300_000 + "#### " * 100_000,
    "\\boxed{" + "9" * 100_000 + "}",  # an integer too long for int()
])
def test_degenerate_outputs_are_parsed_in_linear_time(text):
    start = time.perf_counter()
    for kind in ANSWER_KINDS:
        extract_answer(text, kind)
    assert time.perf_counter() - start < 10  # the quadratic scan took minutes on the first case


@FUZZ
@given(RESPONSES, st.sampled_from(ANSWER_KINDS))
def test_any_response_extracts_to_none_or_a_non_empty_string(text, kind):
    ans = extract_answer(text, kind)
    assert ans is None or (isinstance(ans, str) and ans.strip())
    if ans is not None:
        assert same_answer(ans, ans, kind) or kind in ("math", "number")  # math: may be unparsable itself


# ---------------------------------------------------------------------------------------------
# selection on fuzzed transcripts (DESIGN.md transcript schema)
# ---------------------------------------------------------------------------------------------


def _fuzz_transcript(draw, kind: str) -> pd.DataFrame:
    """Problems x agents x rounds with responses from a small per-problem pool (so agents agree often)."""
    n_problems, agents, rounds = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 3))
    rows = []
    for p in range(n_problems):
        pid = draw(st.sampled_from(["p", "\u00fc-", "\U0001F600 ", "id with spaces "])) + str(p)
        pool = draw(st.lists(RESPONSES, min_size=1, max_size=3))
        for n in range(agents):
            history: list[dict] = []
            for rnd in range(rounds):
                text = pool[draw(st.integers(0, len(pool) - 1))]
                ask = prompts.user(f"question {pid}" if rnd == 0 else f"critique round {rnd}")
                sent = history + [ask]
                rows.append({"problem_id": pid, "question": f"question {pid}", "reference": "3", "agent": n,
                             "round": rnd, "role": "generator" if rnd == 0 else "critic", "model": "base",
                             "prompt": json.dumps(sent, ensure_ascii=False), "response": text,
                             "answer": extract_answer(text, kind), "summary": None, "seed": 7 * n + rnd})
                history = sent + [prompts.assistant(text)]
    df = pd.DataFrame(rows, columns=TRANSCRIPT_COLUMNS)
    for c in ("agent", "round", "seed"):
        df[c] = df[c].astype("int64")
    if draw(st.booleans()):  # as the pipeline reads it back: missing answers become NaN/None
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        df = pd.read_parquet(io.BytesIO(buf.getvalue()))
    return df.sample(frac=1.0, random_state=draw(st.integers(0, 9)))  # row order must not matter


def _expected(t: pd.DataFrame, spec: SelectionSpec):
    """Per agent, the problems of D^G, D^C- and D^C+, from the final-round vote and the paper's rules."""
    votes = final_round_votes(t, spec.kind, spec.tie_break, spec.seed)
    vote = {p: v for p, v in zip(votes["problem_id"], votes["vote"]) if isinstance(v, str)}
    last = int(t["round"].max())
    ans = {(r.problem_id, int(r.agent), int(r.round)): r.answer for r in t.itertuples()}
    sets = {k: {int(n): set() for n in t["agent"].unique()} for k in ("generator", "critic_corrected", "critic_kept")}
    for (pid, n, rnd), _ in ans.items():
        if rnd != 0 or pid not in vote:
            continue
        first_ok = same_answer(ans[pid, n, 0], vote[pid], spec.kind)
        if first_ok:
            sets["generator"][n].add(pid)
        if last > 0 and same_answer(ans[pid, n, last], vote[pid], spec.kind):
            sets["critic_kept" if first_ok else "critic_corrected"][n].add(pid)
    return vote, sets


def _check_example(row, t: pd.DataFrame, vote: dict, kind: str) -> None:
    """One shard row: the trained text itself ends at the consensus, and its label is right."""
    assert row["problem_id"] in vote  # no data from a problem without a parsed vote
    msgs = json.loads(row["messages"])
    assert [m["role"] for m in msgs][-2:] == ["user", "assistant"]
    src = t[(t["problem_id"] == row["problem_id"]) & (t["agent"] == row["agent"])].sort_values("round")
    final_text = msgs[-1]["content"]
    assert same_answer(extract_answer(final_text, kind), vote[row["problem_id"]], kind)
    if row["kind"] == "generator":
        assert row["role"] == "generator" and len(msgs) == 2
        assert final_text == src["response"].iloc[0]
        assert msgs[:-1] == json.loads(src["prompt"].iloc[0])
    else:
        assert row["role"] == "critic" and len(msgs) == 2 * len(src)
        assert final_text == src["response"].iloc[-1]
        assert msgs[:-1] == json.loads(src["prompt"].iloc[-1])
        started_at_vote = same_answer(extract_answer(msgs[1]["content"], kind), vote[row["problem_id"]], kind)
        assert row["kind"] == ("critic_kept" if started_at_vote else "critic_corrected")


@FUZZ
@given(st.data(), st.sampled_from(ANSWER_KINDS), st.sampled_from(["random", "lexicographic"]),
       st.sampled_from(["official", "weight"]), st.sampled_from([0.0, 0.5, 2 / 3, 1.0]), st.integers(0, 3))
def test_selection_of_fuzzed_transcripts_holds_the_shard_invariants(data, kind, tie_break, mix, w, seed):
    t = _fuzz_transcript(data.draw, kind)
    spec = SelectionSpec(kind=kind, tie_break=tie_break, critic_mix=mix, w=w, seed=seed)
    vote, want = _expected(t, spec)
    finals = t[t["round"] == t["round"].max()]
    for pid, v in vote.items():  # the vote is a parsed final answer that some agent gave
        assert v in set(finals.loc[finals["problem_id"] == pid, "answer"])
    agents = sorted(int(a) for a in t["agent"].unique())
    shards = per_agent_shards(t, spec)
    assert set(shards) == {(r, n) for r in ("generator", "critic") for n in agents}
    for (role, n), df in shards.items():
        assert list(df.columns) == SHARD_COLUMNS and (df["agent"] == n).all()
        for row in df.to_dict("records"):
            _check_example(row, t, vote, kind)
        assert not df.duplicated(["problem_id", "kind"]).any()
        if role == "generator":  # D^G_n: exactly n's round-0 answers that equal the vote
            assert set(df["problem_id"]) == want["generator"][n]
            continue
        corrected = set(df.loc[df["kind"] == "critic_corrected", "problem_id"])
        kept = set(df.loc[df["kind"] == "critic_kept", "problem_id"])
        assert kept <= want["critic_kept"][n]
        if mix == "official":  # every D^C- example, at most one D^C+ after each
            assert corrected == want["critic_corrected"][n] and len(kept) <= len(corrected)
        elif w == 1.0:
            assert corrected == want["critic_corrected"][n] and not kept
        elif w == 0.0:
            assert kept == want["critic_kept"][n] and not corrected
        else:
            assert corrected <= want["critic_corrected"][n]
    pooled = pooled_shard(t, spec)  # every agent's examples, no mixing
    got = sorted(zip(pooled["agent"], pooled["problem_id"], pooled["kind"]))
    assert got == sorted((n, p, k) for k, per in want.items() for n, ps in per.items() for p in ps)
    for row in pooled.to_dict("records"):
        _check_example(row, t, vote, kind)


def test_problem_with_only_unparsable_final_answers_gives_no_data():
    # round 0 agrees on 3, but the final round is three loops of unclosed boxes: no vote, no data
    rows = []
    for n in range(3):
        for rnd, text in enumerate(["\\boxed{3}", "\\boxed{" * 500]):
            rows.append({"problem_id": "p", "question": "q", "reference": "3", "agent": n, "round": rnd,
                         "role": "generator" if rnd == 0 else "critic", "model": "base",
                         "prompt": json.dumps([prompts.user("q")]), "response": text,
                         "answer": extract_answer(text), "summary": None, "seed": 0})
    t = pd.DataFrame(rows, columns=TRANSCRIPT_COLUMNS)
    assert final_round_votes(t)["vote"].isna().all()
    assert all(len(df) == 0 for df in per_agent_shards(t, SelectionSpec()).values())
    assert len(pooled_shard(t, SelectionSpec())) == 0


# =============================================================================================
# 2. bad input: transcripts, specs, backends
# =============================================================================================


def _small_transcript() -> pd.DataFrame:
    rows = [{"problem_id": p, "question": "q", "reference": "1", "agent": n, "round": r, "role": "x",
             "model": "base", "prompt": json.dumps([prompts.user("q")]), "response": "\\boxed{1}", "answer": "1",
             "summary": None, "seed": 0} for p in ("p1", "p2") for n in range(2) for r in range(2)]
    return pd.DataFrame(rows, columns=TRANSCRIPT_COLUMNS)


@pytest.mark.parametrize("damage, expected", [
    (lambda t: t.iloc[:0], "no rows"),
    (lambda t: t[~((t["problem_id"] == "p2") & (t["agent"] == 1) & (t["round"] == 0))],
     "problem 'p2' agent 1 has rounds [1], expected 0..1"),
    (lambda t: pd.concat([t, t.iloc[[3]]]), "problem 'p1' agent 1 round 1 appears twice"),
    (lambda t: t.drop(columns=["answer"]), "missing column(s) ['answer']"),
    (lambda t: t.assign(round=t["round"].where(t.index != 2)), "row 2 has no 'round'"),
])
def test_damaged_transcript_is_named_not_a_raw_crash(damage, expected):
    t = damage(_small_transcript())
    checks = [lambda: per_agent_shards(t, SelectionSpec()), lambda: pooled_shard(t, SelectionSpec()),
              lambda: check_transcript(t)]
    if "expected 0..1" not in expected:  # voting reads the final round only: a missing round 0 is fine there
        checks.append(lambda: final_round_votes(t))
    for select in checks:
        with pytest.raises(ValueError) as err:
            select()
        assert expected in str(err.value)


def test_good_transcript_passes_the_check():
    t = _small_transcript()
    assert check_transcript(t) == 1
    final = t[t["round"] == 1]
    assert check_transcript(final, every_round=False) == 1  # what voting accepts
    assert final_round_votes(final)["vote"].tolist() == ["1", "1"]


@pytest.mark.parametrize("kwargs, key", [
    ({"w": 1.5}, "selection.w"), ({"w": -0.1}, "selection.w"), ({"critic_mix": "blend"}, "selection.critic_mix"),
    ({"tie_break": "coin"}, "debate.tie_break"),
])
def test_impossible_selection_spec_names_the_key(kwargs, key):
    with pytest.raises(ValueError, match=re.escape(key)):
        SelectionSpec(**kwargs)


@pytest.mark.parametrize("gens, crits, rounds, key", [
    ([], [], 2, "debate.agents"), ([Seat(None, "base")], [Seat(None, "base")], 0, "debate.rounds"),
    ([Seat(None, "base")] * 2, [Seat(None, "base")], 2, "2 generator(s) but 1 critic(s)"),
])
def test_impossible_debate_spec_names_the_key(gens, crits, rounds, key):
    with pytest.raises(ValueError, match=re.escape(key)):
        DebateSpec(gens, crits, rounds)


class _LossyBackend:
    """A backend that loses the last response of every batch."""

    def generate(self, requests, desc=""):
        return ["\\boxed{1}"] * (len(requests) - 1)


def test_backend_losing_responses_is_an_error_not_missing_rows():
    problems = pd.DataFrame({"problem_id": ["a", "b"], "question": ["q1", "q2"], "reference": ["1", "2"]})
    spec = DebateSpec([Seat(None, "base")] * 2, [Seat(None, "base")] * 2, 2)
    with pytest.raises(RuntimeError, match=r"round 0 generators: the backend returned 3 response\(s\) for 4"):
        run_debate(_LossyBackend(), problems, spec, (0,))


def _select(tmp_path, transcript_path) -> tuple:
    import subprocess
    import sys

    out = tmp_path / "shards" / "generator-0.parquet"
    params = {"seed": 0, "answer": "integer", "tie_break": "random", "critic_mix": "official", "w": 0.5,
              "train": "per_agent", "roles": ["generator", "critic"]}
    cmd = [sys.executable, str(ROOT / "scripts/select_shards.py"), "--params", json.dumps(params),
           "--transcript", str(transcript_path), "--outputs", str(out)]
    return subprocess.run(cmd, env=conftest.env(), capture_output=True, text=True, timeout=300), out


@pytest.mark.parametrize("damage, expected", [
    (lambda path: path.write_bytes(path.read_bytes()[:200]), "is not a readable parquet file"),
    (lambda path: _small_transcript().drop(columns=["answer"]).to_parquet(path), "lacks column(s) ['answer']"),
    (lambda path: _small_transcript().iloc[1:].to_parquet(path), "problem 'p1' agent 0 has rounds [1]"),
])
def test_select_job_on_a_damaged_transcript_fails_naming_it_and_writes_nothing(tmp_path, damage, expected):
    path = tmp_path / "debate-train.parquet"
    _small_transcript().to_parquet(path)
    damage(path)
    before = path.read_bytes()
    proc, out = _select(tmp_path, path)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert expected in last, proc.stderr[-2000:]
    assert "debate-train.parquet" in last or "problem" in last
    assert not out.exists() and path.read_bytes() == before  # no half shard; the input is untouched


def test_finetune_on_a_damaged_shard_fails_before_loading_a_model(tmp_path):
    from maft.finetune import finetune, tokenize_shard

    shard = tmp_path / "critic-0.parquet"
    pd.DataFrame({"problem_id": ["p"], "agent": [0], "role": ["critic"], "kind": ["critic_kept"]}).to_parquet(shard)
    out = tmp_path / "agents" / "critic-0"
    with pytest.raises(ValueError, match=re.escape(f"shard file {shard} lacks column(s) ['messages']")):
        finetune(str(shard), str(tmp_path / "no-such-model"), str(out), {}, 0)
    assert not out.exists()
    broken = pd.DataFrame({"messages": ["[{\"role\": \"user\", \"content\": \"q\"}, {oops"]})
    with pytest.raises(ValueError, match="shard row 0: messages is not valid JSON"):
        tokenize_shard(None, broken, 64)


def test_names_reaching_paths_cannot_carry_shell_syntax():
    # rules pass {input}/{output}/{log} unquoted: they are built from these names only
    for key in ("run", "models", "datasets", "methods"):
        value = "a b;rm" if key == "run" else ["a b;rm"]
        msg = _rejected(lambda c: c.update({key: value}))
        assert "does not match" in msg and "a b;rm" in msg
    msg = _rejected(lambda c: c["model_definitions"].update({"x;y": {"source": "s"}}))
    assert "x;y" in msg


# ---------------------------------------------------------------------------------------------
# bad dataset files: each error names the file (and, through dataset_splits, the definition)
# ---------------------------------------------------------------------------------------------

_GARBAGE = b"PK\x03\x04 not what the name says \xff\xfe\x00" * 8


@pytest.mark.parametrize("name, content, load", [
    ("test.jsonl", b"", load_gsm8k),
    ("test.jsonl", b'{"question": "q", "answer": "#### 1"}\n{not json\n', load_gsm8k),
    ("test.parquet", _GARBAGE, load_gsm8k),
    ("test.parquet", b"", load_gsm8k),
    ("test/algebra/1.json", b"{oops", load_math),
    ("test/algebra/1.json", b"", load_math),
    ("test/algebra/1.json", b"[1, 2]", load_math),
    ("test/anatomy_test.csv", _GARBAGE, load_mmlu),
    ("test/anatomy_test.csv", b"", load_mmlu),
])
def test_corrupted_or_empty_dataset_file_is_named(tmp_path, name, content, load):
    bad = tmp_path / name
    bad.parent.mkdir(parents=True, exist_ok=True)
    bad.write_bytes(content)
    with pytest.raises(DatasetFileError) as err:
        load(tmp_path)
    assert str(bad) in str(err.value)
    assert bad.read_bytes() == content  # the input is left as it was


def test_corrupted_dataset_file_error_names_the_definition(tmp_path):
    (tmp_path / "test.jsonl").write_bytes(b"\x00\x01garbage")
    d = {"kind": "gsm8k", "answer": "number", "n_train": 1, "n_test": 1, "path": str(tmp_path)}
    with pytest.raises(DatasetFileError) as err:
        dataset_splits(d, 0, "my_gsm8k")
    assert "my_gsm8k" in str(err.value) and "test.jsonl" in str(err.value)


def test_dataset_file_with_wrong_columns_is_named(tmp_path):
    (tmp_path / "test.jsonl").write_text('{"q": "what?", "a": 1}\n')
    with pytest.raises(ValueError, match=r"gsm8k \(.*test.jsonl\): missing column\(s\) \['answer', 'question'\]"):
        load_gsm8k(tmp_path / "test.jsonl")


# ---------------------------------------------------------------------------------------------
# bad config: every block rejects unknown keys, wrong types and impossible values, naming them
# ---------------------------------------------------------------------------------------------

NAME_MAPS = {("model_definitions",), ("dataset_definitions",), ("method_definitions",)}  # keys are names


def _blocks(cfg: dict, path: tuple = ()):
    for key, value in cfg.items():
        if isinstance(value, dict):
            yield path + (key,)
            yield from _blocks(value, path + (key,))


def _at(cfg: dict, path: tuple) -> dict:
    for key in path:
        cfg = cfg[key]
    return cfg


def _instance(path: tuple) -> str:
    return "instance" + "".join(f"[{k!r}]" for k in path)


def _rejected(edit) -> str:
    bad = copy.deepcopy(DEFAULT)
    edit(bad)
    with pytest.raises(Exception) as err:
        validate(bad, SCHEMA)
    return str(err.value)


@pytest.mark.parametrize("path", [()] + [p for p in _blocks(DEFAULT) if p not in NAME_MAPS],
                         ids=lambda p: ".".join(p) or "top")
def test_unknown_key_in_any_block_is_named(path):
    msg = _rejected(lambda c: _at(c, path).update(typo_key=1))
    assert "'typo_key' was unexpected" in msg
    assert f"On {_instance(path)}:" in msg


@pytest.mark.parametrize("path, value", [
    (("iterations",), "3"), (("seed",), None), (("methods",), "maft"), (("debate", "agents"), "3"),
    (("debate", "rounds"), 2.5), (("selection", "w"), "0.5"), (("finetune", "restart_from_base"), "yes"),
    (("model_definitions", "toy", "trust_remote_code"), "false"),
    (("dataset_definitions", "arithmetic", "n_train"), 1.5),
    (("sampling", "temperature"), [1.0]), (("model_definitions", "toy", "source"), 7),
], ids=lambda x: ".".join(x) if isinstance(x, tuple) else None)
def test_wrong_type_is_named(path, value):
    msg = _rejected(lambda c: _at(c, path[:-1]).update({path[-1]: value}))
    assert "is not of type" in msg and f"On {_instance(path)}:" in msg


@pytest.mark.parametrize("path, value", [
    (("debate", "agents"), 0), (("debate", "rounds"), 0), (("debate", "max_others"), 0), (("iterations",), -1),
    (("seed",), -1), (("selection", "w"), -0.1), (("selection", "w"), 1.01),
    (("dataset_definitions", "arithmetic", "n_train"), -5),
    (("dataset_definitions", "arithmetic", "n_test"), 0), (("method_definitions", "maft", "agents"), 0),
    (("method_definitions", "maft", "rounds"), 0), (("finetune", "lr"), 0), (("finetune", "batch_size"), 0),
    (("sampling", "max_new_tokens"), 0), (("sampling", "top_p"), 0), (("generation", "batch_size"), -1),
    (("finetune", "lora_dropout"), 1.5), (("models",), []), (("methods",), ["maft", "maft"]), (("run",), "a/../b"),
], ids=lambda x: ".".join(x) if isinstance(x, tuple) else None)
def test_impossible_value_is_named(path, value):
    msg = _rejected(lambda c: _at(c, path[:-1]).update({path[-1]: value}))
    assert f"On {_instance(path)}:" in msg


# ---------------------------------------------------------------------------------------------
# model directories
# ---------------------------------------------------------------------------------------------


def test_model_dir_without_weights_or_tokenizer_is_named(tmp_path):
    from maft.generation import check_model_dir, load_base_model, load_tokenizer

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match=f"model directory {re.escape(str(empty))} has no weights"):
        load_base_model(str(empty))  # before transformers' own, less clear error
    weights_only = tmp_path / "weights-only"
    weights_only.mkdir()
    (weights_only / "config.json").write_text("{}")
    (weights_only / "model.safetensors").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=f"{re.escape(str(weights_only))} has no tokenizer"):
        load_base_model(str(weights_only))
    with pytest.raises(FileNotFoundError, match=f"{re.escape(str(weights_only))} has no tokenizer"):
        load_tokenizer(str(weights_only))  # the backends load the tokenizer first
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    check_model_dir(str(adapter), tokenizer=False)  # an adapter needs no tokenizer of its own
    with pytest.raises(FileNotFoundError, match="has no weights"):
        check_model_dir(str(empty), tokenizer=False)


# =============================================================================================
# 3. security hygiene
# =============================================================================================


def _from_pretrained_calls():
    for path in sorted((ROOT / "src" / "maft").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "from_pretrained":
                yield path.relative_to(ROOT), node


def test_no_code_ever_hard_codes_trust_remote_code_true():
    """Every from_pretrained either passes the config's trust_remote_code through or omits it
    (transformers' default: False); none hard-codes True. vLLM gets it through engine_args."""
    calls = list(_from_pretrained_calls())
    assert len(calls) >= 3  # the scan sees the loaders
    for path, node in calls:
        for kw in node.keywords:
            if kw.arg == "trust_remote_code":
                assert not (isinstance(kw.value, ast.Constant) and kw.value.value is True), (path, node.lineno)
                assert isinstance(kw.value, ast.Name), (path, node.lineno)  # passed through from the config


def test_trust_remote_code_is_off_by_default(monkeypatch):
    import transformers

    from maft import generation

    schema = yaml.safe_load(Path(SCHEMA).read_text())
    model_props = schema["properties"]["model_definitions"]["additionalProperties"]["properties"]
    assert model_props["trust_remote_code"]["default"] is False
    assert all(d.get("trust_remote_code", False) is False for d in DEFAULT["model_definitions"].values())
    seen = []

    def spy(*args, **kwargs):
        seen.append(kwargs.get("trust_remote_code"))
        raise RuntimeError("stop here")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", spy)
    with pytest.raises(RuntimeError, match="stop here"):
        generation.load_tokenizer("some/model")
    assert seen == [False]


def test_hub_token_never_reaches_logs_or_provenance(monkeypatch, caplog):
    from maft import cli
    from maft.artifacts import provenance

    secret = "hf_SECRETtokenValue1234567890"
    monkeypatch.setenv("HF_TOKEN", secret)
    monkeypatch.setenv("HUGGING_FACE_HUB_TOKEN", secret)
    args = cli.parser("test").parse_args(["--params", json.dumps({"seed": 0, "model": {"source": "x/y"}})])
    with caplog.at_level(logging.INFO, logger="maft"):
        cli.setup(args)
    assert "params:" in caplog.text and secret not in caplog.text
    assert secret not in json.dumps(provenance(args.params), default=str)
    # Only the download step reads the token (tests/test_download.py checks it never reaches its output).
    code = list((ROOT / "src").rglob("*.py")) + list((ROOT / "scripts").rglob("*.py"))
    readers = {str(path.relative_to(ROOT)) for path in code if "_TOKEN" in path.read_text()}
    assert readers <= {"src/maft/hub.py", "scripts/download_model.py"}, readers


# ---------------------------------------------------------------------------------------------
# config strings reaching shell commands are quoted
# ---------------------------------------------------------------------------------------------

NASTY = "/tmp/my models/it's \"quoted\"; touch PWNED && echo $(id) `id` | cat > x"


def test_config_strings_reach_shell_commands_quoted(tmp_path):
    wf = copy_workflow(Path(tempfile.mkdtemp(prefix="maft-quoting-")))
    cfg = tmp_path / "nasty.yaml"
    cfg.write_text(yaml.safe_dump({
        "models": ["hub"], "methods": ["debate"], "iterations": 1, "datasets": ["gsm"],
        "model_definitions": {"hub": {"source": NASTY, "chat_template": "{{ 'a; b' }} \"c\" $HOME"}},
        "dataset_definitions": {"gsm": {"kind": "gsm8k", "answer": "number", "n_train": 4, "n_test": 4,
                                        "path": NASTY}},
    }))
    out = conftest.snakemake("-n", "-p", "--configfile", cfg, cwd=wf).stdout
    commands = [line.split("Shell command:", 1)[1].strip() for line in out.splitlines() if "Shell command:" in line]
    debates = [c for c in commands if c.startswith("python scripts/debate.py")]
    problems = [c for c in commands if c.startswith("python scripts/make_problems.py")]
    assert debates and problems and any(c.startswith("python scripts/score.py") for c in commands)
    argv = shlex.split(problems[0])
    assert json.loads(argv[argv.index("--params") + 1])["dataset"]["path"] == NASTY
    for cmd in commands:
        argv = shlex.split(cmd)  # what bash would pass: one argument per value, nothing executed
        assert "PWNED" not in argv and "touch" not in argv and not any(a in ("&&", "|", ";") for a in argv)
        if "--params" in argv and "model" in json.loads(argv[argv.index("--params") + 1]):
            assert json.loads(argv[argv.index("--params") + 1])["model"]["source"] == NASTY
    for cmd in debates:
        argv = shlex.split(cmd)
        assert argv[argv.index("--base") + 1] == NASTY
        assert json.loads(argv[argv.index("--params") + 1])["model"]["chat_template"] == "{{ 'a; b' }} \"c\" $HOME"
