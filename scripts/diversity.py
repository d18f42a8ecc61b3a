"""Diversity metrics of one method's test debate at one iteration."""

import numpy as np

from maft import cli
from maft.artifacts import provenance, read_parquet, write_json
from maft.debate import TRANSCRIPT_COLUMNS
from maft.voting import consensus

p = cli.parser(__doc__)
p.add_argument("--transcript", required=True)
p.add_argument("--base", required=True)
p.add_argument("--agents", nargs="+", required=True, help="final-round weights per agent: adapter dir or 'base'")
p.add_argument("--out", required=True)
args = p.parse_args()
cli.setup(args)
P, D = args.params, args.params["diversity"]
transcript = read_parquet(args.transcript, TRANSCRIPT_COLUMNS, "transcript")
ids = sorted(transcript["problem_id"].unique())
keep = ids if D["problems"] is None else list(np.random.default_rng(P["seed"]).permutation(ids)[: D["problems"]])
sample = transcript[transcript["problem_id"].isin(keep)]

result = {"problems": len(keep), "consensus": consensus(transcript, P["answer"], P["tie_break"], P["seed"]),
          "embedder": D["embedder"]}
if len(args.agents) == 1:
    # One agent: one response per problem, no pair to compare and no other agent to score it, so
    # dissimilarity is 0 by definition and no model needs loading.
    result["embedding_dissimilarity"] = 0.0
else:
    from maft.diversity import (AgentScorer, ModelScorer, embedding_dissimilarity, hidden_state_embedder,
                                likelihood_metrics)
    from maft.generation import load_base_model, load_tokenizer, split_agents, with_row_adapters

    tokenizer = load_tokenizer(args.base, P["model"]["trust_remote_code"], P["model"]["chat_template"])
    model = load_base_model(args.base, P["generation"]["device"], "float32", P["model"]["trust_remote_code"])
    dirs = sorted({d for d in args.agents if d != "base"})
    name = {d: f"a{i}" for i, d in enumerate(dirs)}
    lora, full = split_agents({name[d]: d for d in dirs})  # full: agents that are complete checkpoints
    model = with_row_adapters(model, lora)  # vectorised multi-LoRA where it applies
    adapters = [None if d == "base" else name[d] for d in args.agents]
    if D["embedder"] == "base":
        embed = hidden_state_embedder(model, tokenizer)
    else:
        from maft.diversity import encoder_embedder

        embed = encoder_embedder(D["embedder"])
    result["embedding_dissimilarity"] = embedding_dissimilarity(sample, embed)
    own = {n: ModelScorer(load_base_model(d, P["generation"]["device"], "float32", P["model"]["trust_remote_code"]),
                          tokenizer) for n, d in full.items()}
    result.update(likelihood_metrics(sample, AgentScorer(ModelScorer(model, tokenizer), own), adapters))
write_json({**result, "provenance": provenance(P)}, args.out)
