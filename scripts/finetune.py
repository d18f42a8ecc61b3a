"""Finetune one agent (one role of one agent at one iteration) on its shard."""

from maft import cli
from maft.artifacts import provenance
from maft.finetune import finetune

p = cli.parser(__doc__)
p.add_argument("--shard", required=True)
p.add_argument("--base", required=True)
p.add_argument("--init", default=None, help="previous-iteration adapter to continue from")
p.add_argument("--scratch", default=None, help="trainer state for resumption, outside declared outputs")
p.add_argument("--out", required=True)
args = p.parse_args()
cli.setup(args)
P = args.params
finetune(args.shard, args.base, args.out, P["finetune"], P["seed"], args.init, args.scratch,
         P["model"]["trust_remote_code"], P["model"]["chat_template"], provenance(P))
