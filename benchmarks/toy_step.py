"""How long one pretraining step of the toy takes with and without the padding mask.

The toy's batches are right-padded and its model is causal, so no real token can attend to a pad:
the mask changes no real token's output and no loss term, but with it transformers builds a 4-D
mask and attention cannot take its causal fast path. This times forward + backward + AdamW on the
same batches both ways, interleaved, and checks that the losses agree.

    python benchmarks/toy_step.py --steps 60 --threads 2

Prints milliseconds per step for each way, their ratio, and the largest loss difference.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch
import yaml

from maft.toy.model import KINDS, build_model, build_tokenizer, make_batch, sample_conversation


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3, help="timed passes of each way, interleaved")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    cfg = dict(yaml.safe_load(open(args.config))["toy"])
    rng = np.random.default_rng(cfg["seed"])
    corpus = ["\n".join(m["content"] for m in sample_conversation(k, rng, cfg, frozenset()))
              for k in KINDS[:-1] for _ in range(200)]
    tokenizer = build_tokenizer(corpus, cfg["vocab_size"])
    kinds = list(cfg["mix"])
    probs = np.array([cfg["mix"][k] for k in kinds], dtype=float)
    probs /= probs.sum()
    batches = [make_batch(kinds[int(rng.choice(len(kinds), p=probs))], rng, tokenizer, cfg, frozenset())
               for _ in range(args.steps)]
    torch.manual_seed(cfg["seed"])
    start = build_model(tokenizer, cfg)

    def run(masked: bool) -> tuple[float, list[float]]:
        model = copy.deepcopy(start).train()
        opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], betas=(0.9, 0.95), weight_decay=0.1)
        losses = []
        t0 = time.perf_counter()
        for b in batches:
            kw = b if masked else {"input_ids": b["input_ids"], "labels": b["labels"]}
            loss = model(**kw).loss
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
        return (time.perf_counter() - t0) / len(batches) * 1000, losses

    times = {True: [], False: []}
    losses = {}
    run(False)  # warm-up: first calls allocate and pick kernels
    for _ in range(args.repeats):
        for masked in (True, False):
            ms, losses[masked] = run(masked)
            times[masked].append(ms)
    mask_ms, free_ms = min(times[True]), min(times[False])
    print(f"{args.threads} threads, {args.steps} steps of batch {cfg['batch_size']} (best of {args.repeats})")
    print(f"with the padding mask:    {mask_ms:7.1f} ms/step")
    print(f"without (causal only):    {free_ms:7.1f} ms/step   ratio {mask_ms / free_ms:.2f}x")
    print(f"largest loss difference over the steps: {max(abs(a - b) for a, b in zip(losses[True], losses[False])):.2e}")


if __name__ == "__main__":
    main()
