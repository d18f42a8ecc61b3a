"""Toy base models shipped with the code (`toy.shipped`, resources/toy/ by default).

Pretraining the default toy is 6-11 CPU-minutes run alone before anything else can start, the role a
hub download plays for a real model. A shipped toy is reused only when this study's pretraining
would be the same job: the same `toy` settings, the same held-out problems and the same toy code
(maft.toy and maft.problems, byte for byte). Anything else pretrains, so a stale shipped toy is
never used; `python scripts/ship_toy.py` replaces it (tests/test_shipped_toy.py says when to)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE = ("toy/model.py", "toy/teacher.py", "problems.py")  # what pretraining runs, under src/maft
WEIGHTS = "model.safetensors"


def code_digest() -> str:
    h = hashlib.sha256()
    for name in CODE:
        h.update(name.encode() + b"\0" + (ROOT / name).read_bytes())
    return h.hexdigest()[:16]


def pretraining_key(toy: dict, held_out_ids) -> dict:
    """What decides a pretrained toy (up to the CPU's float arithmetic): its settings, the problem ids
    it must not see, and its code. `shipped` only says where to look, so it is left out."""
    from maft.artifacts import digest  # pyarrow: not at Snakefile parse time, which lists the toys
    return {"toy": {k: v for k, v in toy.items() if k != "shipped"},
            "held_out": digest(sorted(held_out_ids)), "code": code_digest()}


def shipped_toys(folder: str | None) -> list[Path]:
    """The shipped toy directories (each holds a saved model and its provenance.json)."""
    if not folder or not Path(folder).is_dir():
        return []
    return sorted(p.parent for p in Path(folder).glob(f"*/{WEIGHTS}") if (p.parent / "provenance.json").exists())


def find_shipped(folder: str | None, key: dict) -> tuple[Path | None, dict]:
    """The shipped toy pretrained under `key`, and its provenance; (None, {}) when there is none."""
    for path in shipped_toys(folder):
        made = json.loads((path / "provenance.json").read_text())
        if made.get("pretraining_key") == key:
            return path, made
    return None, {}
