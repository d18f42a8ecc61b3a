"""Real datasets: GSM8K, MATH and MMLU from local files (or the Hugging Face hub), and their splits.

Every loader returns the problems table of maft.problems (``problem_id``, ``question``,
``reference``, plus ``solution``, ``level``, ``subject`` where the source has them), one row per
distinct question, sorted by ``problem_id``. Ids are content-derived (``gsm8k-<sha1(question)[:12]>``)
so that they are stable across runs, file orders and split sizes.

Local layouts (``path`` in the dataset definition):

- GSM8K: a JSONL file (``test.jsonl`` of the original release: ``question``, ``answer`` = worked
  solution ending in ``#### <number>``), or a directory holding ``<split>.jsonl`` or the hub's
  parquet files (``main/<split>-00000-of-00001.parquet``).
- MATH: the Hendrycks JSON tree ``<root>/<split>/<subject>/<n>.json`` (``problem``, ``level``,
  ``type``, ``solution``; the gold answer is the last ``\\boxed{}`` of the solution), or parquet
  files with the same columns (the hub's ``<subject>/<split>-*.parquet`` layout).
- MMLU: the original CSVs ``<root>/<split>/<subject>_<split>.csv`` (rows ``question,A,B,C,D,answer``,
  no header), or the hub's parquet (``question``, ``subject``, ``choices``, ``answer`` index 0-3).

Without a path the loaders try ``datasets.load_dataset`` on the hub; with no network that fails
within seconds. When neither works, ``DatasetNotFound`` names the dataset, the path tried and how
to provide the files.

Splits follow the paper (paper-spec section 4 and 12): a seeded shuffle of the (filtered) pool,
the first ``n_train`` problems for training, the next ``n_test`` for testing, never overlapping.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd

from maft.answers import last_boxed
from maft.problems import arithmetic_splits, assert_disjoint, max_operand, validate_problems
from maft.prompts import mmlu_question

log = logging.getLogger("maft.datasets")

KINDS = ("arithmetic", "gsm8k", "math", "mmlu")
# Answer kinds that can grade each dataset kind (the first is the natural one).
ANSWER_KINDS = {
    "arithmetic": ("integer", "number", "math", "text"),
    "gsm8k": ("number", "math", "integer"),
    "math": ("math", "text"),
    "mmlu": ("letter", "text"),
}
# Where the hub keeps each dataset: (repository, configurations). MATH and MMLU have one
# configuration per subject; None means "all subjects" in one configuration.
HUB = {
    "gsm8k": ("openai/gsm8k", ["main"]),
    "math": ("EleutherAI/hendrycks_math", ["algebra", "counting_and_probability", "geometry",
                                           "intermediate_algebra", "number_theory", "prealgebra", "precalculus"]),
    "mmlu": ("cais/mmlu", ["all"]),
}
HOW_TO = {
    "gsm8k": "download test.jsonl from https://github.com/openai/grade-school-math (grade_school_math/data/) "
             "and set dataset_definitions.<name>.path to the file",
    "math": "download MATH.tar from https://github.com/hendrycks/math, unpack it and set "
            "dataset_definitions.<name>.path to the folder holding test/<subject>/<n>.json",
    "mmlu": "download data.tar from https://github.com/hendrycks/test, unpack it and set "
            "dataset_definitions.<name>.path to the folder holding test/<subject>_test.csv",
}
PREFIX = {"gsm8k": "gsm8k", "math": "math", "mmlu": "mmlu"}


class DatasetNotFound(FileNotFoundError):
    """A dataset's files are neither at the configured path nor obtainable from the hub."""


def content_id(kind: str, text: str) -> str:
    """Stable, content-derived problem id: '<kind>-<sha1(text)[:12]>'."""
    return f"{PREFIX[kind]}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


def slug(name: str) -> str:
    """Subject names in one spelling: 'Counting & Probability' -> 'counting_and_probability'."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower().replace("&", "and")).strip("_")


# ---------------------------------------------------------------------------------------------
# finding and reading files
# ---------------------------------------------------------------------------------------------


def _not_found(kind: str, path: str | os.PathLike | None, why: str) -> DatasetNotFound:
    if path:
        what = f"{kind}: cannot load the dataset from path {str(path)!r}: {why}"
    else:
        what = f"{kind}: no local path is set (dataset_definitions.<name>.path) and the Hugging Face hub failed: {why}"
    return DatasetNotFound(f"{what}. To provide it: {HOW_TO[kind]}.")


def _split_parquets(root: Path, split: str) -> list[Path]:
    """Parquet files of one split below root: '<split>.parquet', '<split>-*.parquet' or inside a '<split>/' folder."""
    out = []
    for p in sorted(root.rglob("*.parquet")):
        if p.stem == split or p.stem.startswith(split + "-") or p.parent.name == split:
            out.append(p)
    return out


class DatasetFileError(ValueError):
    """A dataset file exists but cannot be read (empty, truncated, not the format its name says)."""


def _parse_table(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".jsonl":
        return pd.read_json(path, lines=True, dtype=False)
    data = json.loads(path.read_text(encoding="utf-8"))
    return pd.DataFrame(data if isinstance(data, list) else [data])


def _read_table(path: Path) -> pd.DataFrame:
    """One data file as a table; a file that cannot be read raises DatasetFileError naming it."""
    if path.suffix not in (".parquet", ".jsonl", ".json"):
        raise ValueError(f"{path}: unsupported file type {path.suffix!r} (expected .jsonl, .json or .parquet)")
    return _guarded_read(path, lambda: _parse_table(path), path.suffix.lstrip("."))


def _guarded_read(path: Path, read, fmt: str):
    # pandas/pyarrow/json errors rarely say which of a thousand files was bad: name it here.
    if path.stat().st_size == 0:
        raise DatasetFileError(f"{path}: the file is empty")
    try:
        return read()
    except (ValueError, OSError, NotImplementedError) as err:  # JSON, CSV, Arrow and decoding errors
        raise DatasetFileError(f"{path}: not a readable {fmt} file ({type(err).__name__}: {err})") from err


def _json_record(path: Path) -> dict:
    """One MATH problem file: a JSON object."""
    rec = _guarded_read(path, lambda: json.loads(path.read_text(encoding="utf-8")), "JSON")
    if not isinstance(rec, dict):
        raise DatasetFileError(f"{path}: expected a JSON object (problem, level, type, solution), "
                               f"got a {type(rec).__name__}")
    return rec


def _hub_reachable(timeout: float = 3.0) -> bool:
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname or "huggingface.co", port), timeout=timeout):
            return True
    except OSError:
        return False


def _behind_proxy() -> bool:
    # A direct connection may be blocked where a proxy reaches the hub: then let `datasets` try.
    return any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"))


def _offline_env() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def from_hub(kind: str, split: str, configs: Sequence[str] | None = None) -> pd.DataFrame:
    """The dataset's split from the Hugging Face hub (or the local hub cache when HF_HUB_OFFLINE is set).

    Fails within seconds when the hub cannot be reached; raises DatasetNotFound naming the dataset.
    """
    repo, default_configs = HUB[kind]
    configs = list(configs or default_configs)
    if not _offline_env() and not _behind_proxy() and not _hub_reachable():
        raise _not_found(kind, None, f"the Hugging Face hub ({os.environ.get('HF_ENDPOINT', 'https://huggingface.co')}) "
                                     f"is not reachable to download {repo}")
    call = "import datasets"
    try:
        import datasets as hf_datasets

        frames = []
        for cfg in configs:
            call = f"datasets.load_dataset({repo!r}, {cfg!r}, split={split!r})"
            df = hf_datasets.load_dataset(repo, cfg, split=split).to_pandas()
            if kind == "math" and "subject" not in df.columns:
                df["subject"] = cfg
            frames.append(df)
    except Exception as e:  # no network, no cache, gated, renamed...
        raise _not_found(kind, None, f"{call} failed: {type(e).__name__}: {e}") from e
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------------------------
# GSM8K
# ---------------------------------------------------------------------------------------------


def gsm8k_reference(answer: str) -> str | None:
    """The gold number of a GSM8K solution: what follows '####', commas stripped."""
    if not isinstance(answer, str) or "####" not in answer:
        return None
    ref = answer.rsplit("####", 1)[1].strip().replace(",", "").replace("$", "").strip()
    return ref or None


def _gsm8k_files(path: Path, split: str) -> pd.DataFrame:
    if path.is_file():
        return _read_table(path)
    for name in (f"{split}.jsonl", f"{split}.json"):
        hits = sorted(path.rglob(name))
        if hits:
            return _read_table(hits[0])
    parquets = _split_parquets(path, split)
    if parquets:
        return pd.concat([_read_table(p) for p in parquets], ignore_index=True)
    raise _not_found("gsm8k", path, f"no {split}.jsonl or {split} parquet files in the folder")


def gsm8k_problems(raw: pd.DataFrame, source: str = "gsm8k") -> pd.DataFrame:
    missing = {"question", "answer"} - set(raw.columns)
    if missing:
        raise ValueError(f"gsm8k ({source}): missing column(s) {sorted(missing)}; expected question, answer")
    rows = []
    for q, a in zip(raw["question"], raw["answer"]):
        ref = gsm8k_reference(a)
        if not isinstance(q, str) or not q.strip() or ref is None:
            continue
        q = q.strip()
        rows.append({"problem_id": content_id("gsm8k", q), "question": q, "reference": ref, "solution": a})
    return _finish(pd.DataFrame(rows, columns=["problem_id", "question", "reference", "solution"]), "gsm8k", source)


def load_gsm8k(path: str | os.PathLike | None = None, split: str = "test") -> pd.DataFrame:
    """GSM8K problems: gold = the number after '####' (commas stripped); solution = the worked answer."""
    if path is None:
        return gsm8k_problems(from_hub("gsm8k", split), "hub")
    p = Path(path)
    if not p.exists():
        raise _not_found("gsm8k", path, "no such file or folder")
    return gsm8k_problems(_gsm8k_files(p, split), str(path))


# ---------------------------------------------------------------------------------------------
# MATH
# ---------------------------------------------------------------------------------------------


def math_level(value) -> int | None:
    """1..5 from 'Level 3' (or 3); None for 'Level ?' and anything else."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    m = re.search(r"(\d+)", str(value)) if isinstance(value, str) else None
    return int(m[1]) if m else None


def _math_files(root: Path, split: str) -> pd.DataFrame:
    if root.is_file():
        return _read_table(root)
    base = root / split if (root / split).is_dir() else root
    # <root>/<split>/<subject>/<n>.json, or the same tree further down (e.g. <root>/MATH/<split>/...)
    jsons = sorted(base.glob("*/*.json")) or sorted(p for p in root.rglob("*.json") if p.parent.parent.name == split)
    if jsons:
        records = []
        for f in jsons:
            rec = _json_record(f)
            rec.setdefault("subject", f.parent.name)
            records.append(rec)
        return pd.DataFrame(records)
    parquets = _split_parquets(root, split)
    if parquets:
        frames = []
        for p in parquets:
            df = _read_table(p)
            if "subject" not in df.columns and "type" not in df.columns:
                df["subject"] = p.parent.name
            frames.append(df)
        return pd.concat(frames, ignore_index=True)
    raise _not_found("math", root, f"neither {split}/<subject>/<n>.json files nor {split} parquet files found there")


def math_problems(raw: pd.DataFrame, levels: Iterable[int] | None = None, subjects: Iterable[str] | None = None,
                  source: str = "math") -> pd.DataFrame:
    missing = {"problem", "solution"} - set(raw.columns)
    if missing:
        raise ValueError(f"math ({source}): missing column(s) {sorted(missing)}; expected problem, level, type, solution")
    keep_levels = None if levels is None else {int(x) for x in levels}
    keep_subjects = None if subjects is None else {slug(s) for s in subjects}
    none = pd.Series([None] * len(raw), index=raw.index)
    types, folders = raw.get("type", none), raw.get("subject", none)
    level_col = raw.get("level", none)
    rows, unboxed = [], 0
    for q, sol, lev, typ, folder in zip(raw["problem"], raw["solution"], level_col, types, folders):
        if not isinstance(q, str) or not q.strip():
            continue
        level = math_level(lev)
        subj = typ if isinstance(typ, str) and typ.strip() else folder  # 'type' names the subject; else the folder
        subject = slug(subj) if isinstance(subj, str) and subj.strip() else None
        if keep_levels is not None and level not in keep_levels:
            continue
        if keep_subjects is not None and subject not in keep_subjects:
            continue
        ref = last_boxed(sol)
        if ref is None:  # a handful of MATH solutions have no \boxed{} answer: they cannot be graded
            unboxed += 1
            continue
        q = q.strip()
        rows.append({"problem_id": content_id("math", q), "question": q, "reference": ref, "solution": sol,
                     "level": level, "subject": subject})
    if unboxed:
        log.warning("math (%s): skipped %d problem(s) whose solution has no \\boxed{} answer", source, unboxed)
    df = pd.DataFrame(rows, columns=["problem_id", "question", "reference", "solution", "level", "subject"])
    df["level"] = df["level"].astype("Int64")
    return _finish(df, "math", source)


def load_math(path: str | os.PathLike | None = None, split: str = "test", levels: Iterable[int] | None = None,
              subjects: Iterable[str] | None = None) -> pd.DataFrame:
    """MATH problems of one split: gold = last \\boxed{} of the solution; `levels` e.g. [1, 2, 3] (the paper), None = all."""
    if path is None:
        configs = None if subjects is None else [slug(s) for s in subjects]
        return math_problems(from_hub("math", split, configs), levels, subjects, "hub")
    p = Path(path)
    if not p.exists():
        raise _not_found("math", path, "no such file or folder")
    return math_problems(_math_files(p, split), levels, subjects, str(path))


# ---------------------------------------------------------------------------------------------
# MMLU
# ---------------------------------------------------------------------------------------------

LETTERS = "ABCD"
MMLU_CSV_COLUMNS = ["question", "A", "B", "C", "D", "answer"]


def _mmlu_csvs(files: list[Path], split: str) -> pd.DataFrame:
    frames = []
    for f in files:
        df = _guarded_read(f, lambda f=f: pd.read_csv(f, header=None, names=MMLU_CSV_COLUMNS, dtype=str,
                                                      keep_default_na=False), "CSV")
        df["subject"] = f.stem.removesuffix(f"_{split}")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _mmlu_files(path: Path, split: str) -> pd.DataFrame:
    if path.is_file():
        return _mmlu_csvs([path], split) if path.suffix == ".csv" else _read_table(path)
    base = path / split if (path / split).is_dir() else path
    csvs = sorted(base.glob(f"*_{split}.csv")) or sorted(path.rglob(f"*_{split}.csv"))
    if csvs:
        return _mmlu_csvs(csvs, split)
    parquets = _split_parquets(path, split)
    if parquets:
        frames = []
        for p in parquets:
            df = _read_table(p)
            if "subject" not in df.columns:
                df["subject"] = p.parent.name
            frames.append(df)
        return pd.concat(frames, ignore_index=True)
    raise _not_found("mmlu", path, f"neither {split}/<subject>_{split}.csv files nor {split} parquet files found there")


def mmlu_problems(raw: pd.DataFrame, subjects: Iterable[str] | None = None, source: str = "mmlu") -> pd.DataFrame:
    keep_subjects = None if subjects is None else {slug(s) for s in subjects}
    if "choices" in raw.columns:  # hub layout: choices list, answer index
        choices = [list(c) if c is not None else [] for c in raw["choices"]]
        answers = []
        for a in raw["answer"]:
            try:
                answers.append(LETTERS[int(a)])
            except (ValueError, TypeError, IndexError):
                answers.append(str(a).strip().upper())
    elif set("ABCD") <= set(raw.columns):  # the original CSVs
        choices = [list(r) for r in raw[list("ABCD")].itertuples(index=False)]
        answers = [str(a).strip().upper() for a in raw["answer"]]
    else:
        raise ValueError(f"mmlu ({source}): expected columns question, A, B, C, D, answer or question, choices, answer")
    subject_col = raw["subject"] if "subject" in raw.columns else pd.Series([None] * len(raw))
    rows = []
    for q, ch, ans, subj in zip(raw["question"], choices, answers, subject_col):
        subject = slug(subj) if isinstance(subj, str) and subj else None
        if keep_subjects is not None and subject not in keep_subjects:
            continue
        if not isinstance(q, str) or not q.strip() or len(ch) != 4 or ans not in LETTERS:
            continue
        text = mmlu_question(q, ch)
        rows.append({"problem_id": content_id("mmlu", text), "question": text, "reference": ans, "subject": subject})
    return _finish(pd.DataFrame(rows, columns=["problem_id", "question", "reference", "subject"]), "mmlu", source)


def load_mmlu(path: str | os.PathLike | None = None, split: str = "test",
              subjects: Iterable[str] | None = None) -> pd.DataFrame:
    """MMLU problems: the question carries its choices (Du et al.'s format); gold = the letter A-D."""
    if path is None:
        configs = None if subjects is None else [slug(s) for s in subjects]
        return mmlu_problems(from_hub("mmlu", split, configs), subjects, "hub")
    p = Path(path)
    if not p.exists():
        raise _not_found("mmlu", path, "no such file or folder")
    return mmlu_problems(_mmlu_files(p, split), subjects, str(path))


# ---------------------------------------------------------------------------------------------
# one table per dataset, and its splits
# ---------------------------------------------------------------------------------------------


def _finish(df: pd.DataFrame, kind: str, source: str) -> pd.DataFrame:
    """Distinct questions (first by id), sorted by id, so that the table does not depend on file order."""
    df = df.sort_values("problem_id", kind="stable").drop_duplicates("problem_id").drop_duplicates("question")
    df = df.reset_index(drop=True)
    if len(df) == 0:
        raise ValueError(f"{kind} ({source}): no problems left (check the path, split, levels and subjects)")
    return validate_problems(df, f"{kind} ({source})")


def load_problems(definition: dict) -> pd.DataFrame:
    """All problems of a dataset definition (kind gsm8k, math or mmlu) before splitting."""
    kind = definition["kind"]
    path = definition.get("path") or None
    split = definition.get("split") or "test"
    if kind == "gsm8k":
        return load_gsm8k(path, split)
    if kind == "math":
        return load_math(path, split, definition.get("levels"), definition.get("subjects"))
    if kind == "mmlu":
        return load_mmlu(path, split, definition.get("subjects"))
    raise ValueError(f"dataset kind {kind!r} has no loader (expected one of {', '.join(KINDS)})")


def split_problems(df: pd.DataFrame, n_train: int, n_test: int, seed: int, name: str = "dataset") -> dict[str, pd.DataFrame]:
    """Seeded shuffle of the pool; the first n_train problems train, the next n_test test (disjoint)."""
    if n_train + n_test > len(df):
        raise ValueError(f"{name}: n_train + n_test = {n_train} + {n_test} = {n_train + n_test} problems requested "
                         f"but only {len(df)} are available after filtering")
    pool = df.sort_values("problem_id", kind="stable").reset_index(drop=True)
    order = np.random.default_rng(seed).permutation(len(pool))
    frames = {
        "train": pool.iloc[order[:n_train]].reset_index(drop=True),
        "test": pool.iloc[order[n_train:n_train + n_test]].reset_index(drop=True),
    }
    assert_disjoint(frames["train"], frames["test"])
    return frames


def check_definition(name: str, definition: dict) -> None:
    """Cross-key checks of one dataset definition; each error names the key at fault."""
    kind = definition["kind"]
    if kind not in KINDS:
        raise ValueError(f"dataset_definitions.{name}.kind: {kind!r} is not one of {', '.join(KINDS)}")
    answer = definition.get("answer") or "integer"
    if answer not in ANSWER_KINDS[kind]:
        raise ValueError(f"dataset_definitions.{name}.answer: {answer!r} cannot grade {kind} problems "
                         f"(use one of {', '.join(ANSWER_KINDS[kind])})")
    if kind != "math" and definition.get("levels") is not None:
        raise ValueError(f"dataset_definitions.{name}.levels: only MATH problems have levels")
    if kind in ("arithmetic", "gsm8k") and definition.get("subjects") is not None:
        raise ValueError(f"dataset_definitions.{name}.subjects: {kind} problems have no subjects")


def dataset_splits(definition: dict, seed: int, name: str = "dataset") -> dict[str, pd.DataFrame]:
    """Train and test problems of one dataset definition; the definition's own seed wins over `seed`."""
    check_definition(name, definition)
    if definition.get("seed") is not None:
        seed = int(definition["seed"])
    if definition["kind"] == "arithmetic":
        return arithmetic_splits(definition["n_train"], definition["n_test"], seed, max_operand(definition))
    try:
        pool = load_problems(definition)
    except (DatasetNotFound, DatasetFileError) as e:  # name the definition as well as the file
        raise type(e)(f"dataset {name!r}: " + str(e).replace("<name>", name)) from e
    return split_problems(pool, definition["n_train"], definition["n_test"], seed, name)
