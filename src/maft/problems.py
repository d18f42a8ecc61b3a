"""Problems: generation (arithmetic) and the parquet schema every later stage reads."""

from __future__ import annotations

import numpy as np
import pandas as pd

PROBLEM_COLUMNS = ["problem_id", "question", "reference"]
# Du et al. (2023): np.random.randint(0, 30, size=6), i.e. integers 0..29 inclusive.
PAPER_MAX_OPERAND = 29


def max_operand(block: dict) -> int:
    """The arithmetic range of a dataset definition or of the toy block (the paper's when unset)."""
    return block.get("max_operand", PAPER_MAX_OPERAND)


def arithmetic_terms(rng: np.random.Generator, max_operand: int = PAPER_MAX_OPERAND) -> tuple[int, ...]:
    return tuple(int(x) for x in rng.integers(0, max_operand + 1, size=6))


def arithmetic_question(t: tuple[int, ...]) -> str:
    a, b, c, d, e, f = t
    return f"What is the result of {a}+{b}*{c}+{d}-{e}*{f}?"


def arithmetic_value(t: tuple[int, ...]) -> int:
    a, b, c, d, e, f = t
    return a + b * c + d - e * f


def arithmetic_id(t: tuple[int, ...]) -> str:
    """Content-derived id: stable across runs, seeds and split sizes."""
    return "arith-" + "-".join(str(x) for x in t)


def arithmetic_splits(n_train: int, n_test: int, seed: int,
                      max_operand: int = PAPER_MAX_OPERAND) -> dict[str, pd.DataFrame]:
    """Disjoint train/test splits of distinct arithmetic problems, drawn with one seeded stream."""
    if n_train + n_test > (max_operand + 1) ** 6 // 2:
        raise ValueError(f"max_operand {max_operand} leaves too few distinct problems for "
                         f"n_train + n_test = {n_train + n_test}")
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, ...]] = set()
    terms: list[tuple[int, ...]] = []
    while len(terms) < n_train + n_test:
        t = arithmetic_terms(rng, max_operand)
        if t not in seen:
            seen.add(t)
            terms.append(t)
    frames = {}
    for split, chunk in (("train", terms[:n_train]), ("test", terms[n_train:])):
        frames[split] = pd.DataFrame(
            {
                "problem_id": [arithmetic_id(t) for t in chunk],
                "question": [arithmetic_question(t) for t in chunk],
                "reference": [str(arithmetic_value(t)) for t in chunk],
            }
        )
    assert_disjoint(frames["train"], frames["test"])
    return frames


def parse_arithmetic_id(problem_id: str) -> tuple[int, ...]:
    return tuple(int(x) for x in problem_id.removeprefix("arith-").split("-"))


def validate_problems(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check the problems schema; raise naming the file and the offending row."""
    missing = [c for c in PROBLEM_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}; expected at least {PROBLEM_COLUMNS}")
    if len(df) == 0:
        raise ValueError(f"{source}: no problems")
    for col in PROBLEM_COLUMNS:
        bad = df[col].isna() | (df[col].astype(str).str.strip() == "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise ValueError(f"{source}: row {row} has an empty {col!r}")
    dup = df["problem_id"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise ValueError(f"{source}: row {row} repeats problem_id {df['problem_id'].iloc[row]!r}")
    return df


def assert_disjoint(train: pd.DataFrame, test: pd.DataFrame) -> None:
    overlap = set(train["problem_id"]) & set(test["problem_id"])
    if overlap:
        raise ValueError(f"train and test share {len(overlap)} problem(s), e.g. {sorted(overlap)[0]!r}")
    q_overlap = set(train["question"]) & set(test["question"])
    if q_overlap:
        raise ValueError(f"train and test share {len(q_overlap)} question text(s)")
