"""The `vllm` backend: vLLM's offline `LLM.generate` with multimodal inputs, tensor parallel, batched by vLLM.

vLLM is imported only when the backend is built (it is a GPU-only extra: `pip install 'specs-verl[gpu]'`).
Request building (`vllm_inputs`, `sampling_kwargs`) and output conversion (`to_sample`) are plain functions
so they are tested without vLLM.
"""

from __future__ import annotations

import math
import os
from typing import Any, Callable, Sequence

from .request import Request, Sample
from .branching import set_size_from_logprobs
from .seeding import row_seed
from .templating import PromptRenderer
from .vocab import suppressed_token_ids

# Logit bias that removes a token (vLLM adds it to the logits; -100 is the OpenAI API's floor).
BAN = -100.0
# vLLM returns at most this many top log-probs per position unless the engine is built with a larger limit.
DEFAULT_MAX_LOGPROBS = 20


def import_vllm():
    try:
        import vllm
    except ImportError as e:
        raise ImportError(
            "the `vllm` backend needs vLLM, which is not installed here (it ships CUDA builds only). "
            "Install it on a GPU machine with `pip install 'specs-verl[gpu]'`, or use `--backend hf`."
        ) from e
    return vllm


def vllm_inputs(renderer: PromptRenderer, requests: Sequence[Request]) -> list[dict[str, Any]]:
    """vLLM prompt dicts: the chat-templated text and, when the request has images, `multi_modal_data`."""
    out = []
    for r in requests:
        item: dict[str, Any] = {"prompt": renderer.render(r)}
        if r.images:
            item["multi_modal_data"] = {"image": r.pil_images()}
        out.append(item)
    return out


def sampling_kwargs(request_seed: int, n: int, temperature: float, top_p: float, max_new_tokens: int,
                    suppress_ids: Sequence[int], logprobs: bool, branching_top_p: float | None,
                    max_logprobs: int = DEFAULT_MAX_LOGPROBS) -> dict[str, Any]:
    """Keyword arguments for one request's `vllm.SamplingParams` (one seed per request: vLLM draws the n
    samples of a request from one generator, so a sample does not depend on the rest of the batch)."""
    kw: dict[str, Any] = dict(n=n, temperature=float(temperature), top_p=float(top_p) if temperature > 0 else 1.0,
                              max_tokens=int(max_new_tokens), seed=int(request_seed), skip_special_tokens=True)
    if suppress_ids:
        kw["logit_bias"] = {int(t): BAN for t in suppress_ids}
    if branching_top_p is not None:
        kw["logprobs"] = max_logprobs
    elif logprobs:
        kw["logprobs"] = 0  # the sampled token's log-prob only
    return kw


def to_sample(completion: Any, n_prompt_tokens: int, logprobs: bool, branching_top_p: float | None,
              max_logprobs: int = DEFAULT_MAX_LOGPROBS) -> Sample:
    """A vLLM `CompletionOutput` as a Sample (vLLM's finish reasons are already "stop" or "length";
    "abort" and other reasons are kept as they are)."""
    token_ids = list(completion.token_ids)
    lp = sizes = None
    if (logprobs or branching_top_p is not None) and completion.logprobs is not None:
        steps = completion.logprobs
        if logprobs:
            lp = [float(step[t].logprob) if t in step else math.nan for t, step in zip(token_ids, steps)]
        if branching_top_p is not None:
            sizes = [set_size_from_logprobs([v.logprob for v in step.values() if (v.rank or 0) <= max_logprobs],
                                            branching_top_p, max_logprobs) for step in steps]
    return Sample(text=completion.text, n_prompt_tokens=int(n_prompt_tokens), n_tokens=len(token_ids),
                  finish_reason=str(completion.finish_reason or "length"), token_ids=token_ids,
                  logprobs=lp, top_p_set_sizes=sizes)


class VLLMBackend:
    """Offline vLLM engine over one checkpoint.

    Args:
        model_path: checkpoint directory or hub id.
        tp: tensor-parallel size.
        max_images: images allowed per prompt (vLLM's `limit_mm_per_prompt`).
        gpu_memory_utilization, max_model_len, dtype: passed to `vllm.LLM`.
        engine_kwargs: any further `vllm.LLM` keyword arguments.
    """

    name = "vllm"

    def __init__(self, model_path: str | os.PathLike, tp: int = 1, max_images: int = 8,
                 gpu_memory_utilization: float = 0.85, max_model_len: int | None = None, dtype: str = "auto",
                 max_logprobs: int = DEFAULT_MAX_LOGPROBS, engine_kwargs: dict[str, Any] | None = None):
        vllm = import_vllm()
        self.model_id = str(model_path)
        self.max_images = int(max_images)
        self.max_logprobs = int(max_logprobs)
        self.renderer = PromptRenderer(model_path)
        kwargs = dict(model=str(model_path), tensor_parallel_size=int(tp), dtype=dtype,
                      gpu_memory_utilization=gpu_memory_utilization, limit_mm_per_prompt={"image": self.max_images},
                      max_logprobs=self.max_logprobs)
        if max_model_len:
            kwargs["max_model_len"] = int(max_model_len)
        kwargs.update(engine_kwargs or {})
        self.llm = vllm.LLM(**kwargs)
        self._sampling_cls = vllm.SamplingParams
        from transformers import AutoConfig

        # vision placeholders only: a logit_bias entry per padded vocabulary id would cost vLLM a dict of
        # hundreds of entries per request, for ids a trained model never samples
        self.suppress_ids = suppressed_token_ids(self.renderer.tokenizer, AutoConfig.from_pretrained(model_path))

    def generate(self, requests: Sequence[Request], n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
                 max_new_tokens: int = 512, seed: int = 0, *, logprobs: bool = False,
                 branching_top_p: float | None = None,
                 progress: Callable[[int], None] | None = None) -> list[list[Sample]]:
        for r in requests:
            if len(r.images) > self.max_images:
                raise ValueError(f"request {r.id!r} has {len(r.images)} images; the engine allows {self.max_images} "
                                 f"(raise max_images)")
        inputs = vllm_inputs(self.renderer, requests)
        params = [self._sampling_cls(**sampling_kwargs(row_seed(seed, r.id, 0), n, temperature, top_p,
                                                       max_new_tokens, self.suppress_ids, logprobs,
                                                       branching_top_p, self.max_logprobs)) for r in requests]
        outputs = self.llm.generate(inputs, params, use_tqdm=progress is None)
        results = []
        for out in outputs:
            n_prompt = len(out.prompt_token_ids or [])
            comps = sorted(out.outputs, key=lambda c: c.index)
            results.append([to_sample(c, n_prompt, logprobs, branching_top_p, self.max_logprobs) for c in comps])
        if progress is not None:
            progress(sum(len(r) for r in results))
        return results

    def close(self) -> None:
        self.llm = None
