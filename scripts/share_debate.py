"""Copy another method's iteration-0 debate (the same base-model debate, seeds included), or the
diversity figures computed from it, and record where it came from."""

import argparse
import json
import logging
import sys

from maft.artifacts import read_meta, read_parquet, write_json, write_parquet
from maft.debate import TRANSCRIPT_COLUMNS

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--source", required=True)
p.add_argument("--out", required=True)
args = p.parse_args()
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
if args.source.endswith(".json"):
    try:
        with open(args.source) as f:
            figures = json.load(f)
    except json.JSONDecodeError as err:
        sys.exit(f"{args.source}: not valid JSON ({err})")
    write_json({**figures, "shared_from": args.source}, args.out)
    logging.getLogger("maft").info("%s: shared from %s", args.out, args.source)
else:
    transcript = read_parquet(args.source, TRANSCRIPT_COLUMNS, "transcript")
    write_parquet(transcript, args.out, {**read_meta(args.source), "shared_from": args.source})
    logging.getLogger("maft").info("%s: %d rows shared from %s", args.out, len(transcript), args.source)
