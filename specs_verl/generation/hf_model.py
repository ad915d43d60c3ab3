"""The HF model core: one transformers model answering token-in/token-out requests in left-padded batches.

Both transformers engines run on it: the offline `hf` backend (`hf_backend.py`: renders a `Request`, calls this)
and the `hf` rollout of verl's GRPO (`specs_verl.rollout.engine.HFGenerator`: this plus weight sync). What
lives here, once: model loading (vision checkpoints as image-text-to-text), dtype and device ("auto": bfloat16 on
CUDA, float32 on CPU), end-of-sequence and padding ids, the token ids never sampled (`vocab.py`), prompt checking
with image placeholder expansion, and the sampling step (`sampler.SeededSampler`: every row drawn from its own
seeded generator, so a seeded request gives the same tokens whatever shares its batch or replica).

What it guarantees, and why:
- The model's own `generation_config.json` is ignored (only its end-of-sequence ids are kept): every sampling
  knob comes from the request, as with vLLM under verl. (A released Qwen2.5-VL ships `top_k=1` and
  `repetition_penalty=1.05`, which would otherwise leak into every sample.)
- Log-probs are named by the temperature they are at (`SamplingSpec.logprobs_at`, see `sampler.py`).
- Vision placeholder and marker tokens and the padded vocabulary rows that no token string maps to are never
  sampled: a sampled `<|image_pad|>` has no image behind it and breaks Qwen-VL's M-RoPE position ids.
- Images: the prompt may carry one placeholder per image (expanded here) or the placeholders already expanded
  by the processor (what verl's agent loop sends). Any other count is refused with the numbers. Video is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from specs_verl.rollout.sampling import SamplingSpec

from .sampler import SeededSampler
from .seeding import row_seed
from .vocab import suppressed_token_ids

_DTYPE_ALIASES = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32"}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(name: str | torch.dtype, device: torch.device) -> torch.dtype:
    """"auto": bfloat16 on CUDA, float32 elsewhere; else a torch dtype name or a short alias (bf16, fp32...)."""
    if isinstance(name, torch.dtype):
        return name
    if str(name) == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    value = getattr(torch, _DTYPE_ALIASES.get(str(name), str(name)), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {name!r} (use auto, float32, bfloat16 or float16)")
    return value


@dataclass
class PreparedPrompt:
    """A checked prompt: token ids with image placeholders expanded, and the images' features."""

    ids: list[int]
    pixel_values: torch.Tensor | None = None
    image_grid_thw: torch.Tensor | None = None


@dataclass
class GenerationRequest:
    prompt_ids: list[int]
    spec: SamplingSpec
    images: list[Any] | None = None  # PIL images, in placeholder order
    mm_processor_kwargs: dict[str, Any] = field(default_factory=dict)
    prepared: PreparedPrompt | None = None  # `HFModel.prepare`'s result, when the caller checked it already


@dataclass
class GenerationOutput:
    token_ids: list[int]
    log_probs: list[float] | None  # at `log_prob_temperature` (see `SamplingSpec.logprobs_at`)
    finish_reason: str  # "stop" (an end-of-sequence token, included in token_ids) or "length"
    log_prob_temperature: float | None = None
    top_p_set_sizes: list[int] | None = None


def _model_class(config):
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    return AutoModelForImageTextToText if getattr(config, "vision_config", None) is not None else AutoModelForCausalLM


class HFModel:
    """A transformers model answering token-id generate requests in batches. One instance per process."""

    def __init__(self, model, tokenizer, processor=None, device: str | torch.device = "cpu", eos_token_ids=None):
        from transformers import GenerationConfig

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.processor = processor
        self.device = torch.device(device)
        config = model.config
        original = getattr(model, "generation_config", None)
        eos = eos_token_ids
        if eos is None and original is not None:
            eos = original.eos_token_id
        if eos is None:
            eos = tokenizer.eos_token_id
        if eos is None:
            raise ValueError("the model has no end-of-sequence token id (generation_config or tokenizer)")
        self.eos_ids: list[int] = sorted({int(e) for e in eos}) if isinstance(eos, (list, tuple)) else [int(eos)]
        pad = tokenizer.pad_token_id
        self.pad_id: int = int(pad) if pad is not None else self.eos_ids[0]
        # A clean generation config: only token ids survive from the checkpoint's own defaults.
        self.model.generation_config = GenerationConfig(eos_token_id=self.eos_ids, pad_token_id=self.pad_id,
                                                        bos_token_id=getattr(original, "bos_token_id", None))
        self.image_token_id = getattr(config, "image_token_id", None)
        self.video_token_id = getattr(config, "video_token_id", None)
        self.merge_size = getattr(getattr(config, "vision_config", None), "spatial_merge_size", 2)
        vocab_size = model.get_output_embeddings().weight.shape[0]
        self.banned_token_ids: list[int] = suppressed_token_ids(tokenizer, config, vocab_size)

    @classmethod
    def from_pretrained(cls, path, dtype: str | torch.dtype = "auto", device: str | torch.device = "auto",
                        trust_remote_code: bool = False, attn_implementation: str = "sdpa", threads: int | None = None,
                        tokenizer=None, processor=None):
        """Load a checkpoint (pass `tokenizer`/`processor` when the caller loaded them already)."""
        from transformers import AutoConfig, AutoProcessor, AutoTokenizer

        if threads:
            torch.set_num_threads(int(threads))
        device = resolve_device(device)
        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = _model_class(config).from_pretrained(
            path, dtype=resolve_dtype(dtype, device), attn_implementation=attn_implementation,
            trust_remote_code=trust_remote_code).to(device)
        if processor is None and tokenizer is None and getattr(config, "vision_config", None) is not None:
            processor = AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
        tokenizer = tokenizer or getattr(processor, "tokenizer", None) or AutoTokenizer.from_pretrained(
            path, trust_remote_code=trust_remote_code)
        return cls(model, tokenizer, processor, device=device)

    # ------------------------------------------------------------------ inputs
    def prepare(self, prompt_ids: Sequence[int], images: Sequence[Any] | None = None,
                mm_processor_kwargs: dict[str, Any] | None = None) -> PreparedPrompt:
        """Validate one prompt and compute its image features. Raises ValueError saying what does not match."""
        ids = [int(t) for t in prompt_ids]
        if not ids:
            raise ValueError("empty prompt")
        if self.video_token_id is not None and self.video_token_id in ids:
            raise ValueError("the hf rollout does not support video: the prompt holds video placeholder tokens")
        n_placeholders = ids.count(self.image_token_id) if self.image_token_id is not None else 0
        if not images:
            if n_placeholders:
                raise ValueError(f"the prompt holds {n_placeholders} image placeholder tokens but no image was given")
            return PreparedPrompt(ids)
        if self.processor is None or self.image_token_id is None:
            raise ValueError(f"{len(images)} images were given to a model without a vision tower")
        features = self.processor.image_processor(images=list(images), return_tensors="pt",
                                                  **(mm_processor_kwargs or {}))
        grid = features["image_grid_thw"]
        per_image = [int(g.prod()) // self.merge_size**2 for g in grid]
        runs = _runs(ids, self.image_token_id)
        if len(runs) != len(images):
            raise ValueError(f"the prompt has {len(runs)} image placeholder runs for {len(images)} images")
        lengths = [end - start for start, end in runs]
        if lengths == per_image:
            pass  # already expanded by the processor (verl's agent loop)
        elif all(length == 1 for length in lengths):
            expanded: list[int] = []
            k = 0
            for token in ids:
                if token == self.image_token_id:
                    expanded.extend([token] * per_image[k])
                    k += 1
                else:
                    expanded.append(token)
            ids = expanded
        else:
            raise ValueError(f"image placeholder runs of lengths {lengths} match neither one token per image "
                             f"nor the {per_image} tokens the images need")
        return PreparedPrompt(ids, features["pixel_values"], grid)

    # ------------------------------------------------------------------ generation
    @torch.inference_mode()
    def generate(self, requests: Sequence[GenerationRequest]) -> list[list[GenerationOutput]]:
        """`n` outputs per request. Requests with the same `SamplingSpec.batch_key()` share one forward batch
        (a request's `n` samples always do); each row draws from its own generator (seeded from `spec.seed` and
        the sample index, or from torch's global stream when unseeded), so batching changes no sample."""
        prepared = [r.prepared or self.prepare(r.prompt_ids, r.images, r.mm_processor_kwargs) for r in requests]
        results: list[list[GenerationOutput]] = [[] for _ in requests]
        groups: dict[tuple, list[int]] = {}
        for i, request in enumerate(requests):
            groups.setdefault(request.spec.batch_key(), []).append(i)
        for indices in groups.values():
            rows = [(i, prepared[i], requests[i].spec, k) for i in indices for k in range(requests[i].spec.n)]
            for i, output in zip([row[0] for row in rows], self._generate_rows(rows)):
                results[i].append(output)
        return results

    def _inputs(self, prompts: list[PreparedPrompt]) -> tuple[dict[str, torch.Tensor], int]:
        width = max(len(p.ids) for p in prompts)
        input_ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):  # left padding: every row's next token sits in the last column
            input_ids[row, width - len(p.ids):] = torch.tensor(p.ids)
            attention_mask[row, width - len(p.ids):] = 1
        inputs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        images = [p for p in prompts if p.pixel_values is not None]
        if images:
            inputs["pixel_values"] = torch.cat([p.pixel_values for p in images]).to(self.model.dtype)
            inputs["image_grid_thw"] = torch.cat([p.image_grid_thw for p in images])
        if self.image_token_id is not None:
            # transformers 5 computes Qwen-VL's 3-D positions only when told which tokens are image tokens.
            types = (input_ids == self.image_token_id).long()
            if self.video_token_id is not None:
                types += 2 * (input_ids == self.video_token_id).long()
            inputs["mm_token_type_ids"] = types
        return {k: v.to(self.device) for k, v in inputs.items()}, width

    def _generate_rows(self, rows: list[tuple[int, PreparedPrompt, SamplingSpec, int]]) -> list[GenerationOutput]:
        from transformers import GenerationConfig, LogitsProcessorList

        spec = rows[0][2]  # the group shares every knob but the length cap, n, the seed and whether log-probs
        inputs, width = self._inputs([p for _, p, _, _ in rows])
        want_logprobs = any(s.logprobs for _, _, s, _ in rows)
        sampler = SeededSampler([_sample_seed(s.seed, k) for _, _, s, k in rows], spec.temperature, spec.top_p,
                                self.banned_token_ids, device=self.device, top_k=spec.top_k,
                                repetition_penalty=spec.repetition_penalty,
                                logprobs=spec.logprobs_at if want_logprobs else None,
                                branching_top_p=spec.branching_top_p)
        config = GenerationConfig(max_new_tokens=max(s.max_tokens for _, _, s, _ in rows), do_sample=False,
                                  num_beams=1, use_cache=True, pad_token_id=self.pad_id,
                                  eos_token_id=None if spec.ignore_eos else self.eos_ids)
        # transformers fills unset values from model.generation_config, so `ignore_eos` must remove it there too
        # (calls are serialised: one generate at a time per model)
        defaults = self.model.generation_config
        if spec.ignore_eos:
            self.model.generation_config = GenerationConfig(pad_token_id=self.pad_id)
        try:
            out = self.model.generate(**inputs, generation_config=config,
                                      logits_processor=LogitsProcessorList([sampler]))
        finally:
            self.model.generation_config = defaults
        new = out[:, width:].cpu()
        outputs = []
        for row, (_, _, s, _) in enumerate(rows):
            tokens = new[row].tolist()[: s.max_tokens]
            finish = "length"
            if not s.ignore_eos:
                for k, token in enumerate(tokens):
                    if token in self.eos_ids:
                        tokens, finish = tokens[: k + 1], "stop"
                        break
            lp, sizes = sampler.per_row(row, len(tokens))
            outputs.append(GenerationOutput(tokens, lp if s.logprobs else None, finish,
                                            sampler.logprob_temperature if s.logprobs else None, sizes))
        return outputs

    def to(self, device: str | torch.device) -> None:
        self.model.to(device)
        self.device = torch.device(device)


def _sample_seed(seed: int | None, k: int) -> int:
    """The generator seed of sample `k` of a request: its own seed for the first sample (a seed sent per sample
    reproduces exactly), a stable derivation for the others; torch's global stream when unseeded."""
    if seed is None:
        return int(torch.randint(0, 2**62, (1,)))
    return int(seed) if k == 0 else row_seed(int(seed), "", k)


def _runs(ids: list[int], token: int) -> list[tuple[int, int]]:
    runs, start = [], None
    for k, t in enumerate(ids + [None]):
        if t == token and start is None:
            start = k
        elif t != token and start is not None:
            runs.append((start, k))
            start = None
    return runs
