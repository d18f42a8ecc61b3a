"""The one prompt builder: every chat message the debate sends (and the toy learns from) is made here.

Templates follow the official code verbatim (paper-spec section 3.1), typos included, so that runs
are comparable with the paper. Arithmetic and GSM reuse the MATH templates with \\boxed{} answers
(paper-spec section 3.2 recommendation); the template family is a config choice recorded with each run.
MMLU uses Du et al. (2023)'s multiple-choice prompt with (X) answers; its critic turns keep the MATH
critic wording with the answer format swapped to (X), so that the summary machinery is the same for
every dataset. `template_for(answer_kind)` names the family an answer kind needs.
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
# MMLU (Du et al. 2023, mmlu/gen_mmlu.py; paper-spec section 3.2). The question carries its choices,
# written by mmlu_question(): '{question}: A) {A}, B) {B}, C) {C}, D) {D}'.
MMLU_QUESTION = "{question}: A) {A}, B) {B}, C) {C}, D) {D}"
MMLU_GENERATOR = (
    "Can you answer the following question as accurately as possible? {question} Explain your answer, "
    "putting the answer in the form (X) at the end of your response."
)
MMLU_CRITIC_WITH_SUMMARY = (
    "Here is a summary of solutions from several other agents: {summary}"
    "\n\n Examine each these solutions as additional advice, can solve {question} and give your "
    "updated answer? Explain your reasoning. \n Your final answer should be be in the form (X) given at "
    "the end of your response."
)
MMLU_CONCAT_TAIL = (
    "\n\n Using each response as additional advice, can you give an updated bullet by bullet answer "
    "to {question}? Your final answer should be be in the form (X) given at the end of your response."
)
# Du et al.'s MMLU self-check message (N = 1).
MMLU_SELF_CHECK = (
    "Can you double check that your answer is correct. Put your final answer in the form (X) at the end "
    "of your response."
)
TEMPLATES = ("math", "mmlu")
# Unique-ID baseline (paper App. E.2): "we feed a unique ID token to each agent, corresponding to a
# generation or critic agent". The token's form is not published: plain text, so no model needs new
# embeddings, at the start of each of the agent's user turns.
AGENT_ID = "[{role} agent {n}] "
# STaR rationalization: the gold answer is given as a hint (Zelikman et al. 2022).
HINT = " (Hint: the correct answer is {reference}.)"


def user(content: str) -> dict:
    return {"role": "user", "content": content}


def assistant(content: str) -> dict:
    return {"role": "assistant", "content": content}


def _check_template(template: str) -> None:
    if template not in TEMPLATES:
        raise ValueError(f"unknown prompt template {template!r} (expected one of {', '.join(TEMPLATES)})")


def template_for(answer_kind: str) -> str:
    """The prompt family whose answer format an answer kind parses: (X) letters -> mmlu, else \\boxed{} -> math."""
    return "mmlu" if answer_kind == "letter" else "math"


def mmlu_question(question: str, choices: Sequence[str]) -> str:
    """An MMLU question with its four choices, as Du et al. put it into the prompt."""
    if len(choices) != 4:
        raise ValueError(f"an MMLU question needs 4 choices, got {len(choices)}")
    a, b, c, d = (str(x) for x in choices)
    return MMLU_QUESTION.format(question=str(question).strip(), A=a, B=b, C=c, D=d)


def with_agent_id(content: str, role: str, agent: int) -> str:
    """A user turn of agent `agent` (0-based) in role generator | critic, prefixed with its ID."""
    if role not in ("generator", "critic"):
        raise ValueError(f"unknown role {role!r} (expected generator or critic)")
    return AGENT_ID.format(role=role, n=agent + 1) + content


def generator_prompt(question: str, hint: str | None = None, template: str = "math") -> str:
    _check_template(template)
    text = (MMLU_GENERATOR if template == "mmlu" else GENERATOR).format(question=question)
    return text + HINT.format(reference=hint) if hint is not None else text


def summary_request(other_responses: Sequence[str]) -> str:
    """Ask the summarizer to condense the other agents' responses (one single-turn message)."""
    return SUMMARY_HEAD + "".join(SUMMARY_ITEM.format(r) for r in other_responses) + SUMMARY_TAIL


def critic_prompt(question: str, other_responses: Sequence[str], summary: str | None,
                  template: str = "math") -> str:
    """The user turn of a critic round.

    With a summary: the paper's method. Without one (summary=None): the 'w/o summary' ablation, the
    other agents' raw responses concatenated. No other agents (N=1): the self-check prompt.
    """
    _check_template(template)
    mmlu = template == "mmlu"
    if summary is not None:
        return (MMLU_CRITIC_WITH_SUMMARY if mmlu else CRITIC_WITH_SUMMARY).format(summary=summary, question=question)
    if not other_responses:
        return MMLU_SELF_CHECK if mmlu else SELF_CHECK
    return (
        CONCAT_HEAD
        + "".join(CONCAT_ITEM.format(r) for r in other_responses)
        + (MMLU_CONCAT_TAIL if mmlu else CONCAT_TAIL).format(question=question)
    )
