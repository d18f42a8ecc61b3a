"""Finetune one agent on one shard: TRL SFTTrainer with PEFT LoRA, loss on assistant turns only.

The conversation is tokenised with the model's own chat template (the one used at inference) and
masked with `maft.chat.assistant_mask`, so exactly the assistant turns carry loss for any template.
An agent continues from its previous-iteration adapter unless `restart_from_base` is set. An
empty shard gives a copy of the previous agent (a zero-initialised LoRA when that is the base).
"""

from __future__ import annotations

import json
import logging
import shutil
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


def build_agent(base: str, init_adapter: str | None, cfg: dict, trust_remote_code: bool):
    from peft import PeftModel, get_peft_model

    model = load_base_model(base, cfg.get("device", "auto"), "float32", trust_remote_code)
    if init_adapter:
        check_model_dir(init_adapter, tokenizer=False)
        return PeftModel.from_pretrained(model, init_adapter, is_trainable=True)
    return get_peft_model(model, lora_config(cfg))


def finetune(shard_path: str, base: str, out_dir: str, cfg: dict, seed: int, init_adapter: str | None = None,
             scratch: str | None = None, trust_remote_code: bool = False, chat_template: str | None = None,
             provenance: dict | None = None) -> dict:
    t0 = time.time()
    shard = read_parquet(shard_path, SHARD_COLUMNS, "shard")
    tokenizer = load_tokenizer(base, trust_remote_code, chat_template)
    tokenizer.padding_side = "right"
    torch.manual_seed(seed)
    model = build_agent(base, init_adapter, cfg, trust_remote_code)
    info = {"examples": len(shard), "kinds": shard["kind"].value_counts().to_dict(),
            "init": init_adapter or "base", "seed": seed}
    if len(shard) == 0:
        log.warning("shard %s is empty: the agent is a copy of its previous weights (%s), not trained",
                    shard_path, init_adapter or "base model: zero-initialised LoRA")
        info["trained"] = False
    else:
        _train(model, tokenizer, tokenize_shard(tokenizer, shard, cfg["max_length"]), cfg, seed, scratch, info)
        info["trained"] = True
    info["seconds"] = time.time() - t0
    with atomic_path(out_dir) as tmp:
        model.save_pretrained(tmp)
        (tmp / "train_metrics.json").write_text(json.dumps(info, indent=2, sort_keys=True, default=str))
        (tmp / "provenance.json").write_text(json.dumps({**(provenance or {}), "training": info}, indent=2,
                                                        sort_keys=True, default=str))
    return info


def _train(model, tokenizer, dataset, cfg: dict, seed: int, scratch: str | None, info: dict) -> None:
    from trl import SFTConfig, SFTTrainer

    on_gpu = resolve_device(cfg.get("device", "auto")).startswith("cuda")
    out = Path(scratch) if scratch else Path(".") / ".maft-scratch"
    resume = cfg.get("checkpoint_steps", 0) > 0 and any(out.glob("checkpoint-*"))
    args = SFTConfig(
        output_dir=str(out), num_train_epochs=cfg["epochs"], per_device_train_batch_size=cfg["batch_size"],
        gradient_accumulation_steps=cfg["grad_accum"], learning_rate=cfg["lr"],
        lr_scheduler_type=cfg["scheduler"], weight_decay=0.0,
        warmup_steps=cfg["warmup_ratio"],  # transformers 5: a float below 1 is a ratio of all steps
        max_length=cfg["max_length"], seed=seed, data_seed=seed, logging_steps=5, report_to=[],
        bf16=on_gpu and cfg.get("bf16", True), gradient_checkpointing=False,
        save_strategy="steps" if cfg.get("checkpoint_steps", 0) > 0 else "no",
        save_steps=max(1, cfg.get("checkpoint_steps", 0)), save_total_limit=1,
        use_cpu=not on_gpu, dataloader_num_workers=0, disable_tqdm=False,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer)
    result = trainer.train(resume_from_checkpoint=True if resume else None)
    info["train_loss"] = result.training_loss
    info["steps"] = result.global_step
    info["log"] = [h for h in trainer.state.log_history if "loss" in h]
    if scratch:
        shutil.rmtree(out, ignore_errors=True)  # the adapter is saved; trainer state is no longer needed
