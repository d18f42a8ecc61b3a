"""Copy another method's artifact that this method would compute identically, and record where it
came from: an iteration-0 debate (the same base-model debate, seeds included), a later test debate
with the same agents in the seats it keeps (plan.trained_debate_source), the diversity figures computed
from such a debate, or an iteration-1 agent trained on the same shard (plan.shared_agents)."""

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path

import pandas as pd

from maft.artifacts import atomic_path, read_meta, read_parquet, write_json, write_parquet
from maft.debate import TRANSCRIPT_COLUMNS

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--source", required=True)
p.add_argument("--out", required=True)
p.add_argument("--rounds", type=int, default=None, help="a debate: keep its rounds 0..R-1 (a one-round method's copy)")
p.add_argument("--agents", type=int, default=None, help="a debate: keep its agents 0..N-1")
args = p.parse_args()
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("maft")
if Path(args.source).is_dir():  # an agent: adapter or full checkpoint, with its provenance
    with atomic_path(args.out) as tmp:
        shutil.copytree(args.source, tmp)
        record = tmp / "provenance.json"
        try:
            meta = json.loads(record.read_text()) if record.exists() else {}
        except json.JSONDecodeError as err:
            sys.exit(f"{args.source}/provenance.json: not valid JSON ({err})")
        record.write_text(json.dumps({**meta, "shared_from": args.source}, indent=2, sort_keys=True))
    log.info("%s: agent shared from %s", args.out, args.source)
elif args.source.endswith(".json"):
    try:
        with open(args.source) as f:
            figures = json.load(f)
    except json.JSONDecodeError as err:
        sys.exit(f"{args.source}: not valid JSON ({err})")
    write_json({**figures, "shared_from": args.source}, args.out)
    log.info("%s: shared from %s", args.out, args.source)
else:
    transcript = read_parquet(args.source, TRANSCRIPT_COLUMNS, "transcript")
    meta = {**read_meta(args.source), "shared_from": args.source}
    keep = transcript["round"].notna()
    for column, n in (("round", args.rounds), ("agent", args.agents)):
        if n is not None:
            have = int(transcript[column].max()) + 1
            if n > have:
                sys.exit(f"{args.source}: has {have} {column}s, the copy asks for {n}")
            keep &= transcript[column] < n
            meta[f"shared_{column}s"] = n
    transcript = transcript[keep].reset_index(drop=True)
    for column in transcript.columns[transcript.isna().all()]:  # e.g. round 0's summaries: as a job writes
        transcript[column] = pd.Series([None] * len(transcript), dtype=object)  # them (no values, no text type)
    write_parquet(transcript, args.out, meta)
    log.info("%s: %d rows shared from %s", args.out, len(transcript), args.source)
