"""Pretrain the embedded toy base model and save it like a hub model; or reuse the shipped toy that
this very pretraining made (maft.toy.shipped)."""

import json
import logging
import shutil

import pandas as pd

from maft import cli
from maft.artifacts import atomic_path, provenance
from maft.problems import max_operand, parse_arithmetic_id
from maft.toy.model import pretrain, quick_eval
from maft.toy.shipped import find_shipped, pretraining_key

p = cli.parser(__doc__)
p.add_argument("--exclude", nargs="*", default=[], help="problem files the toy must never see")
p.add_argument("--out", required=True)
args = p.parse_args()
cli.setup(args)
log = logging.getLogger("maft")
toy = args.params["toy"]
held_out_ids = {pid for f in args.exclude for pid in pd.read_parquet(f)["problem_id"]}
key = pretraining_key(toy, held_out_ids)
shipped, made = find_shipped(toy.get("shipped"), key)
with atomic_path(args.out) as tmp:
    if shipped is not None:
        shutil.copytree(shipped, tmp, ignore=shutil.ignore_patterns("provenance.json"))
        info = made["pretraining"]
        extra = {"shipped_from": str(shipped), "pretrained_by": made.get("code_version")}
        log.info("reusing the shipped toy %s: pretrained by %s in %.0f s; %s", shipped, extra["pretrained_by"],
                 info["seconds"], info["eval"])
    else:
        held_out = {parse_arithmetic_id(pid) for pid in held_out_ids}
        info = pretrain(tmp, toy, held_out)
        info["eval"] = quick_eval(tmp, toy.get("eval_problems", 100), held_out, max_operand=max_operand(toy))
        extra = {}
        log.info("toy base model: %s", info["eval"])
    (tmp / "provenance.json").write_text(
        json.dumps(provenance(args.params, pretraining=info, pretraining_key=key, **extra), indent=2))
