"""Finetune one agent on one shard: TRL SFTTrainer, loss on assistant turns only.

`finetune.method: lora` (default) trains a PEFT LoRA adapter; `full` trains every weight (the paper's
setting) and saves a complete model directory, with DeepSpeed ZeRO-3 across the job's GPUs (launched
with torchrun, see `launch_command`) and without DeepSpeed on the CPU.

The conversation is tokenised with the model's own chat template (the one used at inference) and
masked with `maft.chat.assistant_mask`, so exactly the assistant turns carry loss for any template.
An agent continues from its previous-iteration adapter unless `restart_from_base` is set. An
empty shard gives a copy of the previous agent (a zero-initialised LoRA when that is the base).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
import torch

from maft.artifacts import atomic_path, read_parquet
from maft.chat import assistant_mask
from maft.generation import check_model_dir, load_base_model, load_tokenizer, resolve_device
from maft.selection import SHARD_COLUMNS

log = logging.getLogger(__name__)
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
# ZeRO-3 for full finetuning on GPUs; "auto" values are filled in from the training arguments.
DEEPSPEED_CONFIG = Path(__file__).resolve().parents[2] / "config" / "deepspeed" / "zero3.json"


def tokenize_shard(tokenizer, shard: pd.DataFrame, max_length: int):
    from datasets import Dataset

    rows = {"input_ids": [], "assistant_masks": []}
    for i, messages in enumerate(shard["messages"]):
        try:
            conv = json.loads(messages)
        except json.JSONDecodeError as err:
            raise ValueError(f"shard row {i}: messages is not valid JSON ({err})") from err
        ids, mask = assistant_mask(tokenizer, conv)
        rows["input_ids"].append(ids[:max_length])
        rows["assistant_masks"].append(mask[:max_length])
    return Dataset.from_dict(rows)


def lora_config(cfg: dict):
    from peft import LoraConfig

    return LoraConfig(r=cfg["lora_r"], lora_alpha=cfg["lora_alpha"], lora_dropout=cfg["lora_dropout"],
                      target_modules=cfg["target_modules"], bias="none", task_type="CAUSAL_LM")


def build_agent(base: str, init: str | None, cfg: dict, trust_remote_code: bool):
    """LoRA: the base with a fresh or the previous adapter. Full: all weights of the base or the
    previous full checkpoint, left on the CPU (the trainer, or DeepSpeed ZeRO-3, places them)."""
    if init:
        check_model_dir(init, tokenizer=False)
    if is_full(cfg):
        from transformers import AutoModelForCausalLM

        check_model_dir(init or base)
        return AutoModelForCausalLM.from_pretrained(init or base, dtype=torch.float32,
                                                    trust_remote_code=trust_remote_code)
    from peft import PeftModel, get_peft_model

    model = load_base_model(base, cfg.get("device", "auto"), "float32", trust_remote_code)
    if init:
        return PeftModel.from_pretrained(model, init, is_trainable=True)
    return get_peft_model(model, lora_config(cfg))


def is_full(cfg: dict) -> bool:
    return cfg.get("method", "lora") == "full"


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def uses_deepspeed(cfg: dict) -> bool:
    """Full finetuning on GPUs shards weights, gradients and optimizer state with ZeRO-3; the CPU
    (the toy, the tests) trains without DeepSpeed, which cannot train there."""
    return is_full(cfg) and resolve_device(cfg.get("device", "auto")).startswith("cuda")


def launch_processes(cfg: dict, requested_gpus: int, cuda_count: int, environ=os.environ) -> int:
    """How many processes torchrun must start for this finetune; 0: train in this process."""
    if not is_full(cfg) or cfg.get("device", "auto") == "cpu" or cuda_count == 0 or "LOCAL_RANK" in environ:
        return 0
    return max(1, min(requested_gpus, cuda_count))


def launch_command(script: str, argv: list[str], processes: int) -> list[str]:
    """Re-run the finetune script under torchrun, one process per GPU (DeepSpeed joins them)."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}",
            script, *argv]


def finetune(shard_path: str, base: str, out_dir: str, cfg: dict, seed: int, init_adapter: str | None = None,
             scratch: str | None = None, trust_remote_code: bool = False, chat_template: str | None = None,
             provenance: dict | None = None) -> dict:
    """Train one agent; `init_adapter` is the previous agent (an adapter, or a full checkpoint)."""
    t0 = time.time()
    shard = read_parquet(shard_path, SHARD_COLUMNS, "shard")
    tokenizer = load_tokenizer(base, trust_remote_code, chat_template)
    tokenizer.padding_side = "right"
    info = {"examples": len(shard), "kinds": shard["kind"].value_counts().to_dict(),
            "init": init_adapter or "base", "seed": seed, "method": cfg.get("method", "lora"),
            "job": job_fingerprint(shard_path, base, init_adapter, cfg, seed)}
    work = Path(scratch) if scratch else Path(".") / ".maft-scratch"
    resume = None
    if len(shard) and cfg.get("checkpoint_steps", 0) > 0:
        resume = resume_point(work, info["job"], clean=is_main_process())
    if resume:
        log.info("resuming from checkpoint %s", resume)
        info["resumed_from"] = Path(resume).name
    args = training_args(cfg, seed, work) if len(shard) else None  # before the model: ZeRO-3 partitions it
    torch.manual_seed(seed)
    model = build_agent(base, init_adapter, cfg, trust_remote_code)
    trainer = None
    if len(shard) == 0:
        log.warning("shard %s is empty: the agent is a copy of its previous weights (%s), not trained",
                    shard_path, init_adapter or "base model" + ("" if is_full(cfg) else ": zero-initialised LoRA"))
    else:
        trainer = _train(model, tokenizer, tokenize_shard(tokenizer, shard, cfg["max_length"]), args, resume, info)
    info["trained"] = trainer is not None
    info["seconds"] = time.time() - t0
    files = {"train_metrics.json": info, "provenance.json": {**(provenance or {}), "training": info}}
    save_agent(model, trainer, tokenizer, out_dir, is_full(cfg), work / "final", files)
    if scratch and is_main_process():
        shutil.rmtree(work, ignore_errors=True)  # the agent is saved; trainer state is no longer needed
    return info


def save_agent(model, trainer, tokenizer, out_dir: str, full: bool, staging: Path, files: dict) -> None:
    """LoRA: the adapter. Full: a complete model directory with its tokenizer, loadable by itself.

    Under DeepSpeed every rank takes part in saving (ZeRO-3 gathers the sharded weights); only the
    main process renames the result onto out_dir, atomically.
    """
    if full and trainer is not None:
        if is_main_process():
            shutil.rmtree(staging, ignore_errors=True)  # left by a job killed while saving
        trainer.save_model(str(staging))
    if not is_main_process():
        return
    with atomic_path(out_dir) as tmp:
        if full and trainer is not None:
            shutil.move(str(staging), str(tmp))
        else:
            model.save_pretrained(tmp)
        if full:
            tokenizer.save_pretrained(tmp)
        for name, obj in files.items():
            (tmp / name).write_text(json.dumps(obj, indent=2, sort_keys=True, default=str))


def training_args(cfg: dict, seed: int, work: Path):
    from trl import SFTConfig

    on_gpu = resolve_device(cfg.get("device", "auto")).startswith("cuda")
    return SFTConfig(
        output_dir=str(work), num_train_epochs=cfg["epochs"], per_device_train_batch_size=cfg["batch_size"],
        gradient_accumulation_steps=cfg["grad_accum"], learning_rate=cfg["lr"],
        lr_scheduler_type=cfg["scheduler"], weight_decay=0.0,
        warmup_steps=cfg["warmup_ratio"],  # transformers 5: a float below 1 is a ratio of all steps
        max_length=cfg["max_length"], seed=seed, data_seed=seed, logging_steps=5, report_to=[],
        bf16=on_gpu and cfg.get("bf16", True),
        gradient_checkpointing=on_gpu and is_full(cfg),  # the paper's setting; LoRA fits without it
        deepspeed=str(DEEPSPEED_CONFIG) if uses_deepspeed(cfg) else None,
        save_strategy="steps" if cfg.get("checkpoint_steps", 0) > 0 else "no",
        save_steps=max(1, cfg.get("checkpoint_steps", 0)), save_total_limit=1,
        use_cpu=not on_gpu, dataloader_num_workers=0, disable_tqdm=False,
        # batches of similar lengths: a pooled shard mixes short generator and long critic examples
        train_sampling_strategy="group_by_length" if cfg.get("group_by_length", True) else "random",
    )


def _train(model, tokenizer, dataset, args, resume: str | None, info: dict):
    from trl import SFTTrainer

    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    result = trainer.train(resume_from_checkpoint=resume)
    info["train_loss"] = result.training_loss
    info["steps"] = result.global_step
    info["log"] = [h for h in trainer.state.log_history if "loss" in h]
    return trainer


TRAINER_STATE = "trainer_state.json"  # transformers writes it last: a checkpoint without it is partial
JOB_STAMP = "job.json"


def job_fingerprint(shard_path: str, base: str, init: str | None, cfg: dict, seed: int) -> str:
    """What a checkpoint in scratch must have been trained on to be resumed: shard bytes and settings."""
    from maft.artifacts import digest

    shard_sha = hashlib.sha256(Path(shard_path).read_bytes()).hexdigest()
    return digest({"shard": shard_sha, "base": base, "init": init, "finetune": cfg, "seed": seed})


def resume_point(scratch: Path, fingerprint: str, clean: bool = True) -> str | None:
    """The newest complete checkpoint that this very job left in `scratch`, else None.

    A checkpoint cut short by a kill (no trainer_state.json) is removed; checkpoints of another job
    (a changed shard or config) are stale and removed with the whole folder, never resumed from.
    """
    stamp = scratch / JOB_STAMP
    if clean:  # other ranks of a DeepSpeed job only read what the main process left
        if scratch.exists() and (not stamp.exists() or stamp.read_text() != fingerprint):
            shutil.rmtree(scratch)
        scratch.mkdir(parents=True, exist_ok=True)
        stamp.write_text(fingerprint)
    complete = []
    for ckpt in scratch.glob("checkpoint-*"):
        if (ckpt / TRAINER_STATE).exists():
            complete.append(ckpt)
        elif clean:
            log.warning("removing partial checkpoint %s (the job was killed while saving it)", ckpt)
            shutil.rmtree(ckpt)
    if not complete:
        return None
    return str(max(complete, key=lambda c: int(c.name.split("-")[-1])))
