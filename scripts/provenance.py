"""Print how an artifact was made: its job's parameters and their digest, code and package versions.

    python scripts/provenance.py results/toy/toy/arithmetic/maft/iter1/debate-test.parquet
    python scripts/provenance.py results/toy/toy/arithmetic/maft/iter1/agents/critic-0
"""

import argparse
import json
import sys

from maft.artifacts import read_meta

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("artifact", nargs="+", help="a parquet file, a scores.json, or an adapter/model directory")
args = p.parse_args()
for path in args.artifact:
    try:
        meta = read_meta(path)
    except (OSError, ValueError) as err:
        sys.exit(f"{path}: no readable provenance ({err})")
    print(json.dumps({"artifact": path, **meta}, indent=2, sort_keys=True, default=str))
