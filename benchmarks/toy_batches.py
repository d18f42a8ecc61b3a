"""How long the toy's pretraining spends building a batch: the piecewise encoding it uses
(`maft.toy.model.encode_chats`) against rendering the chat template and masking with
`maft.chat.assistant_mask` (what it did before), on the same conversations, interleaved.

    python benchmarks/toy_batches.py --batches 300

Prints milliseconds per batch for each path and their ratio, and checks that both give the same ids
and masks. A pretraining step of the default toy is 120-170 ms of training on 2 threads, so a batch
that takes 20 ms to build is a seventh of the step.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import yaml

from maft.chat import assistant_mask
from maft.toy.model import KINDS, build_tokenizer, encode_chats, sample_conversation


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--batches", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3, help="timed passes of each path, interleaved")
    args = p.parse_args()
    cfg = dict(yaml.safe_load(open(args.config))["toy"])
    rng = np.random.default_rng(cfg["seed"])
    corpus = ["\n".join(m["content"] for m in sample_conversation(k, rng, cfg, frozenset()))
              for k in KINDS[:-1] for _ in range(200)]
    tokenizer = build_tokenizer(corpus, cfg["vocab_size"])
    kinds = [k for k in cfg["mix"] if k != "drill"]
    probs = np.array([cfg["mix"][k] for k in kinds], dtype=float)
    probs /= probs.sum()
    batches = [[sample_conversation(kinds[int(rng.choice(len(kinds), p=probs))], rng, cfg, frozenset())
                for _ in range(cfg["batch_size"])] for _ in range(args.batches)]
    paths = {"template + assistant_mask": lambda b: [assistant_mask(tokenizer, c) for c in b],
             "piecewise (encode_chats)": lambda b: encode_chats(tokenizer, b)}
    times = {name: [] for name in paths}
    for _ in range(args.repeats):
        for name, encode in paths.items():
            t = time.perf_counter()
            out = [encode(b) for b in batches]
            times[name].append((time.perf_counter() - t) / len(batches) * 1000)
            if name.startswith("template"):
                reference = out
            elif out != reference:
                raise SystemExit("the two paths disagree")
    base = min(times["template + assistant_mask"])
    print(f"{args.batches} batches of {cfg['batch_size']} conversations (drills excluded), best of {args.repeats}:")
    for name, ts in times.items():
        print(f"  {name:28s} {min(ts):6.2f} ms/batch  ({' '.join(f'{t:.2f}' for t in ts)})  x{base / min(ts):.2f}")


if __name__ == "__main__":
    main()
