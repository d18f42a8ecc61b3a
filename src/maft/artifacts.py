"""Reading and writing artifacts: atomically, with provenance, with errors that name the file.

Every write goes to a temporary sibling and is renamed into place only when complete, so a killed
job never leaves a file (or adapter directory) at a declared output path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

META_KEY = b"maft"
PACKAGES = ("maft", "torch", "transformers", "peft", "trl", "tokenizers", "pandas", "pyarrow")


@contextlib.contextmanager
def atomic_path(final: str | Path):
    """Yield a temporary path next to `final`; rename it onto `final` only if the block succeeds."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".{final.name}.tmp-*"):  # left by a killed earlier attempt
        _remove(stale)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    try:
        yield tmp
        _remove(final)
        os.replace(tmp, final)
    finally:
        _remove(tmp)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def digest(obj) -> str:
    """Short stable digest of any JSON-able object (key order does not matter)."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def code_version() -> str:
    """The git commit of the checkout (with '+dirty' for local changes), else the package version."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "maft " + metadata.version("maft")


def package_versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def provenance(params: dict, **extra) -> dict:
    """What made an artifact: its job's parameters (and their digest), code and package versions."""
    return {"config_digest": digest(params), "params": params, "code_version": code_version(),
            "packages": package_versions(), **extra}


def write_parquet(df: pd.DataFrame, path: str | Path, meta: dict) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           META_KEY: json.dumps(meta, sort_keys=True, default=str).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_parquet(path: str | Path, columns: list[str], what: str) -> pd.DataFrame:
    """Read a parquet artifact, checking that it is readable and has the expected columns."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    try:
        df = pq.read_table(path).to_pandas()
    except (pa.ArrowInvalid, OSError) as err:
        raise ValueError(f"{what} file {path} is not a readable parquet file ({err}); delete it and rerun") from err
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} file {path} lacks column(s) {missing}")
    return df


def read_meta(path: str | Path) -> dict:
    """Provenance stored in a parquet file or in the JSON/sidecar next to an artifact."""
    path = Path(path)
    if path.suffix == ".parquet":
        raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
        return json.loads(raw) if raw else {}
    if path.is_dir():
        path = path / "provenance.json"
    data = json.loads(path.read_text())
    return data.get("provenance", data) if isinstance(data, dict) else {}


def write_json(obj, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
