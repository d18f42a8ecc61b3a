"""The one answer parser and the one notion of 'same answer'.

Answers are taken from the last \\boxed{...} (braces matched). Anything that cannot be parsed
is None, which is always counted wrong and never raises.
"""

from __future__ import annotations

import re
from fractions import Fraction

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")


def last_boxed(text: str | None) -> str | None:
    """Content of the last \\boxed{...} in text with nested braces matched, or None."""
    if not isinstance(text, str):
        return None
    starts = [m.end() for m in _BOX.finditer(text)]
    for start in reversed(starts):
        depth = 1
        for i in range(start, len(text)):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    content = text[start:i].strip()
                    return content or None
        # unclosed brace: try an earlier box
    return None


_INT = re.compile(r"^[+-]?\d+$")
_NUMBER = re.compile(r"^[+-]?[\d.]+(/[+-]?[\d.]+)?$")


def parse_integer(text: str | None) -> str | None:
    """Canonical integer string ('-27') from a final answer such as '-27', '−27', '27.0', '$-27$'."""
    if not isinstance(text, str):
        return None
    s = text.replace("−", "-").replace("$", "").replace(",", "").replace(" ", "")
    s = re.sub(r"\\text\{([^}]*)\}", r"\1", s)
    # No exponents ('1e999999999' would take minutes); int/str of > 4300 digits raises ValueError.
    if not _NUMBER.match(s):
        return None
    try:
        if _INT.match(s):
            return str(int(s))
        f = Fraction(s)
        return str(f.numerator) if f.denominator == 1 else None
    except (ValueError, ZeroDivisionError):
        return None


def extract_answer(response: str | None, kind: str = "integer") -> str | None:
    """The parsed final answer of a model response, canonicalised for its answer kind."""
    boxed = last_boxed(response)
    if kind == "integer":
        return parse_integer(boxed)
    if kind == "text":
        return boxed
    raise ValueError(f"unknown answer kind {kind!r} (expected 'integer' or 'text')")


def same_answer(a: str | None, b: str | None, kind: str = "integer") -> bool:
    """Equivalence of two parsed answers; None never matches anything."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    if kind == "integer":
        return parse_integer(a) is not None and parse_integer(a) == parse_integer(b)
    return a.strip() == b.strip()


def is_correct(answer: str | None, reference: str, kind: str = "integer") -> bool:
    return same_answer(answer, reference, kind)
