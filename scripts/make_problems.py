"""Write the train and test problems of one dataset (arithmetic is generated; GSM8K, MATH, MMLU are loaded)."""

from pathlib import Path

from maft import cli
from maft.artifacts import provenance, write_parquet
from maft.datasets import dataset_splits
from maft.problems import validate_problems

p = cli.parser(__doc__)
p.add_argument("--train", required=True)
p.add_argument("--test", required=True)
args = p.parse_args()
cli.setup(args)
d = args.params["dataset"]
name = Path(args.train).parent.name  # results/{run}/data/{dataset}/train.parquet
frames = dataset_splits(d, args.params["seed"], name)
for split, path in (("train", args.train), ("test", args.test)):
    write_parquet(validate_problems(frames[split], path), path, provenance(args.params, split=split))
