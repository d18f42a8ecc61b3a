"""Chat templating shared by training and inference: the model's own template, always.

`assistant_mask` finds the assistant turns by rendering growing prefixes of the conversation, so
it works for any template that renders a conversation as the concatenation of its turns (ChatML,
Llama-3, Mistral, Phi-3) without `{% generation %}` markers in the template.
"""

from __future__ import annotations


def render_ids(tokenizer, messages: list[dict], add_generation_prompt: bool) -> list[int]:
    out = tokenizer.apply_chat_template(
        messages, tokenize=True, add_generation_prompt=add_generation_prompt, return_dict=True
    )
    return list(out["input_ids"])


def prompt_ids(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of the prompt that asks the model for the next assistant turn."""
    return render_ids(tokenizer, messages, add_generation_prompt=True)


def render_text(tokenizer, messages: list[dict], add_generation_prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def assistant_mask(tokenizer, messages: list[dict]) -> tuple[list[int], list[int]]:
    """(input_ids, mask) where mask is 1 exactly on the tokens of assistant turns and their end token
    (not on whitespace the template puts after it).

    The prefixes are rendered as text and tokenized in one call, as `apply_chat_template` tokenizes
    (no special tokens added): the same ids as rendering each with `render_ids`, at a fraction of the
    cost (the toy's pretraining builds every batch this way)."""
    last = len(messages) - 1
    turns = [k for k, m in enumerate(messages) if m["role"] == "assistant"]
    texts = [render_text(tokenizer, messages, False)]
    for k in turns:  # where turn k starts, and where it ends (the whole conversation, for the last turn)
        texts.append(render_text(tokenizer, messages[:k], True))
        if k != last:
            texts.append(render_text(tokenizer, messages[: k + 1], False))
    encoded = iter(tokenizer(texts, add_special_tokens=False)["input_ids"])
    ids = list(next(encoded))
    mask = [0] * len(ids)
    for k in turns:
        start = len(next(encoded))
        upto = ids if k == last else list(next(encoded))
        if ids[: len(upto)] != upto:
            raise ValueError(
                "the chat template does not render this conversation as a concatenation of its turns; "
                "cannot locate assistant turn %d for loss masking" % k
            )
        end = len(upto)
        # Separators a template adds after a turn's end token (Phi-3's "\n") are not the turn.
        while end > start and tokenizer.decode(ids[end - 1:end]).strip() == "":
            end -= 1
        for i in range(start, end):
            mask[i] = 1
    return ids, mask
