"""Grading per dataset: answer kinds 'math' (MATH), 'number' (GSM8K) and 'letter' (MMLU).

What is expected (paper-spec section 4, DESIGN.md 'Answers'): the final answer is the last
\\boxed{} (GSM8K: or the number after '####'; MMLU: the last '(X)'), equivalent forms of one value
are the same answer (math-verify for MATH/GSM), an unparsable answer is wrong and nothing ever
raises. The equivalence tables below are written by hand.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from maft import prompts
from maft.answers import ANSWER_KINDS, extract_answer, is_correct, same_answer
from maft.datasets import load_gsm8k, load_math, load_mmlu
from maft.voting import majority_vote

FIX = ROOT / "tests" / "fixtures"
NEW_KINDS = ("math", "number", "letter")

# ---------------------------------------------------------------------------------------------
# self-consistency on the fixtures: each worked solution grades as correct against its reference
# ---------------------------------------------------------------------------------------------

# MATH fixture answers written by hand in another form, with the value they denote.
MATH_OTHER_FORMS = {
    "5": ("5.0", "five:5"),
    r"\frac{1}{2}": ("0.5", "half"),
    "-1": (r"-1.0", "minus one"),
    "(1, 2)": ("(1,2)", "point 1 2"),
    "24": (r"24.00", "24"),
    r"\dfrac{1}{6}": ("1/6", "sixth"),
    r"25\pi": (r"25 \pi", "25 pi"),
    "2": (r"\frac{4}{2}", "two"),
    "42": ("42.0", "42"),
    r"5\sqrt{2}": (r"\sqrt{50}", "5 root 2"),
    "0.06": (r"\frac{3}{50}", "0.06"),
}


@pytest.fixture(scope="module")
def math_fixture():
    return load_math(FIX / "MATH")


def test_math_fixture_solutions_grade_correct(math_fixture):
    assert set(math_fixture["reference"]) == set(MATH_OTHER_FORMS)  # the table covers every fixture answer
    for row in math_fixture.itertuples():
        answer = extract_answer(row.solution, "math")
        assert answer is not None
        assert is_correct(answer, row.reference, "math"), row.problem_id
        # a model that writes the same value in another form is also right
        other, _ = MATH_OTHER_FORMS[row.reference]
        assert is_correct(other, row.reference, "math"), (other, row.reference)
        response = f"Reasoning here.\n\nThe final answer is $\\boxed{{{other}}}$."
        assert is_correct(extract_answer(response, "math"), row.reference, "math")


def test_math_fixture_answers_of_other_problems_grade_wrong(math_fixture):
    for row in math_fixture.itertuples():
        for other_ref, (form, value) in MATH_OTHER_FORMS.items():
            expected = MATH_OTHER_FORMS[row.reference][1] == value
            assert is_correct(form, row.reference, "math") == expected, (form, row.reference)


GSM_VALUES = {"14": 14, "1250": 1250, "8": 8, "25": 25, "3.5": 3.5, "3600": 3600, "-5": -5, "15": 15}


def test_gsm8k_fixture_solutions_grade_correct():
    df = load_gsm8k(FIX / "gsm8k" / "test.jsonl")
    assert set(df["reference"]) == set(GSM_VALUES)
    for row in df.itertuples():
        # the GSM8K solution format ends with '#### <number>' (commas included, e.g. '#### 1,250')
        answer = extract_answer(row.solution, "number")
        assert is_correct(answer, row.reference, "number"), (row.solution, row.reference)
        value = GSM_VALUES[row.reference]
        boxed = f"So the answer is \\boxed{{{value:,}}}."  # written with a thousands separator
        assert is_correct(extract_answer(boxed, "number"), row.reference, "number")
        for other, other_value in GSM_VALUES.items():
            assert is_correct(other, row.reference, "number") == (other_value == value)


def test_mmlu_fixture_letters_grade_correct():
    df = load_mmlu(FIX / "mmlu")
    for row in df.itertuples():
        for letter in "ABCD":
            response = f"Let me think. A) looks tempting, but the answer is ({letter.lower()})."
            assert is_correct(extract_answer(response, "letter"), row.reference, "letter") == (letter == row.reference)


# ---------------------------------------------------------------------------------------------
# hand-written equivalences
# ---------------------------------------------------------------------------------------------

MATH_EQUAL = [
    (r"\frac{1}{2}", "0.5"),
    (r"\frac{1}{2}", "1/2"),
    ("0.5", "1/2"),
    (r"\dfrac{1}{2}", r"\frac{1}{2}"),
    (r"\tfrac{3}{4}", "0.75"),
    (r"\frac12", r"\frac{1}{2}"),
    ("1,000", "1000"),
    (r"\sqrt{2}", r"2^{1/2}"),
    (r"3\sqrt{2}", r"\sqrt{18}"),
    (r"x^2+2x+1", r"(x+1)^2"),
    (r"\{1,2\}", r"\{2,1\}"),
    (r"10\%", "0.1"),
    (r"\text{(B)}", "B"),
    ("12.0", "12"),
    (r"-\frac{3}{4}", "-0.75"),
    (r"\text{Monday}", r"\text{Monday}"),
]
MATH_DIFFERENT = [
    ("2", "3"),
    ("-3", "3"),
    (r"\frac{1}{3}", "0.3"),
    (r"\frac{1}{2}", r"\frac{2}{1}"),
    ("(1,2)", "[1,2]"),
    (r"\pi", "3.14"),
    ("1,2", "12"),
    (r"\text{Monday}", r"\text{Tuesday}"),
    ("x", "y"),
]


@pytest.mark.parametrize("a, b", MATH_EQUAL)
def test_math_equivalent_forms_are_the_same_answer(a, b):
    assert same_answer(a, b, "math") and same_answer(b, a, "math")
    assert is_correct(a, b, "math") and is_correct(b, a, "math")


@pytest.mark.parametrize("a, b", MATH_DIFFERENT)
def test_math_different_answers_are_not_the_same(a, b):
    assert not same_answer(a, b, "math") and not same_answer(b, a, "math")
    assert not is_correct(a, b, "math")


@pytest.mark.parametrize("a, b", [
    ("1,000", "1000"), ("$18", "18"), (r"\$18.00", "18"), ("18 dollars", "18"), (r"5\text{ cm}", "5"),
    ("0.5", "1/2"), ("3.50", "3.5"), ("\u22125", "-5"), (r"\frac{1}{2}", "0.5"), (r"\dfrac{7}{2}", "3.5"),
])
def test_number_equivalent_forms(a, b):
    assert same_answer(a, b, "number") and same_answer(b, a, "number")
    assert is_correct(a, b, "number")


@pytest.mark.parametrize("a, b", [("18", "81"), ("1000", "100"), ("1,000", "1.000"), ("-5", "5"), ("3x", "3"),
                                  ("abc", "3"), (r"\frac{1}{2}", "2")])
def test_number_different_answers(a, b):
    assert not same_answer(a, b, "number") and not same_answer(b, a, "number")
    assert not is_correct(a, b, "number")


@pytest.mark.parametrize("response, expected", [
    (r"so the total is \boxed{1,250} pens", "1250"),
    (r"\boxed{\$18.00}", "18"),
    (r"\boxed{3.50}", "3.5"),
    (r"\boxed{-7}", "-7"),
    ("work...\n#### 3,600", "3600"),
    (r"\boxed{4} hmm, no: \boxed{5}", "5"),
    ("I am not sure.", None),
])
def test_number_extraction(response, expected):
    assert extract_answer(response, "number") == expected


@pytest.mark.parametrize("response, expected", [
    ("The answer is (B).", "B"),
    ("I first thought (A) but it is (c)", "C"),
    ("(B) is wrong, so the answer is \\boxed{D}", "D"),
    ("\\boxed{A} ... on reflection (C)", "C"),
    ("\\boxed{\\text{(B)}}", "B"),
    ("(E) is not an option", None),
    ("The answer is B", None),
    ("", None),
])
def test_letter_extraction(response, expected):
    assert extract_answer(response, "letter") == expected


def test_letter_comparison():
    assert same_answer("B", "(B)", "letter") and same_answer("(b)", "B", "letter")
    assert not same_answer("B", "C", "letter")
    assert not same_answer("E", "E", "letter")  # not a choice
    assert is_correct("A", "A", "letter") and not is_correct("A", "B", "letter")


@pytest.mark.parametrize("kind", NEW_KINDS)
@pytest.mark.parametrize("other", [None, float("nan"), "", "  "])
def test_missing_answers_never_match(kind, other):
    assert not same_answer(other, "1", kind) and not same_answer("1", other, kind)
    assert not same_answer(other, other, kind)
    assert not is_correct(other, "1", kind)


def test_math_timeout_counts_as_not_equal(monkeypatch):
    # a tower of powers that sympy cannot compare in time: not equal, no exception, bounded time
    import time

    import maft.answers as answers

    monkeypatch.setattr(answers, "MATH_TIMEOUT_S", 1)
    start = time.monotonic()
    assert not same_answer(r"9^{9^{9^{9}}}", r"9^{9^{9^{8}}}", "math")
    assert time.monotonic() - start < 20


def test_every_kind_is_known():
    assert set(NEW_KINDS) <= set(ANSWER_KINDS)
    with pytest.raises(ValueError, match="roman"):
        same_answer("1", "1", "roman")


def test_mmlu_prompts_ask_for_letters():
    q = prompts.mmlu_question("What is 2+2?", ["3", "4", "5", "6"])
    assert q == "What is 2+2?: A) 3, B) 4, C) 5, D) 6"
    gen = prompts.generator_prompt(q, template="mmlu")
    assert gen == ("Can you answer the following question as accurately as possible? What is 2+2?: A) 3, B) 4, "
                   "C) 5, D) 6 Explain your answer, putting the answer in the form (X) at the end of your response.")
    critic = prompts.critic_prompt(q, ["x", "y"], "a summary", template="mmlu")
    assert "(X)" in critic and "\\boxed" not in critic and "a summary" in critic and q in critic
    assert "(X)" in prompts.critic_prompt(q, ["x"], None, template="mmlu")
    assert "(X)" in prompts.critic_prompt(q, [], None, template="mmlu")
    assert prompts.template_for("letter") == "mmlu" and prompts.template_for("math") == "math"
    # the default family is unchanged
    assert prompts.generator_prompt(q) == prompts.GENERATOR.format(question=q)


# ---------------------------------------------------------------------------------------------
# properties: arbitrary text never crashes; equivalent forms vote together
# ---------------------------------------------------------------------------------------------

_tokens = st.sampled_from([
    "\\boxed{", "\\fbox{", "{", "}", "(", ")", "(A)", "(b)", "(E)", "####", "\\frac", "\\dfrac", "\\sqrt", "^",
    "_", "-", "\u2212", "$", "\\$", ",", ".", "/", "\\text{", "\\%", "%", "x", "=", "0", "7", "12", "1,000",
    "\\pi", "\\infty", "\\left(", "\\right)", " ", "\n", "e", "i", "\\\\",
])
_texty = st.lists(st.one_of(st.text(max_size=8), _tokens), max_size=14).map("".join)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), _texty), st.sampled_from(NEW_KINDS))
def test_extraction_never_raises(text, kind):
    ans = extract_answer(text, kind)
    assert ans is None or (isinstance(ans, str) and ans.strip() != "")
    if kind == "letter":
        assert ans is None or ans in "ABCD"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.none(), st.text(max_size=30), _texty), st.one_of(st.none(), st.text(max_size=30), _texty),
       st.sampled_from(NEW_KINDS))
def test_comparison_never_raises_and_is_symmetric(a, b, kind):
    r = same_answer(a, b, kind)
    assert isinstance(r, bool) and r == same_answer(b, a, kind)
    assert isinstance(is_correct(a, b, kind), bool)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.none(), st.just(float("nan")), st.text(max_size=20), _texty), max_size=5),
       st.sampled_from(NEW_KINDS), st.sampled_from(["random", "lexicographic"]))
def test_voting_never_raises(answers, kind, tie_break):
    vote = majority_vote(answers, kind=kind, tie_break=tie_break)
    strings = [a for a in answers if isinstance(a, str)]
    assert vote is None if not strings else vote in strings


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(-40, 40), st.integers(1, 40), st.integers(0, 3), st.randoms(use_true_random=False))
def test_equivalent_forms_vote_together(p, q, pick, rnd):
    from fractions import Fraction

    f = Fraction(p, q)
    forms = [f"\\frac{{{f.numerator}}}{{{f.denominator}}}", f"{f.numerator}/{f.denominator}",
             f"\\dfrac{{{f.numerator}}}{{{f.denominator}}}"]
    if f.denominator == 1:
        forms.append(f"{f.numerator}.0")
    elif 10**6 % f.denominator == 0:
        forms.append(str(float(f)))  # a terminating decimal such as 0.25
    other = f + 1 + pick  # a different value, written plainly
    answers = forms[:2] + [forms[2 + pick % (len(forms) - 2)]] + [str(other), f"{other.numerator}/{other.denominator}"]
    rnd.shuffle(answers)
    vote = majority_vote(answers, kind="math", tie_break="lexicographic")
    assert vote in forms, (answers, vote)
    assert same_answer(vote, f"{f.numerator}/{f.denominator}", "math")
