"""How good a toy base model a pretraining setting gives: the figures behind the toy's defaults.

Pretrains the toy with the `toy:` block of a config plus overrides, then prints, on fresh problems,
its greedy, sampled (T=1, top_p=0.9) and majority-of-3 accuracy, and one debate of 3 copies of it
(2 rounds, with summaries and with concatenated answers): the mean accuracy of the agents in each
round and the final vote's. A critic round that scores below round 0 means the toy cannot use the
other agents' answers.

    python benchmarks/toy_pretraining.py --set steps=3000 --set batch_size=16
    OMP_NUM_THREADS=1 taskset -c 1 python benchmarks/toy_pretraining.py --set seed=1   # two at a time
    python benchmarks/toy_pretraining.py --model results/toy/base/toy --top-p 1.0        # a saved toy
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import yaml

from maft.debate import DebateSpec, Seat, run_debate
from maft.generation import Sampling, TransformersBackend
from maft.problems import arithmetic_splits, max_operand
from maft.scoring import score
from maft.toy.model import pretrain, quick_eval


def debate_rounds(path: str, problems: int, max_operand: int, summarize: bool, save: str | None = None,
                  top_p: float = 0.9) -> dict:
    """One debate of 3 copies of the toy at `path`; its transcript is written to `save` if given (for
    benchmarks/critic_faults.py)."""
    test = arithmetic_splits(10, problems, seed=99, max_operand=max_operand)["test"]
    backend = TransformersBackend(path, sampling=Sampling(1.0, top_p, 96), batch_size=256)
    base = Seat(None, "base")
    transcript = run_debate(backend, test, DebateSpec([base] * 3, [base] * 3, 2, summarize=summarize), (0, 0, "test"))
    if save:
        transcript.to_parquet(save)
    return debate_summary(transcript)


def debate_summary(transcript) -> dict:
    """A 2-round debate's mean agent accuracy per round, its round-0 vote (the majority baseline), its
    final vote, and what the critics did with shared and lone round-0 answers (`scoring.critic_turns`)."""
    s = score(transcript)
    return {"round0": s["rounds"]["0"]["mean_agent_accuracy"], "round1": s["rounds"]["1"]["mean_agent_accuracy"],
            "round0_vote": score(transcript[transcript["round"] == 0])["accuracy"], "vote": s["accuracy"],
            "critic_turns": s["critic_turns"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="config/config.yaml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the toy block (YAML value), e.g. steps=3000 or mix={solve: 1}")
    p.add_argument("--problems", type=int, default=300, help="fresh problems for the accuracy figures")
    p.add_argument("--debate-problems", type=int, default=200)
    p.add_argument("--top-p", type=float, default=0.9, help="nucleus of the sampled figures and debates")
    p.add_argument("--model", metavar="DIR", help="measure this saved toy instead of pretraining one")
    p.add_argument("--keep", metavar="DIR",
                   help="save the pretrained toy here, with its debates' transcripts (default: a temporary folder)")
    args = p.parse_args()
    cfg = dict(yaml.safe_load(open(args.config))["toy"])
    for item in args.set:
        key, value = item.split("=", 1)
        cfg[key] = yaml.safe_load(value)
    hi = max_operand(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or tmp
        if args.model:
            out, result = args.model, {"model": args.model}
        else:
            t0 = time.time()
            info = pretrain(out, cfg)
            result = {"overrides": args.set, "pretrain_s": round(time.time() - t0, 1), "final_loss": info["final_loss"]}
        result.update(top_p=args.top_p, **quick_eval(out, args.problems, set(), seed=777, max_operand=hi, top_p=args.top_p))
        for mode, summarize in (("summary", True), ("concat", False)):
            save = f"{args.keep}/debate-{mode}.parquet" if args.keep else None
            result[f"debate_{mode}"] = debate_rounds(out, args.debate_problems, hi, summarize, save, args.top_p)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
