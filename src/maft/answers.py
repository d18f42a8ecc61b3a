"""The one answer parser and the one notion of 'same answer'.

Answers are taken from the last \\boxed{...} (braces matched), with one rule per answer kind:

- ``integer`` (arithmetic): the box must hold an integer; canonical form ``'-27'``.
- ``text``: the raw box content, compared as stripped strings.
- ``math`` (MATH): the raw box content; equivalence by ``math_verify`` (``\\frac{1}{2}``, ``0.5`` and
  ``1/2`` are the same answer), with every call guarded: an exception or a timeout means "not equal".
- ``number`` (GSM8K): the box content as an exact number (commas, ``$`` and units such as
  ``\\text{dollars}`` stripped; canonical ``'1000'``, ``'3.5'``, ``'1/3'``), else the raw content, which
  is then compared with ``math_verify``. Without a box, the number after the last ``####`` (the
  GSM8K solution format) is taken.
- ``letter`` (MMLU): the last ``(X)`` with X in A-D, upper-cased (Du et al. 2023); a box holding a
  single letter counts when it comes after the last ``(X)``.

Anything that cannot be parsed is None, which is always counted wrong and never raises.
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction
from functools import lru_cache

ANSWER_KINDS = ("integer", "text", "math", "number", "letter")

_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE = re.compile(r"[{}]")


def _brace_partners(text: str) -> dict[int, int]:
    """Offset of every matched '{' -> offset of its '}' (one pass; unmatched braces are left out)."""
    partner: dict[int, int] = {}
    opened: list[int] = []
    for m in _BRACE.finditer(text):
        if m[0] == "{":
            opened.append(m.start())
        elif opened:  # a stray '}' before any '{' matches nothing
            partner[opened.pop()] = m.start()
    return partner


def _last_boxed_at(text: str | None) -> tuple[int, str | None]:
    """(start offset, content) of the last complete \\boxed{...} in text; (-1, None) when there is none."""
    if not isinstance(text, str):
        return -1, None
    matches = list(_BOX.finditer(text))
    if not matches:
        return -1, None
    # One global brace matching instead of a scan per box: a looping model can emit thousands of
    # unclosed boxes, and re-scanning the rest of the text for each one is quadratic (minutes).
    partner = _brace_partners(text)
    for m in reversed(matches):
        close = partner.get(m.end() - 1)
        if close is not None:
            return m.start(), text[m.end():close].strip() or None
        # unclosed brace: try an earlier box
    return -1, None


def last_boxed(text: str | None) -> str | None:
    """Content of the last \\boxed{...} in text with nested braces matched, or None."""
    return _last_boxed_at(text)[1]


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


# ---------------------------------------------------------------------------------------------
# math: equivalence through math_verify, every call guarded
# ---------------------------------------------------------------------------------------------

MATH_TIMEOUT_S = 5  # per math_verify parse / comparison (signal based: main thread only)
MAX_MATH_CHARS = 400  # longer answers are compared as strings only (sympy on them can take minutes)


def _timeout() -> int | None:
    # math_verify's timeouts use signal.alarm, which raises outside the main thread.
    return MATH_TIMEOUT_S if threading.current_thread() is threading.main_thread() else None


def _guarded_errors() -> tuple[type[BaseException], ...]:
    try:
        from math_verify.errors import TimeoutException  # a BaseException, not an Exception
    except Exception:  # pragma: no cover - math_verify missing or reorganised
        return (Exception,)
    return (Exception, TimeoutException)


def _squash(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=8192)
def _math_parse(answer: str) -> tuple:
    """math_verify's parse of a final answer (box content); () when it cannot be parsed."""
    try:
        from math_verify import parse

        return tuple(parse("\\boxed{" + answer + "}", parsing_timeout=_timeout()))
    except _guarded_errors():
        return ()


def math_equal(gold: str | None, pred: str | None) -> bool:
    """Whether pred is the same mathematical answer as gold (math_verify, gold first).

    Identical strings (up to whitespace) are equal without parsing; an answer math_verify cannot
    parse, an exception or a timeout means "not equal"; never raises.
    """
    if not isinstance(gold, str) or not isinstance(pred, str):
        return False
    g, p = _squash(gold), _squash(pred)
    if not g or not p:
        return False
    if g == p:
        return True
    if len(g) > MAX_MATH_CHARS or len(p) > MAX_MATH_CHARS:
        return False
    try:
        pg, pp = _math_parse(g), _math_parse(p)
        if not pg or not pp:
            return False
        from math_verify import verify

        return bool(verify(list(pg), list(pp), timeout_seconds=_timeout()))
    except _guarded_errors():
        return False


# ---------------------------------------------------------------------------------------------
# number (GSM8K): exact numbers, math_verify as fallback
# ---------------------------------------------------------------------------------------------

_DECIMAL = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:/[+-]?\d+)?$")
_TEXT_WRAP = re.compile(r"\\(?:text|textbf|textrm|mathrm|mbox)\s*\{([^{}]*)\}")
_UNIT_WORDS = re.compile(r"\s+[A-Za-z][A-Za-z .]*$")  # trailing words after a space: '18 dollars', '5 cm'
_HASHES = re.compile(r"####[ \t]*([^\n]*)")


def parse_number(text: str | None) -> Fraction | None:
    """The exact value of a plain numeric answer ('1,000', '$18.50', '3.5', '-2', '1/3', '18 dollars'), or None."""
    if not isinstance(text, str) or len(text) > 200:
        return None
    s = _TEXT_WRAP.sub(r" \1 ", text.replace("−", "-"))
    for junk in ("\\$", "$", "\\!", "\\,", "\\%", "%", ","):
        s = s.replace(junk, "" if junk in (",", "\\!") else " ")
    s = s.strip().rstrip(".").strip()
    s = _UNIT_WORDS.sub("", s).strip()
    s = s.replace(" ", "")
    if not _DECIMAL.match(s):
        return None
    try:
        return Fraction(s)
    except (ValueError, ZeroDivisionError):
        return None


def _number_str(f: Fraction) -> str:
    if f.denominator == 1:
        return str(f.numerator)
    d = f.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d == 1:  # a terminating decimal: write it out exactly
        digits = 0
        while (f * 10**digits).denominator != 1:
            digits += 1
        scaled = f.numerator * 10**digits // f.denominator
        sign = "-" if scaled < 0 else ""
        body = str(abs(scaled)).rjust(digits + 1, "0")
        return f"{sign}{body[:-digits]}.{body[-digits:]}"
    return f"{f.numerator}/{f.denominator}"


def _last_hashes(text: str | None) -> str | None:
    if not isinstance(text, str):
        return None
    found = _HASHES.findall(text)
    return (found[-1].strip() or None) if found else None


# ---------------------------------------------------------------------------------------------
# letter (MMLU)
# ---------------------------------------------------------------------------------------------

_PAREN_LETTER = re.compile(r"\(\s*([A-Da-d])\s*\)")
_BARE_LETTER = re.compile(r"^\(?\s*([A-Da-d])\s*\)?[.:]?$")


def parse_letter(text: str | None) -> str | None:
    """'B' from 'B', '(b)', '\\text{(B)}', 'B.'; None for anything else."""
    if not isinstance(text, str) or len(text) > 100:
        return None
    s = _TEXT_WRAP.sub(r"\1", text).replace("$", "").strip()
    m = _BARE_LETTER.match(s)
    return m[1].upper() if m else None


def _extract_letter(response: str) -> str | None:
    parens = list(_PAREN_LETTER.finditer(response))
    box_at, box = _last_boxed_at(response)
    boxed_letter = parse_letter(box) if box is not None else None
    if boxed_letter is not None and (not parens or box_at > parens[-1].start()):
        return boxed_letter
    return parens[-1][1].upper() if parens else None


# ---------------------------------------------------------------------------------------------
# the public interface
# ---------------------------------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in ANSWER_KINDS:
        raise ValueError(f"unknown answer kind {kind!r} (expected one of {', '.join(ANSWER_KINDS)})")


def extract_answer(response: str | None, kind: str = "integer") -> str | None:
    """The parsed final answer of a model response, canonicalised for its answer kind."""
    _check_kind(kind)
    if not isinstance(response, str):
        return None
    if kind == "letter":
        return _extract_letter(response)
    boxed = last_boxed(response)
    if kind == "integer":
        return parse_integer(boxed)
    if kind == "number":
        if boxed is None:
            boxed = _last_hashes(response)
        if boxed is None:
            return None
        value = parse_number(boxed)
        return _number_str(value) if value is not None else boxed
    return boxed  # text, math


def same_answer(a: str | None, b: str | None, kind: str = "integer") -> bool:
    """Equivalence of two parsed answers (symmetric); None never matches anything."""
    _check_kind(kind)
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    if kind == "integer":
        return parse_integer(a) is not None and parse_integer(a) == parse_integer(b)
    if kind == "letter":
        return parse_letter(a) is not None and parse_letter(a) == parse_letter(b)
    if kind == "number":
        na, nb = parse_number(a), parse_number(b)
        if na is not None and nb is not None:
            return na == nb
        return math_equal(a, b) or math_equal(b, a)
    if kind == "math":
        return math_equal(a, b) or math_equal(b, a)
    return a.strip() == b.strip()


def is_correct(answer: str | None, reference: str, kind: str = "integer") -> bool:
    """Whether a parsed answer is the reference answer; math compares reference-first (math_verify's gold)."""
    if kind == "math":
        return math_equal(reference, answer)
    if kind == "number" and (parse_number(answer) is None or parse_number(reference) is None):
        return isinstance(answer, str) and math_equal(reference, answer)
    return same_answer(answer, reference, kind)
