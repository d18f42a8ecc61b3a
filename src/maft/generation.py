"""Generation backends behind one interface: `Backend.generate(requests) -> list[str]`.

`TransformersBackend` (CPU or GPU) keeps one base model in memory and every LoRA agent as an adapter
on it. It batches each agent's requests apart, so a batch runs one adapter's rank columns only; the
sampler itself takes batches that mix agents, one adapter per row ("__base__" for the base model),
through `maft.multilora` (vectorised) or, for adapters it does not handle, PEFT's `adapter_names`. Agents
that are full checkpoints run as their own models. Sampling is done here, with one RNG per request,
so a response depends on its own seed and not on which other requests shared its batch. The vLLM backend lives in `maft.vllm_backend`.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import torch
from tqdm import tqdm

from maft.chat import prompt_ids
from maft.multilora import MultiLoRA, read_adapter, unsupported
from maft.request import Request, Sampling  # noqa: F401  (re-exported: the backends' interface)

log = logging.getLogger(__name__)
BASE = "__base__"  # PEFT's name for "no adapter" in a mixed batch


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def fast_cpu_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX tiles). There bfloat16
    generation ran a debate 1.3-1.7x faster than float32 (benchmarks/RESULTS.md); elsewhere it is emulated, and slower."""
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe is not None and probe())


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    """auto: bfloat16 on a GPU, and on a CPU with hardware bfloat16 matrix units; float32 elsewhere."""
    if dtype == "auto":
        fast = device.startswith("cuda") or (device == "cpu" and fast_cpu_bfloat16())
        return torch.bfloat16 if fast else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]


def load_tokenizer(path: str, trust_remote_code: bool = False, chat_template: str | None = None):
    from transformers import AutoTokenizer

    check_model_dir(path)  # else a directory without a tokenizer fails with a misleading sentencepiece error
    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    tok.padding_side = "left"
    if chat_template:
        tok.chat_template = chat_template
    if tok.chat_template is None:
        raise ValueError(
            f"model {path!r} has no chat template; set model_definitions.<model>.chat_template in the config"
        )
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def check_model_dir(path: str, tokenizer: bool = True) -> None:
    """A local model directory must hold weights (and a tokenizer, unless it is an adapter)."""
    p = Path(path)
    if not p.is_dir():
        return  # a hub id: transformers reports unknown ids itself
    if not (list(p.glob("*.safetensors")) or list(p.glob("*.bin")) or (p / "adapter_config.json").exists()):
        raise FileNotFoundError(f"model directory {path} has no weights (*.safetensors or *.bin)")
    if tokenizer and not ((p / "tokenizer.json").exists() or (p / "tokenizer_config.json").exists()):
        raise FileNotFoundError(f"model directory {path} has no tokenizer (tokenizer.json)")


def load_base_model(path: str, device: str = "auto", dtype: str = "auto", trust_remote_code: bool = False):
    from transformers import AutoModelForCausalLM

    check_model_dir(path)
    device = resolve_device(device)
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=resolve_dtype(dtype, device), trust_remote_code=trust_remote_code
    )
    return model.to(device).eval()


def top_p_sample(logits: torch.Tensor, temperature: float, top_p: float, gens: list[torch.Generator],
                 top_k_first: int = 64) -> torch.Tensor:
    """Nucleus sampling with one generator per row (inverse-CDF on the kept, renormalised mass).

    The nucleus is looked for among the `top_k_first` most likely tokens (a partial sort) and the
    whole vocabulary is sorted only when some row's nucleus is larger: the kept set, and so the
    sample, are the same either way."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    sorted_p, order = probs.topk(min(top_k_first, probs.shape[-1]), dim=-1)
    if sorted_p.shape[-1] < probs.shape[-1] and bool((sorted_p.sum(-1) < top_p).any()):
        sorted_p, order = probs.sort(dim=-1, descending=True)
    keep = (sorted_p.cumsum(-1) - sorted_p) < top_p  # the first token is always kept
    sorted_p = sorted_p * keep
    cdf = sorted_p.cumsum(-1)
    u = torch.stack([torch.rand((), generator=g) for g in gens]).to(cdf.device) * cdf[:, -1]
    pick = torch.searchsorted(cdf, u[:, None]).clamp(max=cdf.shape[-1] - 1)
    return order.gather(-1, pick).squeeze(-1)


@contextlib.contextmanager
def adapter_rows(model, adapter_names: list[str] | None):
    """Yield a forward function that applies adapter_names[i] to row i.

    PEFT registers (and removes) the hooks that route rows to adapters on every forward call, which
    walks all modules each time; for a decoding loop they are registered once per batch instead.
    """
    hooks = getattr(model, "_enable_peft_forward_hooks", None)
    if adapter_names is None:
        yield model
    elif isinstance(getattr(model, "multilora", None), MultiLoRA):
        with model.multilora.rows([None if n == BASE else n for n in adapter_names]) as forward:
            yield forward
    elif hooks is not None:
        with hooks(adapter_names=adapter_names):
            yield model.get_base_model()
    else:  # a PEFT version without the context: pass the names with every call
        yield lambda **kw: model(**kw, adapter_names=adapter_names)


def reserved_cache(model, room: int):
    """A KV cache that writes each step's keys and values into room reserved after the prompt, or
    None (the model's own cache) for models with other than full-attention layers. The default
    cache concatenates at every step, copying the whole cache: a quarter of a CPU debate's time."""
    from transformers.cache_utils import Cache, DynamicLayer

    try:
        from transformers.cache_utils import get_layer_types_and_kwargs

        types, _ = get_layer_types_and_kwargs(model.config.get_text_config(decoder=True))
    except (ImportError, AttributeError, TypeError):
        return None
    if not types or any(t != "full_attention" for t in types):
        return None

    class ReservedLayer(DynamicLayer):
        def update(self, key_states, value_states, *args, **kwargs):
            if not self.is_initialized:
                self.device, self.length = key_states.device, 0
                b, h, n, d = key_states.shape
                self.room_k = key_states.new_empty((b, h, n + room, d))
                self.room_v = value_states.new_empty((b, h, n + room, value_states.shape[-1]))
                self.is_initialized = True
            n = key_states.shape[-2]
            if self.length + n > self.room_k.shape[-2]:
                raise RuntimeError(f"KV cache: {self.length + n} positions, room for {self.room_k.shape[-2]}")
            self.room_k[:, :, self.length:self.length + n] = key_states
            self.room_v[:, :, self.length:self.length + n] = value_states
            self.length += n
            self.keys, self.values = self.room_k[:, :, :self.length], self.room_v[:, :, :self.length]
            return self.keys, self.values

        def reorder_cache(self, beam_idx):
            if self.is_initialized:
                self.room_k = self.room_k.index_select(0, beam_idx.to(self.device))
                self.room_v = self.room_v.index_select(0, beam_idx.to(self.device))
                self.keys, self.values = self.room_k[:, :, :self.length], self.room_v[:, :, :self.length]

    return Cache(layers=[ReservedLayer() for _ in types])


def cache_argument(model) -> str:
    """The name under which `model`'s forward takes a KV cache: `cache` from transformers 5.24
    (`past_key_values` is deprecated there and goes in 5.40), `past_key_values` before and in
    models with their own code that kept it."""
    import inspect

    hf = model.get_base_model() if hasattr(model, "get_base_model") else model
    try:
        params = inspect.signature(hf.forward).parameters
    except (TypeError, ValueError):
        return "past_key_values"
    return "cache" if "cache" in params else "past_key_values"


def returned_cache(out):
    """The KV cache a forward returned, under either name."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


COMPACT_SHARE = 0.125  # drop finished rows from the batch once they are this share of it
CPU_PREFILL_CHUNK = 2048  # prompt tokens per prefill chunk on a CPU (`prefill`)


def prefill(model, ids, attn, pos, names, budget: int, tokens: int | None):
    """The prompts' forward pass: (last-position logits, KV cache with room for `budget` new tokens).

    With `tokens`, rows go through in chunks of about that many prompt tokens and their caches are
    joined: a 256-row batch of 120-token prompts holds 30k tokens' activations at once, which on a
    CPU falls out of cache and runs at ~60% of the speed of 2k-token chunks (benchmarks/RESULTS.md). Models whose
    cache is not `reserved_cache`'s run the whole batch at once."""
    n, width = ids.shape
    cache, arg = reserved_cache(model, budget), cache_argument(model)
    rows = n if tokens is None or cache is None else max(1, tokens // width)
    if rows >= n:
        with adapter_rows(model, names) as forward:
            out = forward(input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=True, logits_to_keep=1,
                          **{arg: cache})
        return out.logits[:, -1, :], returned_cache(out)
    logits, parts = [], []
    for k in range(0, n, rows):
        part = slice(k, k + rows)
        with adapter_rows(model, None if names is None else names[part]) as forward:
            out = forward(input_ids=ids[part], attention_mask=attn[part], position_ids=pos[part], use_cache=True,
                          logits_to_keep=1, **{arg: reserved_cache(model, 0)})
        logits.append(out.logits[:, -1, :])
        parts.append(returned_cache(out))
    for i, layer in enumerate(cache.layers):
        layer.update(torch.cat([p.layers[i].keys for p in parts]), torch.cat([p.layers[i].values for p in parts]))
    return torch.cat(logits), cache


@torch.no_grad()
def sample_batch(model, prompts: list[list[int]], seeds: list[int], sampling: Sampling, eos_ids: list[int],
                 pad_id: int, adapter_names: list[str] | None = None,
                 prefill_tokens: int | None = None) -> list[list[int]]:
    """Sample continuations of left-padded prompts with a KV cache; returns new token ids per row.

    Rows that have ended are dropped from the batch (and from the KV cache) once they make up an
    eighth of it, so a batch costs what its live rows cost, not what its longest answer costs. Each
    row has its own RNG, so which rows share its batch does not change what it samples.
    """
    device = next(model.parameters()).device
    n, width, budget = len(prompts), max(len(p) for p in prompts), sampling.max_new_tokens
    ids = torch.full((n, width), pad_id, dtype=torch.long)
    attn = torch.ones((n, width + budget), dtype=torch.long)  # new tokens' columns are sliced in as they come
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p)
        attn[i, :width - len(p)] = 0
    ids, attn = ids.to(device), attn.to(device)
    pos = (attn[:, :width].cumsum(-1) - 1).clamp(min=0)
    gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
    eos = torch.tensor(eos_ids, device=device)
    tokens = torch.full((n, budget), pad_id, dtype=torch.long)  # every row's new tokens, by original row
    live = torch.arange(n)  # original row of each batch row
    names, arg = adapter_names, cache_argument(model)
    logits, cache = prefill(model, ids, attn[:, :width], pos, names, budget, prefill_tokens)
    with contextlib.ExitStack() as stack:
        forward = stack.enter_context(adapter_rows(model, names))
        done = torch.zeros(n, dtype=torch.bool, device=device)
        for t in range(budget):
            nxt = top_p_sample(logits, sampling.temperature, sampling.top_p, gens)
            nxt = torch.where(done, torch.full_like(nxt, pad_id), nxt)
            tokens[live, t] = nxt.cpu()
            done |= torch.isin(nxt, eos)
            if bool(done.all()) or t + 1 == budget:
                break
            if int(done.sum()) >= max(1, COMPACT_SHARE * len(live)):
                keep = (~done).nonzero().squeeze(-1)
                cache.reorder_cache(keep)
                nxt, attn, pos, done = nxt[keep], attn[keep], pos[keep], done[keep]
                kept = keep.tolist()
                live, gens = live[keep.cpu()], [gens[i] for i in kept]
                if names is not None:  # route the remaining rows to their adapters again
                    stack.close()
                    names = [names[i] for i in kept]
                    forward = stack.enter_context(adapter_rows(model, names))
            pos = pos[:, -1:] + 1
            out = forward(input_ids=nxt[:, None], attention_mask=attn[:, :width + t + 1], position_ids=pos,
                          use_cache=True, **{arg: cache})
            logits, cache = out.logits[:, -1, :], returned_cache(out)
    result = []
    for row in tokens.tolist():
        cut = next((i for i, tok in enumerate(row) if tok in eos_ids), len(row))
        result.append(row[:cut])
    return result


END_OF_TURN = ("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>")


def end_of_turn_ids(tokenizer, model) -> list[int]:
    """Token ids that end an assistant turn: the tokenizer's and generation config's EOS, plus the
    end-of-turn tokens of common templates when the vocabulary has them (a base model given an
    instruct template, e.g. Llama-3-8B, ends turns with <|eot_id|>, not its EOS)."""
    gen_eos = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    ids = {tokenizer.eos_token_id, *(gen_eos if isinstance(gen_eos, list) else [gen_eos])}
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in END_OF_TURN if t in vocab)
    return sorted(i for i in ids if i is not None)


def is_adapter(path: str) -> bool:
    """An agent directory holds a LoRA adapter (finetune.method lora) or a full model (full)."""
    return (Path(path) / "adapter_config.json").exists()


def split_agents(agents: dict[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(LoRA adapters, full checkpoints) among named agent directories."""
    lora = {n: p for n, p in agents.items() if is_adapter(p)}
    return lora, {n: p for n, p in agents.items() if n not in lora}


def generate_by_model(requests: list[Request], known: set[str], model_of, run, first=None) -> list[str]:
    """Responses in request order, generated one group at a time: the requests that one model serves
    (`model_of(request)`) go through `run(model, requests)` together; `first`'s group runs first.
    Both backends route full-checkpoint agents this way, and the base with its adapters as one group."""
    for r in requests:
        if r.adapter is not None and r.adapter not in known:
            raise KeyError(f"request names adapter {r.adapter!r}, which was not loaded")
    groups: dict = {}
    for i, r in enumerate(requests):
        groups.setdefault(model_of(r), []).append(i)
    texts: list[str | None] = [None] * len(requests)
    for model in sorted(groups, key=lambda m: m != first):  # stable: otherwise in order of appearance
        idx = groups[model]
        for i, text in zip(idx, run(model, [requests[i] for i in idx])):
            texts[i] = text
    return texts  # type: ignore[return-value]


def with_adapters(model, adapters: dict[str, str]):
    """`model` with every named LoRA adapter loaded (PEFT), ready for per-row `adapter_names`."""
    if not adapters:
        return model
    from peft import PeftModel

    names = list(adapters)
    for name in names:
        check_model_dir(adapters[name], tokenizer=False)
    model = PeftModel.from_pretrained(model, adapters[names[0]], adapter_name=names[0])
    for name in names[1:]:
        model.load_adapter(adapters[name], adapter_name=name)
    return model.eval()


def with_row_adapters(model, adapters: dict[str, str], vectorised: bool = True):
    """`model` ready for batches that mix the named LoRA adapters row by row: vectorised
    (`maft.multilora`, installed as `model.multilora`) when every adapter is plain LoRA on Linear
    layers, else through PEFT."""
    if not adapters:
        return model
    for path in adapters.values():
        check_model_dir(path, tokenizer=False)
    read = {name: read_adapter(path) for name, path in adapters.items()} if vectorised else {}
    why = {name: "not in safetensors" if a is None else unsupported(a, model) for name, a in read.items()}
    if not vectorised or any(why.values()):
        log.info("mixed-adapter batches through PEFT (%s)", "; ".join(f"{n}: {w}" for n, w in why.items() if w)
                 or "asked for")
        return with_adapters(model, adapters)
    model.multilora = MultiLoRA(model, read)
    return model


def length_batches(rows: list, lengths: list[int], size: int) -> list[list]:
    """`rows` cut into the fewest batches of at most `size`, of equal sizes, shortest prompts first
    (similar lengths share a batch, so padding stays small)."""
    order = [rows[i] for i in sorted(range(len(rows)), key=lambda i: lengths[i])]
    k = -(-len(order) // size)
    return [order[j * len(order) // k:(j + 1) * len(order) // k] for j in range(k)]


class TransformersBackend:
    """One shared base model plus named LoRA adapters; each batch holds one agent's requests.

    A batch of one agent computes its adapter's r rank columns; a batch mixing the N agents of a
    round would compute all N·r of them for every row (masked). A round of 500 problems still fills
    its batches: each agent's 500 requests go in two of 250.

    Agents that are full checkpoints (finetune.method full) are separate models: each distinct one
    is loaded once, and its requests are batched on it alone. On a GPU only one full model is kept
    besides the base (2N models of 8B parameters do not fit together); on the CPU all stay loaded.
    """

    def __init__(self, base: str, adapters: dict[str, str] | None = None, sampling: Sampling = Sampling(),
                 batch_size: int = 128, device: str = "auto", dtype: str = "auto",
                 trust_remote_code: bool = False, chat_template: str | None = None, vectorised: bool = True,
                 prefill_tokens: int | str | None = "auto"):
        self.tokenizer = load_tokenizer(base, trust_remote_code, chat_template)
        model = load_base_model(base, device, dtype, trust_remote_code)
        self.adapters, self.full = split_agents(dict(adapters or {}))
        self.eos_ids = end_of_turn_ids(self.tokenizer, model)
        self.model = with_row_adapters(model, self.adapters, vectorised)
        self.dtype = str(model.dtype).removeprefix("torch.")  # what `auto` resolved to, for provenance
        log.info("generating on %s in %s", resolve_device(device), self.dtype)
        self.load_args = (device, dtype, trust_remote_code)
        self.loaded: dict[str, object] = {}  # full-checkpoint path -> model
        self.keep = None if resolve_device(device) == "cpu" else 1
        self.sampling = sampling
        self.batch_size = batch_size
        if prefill_tokens == "auto":  # chunks help a CPU's caches; a GPU wants the whole batch at once
            prefill_tokens = CPU_PREFILL_CHUNK if resolve_device(device) == "cpu" else None
        self.prefill_tokens = prefill_tokens

    def full_model(self, path: str):
        if path not in self.loaded:
            if self.keep is not None and len(self.loaded) >= self.keep:
                self.loaded.clear()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
            log.info("loading full-checkpoint agent %s", path)
            self.loaded[path] = load_base_model(path, *self.load_args)
        return self.loaded[path]

    def generate(self, requests: list[Request], desc: str = "generate") -> list[str]:
        # group None: the base with the LoRA adapters; each full checkpoint is a group of its own
        return generate_by_model(requests, set(self.adapters) | set(self.full), lambda r: self.full.get(r.adapter),
                                 lambda path, reqs: self._generate_on(path, reqs, desc))

    def _generate_on(self, path: str | None, requests: list[Request], desc: str) -> list[str]:
        model = self.model if path is None else self.full_model(path)
        mixed = path is None and bool(self.adapters)
        encoded = [prompt_ids(self.tokenizer, r.messages) for r in requests]
        sampling = [r.sampling or self.sampling for r in requests]
        groups: dict[tuple, list[int]] = {}  # one sampling setting and one agent per batch
        for i, r in enumerate(requests):
            groups.setdefault((sampling[i], r.adapter), []).append(i)
        batches = [b for g in groups.values() for b in length_batches(g, [len(encoded[i]) for i in g], self.batch_size)]
        texts: list[str | None] = [None] * len(requests)
        for idx in tqdm(batches, desc=desc, mininterval=5):
            names = [requests[i].adapter or BASE for i in idx] if mixed else None
            out = sample_batch(model, [encoded[i] for i in idx], [requests[i].seed for i in idx],
                               sampling[idx[0]], self.eos_ids, self.tokenizer.pad_token_id, names,
                               self.prefill_tokens)
            for i, toks in zip(idx, out):
                texts[i] = self.tokenizer.decode(toks, skip_special_tokens=True)
        return texts  # type: ignore[return-value]


def make_backend(base: str, adapters: dict[str, str], params: dict):
    """The backend a job's parameters ask for (`generation.backend`), with its sampling settings."""
    g, m = params["generation"], params["model"]
    sampling = Sampling(**params["sampling"])
    if g["backend"] == "vllm":
        from maft.vllm_backend import VLLMBackend

        return VLLMBackend(base, adapters, sampling, g.get("tensor_parallel_size"), g["dtype"],
                           m["trust_remote_code"], m["chat_template"], g.get("gpu_memory_utilization", 0.9))
    return TransformersBackend(base, adapters, sampling, g["batch_size"], g["device"], g["dtype"],
                               m["trust_remote_code"], m["chat_template"])
