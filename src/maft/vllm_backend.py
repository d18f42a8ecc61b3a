"""vLLM generation backend (GPU): one engine for the base with every LoRA agent as a LoRARequest, and
one engine per full-checkpoint agent (finetune.method full), run one after another.

Same interface and the same requests as `TransformersBackend`: the prompts are rendered here with
the model's own chat template (so both backends send identical token ids), each request carries its
own seed, and the summarizer's requests go to the base model (no LoRARequest). vLLM is not part of
the CPU environment; install it in the GPU environment (envs/maft-cuda.yaml).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from maft.chat import prompt_ids
from maft.generation import Request, Sampling, end_of_turn_ids, generate_by_model, split_agents

log = logging.getLogger(__name__)


def lora_rank(path: str) -> int:
    return int(json.loads((Path(path) / "adapter_config.json").read_text())["r"])


class VLLMBackend:
    """The base model in one engine with every LoRA agent as a LoRARequest; agents that are full
    checkpoints get an engine each. Engines run one at a time (each takes the GPU memory it is
    given), so a debate round of full-checkpoint agents builds their engines in turn."""

    def __init__(self, base: str, adapters: dict[str, str] | None = None, sampling: Sampling = Sampling(),
                 tensor_parallel_size: int | None = None, dtype: str = "auto", trust_remote_code: bool = False,
                 chat_template: str | None = None, gpu_memory_utilization: float = 0.9, max_model_len: int | None = None):
        from vllm.lora.request import LoRARequest

        if tensor_parallel_size is None:
            import torch

            tensor_parallel_size = max(1, torch.cuda.device_count())
        self.base = base
        self.adapters, self.full = split_agents(dict(adapters or {}))
        self.dtype = dtype  # vLLM resolves "auto" from the model's config
        self.engine_args = {"tensor_parallel_size": tensor_parallel_size, "dtype": dtype,
                            "trust_remote_code": trust_remote_code,
                            "gpu_memory_utilization": gpu_memory_utilization, "seed": 0}
        if max_model_len:
            self.engine_args["max_model_len"] = max_model_len
        self.engine_model = None
        self.llm = self.engine(base)
        self.tokenizer = self.llm.get_tokenizer()
        if chat_template:
            self.tokenizer.chat_template = chat_template
        self.lora = {name: LoRARequest(name, i + 1, path) for i, (name, path) in enumerate(self.adapters.items())}
        self.sampling = sampling
        self.stop_ids = end_of_turn_ids(self.tokenizer, None)

    def engine(self, model: str):
        """The engine serving `model` (the base with LoRA, or one full checkpoint); the previous
        engine is released first."""
        if model == self.engine_model:
            return self.llm
        from vllm import LLM

        self.release()
        kwargs = dict(self.engine_args)
        if model == self.base and self.adapters:
            # every agent's adapter can be resident at once: max_loras >= number of adapters (2N)
            kwargs.update(enable_lora=True, max_loras=len(self.adapters),
                          max_lora_rank=max(lora_rank(p) for p in self.adapters.values()))
        log.info("starting a vLLM engine for %s", model)
        self.llm, self.engine_model = LLM(model=model, **kwargs), model
        return self.llm

    def release(self) -> None:
        if self.engine_model is None:
            return
        self.llm, self.engine_model = None, None
        import gc

        gc.collect()
        try:
            import torch
            from vllm.distributed.parallel_state import cleanup_dist_env_and_memory

            cleanup_dist_env_and_memory()
            torch.cuda.empty_cache()
        except ImportError:  # an older vLLM, or no CUDA torch
            pass

    def params(self, r: Request):
        from vllm import SamplingParams

        s = r.sampling or self.sampling
        return SamplingParams(temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_new_tokens, seed=r.seed,
                              stop_token_ids=self.stop_ids, skip_special_tokens=True)

    def generate(self, requests: list[Request], desc: str = "generate") -> list[str]:
        # the running engine's group first (no restart), then the others' engines in turn
        return generate_by_model(requests, set(self.lora) | set(self.full),
                                 lambda r: self.full.get(r.adapter, self.base),
                                 lambda model, reqs: self._generate_on(model, reqs, desc), first=self.engine_model)

    def _generate_on(self, model: str, requests: list[Request], desc: str) -> list[str]:
        llm = self.engine(model)
        prompts = [{"prompt_token_ids": prompt_ids(self.tokenizer, r.messages)} for r in requests]
        use_lora = model == self.base and bool(self.lora)
        loras = [self.lora[r.adapter] if r.adapter else None for r in requests] if use_lora else None
        log.info("%s: %d requests through vLLM (%s)", desc, len(requests), model)
        outputs = llm.generate(prompts, [self.params(r) for r in requests], use_tqdm=True, lora_request=loras)
        return [o.outputs[0].text for o in outputs]
