"""Loss masking through the model's own chat template: the mask is 1 exactly on assistant turns."""

from __future__ import annotations

import numpy as np
import pytest

from maft.chat import assistant_mask, prompt_ids, render_ids
from maft.toy.model import build_tokenizer
from maft.toy.teacher import chat_example

KINDS = ("solve", "critic", "critic_concat", "summarize")

LLAMA3_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "<|start_header_id|>{{ m['role'] }}<|end_header_id|>\n\n{{ m['content'] | trim }}<|eot_id|>"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
)


# Mistral-7B-Instruct-v0.2 shape: no generation header, the answer follows [/INST] directly
MISTRAL_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'user' %}[INST] {{ m['content'] }} [/INST]"
    "{% else %}{{ m['content'] }}{{ eos_token }}{% endif %}{% endfor %}"
)
# Phi-3-mini-128k-instruct shape: <|user|> / <|assistant|> headers, <|end|> after every turn
PHI3_TEMPLATE = (
    "{% for m in messages %}{% if m['role'] == 'user' %}{{ '<|user|>\n' + m['content'] + '<|end|>\n' }}"
    "{% else %}{{ '<|assistant|>\n' + m['content'] + '<|end|>\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)


def _conversations(seed: int, n_each: int, n_others: int = 2) -> list[list[dict]]:
    rng = np.random.default_rng(seed)
    return [chat_example(k, rng, 0.4, 0.2, set(), n_others) for _ in range(n_each) for k in KINDS]


def _tokenizer():
    texts = ["\n".join(m["content"] for m in c) for c in _conversations(0, 60)]  # 240 strings
    return build_tokenizer(texts, vocab_size=400)


@pytest.fixture(scope="module")
def chatml():
    return _tokenizer()


@pytest.fixture(scope="module")
def llama3():
    tok = _tokenizer()
    tok.add_special_tokens({"bos_token": "<|begin_of_text|>",
                            "additional_special_tokens": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]})
    tok.chat_template = LLAMA3_TEMPLATE
    return tok


@pytest.fixture(scope="module")
def mistral():
    tok = _tokenizer()
    tok.add_special_tokens({"bos_token": "<s>", "eos_token": "</s>", "additional_special_tokens": ["[INST]", "[/INST]"]})
    tok.chat_template = MISTRAL_TEMPLATE
    return tok


@pytest.fixture(scope="module")
def phi3():
    tok = _tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<|user|>", "<|assistant|>", "<|end|>"]})
    tok.chat_template = PHI3_TEMPLATE
    return tok


# held-out conversations (another seed than the tokenizer's corpus), 1 to 3 other agents
CONVERSATIONS = _conversations(1, 3, 1) + _conversations(2, 3, 2) + _conversations(3, 2, 3)


def _spans(mask: list[int]) -> list[tuple[int, int]]:
    """Maximal runs of 1s as [start, end)."""
    out, start = [], None
    for i, v in enumerate(mask + [0]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            out.append((start, i))
            start = None
    return out


def _check_mask(tok, messages, end_token: str, strip: bool):
    ids, mask = assistant_mask(tok, messages)
    assert len(ids) == len(mask)
    assert set(mask) <= {0, 1}
    assert ids == render_ids(tok, messages, add_generation_prompt=False)
    assistants = [m["content"] for m in messages if m["role"] == "assistant"]
    users = [m["content"] for m in messages if m["role"] == "user"]
    spans = _spans(mask)
    # one contiguous masked span per assistant turn (turns never touch: a user turn lies between)
    assert len(spans) == len(assistants)
    for (s, e), content in zip(spans, assistants):
        text = tok.decode(ids[s:e], skip_special_tokens=False)
        assert text == (content.strip() if strip else content) + end_token
    masked_text = tok.decode([i for i, m in zip(ids, mask) if m], skip_special_tokens=False)
    unmasked_text = tok.decode([i for i, m in zip(ids, mask) if not m], skip_special_tokens=False)
    # user text is never in the loss; it is all in the unmasked part
    assert "user" not in masked_text
    for u in users:
        assert (u.strip() if strip else u) in unmasked_text
        assert u[:40] not in masked_text
    assert sum(mask) < len(mask)


@pytest.mark.parametrize("idx", range(len(CONVERSATIONS)))
def test_chatml_mask_is_exactly_the_assistant_turns(chatml, idx):
    _check_mask(chatml, CONVERSATIONS[idx], "<|im_end|>", strip=False)


def test_chatml_mask_agrees_with_template_generation_markers(chatml):
    # The toy template marks assistant content with {% generation %}: transformers' own assistant mask
    # is an independent reference for the prefix-rendering method.
    for messages in CONVERSATIONS:
        ids, mask = assistant_mask(chatml, messages)
        ref = chatml.apply_chat_template(messages, tokenize=True, return_dict=True,
                                         return_assistant_tokens_mask=True)
        assert list(ref["input_ids"]) == ids
        assert list(ref["assistant_masks"]) == mask


@pytest.mark.parametrize("idx", range(0, len(CONVERSATIONS), 3))
def test_llama3_style_template_mask(llama3, idx):
    messages = CONVERSATIONS[idx]
    ids, _ = assistant_mask(llama3, messages)
    head = llama3.decode(ids[:12], skip_special_tokens=False)
    # the Llama-3 template really is in use
    assert head.startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n")
    _check_mask(llama3, messages, "<|eot_id|>", strip=True)


@pytest.mark.parametrize("idx", range(0, len(CONVERSATIONS), 3))
@pytest.mark.parametrize("tok_name, head, end", [("mistral", "<s>[INST]", "</s>"), ("phi3", "<|user|>", "<|end|>")])
def test_mistral_and_phi3_style_template_masks(tok_name, head, end, idx, request):
    tok = request.getfixturevalue(tok_name)
    messages = CONVERSATIONS[idx]
    ids, _ = assistant_mask(tok, messages)
    assert tok.decode(ids[:len(tok(head, add_special_tokens=False)["input_ids"])], skip_special_tokens=False) == head
    _check_mask(tok, messages, end, strip=False)


@pytest.mark.parametrize("tok_name", ["chatml", "llama3", "mistral", "phi3"])
def test_prompt_ids_is_prefix_of_full_rendering(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    for messages in CONVERSATIONS:
        full = render_ids(tok, messages, add_generation_prompt=False)
        checked = 0
        for k, m in enumerate(messages):
            if m["role"] != "assistant":
                continue
            p = prompt_ids(tok, messages[:k])
            assert len(p) < len(full)
            assert full[: len(p)] == p
            # what follows the prompt is this assistant turn's content
            nxt = tok.decode(full[len(p): len(p) + 5], skip_special_tokens=False)
            assert m["content"].strip().startswith(nxt.strip()[:5])
            checked += 1
        assert checked >= 1


def test_prompt_ends_with_generation_header(chatml):
    messages = CONVERSATIONS[0][:1]
    p = prompt_ids(chatml, messages)
    no_gen = render_ids(chatml, messages, add_generation_prompt=False)
    assert p[: len(no_gen)] == no_gen
    assert chatml.decode(p[len(no_gen):], skip_special_tokens=False) == "<|im_start|>assistant\n"


def test_mask_raises_when_template_is_not_a_concatenation():
    tok = _tokenizer()
    # a template that renders the turn count up front: prefixes are not prefixes of the whole
    tok.chat_template = ("{{ messages | length }} turns\n{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
                         "{{ m['content'] }}<|im_end|>\n{% endfor %}"
                         "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    with pytest.raises(ValueError, match="concatenation"):
        assistant_mask(tok, CONVERSATIONS[1])


@pytest.mark.parametrize("critic", ["recheck", "compare", "brief", "majority", "rewrite"])
def test_toy_pretraining_encoding_equals_the_template_mask(critic):
    """The toy's pretraining encodes its conversations piecewise (`encode_chats`), which must give
    the ids and mask that rendering the template and masking with assistant_mask give."""
    from maft.toy.model import encode_chats

    tok = _tokenizer()
    rng = np.random.default_rng(7)
    conversations = [chat_example(kind, rng, 0.5, 0.1, set(), n_others, 9, critic, id_rate=0.3)
                     for kind in KINDS for n_others in (1, 2, 4) for _ in range(8)]
    assert encode_chats(tok, conversations) == [assistant_mask(tok, c) for c in conversations]
