"""Deterministic seeds derived from names, so each (iteration, split, agent, problem, round) has its own."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: object) -> int:
    """A 63-bit seed from any sequence of printable parts; the same parts give the same seed."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1
