"""Prompt templates: verbatim the official code's strings (paper-spec section 3.1), typos included."""

from __future__ import annotations

import pytest

from maft import prompts

Q = "What is the result of 3+4*5+6-7*8?"

# The official strings, transcribed from paper-spec section 3.1 (after Python's .format).
OFFICIAL_GENERATOR = (
    "Can you solve the following math problem? " + Q + " Provide a bullet point summary of your reasoning. "
    "Your final answer should be a single answer, in the form \\boxed{answer}, at the end of your response."
)
OFFICIAL_SELF_CHECK = (
    "Can you double check that your answer is correct? Please reiterate your answer, with your final answer a "
    "single answer of the form \\boxed{answer} at the end of your response."
)


def official_critic_with_summary(summary: str, question: str) -> str:
    return ("Here is a summary of solutions from several other agents: {}".format(summary)
            + "\n\n Examine each these solutions as additional advice, can solve {} and give your updated answer? "
              "Explain your reasoning. \n Your final answer should be be in the form \\boxed{{answer}} given at "
              "the end of your response.".format(question))


def official_summary_request(responses: list[str]) -> str:
    s = "Here are a list of opinions from different agents: "
    for r in responses:
        s += "\n\n One agent response: ```{}```".format(r)
    return s + ("\n\n Write a summary of the different opinions from each of the individual agent and explain "
                "the reasoning in each solution.")


def official_concat(responses: list[str], question: str) -> str:
    s = "Here is are solution from other agents: "
    for r in responses:
        s += "\n\n One agent response: {}".format(r)
    return s + ("\n\n Using each response as additional advice, can you give an updated bullet by bullet answer to "
                "{}? Your final answer should be be in the form \\boxed{{answer}} given at the end of your "
                "response.".format(question))


def test_generator_prompt_verbatim():
    assert prompts.generator_prompt(Q) == OFFICIAL_GENERATOR
    assert "\\boxed{answer}" in prompts.generator_prompt(Q)  # braces rendered once, not doubled


def test_generator_prompt_with_hint_appends_the_hint():
    text = prompts.generator_prompt(Q, hint="-15")
    assert text.startswith(OFFICIAL_GENERATOR)
    assert text != OFFICIAL_GENERATOR
    assert "-15" in text[len(OFFICIAL_GENERATOR):]


def test_question_with_braces_is_not_formatted_twice():
    q = "Compute \\frac{1}{2} + {x}"
    assert q in prompts.generator_prompt(q)
    assert q in prompts.critic_prompt(q, ["a"], None)
    assert q in prompts.critic_prompt(q, ["a"], "s")


def test_summary_request_assembly():
    responses = ["first answer \\boxed{1}", "second\nanswer \\boxed{2}"]
    text = prompts.summary_request(responses)
    assert text == official_summary_request(responses)
    expected = (
        "Here are a list of opinions from different agents: "
        "\n\n One agent response: ```first answer \\boxed{1}```"
        "\n\n One agent response: ```second\nanswer \\boxed{2}```"
        "\n\n Write a summary of the different opinions from each of the individual agent and explain the "
        "reasoning in each solution."
    )
    assert text == expected
    assert text.count("```") == 4  # each response enclosed in triple back-ticks


def test_summary_request_keeps_response_order_and_count():
    text = prompts.summary_request(["A", "B", "C"])
    assert text.count("One agent response:") == 3
    assert text.index("```A```") < text.index("```B```") < text.index("```C```")


def test_critic_prompt_with_summary_verbatim():
    summary = "Agent 1 says 12; agent 2 says 13."
    text = prompts.critic_prompt(Q, ["raw response one", "raw response two"], summary)
    assert text == official_critic_with_summary(summary, Q)
    # the raw responses are not shown when a summary is used
    assert "raw response one" not in text


def test_critic_prompt_typos_are_kept():
    with_summary = prompts.critic_prompt(Q, ["x"], "s")
    assert "Examine each these solutions" in with_summary
    assert "can solve " + Q + " and give" in with_summary
    assert "should be be in the form" in with_summary
    concat = prompts.critic_prompt(Q, ["x"], None)
    assert concat.startswith("Here is are solution from other agents: ")
    assert "should be be in the form" in concat


def test_critic_prompt_without_summary_concatenates_raw_responses():
    responses = ["resp one \\boxed{3}", "resp two \\boxed{4}"]
    text = prompts.critic_prompt(Q, responses, None)
    assert text == official_concat(responses, Q)
    expected = (
        "Here is are solution from other agents: "
        "\n\n One agent response: resp one \\boxed{3}"
        "\n\n One agent response: resp two \\boxed{4}"
        "\n\n Using each response as additional advice, can you give an updated bullet by bullet answer to "
        + Q + "? Your final answer should be be in the form \\boxed{answer} given at the end of your response."
    )
    assert text == expected
    assert "```" not in text  # no back-ticks in the concatenated variant


def test_critic_prompt_single_agent_self_check():
    assert prompts.critic_prompt(Q, [], None) == OFFICIAL_SELF_CHECK
    assert prompts.SELF_CHECK == OFFICIAL_SELF_CHECK


def test_summary_takes_precedence_even_without_others():
    # a summary is the paper's method; with a summary given, the summary prompt is used
    assert prompts.critic_prompt(Q, [], "sum") == official_critic_with_summary("sum", Q)


@pytest.mark.parametrize("content", ["hello", ""])
def test_message_helpers(content):
    assert prompts.user(content) == {"role": "user", "content": content}
    assert prompts.assistant(content) == {"role": "assistant", "content": content}
