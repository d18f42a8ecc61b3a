"""STaR rationalization: re-ask the wrongly answered train problems with the gold answer as a hint."""

from maft import cli
from maft.artifacts import provenance, read_parquet, write_parquet
from maft.debate import TRANSCRIPT_COLUMNS, Seat, rationalize
from maft.generation import make_backend

p = cli.parser(__doc__)
p.add_argument("--transcript", required=True)
p.add_argument("--base", required=True)
p.add_argument("--generator", required=True, help="the model's adapter directory, or 'base'")
p.add_argument("--out", required=True)
args = p.parse_args()
cli.setup(args)
P = args.params
transcript = read_parquet(args.transcript, TRANSCRIPT_COLUMNS, "transcript")
adapters = {} if args.generator == "base" else {"agent0": args.generator}
backend = make_backend(args.base, adapters, P)
seat = Seat(None, "base") if args.generator == "base" else Seat("agent0", args.generator)
rationales = rationalize(backend, transcript, seat, (P["seed"], P["iteration"], "rationale"), P["answer"])
write_parquet(rationales, args.out, provenance(P, rationalized=len(rationales), generation_dtype=backend.dtype))
