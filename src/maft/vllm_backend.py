"""vLLM generation backend (GPU): one engine per debate job, every agent a LoRARequest.

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
from maft.generation import Request, Sampling, end_of_turn_ids

log = logging.getLogger(__name__)


def lora_rank(path: str) -> int:
    return int(json.loads((Path(path) / "adapter_config.json").read_text())["r"])


class VLLMBackend:
    def __init__(self, base: str, adapters: dict[str, str] | None = None, sampling: Sampling = Sampling(),
                 tensor_parallel_size: int | None = None, dtype: str = "auto", trust_remote_code: bool = False,
                 chat_template: str | None = None, gpu_memory_utilization: float = 0.9, max_model_len: int | None = None):
        from vllm import LLM
        from vllm.lora.request import LoRARequest

        if tensor_parallel_size is None:
            import torch

            tensor_parallel_size = max(1, torch.cuda.device_count())
        self.adapters = dict(adapters or {})
        ranks = [lora_rank(p) for p in self.adapters.values()]
        kwargs = {}
        if self.adapters:
            # every agent's adapter can be resident at once: max_loras >= number of adapters (2N)
            kwargs = {"enable_lora": True, "max_loras": len(self.adapters), "max_lora_rank": max(ranks)}
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        self.llm = LLM(model=base, tensor_parallel_size=tensor_parallel_size, dtype=dtype,
                       trust_remote_code=trust_remote_code, gpu_memory_utilization=gpu_memory_utilization,
                       seed=0, **kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        if chat_template:
            self.tokenizer.chat_template = chat_template
        self.lora = {name: LoRARequest(name, i + 1, path) for i, (name, path) in enumerate(self.adapters.items())}
        self.sampling = sampling
        self.stop_ids = end_of_turn_ids(self.tokenizer, None)

    def params(self, r: Request):
        from vllm import SamplingParams

        s = self.sampling
        return SamplingParams(temperature=s.temperature, top_p=s.top_p, max_tokens=s.max_new_tokens, seed=r.seed,
                              stop_token_ids=self.stop_ids, skip_special_tokens=True)

    def generate(self, requests: list[Request], desc: str = "generate") -> list[str]:
        for r in requests:
            if r.adapter is not None and r.adapter not in self.lora:
                raise KeyError(f"request names adapter {r.adapter!r}, which was not loaded")
        prompts = [{"prompt_token_ids": prompt_ids(self.tokenizer, r.messages)} for r in requests]
        loras = [self.lora[r.adapter] if r.adapter else None for r in requests]
        log.info("%s: %d requests through vLLM", desc, len(requests))
        outputs = self.llm.generate(prompts, [self.params(r) for r in requests], use_tqdm=True,
                                    lora_request=loras if self.lora else None)
        return [o.outputs[0].text for o in outputs]
