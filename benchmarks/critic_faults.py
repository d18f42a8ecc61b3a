"""Where the toy's critics go wrong: the first fault in each answer a critic changed.

Reads a debate transcript of the arithmetic toy (round 0 and round 1) and, for every critic turn whose
answer differs from its own round-0 answer, checks the `steps` layout line by line: an *operand* fault
(a number not copied right from the question or the line above), an *arithmetic* fault (one of the five
steps b*c, a+p, s1+d, e*f, s2-q computed wrong from the numbers written; with `toy.subtraction: tens`,
s2-q is two steps, "tens" and "units"), or a *format* fault (not four step lines). It prints the first
fault of every answer of each round, then, apart for critics whose round-0 answer was right and wrong,
how many changed answers are right, the first fault and its line, and how often the faulty number
appears anywhere in the critic's own round-0 solution (a copied error) rather than being new.

    python benchmarks/critic_faults.py results/toy/toy/arithmetic/maft/iter0/debate-test.parquet
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

import pandas as pd

QUESTION = re.compile(r"(\d+)\+(\d+)\*(\d+)\+(\d+)-(\d+)\*(\d+)")
N = r"(-?\d+)"
STEP_LINES = [re.compile(rf"- {N}\*{N}={N}"), re.compile(rf"- {N}\+{N}={N}"), re.compile(rf"- {N}\+{N}={N}")]
# the last line: s2-e*f=s2-q=r (`toy.subtraction: whole`), or in the `tens` layout
# s2-e*f=s2-q=y-u=r, or for a negative difference s2-e*f=s2-q=-(q-s2)=-(y-u)=r
LAST_LINES = {"whole": re.compile(rf"- {N}-{N}\*{N}={N}-{N}={N}"),
              "tens": re.compile(rf"- {N}-{N}\*{N}={N}-{N}={N}-{N}={N}"),
              "tens reversed": re.compile(rf"- {N}-{N}\*{N}={N}-{N}=-\({N}-{N}\)=-\({N}-{N}\)={N}")}


def step_numbers(text: str) -> list[list[int]] | None:
    """The numbers of each of the four step lines (the last one's in either subtraction layout), or None
    when the text has another shape."""
    lines = [line for line in text.splitlines() if line.startswith("- ")]
    if len(lines) != 4:
        return None
    found = [p.fullmatch(line) for p, line in zip(STEP_LINES, lines)]
    found.append(next((m for m in (p.fullmatch(lines[3]) for p in LAST_LINES.values()) if m), None))
    if not all(found):
        return None
    return [[int(x) for x in m.groups()] for m in found]


def last_line_checks(v: list[int], s2: int, e: int, f: int) -> list[tuple[str, int, int, int]]:
    """(fault, line, written, right) checks of the last line, in writing order, in its layout."""
    checks = [("operand", 3, v[0], s2), ("operand", 3, v[1], e), ("operand", 3, v[2], f),
              ("e*f", 3, v[4], v[1] * v[2]), ("operand", 3, v[3], v[0])]
    if len(v) == 6:  # whole
        return checks + [("s2-q", 3, v[5], v[3] - v[4])]
    s2_, q = v[3], v[4]
    if len(v) == 8:  # tens: s2-q=y-u=r
        return checks + [("tens", 3, v[5], s2_ - q // 10 * 10), ("operand", 3, v[6], q % 10),
                         ("units", 3, v[7], v[5] - v[6])]
    return checks + [("operand", 3, v[5], q), ("operand", 3, v[6], s2_),  # tens reversed: =-(q-s2)=-(y-u)=r
                     ("tens", 3, v[7], q - s2_ // 10 * 10), ("operand", 3, v[8], s2_ % 10),
                     ("units", 3, v[9], -(v[7] - v[8]))]


def first_fault(question: str, text: str) -> tuple[str, int, int | None]:
    """(fault, line, written number) of the first fault of a solution: "operand", "format", or the
    arithmetic step computed wrong ("b*c", "a+p", "s1+d", "e*f", and "s2-q" or its parts "tens" and
    "units"); ("none", -1, None) if none."""
    a, b, c, d, e, f = map(int, QUESTION.search(question).groups())
    v = step_numbers(text)
    if v is None:
        return "format", -1, None
    checks = [("operand", 0, v[0][0], b), ("operand", 0, v[0][1], c), ("b*c", 0, v[0][2], v[0][0] * v[0][1]),
              ("operand", 1, v[1][0], a), ("operand", 1, v[1][1], v[0][2]), ("a+p", 1, v[1][2], v[1][0] + v[1][1]),
              ("operand", 2, v[2][0], v[1][2]), ("operand", 2, v[2][1], d), ("s1+d", 2, v[2][2], v[2][0] + v[2][1]),
              *last_line_checks(v[3], v[2][2], e, f)]
    return next(((kind, line, w) for kind, line, w, want in checks if w != want), ("none", -1, None))


STEPS = ("b*c", "a+p", "s1+d", "e*f", "s2-q", "tens", "units")


def profile(t: pd.DataFrame) -> str:
    """The first fault of every answer of a round, as shares."""
    c = Counter(first_fault(q, r)[0] for q, r in zip(t["question"], t["response"]))
    n = max(len(t), 1)
    return ", ".join(f"{k} {c[k] / n:.1%}" for k in ("none", *STEPS, "operand", "format"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("transcript")
    args = p.parse_args()
    t = pd.read_parquet(args.transcript)
    for rnd in sorted(t["round"].unique()):
        print(f"round {rnd}, first fault of every answer: {profile(t[t['round'] == rnd])}")
    own = t[t["round"] == 0].set_index(["problem_id", "agent"])
    counts: dict[str, Counter] = {"round-0 answer right": Counter(), "round-0 answer wrong": Counter()}
    for row in t[t["round"] == 1].itertuples():
        before = own.loc[(row.problem_id, row.agent)]
        if row.answer == before["answer"]:
            continue
        c = counts["round-0 answer right" if str(before["answer"]) == str(row.reference) else "round-0 answer wrong"]
        c["changed"] += 1
        c["right"] += str(row.answer) == str(row.reference)
        kind, line, written = first_fault(row.question, row.response)
        c[kind] += 1
        if kind not in ("none", "format"):
            c[f"line {line + 1}"] += 1
            own_numbers = [x for ln in (step_numbers(before["response"]) or []) for x in ln]
            c["copied"] += written in own_numbers
    for cell, c in counts.items():
        n = max(c["changed"], 1)
        faults = max(n - c["none"] - c["format"], 1)
        print(f"critics, {cell}: {c['changed']} changed answers, {c['right'] / n:.0%} right; first fault: "
              + ", ".join(f"{k} {c[k] / n:.0%}" for k in ("none", *STEPS, "operand", "format")))
        print("  line of the first fault: " + ", ".join(f"{k} {c[k] / faults:.0%}" for k in ("line 1", "line 2", "line 3", "line 4"))
              + f"; its number in the critic's own round-0 solution: {c['copied'] / faults:.0%}")


if __name__ == "__main__":
    main()
