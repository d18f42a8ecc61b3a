"""Shared plumbing of the scripts/ entry points: JSON parameters, threads, logging."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--params", required=True, type=json.loads,
                   help="the job's parameters as JSON (written by rules/common.smk)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    return p


def setup(args) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    threads = max(1, args.threads)
    # Jobs that only read and write tables never import torch (2 s of a 3-s job); for those that
    # import it later, OpenMP reads the variable when torch first starts.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    logging.getLogger("maft").info("params: %s", json.dumps(args.params, sort_keys=True))
