"""Run the multiagent debate of one method's agents on one split."""

from maft import cli
from maft.artifacts import provenance, read_parquet, write_parquet
from maft.debate import DebateSpec, Seat, run_debate
from maft.generation import Sampling, make_backend
from maft.problems import PROBLEM_COLUMNS, validate_problems

p = cli.parser(__doc__)
p.add_argument("--problems", required=True)
p.add_argument("--base", required=True, help="base model: a local directory or a hub id")
p.add_argument("--generators", nargs="+", required=True, help="per agent: an adapter directory or 'base'")
p.add_argument("--critics", nargs="+", required=True, help="per agent: an adapter directory or 'base'")
p.add_argument("--out", required=True)
args = p.parse_args()
cli.setup(args)
P = args.params
problems = validate_problems(read_parquet(args.problems, PROBLEM_COLUMNS, "problems"), args.problems)
dirs = sorted({d for d in args.generators + args.critics if d != "base"})
adapters = {f"agent{i}": d for i, d in enumerate(dirs)}
name_of = {d: n for n, d in adapters.items()}


def seat(d: str) -> Seat:
    return Seat(None, "base") if d == "base" else Seat(name_of[d], d)


m = P["method"]
backend = make_backend(args.base, adapters, P)
own = Sampling(**{**P["sampling"], **m["sampling"]}) if m.get("sampling") else None
spec = DebateSpec([seat(d) for d in args.generators], [seat(d) for d in args.critics], m["rounds"],
                  summarize=m["summary"], max_others=P["debate"]["max_others"], answer_kind=P["answer"],
                  sampling=own, agent_ids=m.get("agent_ids", False))
transcript = run_debate(backend, problems, spec, (P["seed"], P["iteration"], P["split"]))
write_parquet(transcript, args.out, provenance(P, generation_dtype=backend.dtype))
