"""STaR rationalization: re-ask the wrongly answered train problems with the gold answer as a hint."""

from maft import cli
from maft.artifacts import provenance, read_parquet, write_parquet
from maft.debate import TRANSCRIPT_COLUMNS, Seat, rationalize
from maft.generation import Sampling, TransformersBackend

p = cli.parser(__doc__)
p.add_argument("--transcript", required=True)
p.add_argument("--base", required=True)
p.add_argument("--generator", required=True, help="the model's adapter directory, or 'base'")
p.add_argument("--out", required=True)
args = p.parse_args()
cli.setup(args)
P, G = args.params, args.params["generation"]
transcript = read_parquet(args.transcript, TRANSCRIPT_COLUMNS, "transcript")
adapters = {} if args.generator == "base" else {"agent0": args.generator}
backend = TransformersBackend(args.base, adapters, Sampling(**P["sampling"]), G["batch_size"], G["device"], G["dtype"],
                              P["model"]["trust_remote_code"], P["model"]["chat_template"])
seat = Seat(None, "base") if args.generator == "base" else Seat("agent0", args.generator)
rationales = rationalize(backend, transcript, seat, (P["seed"], P["iteration"], "rationale"), P["answer"])
write_parquet(rationales, args.out, provenance(P, rationalized=len(rationales)))
