"""One debate in float32 and in bfloat16, run alternately: seconds, the ratio, and what each scored.

The figures behind `generation.dtype: auto` choosing bfloat16 on CPUs with AMX. Each run is one
debate of the study's shape (N agents x 2 rounds, summaries) on fresh problems, with the base model
or with a finetuned iteration's agents (their generator-<n> and critic-<n> adapters):

    python benchmarks/debate_dtype.py --base results/toy/base/toy
    python benchmarks/debate_dtype.py --agents results/toy/toy/arithmetic/maft/iter1/agents
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from maft.debate import DebateSpec, Seat, run_debate
from maft.generation import Sampling, TransformersBackend, fast_cpu_bfloat16
from maft.problems import arithmetic_splits
from toy_pretraining import debate_summary  # this folder's: the same figures for every debate benchmark


def debate_once(base: str, agents: str | None, n_agents: int, problems, dtype: str) -> dict:
    if agents:
        adapters = {f"{role}{i}": str(Path(agents) / f"{role}-{i}") for role in ("generator", "critic")
                    for i in range(n_agents)}
        gens = [Seat(f"generator{i}", adapters[f"generator{i}"]) for i in range(n_agents)]
        crits = [Seat(f"critic{i}", adapters[f"critic{i}"]) for i in range(n_agents)]
    else:
        adapters, gens = {}, [Seat(None, "base")] * n_agents
        crits = gens
    backend = TransformersBackend(base, adapters, Sampling(1.0, 0.9, 96), batch_size=256, device="cpu", dtype=dtype)
    t0 = time.perf_counter()
    transcript = run_debate(backend, problems, DebateSpec(gens, crits, 2, summarize=True), (0, 1, "test"))
    return {"seconds": round(time.perf_counter() - t0, 1), **debate_summary(transcript)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="results/toy/base/toy")
    p.add_argument("--agents", help="a folder of generator-<n>/critic-<n> adapters (default: the base model)")
    p.add_argument("--n-agents", type=int, default=3)
    p.add_argument("--problems", type=int, default=500)
    p.add_argument("--max-operand", type=int, default=9)
    p.add_argument("--repeats", type=int, default=2, help="runs of each dtype, alternating")
    p.add_argument("--threads", type=int, default=1, help="1: as a study's debate job runs")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    problems = arithmetic_splits(10, args.problems, seed=99, max_operand=args.max_operand)["test"]
    runs: dict[str, list[dict]] = {"float32": [], "bfloat16": []}
    for _ in range(args.repeats):
        for dtype in runs:
            runs[dtype].append(debate_once(args.base, args.agents, args.n_agents, problems, dtype))
            print(dtype, json.dumps(runs[dtype][-1]), flush=True)
    fp32, bf16 = ([r["seconds"] for r in runs[d]] for d in runs)
    print(f"float32 {fp32} s, bfloat16 {bf16} s: bfloat16 takes {min(bf16) / min(fp32):.2f}x the time "
          f"(best of {args.repeats}); bfloat16 matmuls in hardware here: {fast_cpu_bfloat16()}")


if __name__ == "__main__":
    main()
