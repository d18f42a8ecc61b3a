"""Build and pretrain the toy base model, then save it like any hub model (save_pretrained).

Small Llama (nanoGPT-sized loop), a byte-level BPE tokenizer trained here with digits split one by
one, and a ChatML-style chat template. Everything later loads it with AutoModel/AutoTokenizer.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from maft.problems import PAPER_MAX_OPERAND, max_operand
from maft.toy import teacher

log = logging.getLogger(__name__)

SPECIAL = ["<|pad|>", "<|im_start|>", "<|im_end|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['role'] == 'assistant' %}{% generation %}{{ m['content'] }}<|im_end|>{% endgeneration %}"
    "{% else %}{{ m['content'] }}<|im_end|>{% endif %}\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
KINDS = ("solve", "critic", "critic_concat", "summarize", "drill")


def build_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    # Digits are split one per token; other text may merge across spaces, so the fixed phrases of
    # the paper's prompt templates become a few tokens and the toy's contexts stay short. Newlines
    # stay single tokens: no merge may cross the boundary between a chat header and its content,
    # or inference prompts would tokenize differently from training conversations.
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex("\n"), "isolated"),
         pre_tokenizers.Digits(individual_digits=True),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False, max_token_length=48,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>", padding_side="left",
        chat_template=CHAT_TEMPLATE, model_max_length=1024,
    )


def sample_conversation(kind: str, rng, cfg: dict, exclude, n_others: int = 2) -> list[dict]:
    return teacher.chat_example(kind, rng, cfg["noise"], cfg["critic_noise"], exclude, n_others,
                                max_operand(cfg), cfg.get("critic", "recheck"), cfg.get("id_rate", 0.0),
                                cfg.get("subtraction", "whole"), cfg.get("noise_step"))


def encode_chats(tokenizer, conversations: list[list[dict]]) -> list[tuple[list[int], list[int]]]:
    """(input_ids, loss mask) of each conversation in the toy's ChatML: what `maft.chat.assistant_mask`
    gives (tested), from one tokenizer call over the messages' contents instead of a template render
    and a tokenization of every prefix (that was most of a pretraining step's batch building).

    Exact for the toy's tokenizer: its special tokens are split out first and a newline is a pre-token
    of its own, so a rendered conversation's tokens are its pieces' tokens end to end. (The template's
    newline after a turn is not rendered: transformers compiles chat templates with trim_blocks.)"""
    start, end = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    roles = sorted({m["role"] for c in conversations for m in c})
    header = dict(zip(roles, tokenizer([r + "\n" for r in roles], add_special_tokens=False)["input_ids"]))
    contents = iter(tokenizer([m["content"] for c in conversations for m in c], add_special_tokens=False)["input_ids"])
    rows = []
    for conversation in conversations:
        ids: list[int] = []
        mask: list[int] = []
        for m in conversation:
            head = [start, *header[m["role"]]]
            body = [*next(contents), end]  # an assistant turn's loss covers its content and end token
            ids += head + body
            mask += [0] * len(head) + [int(m["role"] == "assistant")] * len(body)
        rows.append((ids, mask))
    return rows


def make_batch(kind: str, rng, tokenizer, cfg: dict, exclude) -> dict[str, torch.Tensor]:
    """A right-padded batch of one kind (kinds have similar lengths, so padding stays small)."""
    # One number of other agents per batch: debates of 2..5 agents, with little padding.
    n_others = int(rng.choice([1, 2, 2, 2, 2, 3, 4]))
    if kind == "drill":
        texts = [teacher.drill_text(rng, 16, max_operand(cfg)) for _ in range(cfg["batch_size"])]
        rows = [(ids, [1] * len(ids)) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    else:
        rows = encode_chats(tokenizer, [sample_conversation(kind, rng, cfg, exclude, n_others)
                                        for _ in range(cfg["batch_size"])])
    width = max(len(ids) for ids, _ in rows)
    input_ids = np.full((len(rows), width), tokenizer.pad_token_id, dtype=np.int64)
    labels = np.full((len(rows), width), -100, dtype=np.int64)
    attn = np.zeros((len(rows), width), dtype=np.int64)
    for i, (ids, mask) in enumerate(rows):
        n = len(ids)
        input_ids[i, :n] = ids
        attn[i, :n] = 1
        labels[i, :n] = np.where(np.array(mask) == 1, ids, -100)
    return {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(attn),
            "labels": torch.from_numpy(labels)}


def build_model(tokenizer, cfg: dict):
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=cfg["hidden_size"], intermediate_size=cfg["hidden_size"] * 4,
        num_hidden_layers=cfg["layers"], num_attention_heads=cfg["heads"], num_key_value_heads=cfg["heads"],
        max_position_embeddings=1024, tie_word_embeddings=True, rope_theta=10000.0,
        bos_token_id=None, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, do_sample=True,
        temperature=1.0, top_p=0.9, max_new_tokens=96,
    )
    return model


def pretrain(out_dir: str | Path, cfg: dict, exclude: set[tuple[int, ...]] = frozenset(),
             snapshots: tuple[int, ...] = ()) -> dict:
    """Pretrain the toy per `cfg` (the config's `toy:` block) and save it to out_dir.

    `snapshots`: step counts at which a copy is also saved to out_dir/step-<k> (for studying how
    much pretraining the toy needs; the pipeline does not use them).
    """
    t0 = time.time()
    torch.manual_seed(cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])
    corpus = []
    for kind in KINDS[:-1]:
        for _ in range(200):
            corpus.append("\n".join(m["content"] for m in sample_conversation(kind, rng, cfg, exclude)))
    corpus += [teacher.drill_text(rng, 16, max_operand(cfg)) for _ in range(50)]
    tokenizer = build_tokenizer(corpus, cfg["vocab_size"])
    model = build_model(tokenizer, cfg)
    n_params = sum(p.numel() for p in model.parameters())
    log.info("toy model: %.2fM parameters, vocab %d", n_params / 1e6, len(tokenizer))

    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], betas=(0.9, 0.95), weight_decay=0.1)
    steps, warmup = cfg["steps"], max(1, cfg["steps"] // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_at)
    kinds = list(cfg["mix"].keys())
    probs = np.array([cfg["mix"][k] for k in kinds], dtype=float)
    probs /= probs.sum()
    model.train()
    losses = []
    bar = tqdm(range(steps), desc="pretrain toy", mininterval=5)
    for step in bar:
        kind = kinds[int(rng.choice(len(kinds), p=probs))]
        batch = make_batch(kind, rng, tokenizer, cfg, exclude)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg["bf16"]):
            loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.detach().item())
        if step + 1 in snapshots:
            model.save_pretrained(Path(out_dir) / f"step-{step + 1}")
            tokenizer.save_pretrained(Path(out_dir) / f"step-{step + 1}")
        if step % 50 == 0:
            bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
    model.eval()
    out_dir = Path(out_dir)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return {"parameters": n_params, "steps": steps, "final_loss": float(np.mean(losses[-50:])),
            "seconds": time.time() - t0}


def quick_eval(path: str | Path, n: int, exclude: set[tuple[int, ...]], seed: int = 12345,
               max_new_tokens: int = 96, max_operand: int = PAPER_MAX_OPERAND, top_p: float = 0.9) -> dict:
    """Accuracy of the saved toy on n fresh problems: greedy, sampled (T=1, nucleus `top_p`; 0.9 is the
    paper's), and the majority of 3 samples. Recorded with the model, so a run shows what its base
    model can do."""
    from maft import prompts
    from maft.answers import extract_answer, is_correct
    from maft.generation import Request, Sampling, TransformersBackend
    from maft.problems import arithmetic_question, arithmetic_terms, arithmetic_value
    from maft.voting import majority_vote

    rng = np.random.default_rng(seed)
    terms = []
    while len(terms) < n:
        t = arithmetic_terms(rng, max_operand)
        if t not in exclude:
            terms.append(t)
    refs = [str(arithmetic_value(t)) for t in terms]
    msgs = [[prompts.user(prompts.generator_prompt(arithmetic_question(t)))] for t in terms]
    backend = TransformersBackend(str(path), sampling=Sampling(1.0, top_p, max_new_tokens), batch_size=256)
    sampled = backend.generate([Request(m, seed + 3 * i + k) for i, m in enumerate(msgs) for k in range(3)],
                               desc="toy eval (sampled)")
    answers = [extract_answer(s) for s in sampled]
    backend.sampling = Sampling(0.0, 1.0, max_new_tokens)
    greedy = backend.generate([Request(m, 0) for m in msgs], desc="toy eval (greedy)")
    votes = [majority_vote(answers[3 * i:3 * i + 3], rng=np.random.default_rng(i)) for i in range(n)]
    return {
        "problems": n,
        "greedy_accuracy": float(np.mean([is_correct(extract_answer(g), r) for g, r in zip(greedy, refs)])),
        "sampled_accuracy": float(np.mean([is_correct(a, refs[i // 3]) for i, a in enumerate(answers)])),
        "majority_of_3_accuracy": float(np.mean([is_correct(v, r) for v, r in zip(votes, refs)])),
        "unparsed_share": float(np.mean([a is None for a in answers])),
        "dtype": backend.dtype,
    }
