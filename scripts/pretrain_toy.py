"""Pretrain the embedded toy base model and save it like a hub model."""

import json
import logging

import pandas as pd

from maft import cli
from maft.artifacts import atomic_path, provenance
from maft.problems import max_operand, parse_arithmetic_id
from maft.toy.model import pretrain, quick_eval

p = cli.parser(__doc__)
p.add_argument("--exclude", nargs="*", default=[], help="problem files the toy must never see")
p.add_argument("--out", required=True)
args = p.parse_args()
cli.setup(args)
held_out = {parse_arithmetic_id(pid) for f in args.exclude for pid in pd.read_parquet(f)["problem_id"]}
with atomic_path(args.out) as tmp:
    info = pretrain(tmp, args.params["toy"], held_out)
    toy = args.params["toy"]
    info["eval"] = quick_eval(tmp, toy.get("eval_problems", 100), held_out, max_operand=max_operand(toy))
    logging.getLogger("maft").info("toy base model: %s", info["eval"])
    (tmp / "provenance.json").write_text(json.dumps(provenance(args.params, pretraining=info), indent=2))
