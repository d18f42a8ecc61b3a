"""What the debate asks of a generation backend, one request per response (no torch here, so the
light jobs that read transcripts do not pay for importing it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sampling:
    temperature: float = 1.0
    top_p: float = 0.9
    max_new_tokens: int = 96


@dataclass(frozen=True)
class Request:
    messages: list[dict]
    seed: int
    adapter: str | None = None  # a name given to `adapters=` when the backend was built; None = base
    sampling: Sampling | None = None  # None: the backend's; a method may sample its agents differently
