"""Debate generation throughput: the pipeline's batched multi-adapter path vs a per-sample loop.

Both paths run the same toy base model, the same N LoRA adapters and the same round-0 debate
prompts, side by side in one process. The per-sample loop is the official code's pattern: one
`generate` call per (agent, question), switching the active adapter each time. Prints new tokens
per second of each and the ratio.

    python benchmarks/generation_throughput.py --base results/toy/base/toy
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from maft import prompts
from maft.generation import Request, Sampling, TransformersBackend, load_base_model
from maft.problems import arithmetic_splits


def make_adapters(base: str, n: int, root: str) -> dict[str, str]:
    """N random (non-zero) LoRA adapters: throughput does not depend on what they learned."""
    from peft import LoraConfig, get_peft_model

    out = {}
    for i in range(n):
        torch.manual_seed(i)
        model = get_peft_model(load_base_model(base, "cpu", "float32"),
                               LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", init_lora_weights=False))
        path = f"{root}/agent{i}"
        model.save_pretrained(path)
        out[f"agent{i}"] = path
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="results/toy/base/toy")
    p.add_argument("--agents", type=int, default=3)
    p.add_argument("--problems", type=int, default=200, help="problems for the batched path")
    p.add_argument("--loop-problems", type=int, default=20, help="problems for the per-sample loop")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    questions = list(arithmetic_splits(args.problems, 1, seed=123)["train"]["question"])
    sampling = Sampling(1.0, 0.9, args.max_new_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        adapters = make_adapters(args.base, args.agents, tmp)
        backend = TransformersBackend(args.base, adapters, sampling, args.batch_size, "cpu", "float32")
        tok = backend.tokenizer
        names = list(adapters)

        def requests(qs):
            return [Request([prompts.user(prompts.generator_prompt(q))], seed=1000 * i + n, adapter=names[n])
                    for i, q in enumerate(qs) for n in range(args.agents)]

        batched_reqs = requests(questions)
        t0 = time.perf_counter()
        texts = backend.generate(batched_reqs, desc="batched")
        batched_s = time.perf_counter() - t0
        batched_tokens = sum(len(tok(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts)

        model = backend.model
        loop_reqs = requests(questions[: args.loop_problems])
        loop_tokens = 0
        t0 = time.perf_counter()
        with torch.no_grad():
            for r in loop_reqs:
                model.set_adapter(r.adapter)
                ids = tok.apply_chat_template(r.messages, add_generation_prompt=True, return_tensors="pt",
                                              return_dict=True)
                torch.manual_seed(r.seed)
                out = model.generate(**ids, do_sample=True, temperature=1.0, top_p=0.9,
                                     max_new_tokens=args.max_new_tokens, pad_token_id=tok.pad_token_id)
                loop_tokens += out.shape[1] - ids["input_ids"].shape[1]
        loop_s = time.perf_counter() - t0
    b_rate, l_rate = batched_tokens / batched_s, loop_tokens / loop_s
    print(f"model: {args.base}  agents: {args.agents}  threads: {args.threads}  max_new_tokens: {args.max_new_tokens}")
    print(f"batched multi-adapter : {len(batched_reqs):5d} requests, {batched_tokens:7d} new tokens, "
          f"{batched_s:7.1f} s, {b_rate:8.0f} tokens/s")
    print(f"per-sample generate   : {len(loop_reqs):5d} requests, {loop_tokens:7d} new tokens, "
          f"{loop_s:7.1f} s, {l_rate:8.0f} tokens/s")
    print(f"ratio (batched / per-sample): {b_rate / l_rate:.1f}x")


if __name__ == "__main__":
    main()
