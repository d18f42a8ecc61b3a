"""Tiny toy base models and shards for the finetuning tests (seconds on CPU, no pretraining)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from conftest import ROOT, env
from maft.artifacts import write_parquet
from maft.toy.model import build_model, build_tokenizer
from maft.toy.teacher import chat_example

TINY_MODEL = {"hidden_size": 32, "layers": 2, "heads": 2}


def toy_base(dest: Path, seed: int = 0) -> str:
    """An untrained toy (random weights, a real tokenizer and chat template) saved like a hub model."""
    rng = np.random.default_rng(seed)
    tok = build_tokenizer(["\n".join(m["content"] for m in chat_example(k, rng, 0.4, 0.2, set()))
                           for k in ("solve", "critic", "summarize") for _ in range(40)], 300)
    torch.manual_seed(seed)
    build_model(tok, TINY_MODEL).save_pretrained(dest)
    tok.save_pretrained(dest)
    return str(dest)


def toy_shard(path: Path, n: int, seed: int = 1) -> str:
    rng = np.random.default_rng(seed)
    rows = [{"problem_id": f"p{i}", "agent": 0, "role": "generator", "kind": "generator",
             "messages": json.dumps(chat_example("solve", rng, 0.0, 0.0, set()))} for i in range(n)]
    write_parquet(pd.DataFrame(rows), path, {})
    return str(path)


def finetune_cfg(**over) -> dict:
    cfg = {"method": "lora", "restart_from_base": False, "lora_r": 8, "lora_alpha": 16, "lora_dropout": 0.0,
           "target_modules": "all-linear", "lr": 1e-3, "epochs": 2, "batch_size": 2, "grad_accum": 1,
           "scheduler": "cosine", "warmup_ratio": 0.03, "max_length": 256, "checkpoint_steps": 0,
           "device": "cpu"}
    cfg.update(over)
    return cfg


def finetune_command(shard: str, base: str, out: Path, cfg: dict, scratch: Path | None = None,
                     init: str | None = None) -> list[str]:
    """scripts/finetune.py as the finetune rule calls it (one thread: runs are bitwise comparable)."""
    params = {"finetune": cfg, "seed": 0, "model": {"trust_remote_code": False, "chat_template": None}}
    cmd = [sys.executable, str(ROOT / "scripts/finetune.py"), "--params", json.dumps(params), "--threads", "1",
           "--shard", shard, "--base", base, "--out", str(out)]
    if scratch is not None:
        cmd += ["--scratch", str(scratch)]
    if init:
        cmd += ["--init", init]
    return cmd


def run_finetune(*args, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(finetune_command(*args, **kwargs), env=env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc
