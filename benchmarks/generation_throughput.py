"""Debate generation throughput: the pipeline's batched multi-adapter path vs a per-sample loop.

All paths run the same toy base model, the same N LoRA adapters and the same round-0 debate
prompts, side by side in one process: the pipeline's batches with the vectorised multi-LoRA
(`maft.multilora`, the default), the same batches through PEFT's `adapter_names`, and the official
code's pattern, one `generate` call per (agent, question) switching the active adapter each time.
Prints new tokens per second of each and the ratios to the per-sample loop.

    python benchmarks/generation_throughput.py --base results/toy/base/toy
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch

from maft import prompts
from maft.generation import Request, Sampling, TransformersBackend, load_base_model
from maft.problems import arithmetic_splits


VECTORISED, PEFT, LOOP = ("batched, vectorised multi-LoRA", "batched, PEFT adapter_names",
                          "per-sample generate (official pattern)")


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
    p.add_argument("--repeats", type=int, default=3, help="timed runs of each path; the median is reported")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "auto"],
                   help="of every path (float32: the figures the README compares across days)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    questions = list(arithmetic_splits(args.problems, 1, seed=123)["train"]["question"])
    sampling = Sampling(1.0, 0.9, args.max_new_tokens)
    with tempfile.TemporaryDirectory() as tmp:
        adapters = make_adapters(args.base, args.agents, tmp)
        names = list(adapters)

        def requests(qs):
            return [Request([prompts.user(prompts.generator_prompt(q))], seed=1000 * i + n, adapter=names[n])
                    for i, q in enumerate(qs) for n in range(args.agents)]

        batched_reqs, loop_reqs = requests(questions), requests(questions[: args.loop_problems])
        backends = {label: TransformersBackend(args.base, adapters, sampling, args.batch_size, "cpu", args.dtype,
                                               vectorised=vectorised)
                    for label, vectorised in ((VECTORISED, True), (PEFT, False))}
        tok = backends[PEFT].tokenizer
        peft_model = backends[PEFT].model  # the official pattern switches this model's active adapter

        def loop(reqs) -> int:
            new_tokens = 0
            with torch.no_grad():
                for r in reqs:
                    peft_model.set_adapter(r.adapter)
                    ids = tok.apply_chat_template(r.messages, add_generation_prompt=True, return_tensors="pt",
                                                  return_dict=True)
                    torch.manual_seed(r.seed)
                    out = peft_model.generate(**ids, do_sample=True, temperature=1.0, top_p=0.9,
                                              max_new_tokens=args.max_new_tokens, pad_token_id=tok.pad_token_id)
                    new_tokens += out.shape[1] - ids["input_ids"].shape[1]
            return new_tokens

        def batched(label):
            def run(reqs) -> int:
                texts = backends[label].generate(reqs, desc=label)
                return sum(len(tok(t, add_special_tokens=False)["input_ids"]) + 1 for t in texts)  # + end of turn
            return run

        paths = {VECTORISED: (batched(VECTORISED), batched_reqs), PEFT: (batched(PEFT), batched_reqs),
                 LOOP: (loop, loop_reqs)}
        for run, reqs in paths.values():  # warm-up: first calls pay for allocations and thread start-up
            run(reqs[: 2 * args.agents])
        times: dict[str, list[float]] = {label: [] for label in paths}
        tokens: dict[str, int] = {}
        for _ in range(args.repeats):  # interleaved, so that drifts of the machine hit every path alike
            for label, (run, reqs) in paths.items():
                t0 = time.perf_counter()
                tokens[label] = run(reqs)
                times[label].append(time.perf_counter() - t0)
    rates = {label: (len(paths[label][1]), tokens[label], statistics.median(times[label])) for label in paths}
    loop_rate = tokens[LOOP] / rates[LOOP][2]
    print(f"model: {args.base}  agents: {args.agents}  threads: {args.threads}  max_new_tokens: {args.max_new_tokens}"
          f"  batch: {args.batch_size}  median of {args.repeats} runs")
    for label, (n, new_tokens, seconds) in rates.items():
        rate = new_tokens / seconds
        print(f"{label:40s}: {n:5d} requests, {new_tokens:7d} new tokens, {seconds:7.1f} s, {rate:8.0f} tokens/s, "
              f"{rate / loop_rate:5.1f}x the per-sample loop")


if __name__ == "__main__":
    main()
