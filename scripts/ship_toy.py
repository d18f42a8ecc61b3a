"""Ship a toy base model that a study pretrained (results/{run}/base/{model}) under resources/toy/, where
every study whose pretraining would be the same job reuses it (maft.toy.shipped).

    snakemake --cores all results/toy/base/toy && python scripts/ship_toy.py results/toy/base/toy
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

from maft.artifacts import atomic_path
from maft.toy.shipped import code_digest

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("model", help="a toy base model directory made by the toy_base_model rule")
p.add_argument("--name", default="default", help="its folder under --folder")
p.add_argument("--folder", default="resources/toy")
args = p.parse_args()
model = Path(args.model)
prov_file = model / "provenance.json"
if not prov_file.exists():
    sys.exit(f"{model} has no provenance.json: not a toy made by the toy_base_model rule")
prov = json.loads(prov_file.read_text())
key = prov.get("pretraining_key")
if key is None:
    sys.exit(f"{prov_file} has no pretraining_key: pretrained before maft.toy.shipped; pretrain it again")
if "shipped_from" in prov:
    sys.exit(f"{model} is a copy of the shipped toy {prov['shipped_from']}, not a pretraining")
if key["code"] != code_digest():
    sys.exit(f"{model} was pretrained by other toy code ({key['code']}, now {code_digest()}); pretrain it again")
with atomic_path(Path(args.folder) / args.name) as tmp:
    shutil.copytree(model, tmp, ignore=shutil.ignore_patterns(".snakemake_timestamp"))
print(f"shipped {model} as {Path(args.folder) / args.name}: {prov['pretraining']['eval']}")
