"""Dataset loaders (GSM8K, MATH, MMLU) on the hand-written fixtures in tests/fixtures, and their splits.

Expectations follow paper-spec section 4 (GSM8K gold = the number after '####', commas stripped;
MATH gold = the last \\boxed{} of the solution, levels 1-3 of the test split; MMLU rows
question,A,B,C,D,answer) and section 12 (seeded shuffle, first n_train train, next n_test test,
disjoint). The expected values below are written by hand from the fixture files.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, env
from maft.datasets import (DatasetNotFound, check_definition, dataset_splits, load_gsm8k, load_math, load_mmlu,
                           split_problems)
from maft.problems import PROBLEM_COLUMNS, arithmetic_splits

FIX = ROOT / "tests" / "fixtures"
GSM = FIX / "gsm8k" / "test.jsonl"
MATH = FIX / "MATH"
MMLU = FIX / "mmlu"

GSM_REFERENCES = {"14", "1250", "8", "25", "3.5", "3600", "-5", "15"}
# file (subject/n) -> (level or None for 'Level ?', reference = last \boxed{} of the solution)
MATH_FILES = {
    "algebra/1": (1, "5"),
    "algebra/7": (2, r"\frac{1}{2}"),
    "algebra/12": (4, "-1"),
    "algebra/20": (3, "(1, 2)"),
    "counting_and_probability/3": (2, "24"),
    "counting_and_probability/9": (3, r"\dfrac{1}{6}"),
    "geometry/2": (1, "24"),
    "geometry/15": (5, r"25\pi"),
    "number_theory/4": (2, "2"),  # the solution boxes 98 first: the last box is the answer
    "number_theory/11": (5, "42"),
    "prealgebra/5": (1, r"5\sqrt{2}"),
    "prealgebra/8": (None, "0.06"),  # 'Level ?'
}
MMLU_ROWS = 7


def sha12(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def math_record(key: str) -> dict:
    return json.loads((MATH / "test" / f"{key}.json").read_text())


def no_hub(monkeypatch):
    """Point the hub at a closed local port and clear offline/proxy switches: no network is ever used."""
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


# ---------------------------------------------------------------------------------------------
# GSM8K
# ---------------------------------------------------------------------------------------------


def test_gsm8k_columns_references_and_ids():
    df = load_gsm8k(GSM)
    assert list(df.columns[:3]) == PROBLEM_COLUMNS and "solution" in df.columns
    assert len(df) == 8
    assert set(df["reference"]) == GSM_REFERENCES  # '1,250' -> '1250', '3,600' -> '3600'
    lines = [json.loads(x) for x in GSM.read_text().splitlines()]
    by_question = {x["question"]: x for x in lines}
    for row in df.itertuples():
        assert row.problem_id == "gsm8k-" + sha12(row.question)
        assert row.solution == by_question[row.question]["answer"]


def test_gsm8k_folder_and_hub_parquet_layouts_give_the_same_problems(tmp_path):
    from_file = load_gsm8k(GSM)
    pd.testing.assert_frame_equal(load_gsm8k(FIX / "gsm8k"), from_file)  # a folder holding test.jsonl
    raw = pd.read_json(GSM, lines=True).iloc[::-1]  # another order, hub layout main/test-*.parquet
    (tmp_path / "main").mkdir()
    raw.to_parquet(tmp_path / "main" / "test-00000-of-00001.parquet")
    raw.iloc[:2].to_parquet(tmp_path / "main" / "train-00000-of-00001.parquet")  # must not be read
    pd.testing.assert_frame_equal(load_gsm8k(tmp_path, split="test"), from_file)
    assert len(load_gsm8k(tmp_path, split="train")) == 2


def test_ids_and_splits_do_not_depend_on_file_order(tmp_path):
    shuffled = tmp_path / "test.jsonl"
    lines = GSM.read_text().splitlines()
    shuffled.write_text("\n".join(lines[3:] + lines[:3][::-1]) + "\n")
    a, b = load_gsm8k(GSM), load_gsm8k(shuffled)
    assert list(a["problem_id"]) == list(b["problem_id"])
    sa, sb = split_problems(a, 3, 3, seed=5), split_problems(b, 3, 3, seed=5)
    for split in ("train", "test"):
        assert list(sa[split]["problem_id"]) == list(sb[split]["problem_id"])


def test_ids_are_stable_across_calls():
    for load, path in ((load_gsm8k, GSM), (load_math, MATH), (load_mmlu, MMLU)):
        assert list(load(path)["problem_id"]) == list(load(path)["problem_id"])


# ---------------------------------------------------------------------------------------------
# MATH
# ---------------------------------------------------------------------------------------------


def test_math_json_tree_all_levels():
    df = load_math(MATH)
    assert {"problem_id", "question", "reference", "solution", "level", "subject"} <= set(df.columns)
    assert len(df) == len(MATH_FILES)
    got = {row.question: row for row in df.itertuples()}
    for key, (level, reference) in MATH_FILES.items():
        rec = math_record(key)
        row = got[rec["problem"]]
        assert row.reference == reference
        assert row.problem_id == "math-" + sha12(rec["problem"])
        assert row.subject == key.split("/")[0]  # 'Counting & Probability' -> counting_and_probability
        assert (pd.isna(row.level) if level is None else row.level == level)
        assert row.solution == rec["solution"]


def test_math_levels_filter_like_the_paper():
    df = load_math(MATH, levels=[1, 2, 3])
    expected = {k for k, (lev, _) in MATH_FILES.items() if lev in (1, 2, 3)}
    assert len(df) == len(expected) == 8
    assert set(df["level"].astype(int)) == {1, 2, 3}
    hard = load_math(MATH, levels=[4, 5])
    assert sorted(hard["reference"]) == sorted(["-1", r"25\pi", "42"])
    # 'Level ?' belongs to no level, but to "all levels"
    assert "0.06" not in set(df["reference"]) | set(hard["reference"])
    assert "0.06" in set(load_math(MATH, levels=None)["reference"])


def test_math_subjects_filter_accepts_type_or_folder_names():
    a = load_math(MATH, subjects=["Counting & Probability"])
    b = load_math(MATH, subjects=["counting_and_probability"])
    assert list(a["problem_id"]) == list(b["problem_id"]) and len(a) == 2
    both = load_math(MATH, levels=[1, 2, 3], subjects=["algebra", "geometry"])
    assert sorted(both["reference"]) == sorted(["5", r"\frac{1}{2}", "(1, 2)", "24"])


def test_math_split_folder_root_or_parent_give_the_same_problems():
    pd.testing.assert_frame_equal(load_math(MATH / "test"), load_math(MATH))
    pd.testing.assert_frame_equal(load_math(FIX), load_math(MATH))  # a folder that holds MATH/test/...


def test_mmlu_parent_folder_finds_the_split_csvs():
    pd.testing.assert_frame_equal(load_mmlu(FIX), load_mmlu(MMLU))  # a folder that holds mmlu/test/...


def test_math_hub_parquet_layout_gives_the_same_problems(tmp_path):
    for subject in sorted({k.split("/")[0] for k in MATH_FILES}):
        recs = [math_record(k) for k in MATH_FILES if k.startswith(subject + "/")]
        (tmp_path / subject).mkdir()
        pd.DataFrame(recs).to_parquet(tmp_path / subject / "test-00000-of-00001.parquet")
        pd.DataFrame(recs[:1]).to_parquet(tmp_path / subject / "train-00000-of-00001.parquet")
    from_json = load_math(MATH, levels=[1, 2, 3])
    from_parquet = load_math(tmp_path, split="test", levels=[1, 2, 3])
    pd.testing.assert_frame_equal(from_parquet, from_json)


def test_math_problem_without_a_box_is_dropped(tmp_path):
    d = tmp_path / "test" / "algebra"
    d.mkdir(parents=True)
    (d / "1.json").write_text(json.dumps({"problem": "P1", "level": "Level 1", "type": "Algebra",
                                          "solution": "so it is \\boxed{3}"}))
    (d / "2.json").write_text(json.dumps({"problem": "P2", "level": "Level 1", "type": "Algebra",
                                          "solution": "so it is 3, unboxed"}))
    df = load_math(tmp_path)
    assert list(df["question"]) == ["P1"] and list(df["reference"]) == ["3"]


# ---------------------------------------------------------------------------------------------
# MMLU
# ---------------------------------------------------------------------------------------------


def test_mmlu_csv_layout():
    df = load_mmlu(MMLU)
    assert list(df.columns[:3]) == PROBLEM_COLUMNS and "subject" in df.columns
    assert len(df) == MMLU_ROWS
    q = "What is 15% of 80?: A) 8, B) 12, C) 15, D) 20"  # Du et al.'s '{question}: A) {A}, B) ...'
    row = df[df["question"] == q]
    assert len(row) == 1
    assert row["reference"].iloc[0] == "B"
    assert row["subject"].iloc[0] == "elementary_mathematics"
    assert row["problem_id"].iloc[0] == "mmlu-" + sha12(q)
    # a choice with a comma survives CSV quoting
    assert any("D) The Moon producing its own light, brighter and dimmer" in x for x in df["question"])
    assert set(df["reference"]) <= set("ABCD")
    assert sorted(df["subject"].unique()) == ["astronomy", "elementary_mathematics", "high_school_biology"]


def test_mmlu_subjects_filter_and_single_file():
    assert len(load_mmlu(MMLU, subjects=["astronomy"])) == 2
    one = load_mmlu(MMLU / "test" / "high_school_biology_test.csv")
    assert len(one) == 2 and set(one["subject"]) == {"high_school_biology"}


def test_mmlu_hub_parquet_layout_gives_the_same_problems(tmp_path):
    rows = []
    for f in sorted((MMLU / "test").glob("*_test.csv")):
        raw = pd.read_csv(f, header=None, names=["question", "A", "B", "C", "D", "answer"], dtype=str)
        for r in raw.itertuples():
            rows.append({"question": r.question, "subject": f.stem.removesuffix("_test"),
                         "choices": [r.A, r.B, r.C, r.D], "answer": "ABCD".index(r.answer)})
    (tmp_path / "all").mkdir()
    pd.DataFrame(rows).to_parquet(tmp_path / "all" / "test-00000-of-00001.parquet")
    pd.testing.assert_frame_equal(load_mmlu(tmp_path), load_mmlu(MMLU))


# ---------------------------------------------------------------------------------------------
# missing files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("load, kind", [(load_gsm8k, "gsm8k"), (load_math, "math"), (load_mmlu, "mmlu")])
def test_missing_path_error_names_dataset_path_and_remedy(tmp_path, load, kind):
    missing = tmp_path / "nowhere" / "data.jsonl"
    with pytest.raises(DatasetNotFound) as err:
        load(missing)
    msg = str(err.value)
    assert msg.startswith(kind + ":")
    assert str(missing) in msg
    assert "path" in msg and "download" in msg
    assert isinstance(err.value, FileNotFoundError)


@pytest.mark.parametrize("load, kind", [(load_gsm8k, "gsm8k"), (load_math, "math"), (load_mmlu, "mmlu")])
def test_folder_without_the_files_is_named(tmp_path, load, kind):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFound, match=kind) as err:
        load(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(err.value)


@pytest.mark.parametrize("load, kind", [(load_gsm8k, "gsm8k"), (load_math, "math"), (load_mmlu, "mmlu")])
def test_no_path_and_no_hub_fails_fast_naming_the_dataset(monkeypatch, load, kind):
    no_hub(monkeypatch)
    start = time.monotonic()
    with pytest.raises(DatasetNotFound) as err:
        load(None)
    assert time.monotonic() - start < 10
    msg = str(err.value)
    assert msg.startswith(kind + ":") and "path" in msg and "hub" in msg


def test_hub_offline_without_cache_fails_fast_naming_the_dataset(tmp_path):
    # In a fresh process: the hub libraries read these variables when they are imported.
    hub_env = {**env(), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"),
               "HF_ENDPOINT": "http://127.0.0.1:9"}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", "from maft.datasets import load_math; load_math(None)"],
                          cwd=ROOT, env=hub_env, capture_output=True, text=True, timeout=120)
    assert time.monotonic() - start < 60
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("maft.datasets.DatasetNotFound: math:")
    assert "load_dataset('EleutherAI/hendrycks_math'" in last and "path" in last


def test_dataset_splits_error_names_the_definition(monkeypatch):
    no_hub(monkeypatch)
    d = {"kind": "mmlu", "answer": "letter", "n_train": 2, "n_test": 2, "path": "does/not/exist"}
    with pytest.raises(DatasetNotFound) as err:
        dataset_splits(d, 0, "my_mmlu")
    msg = str(err.value)
    assert "my_mmlu" in msg and "does/not/exist" in msg and "dataset_definitions.my_mmlu.path" in msg


# ---------------------------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------------------------


def test_split_sizes_disjoint_and_deterministic():
    pool = load_math(MATH, levels=[1, 2, 3])
    s = split_problems(pool, 4, 3, seed=0, name="math")
    assert len(s["train"]) == 4 and len(s["test"]) == 3
    assert not set(s["train"]["problem_id"]) & set(s["test"]["problem_id"])
    assert set(s["train"]["problem_id"]) | set(s["test"]["problem_id"]) <= set(pool["problem_id"])
    again = split_problems(pool, 4, 3, seed=0, name="math")
    for split in ("train", "test"):
        pd.testing.assert_frame_equal(s[split], again[split])
    others = [tuple(split_problems(pool, 4, 3, seed=k)["train"]["problem_id"]) for k in range(1, 8)]
    assert any(o != tuple(s["train"]["problem_id"]) for o in others)  # the seed matters


def test_train_is_a_prefix_of_the_shuffle():
    # The first n_train of the shuffle train, whatever n_test is (paper-spec section 12).
    pool = load_gsm8k(GSM)
    a = split_problems(pool, 3, 2, seed=1)
    b = split_problems(pool, 3, 5, seed=1)
    assert list(a["train"]["problem_id"]) == list(b["train"]["problem_id"])
    assert list(a["test"]["problem_id"]) == list(b["test"]["problem_id"])[:2]


def test_too_few_problems_is_an_error_naming_the_dataset():
    pool = load_mmlu(MMLU)
    with pytest.raises(ValueError, match=r"my_mmlu.*4 \+ 4 = 8.*only 7"):
        split_problems(pool, 4, 4, seed=0, name="my_mmlu")


def test_dataset_splits_uses_levels_and_the_definition_seed():
    d = {"kind": "math", "answer": "math", "path": str(MATH), "levels": [1, 2, 3], "n_train": 4, "n_test": 4}
    s = dataset_splits(d, seed=0, name="math")
    for split in ("train", "test"):
        assert set(s[split]["level"].astype(int)) <= {1, 2, 3}
    assert len(s["train"]) + len(s["test"]) == 8
    own = dataset_splits({**d, "seed": 3}, seed=0, name="math")
    same = dataset_splits(d, seed=3, name="math")
    assert list(own["train"]["problem_id"]) == list(same["train"]["problem_id"])


def test_dataset_splits_arithmetic_is_unchanged():
    d = {"kind": "arithmetic", "answer": "integer", "n_train": 10, "n_test": 7}
    got, want = dataset_splits(d, seed=4, name="arithmetic"), arithmetic_splits(10, 7, 4)
    for split in ("train", "test"):
        pd.testing.assert_frame_equal(got[split], want[split])


@pytest.mark.parametrize("definition, key", [
    ({"kind": "mmlu", "answer": "integer"}, "answer"),
    ({"kind": "math", "answer": "letter"}, "answer"),
    ({"kind": "gsm8k", "answer": "number", "levels": [1]}, "levels"),
    ({"kind": "gsm8k", "answer": "number", "subjects": ["algebra"]}, "subjects"),
])
def test_incompatible_definitions_name_the_key(definition, key):
    with pytest.raises(ValueError, match=rf"dataset_definitions\.ds\.{key}"):
        check_definition("ds", {**definition, "n_train": 1, "n_test": 1})


# ---------------------------------------------------------------------------------------------
# scripts/make_problems.py dispatches on the kind
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("definition, columns", [
    ({"kind": "gsm8k", "answer": "number", "path": str(GSM), "n_train": 3, "n_test": 4}, {"solution"}),
    ({"kind": "math", "answer": "math", "path": str(MATH), "levels": [1, 2, 3], "n_train": 4, "n_test": 4},
     {"solution", "level", "subject"}),
    ({"kind": "mmlu", "answer": "letter", "path": str(MMLU), "n_train": 3, "n_test": 3}, {"subject"}),
])
def test_make_problems_script_writes_disjoint_splits(tmp_path, definition, columns):
    out = tmp_path / "results" / "r" / "data" / definition["kind"]
    params = json.dumps({"seed": 0, "dataset": definition})
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_problems.py"), "--params", params,
                           "--train", str(out / "train.parquet"), "--test", str(out / "test.parquet")],
                          cwd=ROOT, env=env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    train, test = pd.read_parquet(out / "train.parquet"), pd.read_parquet(out / "test.parquet")
    assert (len(train), len(test)) == (definition["n_train"], definition["n_test"])
    assert set(PROBLEM_COLUMNS) | columns <= set(train.columns)
    assert not set(train["problem_id"]) & set(test["problem_id"])
    assert train["problem_id"].str.startswith(definition["kind"] + "-").all()


def test_make_problems_script_missing_file_fails_naming_it(tmp_path):
    out = tmp_path / "results" / "r" / "data" / "gsm"
    d = {"kind": "gsm8k", "answer": "number", "path": "data/no-such-gsm8k.jsonl", "n_train": 1, "n_test": 1}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_problems.py"), "--params",
                           json.dumps({"seed": 0, "dataset": d}), "--train", str(out / "train.parquet"),
                           "--test", str(out / "test.parquet")],
                          cwd=ROOT, env={**env(), "HF_ENDPOINT": "http://127.0.0.1:9"}, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode != 0
    assert "data/no-such-gsm8k.jsonl" in proc.stderr and "'gsm'" in proc.stderr
    assert not (out / "train.parquet").exists()
