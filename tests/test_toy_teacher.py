"""The toy's noisy teacher: worked solutions whose steps are right, except one when noise strikes."""

from __future__ import annotations

import re

import numpy as np
import pytest

from maft.answers import last_boxed
from maft.problems import arithmetic_value
from maft.toy import teacher

QUESTION = re.compile(r"(\d+)\+(\d+)\*(\d+)\+(\d+)-(\d+)\*(\d+)")
STEP = re.compile(r"(-?\d+)([+*-])(-?\d+)=(-?\d+)")


TENS_AT_ONCE = re.compile(r"- (-?\d+)-(\d+)\*(\d+)=(-?\d+)-(-?\d+)=(-?\d+)-(\d+)=(-?\d+)")
TENS_REVERSED = re.compile(r"- (-?\d+)-(\d+)\*(\d+)=(-?\d+)-(-?\d+)=-\((-?\d+)-(-?\d+)\)=-\((-?\d+)-(\d+)\)=(-?\d+)")


def tens_line_faults(line: str) -> tuple[int, int]:
    """(wrong computed steps, wrong copies) of a `tens` last line: the product e*f, the tens step and
    the units step, each checked against the numbers written before it."""
    if m := TENS_AT_ONCE.fullmatch(line):
        s2, e, f, s2_, q, y, u, r = map(int, m.groups())
        steps = [e * f != q, y != s2_ - q // 10 * 10, r != y - u]
        copies = [s2_ != s2, u != q % 10, s2_ < q]
    else:
        m = TENS_REVERSED.fullmatch(line)
        assert m, line
        s2, e, f, s2_, q, q_, s2__, y, u, r = map(int, m.groups())
        steps = [e * f != q, y != q - s2_ // 10 * 10, r != -(y - u)]
        copies = [s2_ != s2, q_ != q, s2__ != s2_, u != s2_ % 10, s2_ >= q]
    return sum(steps), sum(copies)


def wrong_steps(text: str) -> int:
    """Steps `x op y = z` of a solution whose result is wrong (each line's last written step; a `tens`
    last line's three computed steps)."""
    wrong = 0
    for line in text.splitlines()[:-1]:
        if TENS_AT_ONCE.fullmatch(line) or TENS_REVERSED.fullmatch(line):
            wrong += tens_line_faults(line)[0]
            continue
        expr = line.removeprefix("- ")
        parts = expr.split("=")
        # "s2-e*f=s2-q=r": check e*f against q and s2-q against r
        if len(parts) == 3:
            left, mid, right = parts
            prod = re.fullmatch(r"(-?\d+)-(\d+)\*(\d+)", left)
            sub = re.fullmatch(r"(-?\d+)-(-?\d+)", mid)
            assert prod and sub, line
            wrong += int(prod[2]) * int(prod[3]) != int(sub[2])
            wrong += int(sub[1]) - int(sub[2]) != int(right)
            continue
        m = STEP.fullmatch(expr)
        assert m, line
        x, op, y, z = int(m[1]), m[2], int(m[3]), int(m[4])
        wrong += {"+": x + y, "-": x - y, "*": x * y}[op] != z
    return wrong


@pytest.mark.parametrize("seed", range(20))
def test_clean_solution_is_right_at_every_step(seed):
    rng = np.random.default_rng(seed)
    t = tuple(int(x) for x in rng.integers(0, 10, size=6))
    text = teacher.solution(t, rng, noise=0.0)
    assert wrong_steps(text) == 0
    assert last_boxed(text) == str(arithmetic_value(t))
    # every line reuses the number at the end of the line above it (the layout the toy learns fast)
    p, s1, s2 = (line.split("=")[-1] for line in text.splitlines()[:3])
    lines = text.splitlines()
    assert lines[1] == f"- {t[0]}+{p}={s1}"
    assert lines[2].startswith(f"- {s1}+") and lines[3].startswith(f"- {s2}-")


@pytest.mark.parametrize("seed", range(20))
def test_noisy_solution_has_exactly_one_wrong_step_that_propagates(seed):
    rng = np.random.default_rng(seed)
    t = tuple(int(x) for x in rng.integers(0, 30, size=6))
    text = teacher.solution(t, rng, noise=1.0)
    assert wrong_steps(text) == 1
    assert last_boxed(text) != str(arithmetic_value(t))  # no delta is 0, and an error carries to the end


def test_summary_names_each_other_agents_answer():
    rng = np.random.default_rng(0)
    answers = [teacher.solution((1, 2, 3, 4, 5, 6), rng, 0.0), "no answer here"]
    assert teacher.summarize(answers) == "One agent answered -19. One agent answered nothing."


def test_max_operand_bounds_every_problem_and_fact():
    rng = np.random.default_rng(0)
    for _ in range(50):
        convo = teacher.chat_example("solve", rng, 0.0, 0.0, set(), max_operand=4)
        q = convo[0]["content"]
        nums = re.search(r"(\d+)\+(\d+)\*(\d+)\+(\d+)-(\d+)\*(\d+)", q).groups()
        assert max(int(x) for x in nums) <= 4
    for line in teacher.drill_text(rng, 200, max_operand=4).splitlines():
        if "*" in line:
            a, b = re.match(r"(\d+)\*(\d+)=", line).groups()
            assert int(a) <= 4 and int(b) <= 4
        x, op, y, z = STEP.fullmatch(line).groups()
        assert {"+": int(x) + int(y), "-": int(x) - int(y), "*": int(x) * int(y)}[op] == int(z)


def test_critic_revision_follows_the_majority_or_keeps_its_own():
    rng = np.random.default_rng(0)
    own = teacher.solution((1, 2, 3, 4, 5, 6), rng, 1.0)  # a wrong answer
    right = teacher.solution((1, 2, 3, 4, 5, 6), rng, 0.0)
    lines = own.rsplit("\\boxed", 1)[0]
    # two others agree on -19: the critic keeps its steps and ends at the majority answer
    assert teacher.revision(own, [right, right]) == lines + "\\boxed{-19}"
    # one other agrees with it: its own answer is the majority
    assert teacher.revision(own, [right, own]) == own
    # a 1-1-1 split or unparsable others: no majority, the teacher re-solves instead
    assert teacher.revision(own, [right, "no answer"]) is None
    assert teacher.revision(own, ["x", "y"]) is None


def test_critic_turn_in_pretraining_ends_at_the_majority_when_there_is_one():
    rng = np.random.default_rng(1)
    for _ in range(100):
        convo = teacher.chat_example("critic_concat", rng, 0.6, 0.2, set(), n_others=2, max_operand=9)
        own, final = convo[1]["content"], convo[3]["content"]
        others = re.findall(r"\\boxed\{(-?\d+)\}", convo[2]["content"])
        answers = [last_boxed(own)] + others
        shared = [a for a in answers if answers.count(a) >= 2]
        if shared:
            assert last_boxed(final) == shared[0]


def test_recheck_keeps_a_shared_answer_and_solves_again_when_alone():
    rng = np.random.default_rng(0)
    own = teacher.solution((1, 2, 3, 4, 5, 6), rng, 1.0)  # a wrong answer
    right = teacher.solution((1, 2, 3, 4, 5, 6), rng, 0.0)
    assert teacher.recheck(own, [right, own]) == own  # another agent reached the same answer: kept verbatim
    assert teacher.recheck(right, [right, own]) == right
    assert teacher.recheck(own, [right, right]) is None  # nobody shares it: solve again
    assert teacher.recheck(own, ["no answer", "x"]) is None
    assert teacher.recheck("no answer", ["no answer"]) is None


def test_brief_keeps_a_shared_answer_in_one_line_and_solves_again_when_alone():
    rng = np.random.default_rng(0)
    own = teacher.solution((1, 2, 3, 4, 5, 6), rng, 1.0)  # a wrong answer
    right = teacher.solution((1, 2, 3, 4, 5, 6), rng, 0.0)
    assert teacher.critic_turn("brief", own, [right, own], lambda: "fresh") == f"\\boxed{{{last_boxed(own)}}}"
    assert teacher.critic_turn("brief", own, [right, right], lambda: "fresh") == "fresh"
    assert teacher.critic_turn("brief", "no answer", ["no answer"], lambda: "fresh") == "fresh"


def pretraining_critic_turns(critic: str, seed: int, n: int):
    """(shared, terms, own, final) of n pretraining critic conversations (noise 0.6, critic noise 0):
    whether the summary shows another agent with the critic's own round-0 answer."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        convo = teacher.chat_example("critic", rng, 0.6, 0.0, set(), n_others=2, max_operand=9, critic=critic)
        own, final = convo[1]["content"], convo[3]["content"]
        others = re.findall(r"answered (-?\d+)\.", convo[2]["content"])
        terms = tuple(map(int, QUESTION.search(convo[0]["content"]).groups()))
        yield last_boxed(own) in others, terms, own, final


def test_recheck_critics_in_pretraining_keep_shared_answers_and_resolve_with_the_critic_noise():
    kept = resolved = wrong = 0
    for shared, terms, own, final in pretraining_critic_turns("recheck", 2, 400):
        if shared:
            assert final == own
            kept += 1
        else:
            resolved += 1
            wrong += last_boxed(final) != str(arithmetic_value(terms))
    assert kept > 50 and resolved > 50 and wrong == 0  # critic_noise 0: every re-solved answer is right


def test_compare_writes_each_comparison_and_the_verdict_before_any_step():
    rng = np.random.default_rng(0)
    own = teacher.solution((1, 2, 3, 4, 5, 6), rng, 1.0)  # a wrong answer
    right = teacher.solution((1, 2, 3, 4, 5, 6), rng, 0.0)
    mine = last_boxed(own)

    def turn(critic_own, others):
        return teacher.critic_turn("compare", critic_own, others, lambda: "fresh")

    assert turn(own, [right, own]) == f"{mine} vs -19: differ\n{mine} vs {mine}: same\nI keep my answer.\n{own}"
    assert turn(own, [right, "no answer"]) == f"{mine} vs -19: differ\n{mine} vs nothing: differ\nI solve it again.\nfresh"
    assert turn("no answer", ["no answer"]) == "nothing vs nothing: differ\nI solve it again.\nfresh"
    assert teacher.critic_turn("compare", own, [right, right], lambda: "fresh").endswith("I solve it again.\nfresh")
    # the older designs have no opening: their reply is the solution itself
    assert teacher.critic_turn("recheck", own, [right, right], lambda: "fresh") == "fresh"


@pytest.mark.parametrize("kind, pattern", [("critic", r"answered (-?\d+|nothing)\."),
                                           ("critic_concat", r"\\boxed\{(-?\d+)\}")])
def test_compare_critics_in_pretraining_check_against_what_the_prompt_shows(kind, pattern):
    rng = np.random.default_rng(3)
    kept = resolved = 0
    for _ in range(300):
        convo = teacher.chat_example(kind, rng, 0.6, 0.0, set(), n_others=2, max_operand=9, critic="compare")
        own, reply = convo[1]["content"], convo[3]["content"]
        others = re.findall(pattern, convo[2]["content"])
        head = reply.splitlines()[:3]
        assert head[:2] == [f"{last_boxed(own)} vs {o}: {'same' if o == last_boxed(own) else 'differ'}" for o in others]
        body = "\n".join(reply.splitlines()[3:])
        if last_boxed(own) in others:
            assert head[2] == "I keep my answer." and body == own
            kept += 1
        else:
            a, b, c, d, e, f = map(int, QUESTION.search(convo[0]["content"]).groups())
            assert head[2] == "I solve it again." and last_boxed(body) == str(a + b * c + d - e * f)
            resolved += 1
    assert kept > 50 and resolved > 50


def test_some_pretraining_conversations_carry_agent_ids_as_the_unique_id_debate_sends_them():
    from maft import prompts

    rng = np.random.default_rng(4)
    tagged = 0
    for _ in range(200):
        convo = teacher.chat_example("critic", rng, 0.5, 0.1, set(), n_others=2, max_operand=9, critic="compare",
                                     id_rate=0.3)
        first, second = convo[0]["content"], convo[2]["content"]
        m = re.match(r"\[generator agent (\d)\] ", first)
        if m:
            tagged += 1
            assert second.startswith(f"[critic agent {m[1]}] ") and 1 <= int(m[1]) <= 3
            question = re.search(r"problem\? (.*\?) Provide", first)[1]
            assert first[m.end():] == prompts.generator_prompt(question)  # the untagged prompt after the ID
        else:
            assert not second.startswith("[")
    assert 30 < tagged < 90
    # the summarizer is not an agent: its requests never carry an ID
    assert not any(teacher.chat_example("summarize", rng, 0.5, 0.1, set(), id_rate=1.0)[0]["content"].startswith("[")
                   for _ in range(20))


def rewrite_values(text: str) -> list[int]:
    """The value of each line of a `rewrite` solution, evaluated as written."""
    lines = text.splitlines()
    assert all(line.startswith("= ") for line in lines[:-1]) and lines[-1].startswith("\\boxed{")
    return [eval(line.removeprefix("= ")) for line in lines[:-1]]  # digits and + - * only (checked above)


@pytest.mark.parametrize("seed", range(10))
def test_rewrite_layout_restates_the_question_then_keeps_its_value_line_by_line(seed):
    rng = np.random.default_rng(seed)
    t = tuple(int(x) for x in rng.integers(0, 10, size=6))
    text = teacher.solution(t, rng, noise=0.0, layout="rewrite")
    assert text.splitlines()[0] == "= {}+{}*{}+{}-{}*{}".format(*t)
    assert set(rewrite_values(text)) == {arithmetic_value(t)}
    assert last_boxed(text) == str(arithmetic_value(t))
    noisy = teacher.solution(t, rng, noise=1.0, layout="rewrite")
    values = rewrite_values(noisy)
    # one wrong intermediate result: the value changes at exactly one line and the answer carries it
    assert sum(x != y for x, y in zip(values, values[1:])) == 1 and last_boxed(noisy) == str(values[-1])


def test_rewrite_critics_keep_shared_answers_verbatim_and_resolve_in_the_other_layout():
    kept = resolved = 0
    for shared, terms, own, final in pretraining_critic_turns("rewrite", 4, 300):
        if shared:
            assert final == own
            kept += 1
        else:
            assert final.startswith("= {}+{}*{}+".format(*terms)) and last_boxed(final) == str(arithmetic_value(terms))
            assert not set(final.splitlines()[:-1]) & set(own.splitlines())  # nothing to copy from
            resolved += 1
    assert kept > 50 and resolved > 50



def test_tens_layout_takes_the_final_difference_in_two_steps_and_a_negative_one_reversed():
    rng = np.random.default_rng(0)
    forms = set()
    for _ in range(300):
        t = tuple(int(x) for x in rng.integers(0, 10, size=6))
        text = teacher.solution(t, rng, noise=0.0, subtraction="tens")
        head, last = text.splitlines()[:3], text.splitlines()[3]
        assert head == teacher.solution(t, rng, noise=0.0).splitlines()[:3]  # the first three lines as `whole`
        assert tens_line_faults(last) == (0, 0) and last_boxed(text) == str(arithmetic_value(t))
        forms.add("=-(" in last)
        noisy = teacher.solution(t, rng, noise=1.0, subtraction="tens")
        # one wrong step, anywhere among the six, and the answer carries it
        assert wrong_steps(noisy) == 1
        assert tens_line_faults(noisy.splitlines()[3])[1] == 0 and last_boxed(noisy) != str(arithmetic_value(t))
    assert forms == {True, False}  # both a positive and a negative difference occurred


def test_an_unknown_subtraction_layout_is_named_in_the_error():
    with pytest.raises(ValueError, match="toy.subtraction.*'halves'"):
        teacher.solution((1, 2, 3, 4, 5, 6), np.random.default_rng(0), 0.0, subtraction="halves")


@pytest.mark.parametrize("kind", ["solve", "critic", "critic_concat", "summarize"])
def test_pretraining_writes_every_solution_in_the_configured_subtraction_layout(kind):
    from maft.toy.model import sample_conversation

    cfg = {"noise": 0.5, "critic_noise": 0.1, "critic": "recheck", "max_operand": 9, "subtraction": "tens"}
    rng = np.random.default_rng(3)
    seen = 0
    for _ in range(50):
        convo = sample_conversation(kind, rng, cfg, set())
        texts = [m["content"] for m in convo if m["role"] == "assistant"]
        texts += re.findall(r"(- \d+\*\d+=.*?\\boxed\{-?\d+\})", convo[-2]["content"], re.S) if kind != "solve" else []
        for text in texts:
            if "\\boxed" in text and text.startswith("- "):
                tens_line_faults(text.splitlines()[3])  # fails unless the last line is in the tens layout
                seen += 1
    assert seen >= 50


@pytest.mark.parametrize("subtraction", ["whole", "tens"])
@pytest.mark.parametrize("step", [0, 1, 2, 3])
def test_noise_on_one_step_puts_every_wrong_result_there(subtraction, step):
    rng = np.random.default_rng(step)
    for _ in range(100):
        t = tuple(int(x) for x in rng.integers(0, 10, size=6))
        clean = teacher.solution(t, rng, noise=0.0, subtraction=subtraction).splitlines()
        noisy = teacher.solution(t, rng, noise=1.0, subtraction=subtraction, noise_step=step)
        lines = noisy.splitlines()
        assert lines[:step] == clean[:step]  # steps 0..3 are the first four lines, in order
        assert lines[step] != clean[step] and wrong_steps(noisy) == 1
        assert last_boxed(noisy) != str(arithmetic_value(t))


def test_noise_on_one_step_strikes_at_the_noise_rate_and_a_bad_step_is_named():
    rng = np.random.default_rng(0)
    t = (3, 4, 5, 6, 7, 8)
    wrong = [last_boxed(teacher.solution(t, rng, 0.3, subtraction="tens", noise_step=0)) != "-27" for _ in range(4000)]
    assert abs(np.mean(wrong) - 0.3) < 0.03
    assert teacher.solution(t, rng, 1.0, subtraction="tens", noise_step=5).splitlines()[:3] == \
        teacher.solution(t, rng, 0.0, subtraction="tens").splitlines()[:3]  # the units step: the last line's end
    with pytest.raises(ValueError, match="toy.noise_step: 5 .*0..4"):
        teacher.solution(t, rng, 0.5, subtraction="whole", noise_step=5)


def test_pretraining_conversations_carry_the_configured_noise_step():
    from maft.toy.model import sample_conversation

    cfg = {"noise": 1.0, "critic_noise": 0.0, "critic": "recheck", "max_operand": 9, "subtraction": "tens",
           "noise_step": 0}
    rng = np.random.default_rng(1)
    for _ in range(30):
        question, answer = (m["content"] for m in sample_conversation("solve", rng, cfg, set()))
        a, b, c, d, e, f = map(int, QUESTION.search(question).groups())
        first = answer.splitlines()[0]
        assert first.startswith(f"- {b}*{c}=") and first != f"- {b}*{c}={b * c}"
