"""The one prompt builder: every chat message the debate sends (and the toy learns from) is made here.

Templates follow the official code verbatim (paper-spec section 3.1), typos included, so that runs
are comparable with the paper. Arithmetic and GSM reuse the MATH templates with \\boxed{} answers
(paper-spec section 3.2 recommendation); the template family is a config choice recorded with each run.
"""

from __future__ import annotations

from collections.abc import Sequence

GENERATOR = (
    "Can you solve the following math problem? {question} Provide a bullet point summary of your "
    "reasoning. Your final answer should be a single answer, in the form \\boxed{{answer}}, at the "
    "end of your response."
)
SUMMARY_HEAD = "Here are a list of opinions from different agents: "
SUMMARY_ITEM = "\n\n One agent response: ```{}```"
SUMMARY_TAIL = (
    "\n\n Write a summary of the different opinions from each of the individual agent and explain "
    "the reasoning in each solution."
)
CRITIC_WITH_SUMMARY = (
    "Here is a summary of solutions from several other agents: {summary}"
    "\n\n Examine each these solutions as additional advice, can solve {question} and give your "
    "updated answer? Explain your reasoning. \n Your final answer should be be in the form "
    "\\boxed{{answer}} given at the end of your response."
)
CONCAT_HEAD = "Here is are solution from other agents: "
CONCAT_ITEM = "\n\n One agent response: {}"
CONCAT_TAIL = (
    "\n\n Using each response as additional advice, can you give an updated bullet by bullet answer "
    "to {question}? Your final answer should be be in the form \\boxed{{answer}} given at the end of "
    "your response."
)
SELF_CHECK = (
    "Can you double check that your answer is correct? Please reiterate your answer, with your "
    "final answer a single answer of the form \\boxed{answer} at the end of your response."
)
# STaR rationalization: the gold answer is given as a hint (Zelikman et al. 2022).
HINT = " (Hint: the correct answer is {reference}.)"


def user(content: str) -> dict:
    return {"role": "user", "content": content}


def assistant(content: str) -> dict:
    return {"role": "assistant", "content": content}


def generator_prompt(question: str, hint: str | None = None) -> str:
    text = GENERATOR.format(question=question)
    return text + HINT.format(reference=hint) if hint is not None else text


def summary_request(other_responses: Sequence[str]) -> str:
    """Ask the summarizer to condense the other agents' responses (one single-turn message)."""
    return SUMMARY_HEAD + "".join(SUMMARY_ITEM.format(r) for r in other_responses) + SUMMARY_TAIL


def critic_prompt(question: str, other_responses: Sequence[str], summary: str | None) -> str:
    """The user turn of a critic round.

    With a summary: the paper's method. Without one (summary=None): the 'w/o summary' ablation, the
    other agents' raw responses concatenated. No other agents (N=1): the self-check prompt.
    """
    if summary is not None:
        return CRITIC_WITH_SUMMARY.format(summary=summary, question=question)
    if not other_responses:
        return SELF_CHECK
    return (
        CONCAT_HEAD
        + "".join(CONCAT_ITEM.format(r) for r in other_responses)
        + CONCAT_TAIL.format(question=question)
    )
