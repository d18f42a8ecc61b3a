"""Score a test debate: accuracy of the final-round vote (unparsed counted wrong)."""

from maft import cli
from maft.artifacts import provenance, read_parquet, write_json
from maft.debate import TRANSCRIPT_COLUMNS
from maft.scoring import score

p = cli.parser(__doc__)
p.add_argument("--transcript", required=True)
p.add_argument("--out", required=True)
args = p.parse_args()
cli.setup(args)
P = args.params
transcript = read_parquet(args.transcript, TRANSCRIPT_COLUMNS, "transcript")
result = score(transcript, P["answer"], P["tie_break"], P["seed"])
write_json({**result, "provenance": provenance(P)}, args.out)
