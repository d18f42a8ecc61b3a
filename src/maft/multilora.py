"""Vectorised multi-LoRA: one batch, one base model, a different LoRA adapter on every row.

PEFT routes a mixed batch (`adapter_names`) by slicing the rows of each adapter out of the input of
every LoRA layer, running that adapter on them and scattering the result back: a handful of small
ops per adapter per layer, which on a CPU costs 2.5x the base model's own forward (measured, benchmarks/RESULTS.md).
Here each target Linear holds every adapter's A and B matrices concatenated,

    A_all = [A_1; ...; A_K]  (sum r_k x in)        B_all = [B_1 ... B_K]  (out x sum r_k)

and a row's output is  base(x) + ((x A_all^T) * m) B_all^T,  where the mask m zeroes the rank
columns of every adapter but the row's own and carries its scale (alpha / r). Two matmuls and one
multiply per layer whatever the mix of adapters; a row with no adapter has an all-zero mask. Only
the columns of adapters that some row of the batch uses take part (a debate loads 2N agents, and
each round uses N of them); the others would only add zeros.

Only plain LoRA on Linear layers is handled (what `finetune` writes); `supports()` says whether a
saved adapter is, and the backend falls back to PEFT for anything else (DoRA, biases, embeddings,
per-module alphas, modules_to_save).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

PREFIX = "base_model.model."
FLAGS_OFF = ("use_dora", "fan_in_fan_out", "lora_bias", "modules_to_save", "layer_replication",
             "trainable_token_indices", "target_parameters", "alpha_pattern", "alora_invocation_tokens")


def read_adapter(path: str | Path) -> tuple[dict, dict[str, tuple[torch.Tensor, torch.Tensor]]] | None:
    """(adapter_config, {module name: (A, B)}) of a saved PEFT LoRA adapter; None if it is not in
    safetensors (an old .bin adapter: PEFT reads those)."""
    from safetensors.torch import load_file

    path = Path(path)
    if not (path / "adapter_model.safetensors").exists():
        return None
    config = json.loads((path / "adapter_config.json").read_text())
    weights = load_file(str(path / "adapter_model.safetensors"))
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in weights.items():
        module, _, kind = key.removeprefix(PREFIX).rpartition(".lora_")
        pairs.setdefault(module, {})[kind] = value
    return config, {m: (p.get("A.weight"), p.get("B.weight")) for m, p in pairs.items()}


Adapter = tuple[dict, dict[str, tuple[torch.Tensor, torch.Tensor]]]


def unsupported(adapter: Adapter, model: nn.Module) -> str | None:
    """Why a read adapter cannot run vectorised on `model` (None: it can)."""
    config, layers = adapter
    if config.get("peft_type") != "LORA":
        return f"peft_type {config.get('peft_type')}"
    for flag in FLAGS_OFF:
        if config.get(flag):
            return f"{flag} is set"
    if config.get("bias", "none") != "none":
        return f"bias {config['bias']}"
    modules = dict(model.named_modules())
    for name, (a, b) in layers.items():
        if a is None or b is None:
            return f"{name} has weights other than lora_A/lora_B"
        if not isinstance(modules.get(name), nn.Linear):
            return f"{name} is not a Linear layer of the base model"
    return None


class MultiLoRALinear(nn.Module):
    """A base Linear plus K adapters, each row of the batch using the one its mask selects."""

    def __init__(self, base: nn.Linear, adapters: list[tuple[torch.Tensor, torch.Tensor, float] | None]):
        super().__init__()
        self.base = base
        present = [(k, a) for k, a in enumerate(adapters, start=1) if a is not None]
        ref = base.weight
        self.register_buffer("lora_a", torch.cat([a for _, (a, _, _) in present]).to(ref), persistent=False)
        self.register_buffer("lora_b", torch.cat([b for _, (_, b, _) in present], dim=1).to(ref), persistent=False)
        # the adapter index and scale of every rank column; index 0 is "no adapter"
        self.register_buffer("column_adapter", torch.cat(
            [torch.full((a.shape[0],), k) for k, (a, _, _) in present]).to(ref.device), persistent=False)
        self.register_buffer("column_scale", torch.cat(
            [torch.full((a.shape[0],), s) for _, (a, _, s) in present]).to(ref), persistent=False)
        # set by MultiLoRA.rows: the rank columns of the adapters the batch uses, and their mask
        self.mask: torch.Tensor | None = None  # (batch or 1, 1, active r)
        self.active_a: torch.Tensor | None = None
        self.active_b: torch.Tensor | None = None

    def route(self, idx: torch.Tensor) -> None:
        """Route row i to adapter idx[i] (0: none). Only the columns of adapters some row uses take
        part: a round of 3 generators among 6 loaded agents costs 3 adapters' rank, not 6."""
        idx = idx.to(self.column_adapter.device)
        used = torch.isin(self.column_adapter, idx)
        if not bool(used.any()):
            self.mask = None
            return
        cols = None if bool(used.all()) else used.nonzero().squeeze(-1)
        adapter = self.column_adapter if cols is None else self.column_adapter[cols]
        scale = self.column_scale if cols is None else self.column_scale[cols]
        self.active_a = self.lora_a if cols is None else self.lora_a[cols]
        self.active_b = self.lora_b if cols is None else self.lora_b[:, cols]
        if bool((idx == idx[0]).all()):  # one adapter for every row: a broadcast mask
            self.mask = scale[None, None, :]
        else:
            self.mask = ((idx[:, None] == adapter[None, :]) * scale)[:, None, :]

    def clear(self) -> None:
        self.mask = self.active_a = self.active_b = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.base(x)
        if self.mask is None:
            return y
        return y + ((x @ self.active_a.T) * self.mask) @ self.active_b.T


class MultiLoRA:
    """Install named adapters on a base model's Linear layers; `rows(names)` routes a batch."""

    def __init__(self, model: nn.Module, adapters: dict[str, Adapter]):
        self.model = model
        self.index = {name: k for k, name in enumerate(adapters, start=1)}
        per_module: dict[str, list] = {}
        for k, (config, layers) in enumerate(adapters.values()):
            for module, (a, b) in layers.items():
                r = a.shape[0]
                scale = config["lora_alpha"] / (math.sqrt(r) if config.get("use_rslora") else r)
                per_module.setdefault(module, [None] * len(adapters))[k] = (a, b, scale)
        self.layers: list[MultiLoRALinear] = []
        for module, entries in per_module.items():
            parent_name, _, child = module.rpartition(".")
            parent = model.get_submodule(parent_name)
            layer = MultiLoRALinear(getattr(parent, child), entries)
            setattr(parent, child, layer)
            self.layers.append(layer)

    def rows(self, names: list[str | None]):
        """Context: row i of the next forward calls uses adapter names[i] (None: the base model)."""
        return _Rows(self, names)


class _Rows:
    def __init__(self, owner: MultiLoRA, names: list[str | None]):
        unknown = sorted({n for n in names if n is not None and n not in owner.index})
        if unknown:
            raise KeyError(f"adapters {unknown} were not loaded")
        self.owner = owner
        self.idx = torch.tensor([owner.index.get(n, 0) if n is not None else 0 for n in names])

    def __enter__(self):
        if bool((self.idx > 0).any()):  # all-base batches skip the adapters entirely
            for layer in self.owner.layers:
                layer.route(self.idx)
        return self.owner.model

    def __exit__(self, *exc):
        for layer in self.owner.layers:
            layer.clear()
        return False
