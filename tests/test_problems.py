"""Arithmetic problems (Du et al. 2023: a+b*c+d-e*f, integers 0..29) and the problems schema."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from maft.problems import (PROBLEM_COLUMNS, arithmetic_splits, assert_disjoint, parse_arithmetic_id,
                           validate_problems)

QUESTION = re.compile(r"^What is the result of (\d+)\+(\d+)\*(\d+)\+(\d+)-(\d+)\*(\d+)\?$")


@pytest.fixture(scope="module")
def splits():
    return arithmetic_splits(60, 40, seed=11)


def test_sizes_and_columns(splits):
    assert set(splits) == {"train", "test"}
    assert len(splits["train"]) == 60
    assert len(splits["test"]) == 40
    for df in splits.values():
        assert list(df.columns) == PROBLEM_COLUMNS


def test_deterministic_for_a_seed(splits):
    again = arithmetic_splits(60, 40, seed=11)
    for split in ("train", "test"):
        pd.testing.assert_frame_equal(splits[split], again[split])


def test_other_seed_gives_other_problems(splits):
    other = arithmetic_splits(60, 40, seed=12)
    assert set(other["train"]["problem_id"]) != set(splits["train"]["problem_id"])


def test_disjoint_ids_and_questions(splits):
    tr, te = splits["train"], splits["test"]
    assert not set(tr["problem_id"]) & set(te["problem_id"])
    assert not set(tr["question"]) & set(te["question"])


def test_ids_unique(splits):
    ids = pd.concat([splits["train"]["problem_id"], splits["test"]["problem_id"]])
    assert ids.is_unique
    qs = pd.concat([splits["train"]["question"], splits["test"]["question"]])
    assert qs.is_unique


def test_reference_equals_expression_from_id_and_question(splits):
    for df in splits.values():
        for pid, q, ref in zip(df["problem_id"], df["question"], df["reference"]):
            a, b, c, d, e, f = parse_arithmetic_id(pid)
            assert isinstance(ref, str)
            assert int(ref) == a + b * c + d - e * f
            m = QUESTION.match(q)
            assert m, q
            assert tuple(int(x) for x in m.groups()) == (a, b, c, d, e, f)


def test_operands_in_range(splits):
    seen = set()
    for df in splits.values():
        for pid in df["problem_id"]:
            terms = parse_arithmetic_id(pid)
            assert len(terms) == 6
            assert all(0 <= x <= 29 for x in terms), pid
            seen.update(terms)
    # 600 draws from 0..29: both ends of the range occur
    assert 0 in seen and 29 in seen


def test_max_operand_bounds_the_operands():
    splits = arithmetic_splits(300, 300, seed=1, max_operand=9)
    terms = [t for df in splits.values() for t in map(parse_arithmetic_id, df["problem_id"])]
    assert max(max(t) for t in terms) == 9 and min(min(t) for t in terms) == 0


def test_max_operand_too_small_for_the_sizes_is_named():
    with pytest.raises(ValueError, match="max_operand 1 leaves too few distinct problems"):
        arithmetic_splits(20, 20, seed=0, max_operand=1)  # 2**6 = 64 problems in all


def test_ids_stable_across_split_sizes():
    # ids are content-derived: the same problem has the same id whatever the split sizes
    small = arithmetic_splits(5, 5, seed=3)
    big = arithmetic_splits(20, 5, seed=3)
    # the same seeded stream: the first 5 problems are the same
    assert small["train"]["problem_id"].tolist() == big["train"]["problem_id"].tolist()[:5]
    for df in (small["train"], small["test"], big["train"]):
        for pid, q in zip(df["problem_id"], df["question"]):
            terms = parse_arithmetic_id(pid)
            assert pid == "arith-" + "-".join(str(x) for x in terms)
            assert QUESTION.match(q).groups() == tuple(str(x) for x in terms)


# ---------------------------------------------------------------------------------------------
# validate_problems / assert_disjoint
# ---------------------------------------------------------------------------------------------


def _good() -> pd.DataFrame:
    return pd.DataFrame({"problem_id": ["a", "b", "c"], "question": ["q1", "q2", "q3"], "reference": ["1", "2", "3"]})


def test_validate_accepts_good_frame_with_extra_columns():
    df = _good().assign(solution=["s1", "s2", "s3"])
    assert validate_problems(df, "data/x.parquet") is df


def test_validate_missing_column_names_file_and_column():
    df = _good().drop(columns=["reference"])
    with pytest.raises(ValueError) as err:
        validate_problems(df, "data/train.parquet")
    assert "data/train.parquet" in str(err.value)
    assert "reference" in str(err.value)


@pytest.mark.parametrize("empty", ["", "   ", None])
def test_validate_empty_question_names_file_and_row(empty):
    df = _good()
    df.loc[2, "question"] = empty
    with pytest.raises(ValueError) as err:
        validate_problems(df, "some/problems.parquet")
    msg = str(err.value)
    assert "some/problems.parquet" in msg
    assert "row 2" in msg
    assert "question" in msg


def test_validate_duplicate_id_names_file_row_and_id():
    df = pd.DataFrame({"problem_id": ["a", "b", "dup", "c", "dup"], "question": list("vwxyz"),
                       "reference": list("12345")})
    with pytest.raises(ValueError) as err:
        validate_problems(df, "f.parquet")
    msg = str(err.value)
    assert "f.parquet" in msg
    assert "row 4" in msg
    assert "dup" in msg


def test_validate_empty_frame_raises():
    with pytest.raises(ValueError, match="empty.parquet"):
        validate_problems(_good().iloc[:0], "empty.parquet")


def test_assert_disjoint_raises_on_shared_id():
    train = _good()
    test = pd.DataFrame({"problem_id": ["z", "b"], "question": ["other1", "other2"], "reference": ["0", "0"]})
    with pytest.raises(ValueError, match="'b'"):
        assert_disjoint(train, test)


def test_assert_disjoint_raises_on_shared_question_text():
    train = _good()
    test = pd.DataFrame({"problem_id": ["z"], "question": ["q2"], "reference": ["0"]})
    with pytest.raises(ValueError, match="question"):
        assert_disjoint(train, test)


def test_assert_disjoint_passes_for_disjoint():
    test = pd.DataFrame({"problem_id": ["z"], "question": ["qz"], "reference": ["0"]})
    assert_disjoint(_good(), test)  # no exception
