"""Generation backends shared by the tools that sample from a model (self-distillation, GF evaluation).

Interface
---------
    from specs_verl.generation import load_backend, load_rl_requests

    requests = load_rl_requests("rl_val.parquet", instruction=load_instruction("specs"))  # or iter_rl_requests
    backend = load_backend("hf", "path/to/model", batch_size=8)      # or load_backend("vllm", path, tp=2)
    samples = backend.generate(requests, n=4, temperature=1.0, top_p=1.0, max_new_tokens=1024, seed=0)
    samples[i][k].text                    # k-th response to requests[i]

- `Request(id, messages, images, data_source, ground_truth, extra_info)`: chat messages in verl's RL row schema
  (string contents with one `<image>` placeholder per entry of `images`); images are PIL images, verl-style
  {"bytes", "path"} dicts or paths, decoded only when a batch is built. `id` is unique per call.
- `Sample(text, n_prompt_tokens, n_tokens, finish_reason, token_ids, logprobs, top_p_set_sizes)`: `n_tokens`
  includes the end-of-sequence token when generation stopped on it; `finish_reason` is "stop" or "length".
- `generate(requests, n, temperature, top_p, max_new_tokens, seed, *, logprobs=False, branching_top_p=None,
  progress=None) -> list[list[Sample]]`, one list of `n` samples per request, in request order.
  `logprobs=True` fills `Sample.logprobs` (log-prob of each generated token under the model's distribution at
  temperature 1, before top-p: vLLM's default "raw" log-probs). `branching_top_p=0.95` fills
  `Sample.top_p_set_sizes`: per generated position, the size of the smallest token set holding 95 % of that
  distribution (the "rollout branching factor"; the `hf` backend computes it exactly from the logits it
  already has, the `vllm` backend from the top-20 log-probs, reporting 21 when they fall short).
  `progress(k)` is called as k more samples finish.
- Samples are reproducible: the `hf` backend draws sample k of request r from a generator seeded with
  (seed, r.id, k) (independent of batch composition and of how a resumed run was split), the `vllm` backend
  seeds each request with (seed, r.id). Both render prompts with the model's own chat template, and both
  ban vision placeholder tokens from the output (the `hf` backend also bans the padded ids past the
  tokenizer's vocabulary, which only a random-weight model samples).

Backends: `hf` (the HF model core `hf_model.HFModel`, shared with the `hf` rollout: batched with left padding,
CPU or one GPU) and `vllm` (offline `LLM.generate`, tensor parallel, multimodal; vLLM is imported only when this
backend is loaded). `replicas.ReplicaBackend` keeps the same contract over R verl rollout replicas on a Ray cluster
(`--replicas` of `selfdistill sample` and `evaluate`); for `hf` it returns the very samples of the `hf` backend.
"""

from __future__ import annotations

import os
from typing import Any

from specs_verl.schema.images import as_pil
from specs_verl.schema.parquet import count_rows
from specs_verl.schema.rl_rows import RLDataError, question_id

from .prompt import apply_instruction, load_instruction
from .request import Request, Sample
from .rl_data import iter_rl_requests, load_rl_requests

BACKENDS = ("hf", "vllm")


def load_backend(name: str, model_path: str | os.PathLike, **opts: Any):
    """Build a backend by name. Options: `hf`: batch_size, device, dtype, threads, attn_implementation;
    `vllm`: tp, max_images, gpu_memory_utilization, max_model_len, dtype, max_logprobs, engine_kwargs."""
    if name == "hf":
        from .hf_backend import HFBackend

        return HFBackend(model_path, **opts)
    if name == "vllm":
        from .vllm_backend import VLLMBackend

        return VLLMBackend(model_path, **opts)
    raise ValueError(f"unknown generation backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Request", "Sample", "RLDataError", "apply_instruction", "as_pil", "count_rows",
           "iter_rl_requests", "load_backend", "load_instruction", "load_rl_requests", "question_id"]
