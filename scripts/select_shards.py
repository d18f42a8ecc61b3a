"""Build every agent's finetuning shard of one iteration from the previous iteration's train debate."""

from pathlib import Path

from maft import cli
from maft.artifacts import provenance, read_parquet, write_parquet
from maft.debate import RATIONALE_COLUMNS, TRANSCRIPT_COLUMNS
from maft.selection import SelectionSpec, per_agent_shards, pooled_per_agent_shard, pooled_shard, star_shard

p = cli.parser(__doc__)
p.add_argument("--transcript", required=True)
p.add_argument("--rationales", nargs="*", default=[], help="STaR: rationalisations of the wrong answers")
p.add_argument("--outputs", nargs="+", required=True, help="shard paths .../{role}-{agent}.parquet")
args = p.parse_args()
cli.setup(args)
P = args.params
transcript = read_parquet(args.transcript, TRANSCRIPT_COLUMNS, "transcript")
spec = SelectionSpec(kind=P["answer"], tie_break=P["tie_break"], critic_mix=P["critic_mix"], w=P["w"],
                     seed=P["seed"])
if P.get("train") == "star":  # the one method that reads gold answers while training
    rationales = read_parquet(args.rationales[0], RATIONALE_COLUMNS, "rationales")
    shards = {("generator", 0): star_shard(transcript, rationales, P["answer"])}
elif P.get("train") == "pooled" and P.get("agent_ids"):  # unique ID: maft's data for one ID-conditioned model
    shards = {("generator", 0): pooled_per_agent_shard(transcript, spec)}
elif P.get("train") == "pooled":  # one model on every agent's answers that match the vote
    shards = {("generator", 0): pooled_shard(transcript, spec)}
else:
    shards = per_agent_shards(transcript, spec, critics="critic" in P["roles"])
for path in args.outputs:
    role, agent = Path(path).stem.rsplit("-", 1)
    df = shards[(role, int(agent))]
    write_parquet(df, path, provenance(P, examples=len(df), kinds=df["kind"].value_counts().to_dict()))
