"""Write the train and test problems of one dataset."""

from maft import cli
from maft.artifacts import provenance, write_parquet
from maft.problems import arithmetic_splits, validate_problems

p = cli.parser(__doc__)
p.add_argument("--train", required=True)
p.add_argument("--test", required=True)
args = p.parse_args()
cli.setup(args)
d = args.params["dataset"]
frames = arithmetic_splits(d["n_train"], d["n_test"], args.params["seed"])
for split, path in (("train", args.train), ("test", args.test)):
    write_parquet(validate_problems(frames[split], path), path, provenance(args.params, split=split))
