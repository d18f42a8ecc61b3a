"""The finetune's batches: with `finetune.group_by_length` a shard that mixes short generator and long
critic examples (a pooled shard) is batched by length, so less of each batch is padding, and every
example is still seen once an epoch."""

import json

import numpy as np
import pandas as pd
import pytest
from transformers import AutoTokenizer

from maft.finetune import build_agent, tokenize_shard, training_args
from maft.toy.teacher import chat_example
from toyfactory import finetune_cfg, toy_base


def mixed_shard(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    kinds = ["solve" if i % 2 else "critic_concat" for i in range(n)]  # about 60 and 300 tokens
    return pd.DataFrame({"messages": [json.dumps(chat_example(k, rng, 0.0, 0.0, set())) for k in kinds]})


def padding_share(grouped: bool, base: str, tmp_path) -> tuple[float, list[int], list[int]]:
    """Padding share of one epoch's batches, the real lengths of the rows they held, and the shard's."""
    from trl import SFTTrainer

    tok = AutoTokenizer.from_pretrained(base)
    tok.padding_side = "right"
    data = tokenize_shard(tok, mixed_shard(96), 1024)
    cfg = finetune_cfg(batch_size=8, max_length=1024, group_by_length=grouped)
    trainer = SFTTrainer(model=build_agent(base, None, cfg, False), args=training_args(cfg, 0, tmp_path),
                         train_dataset=data, processing_class=tok)
    real = padded = 0
    seen = []
    for batch in trainer.get_train_dataloader():
        real += int(batch["attention_mask"].sum())
        padded += batch["attention_mask"].numel()
        seen += batch["attention_mask"].sum(-1).tolist()
    return 1 - real / padded, sorted(seen), sorted(len(ids) for ids in data["input_ids"])


@pytest.mark.slow
def test_length_grouped_batches_pad_less_and_see_every_example(tmp_path):
    base = toy_base(tmp_path / "base")
    grouped, seen_grouped, shard = padding_share(True, base, tmp_path / "g")
    uniform, seen_uniform, _ = padding_share(False, base, tmp_path / "u")
    assert len(shard) == 96
    assert seen_grouped == seen_uniform == shard, "an epoch must hold every example once"
    assert uniform > 0.3, f"a mixed shard batched at random should pad heavily (padding share {uniform:.2f})"
    assert grouped < uniform / 2, f"grouped batches pad {grouped:.2f}, random ones {uniform:.2f}"
