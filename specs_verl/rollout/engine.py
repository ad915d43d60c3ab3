"""Batched token-in/token-out generation with a transformers model: what the `hf` rollout server runs.

`HFGenerator.generate(requests)` takes prompts as token ids (images as PIL images, the way verl's agent loop
hands them over) and returns, per request, `n` samples: the generated token ids, their log-probabilities if
asked, and why generation stopped. Requests whose sampling parameters agree run as one left-padded batch.

What it guarantees, and why:
- The model's own `generation_config.json` is ignored (only its end-of-sequence ids are kept): every sampling
  knob comes from the request, as with vLLM under verl. (A released Qwen2.5-VL ships `top_k=1` and
  `repetition_penalty=1.05`, which would otherwise leak into every rollout.)
- Log-probs are `log_softmax(raw_logits / T)` of the sampled token over the whole vocabulary (T = the sampling
  temperature, 1 for greedy): the quantity verl's actor recomputes, so the two can be compared. They are read
  step by step from the raw logits (one [batch, vocab] buffer, not the whole [batch, steps, vocab] history).
- Vision placeholder and marker tokens (`<|image_pad|>`, `<|video_pad|>`, `<|vision_start|>`,
  `<|vision_end|>`) and the padded vocabulary rows that no token string maps to are never sampled: a sampled
  `<|image_pad|>` has no image behind it and breaks verl's M-RoPE position ids and the next forward.
- Images: the prompt may carry one placeholder per image (expanded here) or the placeholders already expanded
  by the processor (what verl's agent loop sends). Any other count is refused with the numbers. Video is refused.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import torch

from specs_verl.generation.vocab import suppressed_token_ids

from .sampling import SamplingSpec

logger = logging.getLogger(__name__)


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
    prepared: PreparedPrompt | None = None  # `HFGenerator.prepare`'s result, when the caller checked it already


@dataclass
class GenerationOutput:
    token_ids: list[int]
    log_probs: list[float] | None
    finish_reason: str  # "stop" (an end-of-sequence token, included in token_ids) or "length"


class _LogProbRecorder:
    """First logits processor of the chain, so it sees the raw logits. At step t it receives the token chosen
    at step t-1 (the last column of `input_ids`) and reads its log-prob from the distribution kept from t-1."""

    def __init__(self, temperature: float):
        self.temperature = temperature
        self.columns: list[torch.Tensor] = []
        self._previous: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._previous is not None:
            self.columns.append(self._previous.gather(-1, input_ids[:, -1:]).squeeze(-1))
        self._previous = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def finish(self, sequences: torch.LongTensor, n_new: int) -> torch.Tensor:
        if self._previous is not None and len(self.columns) < n_new:
            self.columns.append(self._previous.gather(-1, sequences[:, -1:]).squeeze(-1))
        self._previous = None
        return torch.stack(self.columns, dim=1) if self.columns else sequences.new_zeros((len(sequences), 0)).float()


class _BanTokens:
    def __init__(self, token_ids: Sequence[int], device):
        self.ids = torch.tensor(sorted(set(token_ids)), dtype=torch.long, device=device)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores[:, self.ids] = -float("inf")
        return scores


def _load_model_class(config):
    from transformers import AutoModelForCausalLM, AutoModelForImageTextToText

    return AutoModelForImageTextToText if getattr(config, "vision_config", None) is not None else AutoModelForCausalLM


def _dtype(name: str | torch.dtype) -> torch.dtype:
    if isinstance(name, torch.dtype):
        return name
    aliases = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32"}
    value = getattr(torch, aliases.get(str(name), str(name)), None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {name!r} (use float32, bfloat16 or float16)")
    return value


class HFGenerator:
    """A transformers model answering verl-style generate requests in batches. One instance per process."""

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
        self.eos_ids: list[int] = list(eos) if isinstance(eos, (list, tuple)) else [int(eos)]
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
        self._names = self._parameter_names()
        self._updated: set[str] = set()

    @classmethod
    def from_pretrained(cls, path: str, dtype: str | torch.dtype = "float32", device: str = "cpu",
                        trust_remote_code: bool = False, attn_implementation: str = "sdpa") -> "HFGenerator":
        from transformers import AutoConfig, AutoProcessor, AutoTokenizer

        config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        model = _load_model_class(config).from_pretrained(
            path, dtype=_dtype(dtype), attn_implementation=attn_implementation, trust_remote_code=trust_remote_code
        ).to(device)
        processor = None
        if getattr(config, "vision_config", None) is not None:
            processor = AutoProcessor.from_pretrained(path, trust_remote_code=trust_remote_code)
        tokenizer = getattr(processor, "tokenizer", None) or AutoTokenizer.from_pretrained(
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
        (a request's `n` samples always do); a seeded request runs alone, so its samples are reproducible."""
        prepared = [r.prepared or self.prepare(r.prompt_ids, r.images, r.mm_processor_kwargs) for r in requests]
        results: list[list[GenerationOutput]] = [[] for _ in requests]
        groups: dict[tuple, list[int]] = {}
        for i, request in enumerate(requests):
            # a seeded request runs alone: its samples must not depend on what else shares the batch
            key = ("seeded", i) if request.spec.seed is not None else request.spec.batch_key()
            groups.setdefault(key, []).append(i)
        for indices in groups.values():
            rows = [(i, prepared[i], requests[i].spec) for i in indices for _ in range(requests[i].spec.n)]
            for i, output in zip([row[0] for row in rows], self._generate_rows(rows)):
                results[i].append(output)
        return results

    def _generate_rows(self, rows: list[tuple[int, PreparedPrompt, SamplingSpec]]) -> list[GenerationOutput]:
        from transformers import GenerationConfig, LogitsProcessorList, RepetitionPenaltyLogitsProcessor

        spec = rows[0][2]  # the group shares every knob but the length cap and n
        width = max(len(p.ids) for _, p, _ in rows)
        batch = len(rows)
        input_ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros((batch, width), dtype=torch.long)
        for row, (_, p, _) in enumerate(rows):  # left padding: every row's next token sits in the last column
            input_ids[row, width - len(p.ids):] = torch.tensor(p.ids)
            attention_mask[row, width - len(p.ids):] = 1
        inputs: dict[str, Any] = {"input_ids": input_ids, "attention_mask": attention_mask}
        images = [p for _, p, _ in rows if p.pixel_values is not None]
        if images:
            inputs["pixel_values"] = torch.cat([p.pixel_values for p in images]).to(self.model.dtype)
            inputs["image_grid_thw"] = torch.cat([p.image_grid_thw for p in images])
        if self.image_token_id is not None:
            # transformers 5 computes Qwen-VL's 3-D positions only when told which tokens are image tokens.
            types = (input_ids == self.image_token_id).long()
            if self.video_token_id is not None:
                types += 2 * (input_ids == self.video_token_id).long()
            inputs["mm_token_type_ids"] = types
        inputs = {k: v.to(self.device) for k, v in inputs.items()}

        max_new = max(s.max_tokens for _, _, s in rows)
        config = GenerationConfig(
            max_new_tokens=max_new, do_sample=not spec.greedy, num_beams=1, use_cache=True,
            eos_token_id=None if spec.ignore_eos else self.eos_ids, pad_token_id=self.pad_id,
            return_dict_in_generate=True,
            **({} if spec.greedy else {"temperature": spec.temperature, "top_p": spec.top_p, "top_k": spec.top_k}),
        )
        want_logprobs = any(s.logprobs for _, _, s in rows)
        recorder = _LogProbRecorder(spec.logprob_temperature) if want_logprobs else None
        processors = LogitsProcessorList([p for p in (
            recorder,
            _BanTokens(self.banned_token_ids, self.device) if self.banned_token_ids else None,
            RepetitionPenaltyLogitsProcessor(spec.repetition_penalty) if spec.repetition_penalty != 1.0 else None,
        ) if p is not None])
        # transformers fills unset values from model.generation_config, so `ignore_eos` must remove it there too
        # (calls are serialised: one generate at a time per generator)
        defaults = self.model.generation_config
        if spec.ignore_eos:
            self.model.generation_config = GenerationConfig(pad_token_id=self.pad_id)
        try:
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                if spec.seed is not None:
                    torch.manual_seed(spec.seed)
                out = self.model.generate(**inputs, generation_config=config, logits_processor=processors)
        finally:
            self.model.generation_config = defaults
        new = out.sequences[:, width:].cpu()
        log_probs = recorder.finish(out.sequences, new.shape[1]).cpu() if recorder else None

        outputs = []
        for row, (_, _, s) in enumerate(rows):
            tokens = new[row].tolist()[: s.max_tokens]
            finish = "length"
            if not s.ignore_eos:
                for k, token in enumerate(tokens):
                    if token in self.eos_ids:
                        tokens, finish = tokens[: k + 1], "stop"
                        break
            lp = log_probs[row, : len(tokens)].tolist() if (log_probs is not None and s.logprobs) else None
            outputs.append(GenerationOutput(tokens, lp, finish))
        return outputs

    # ------------------------------------------------------------------ weights
    def _parameter_names(self) -> dict[str, torch.Tensor]:
        return dict(self.model.state_dict(keep_vars=True))

    def _resolve(self, name: str) -> str | None:
        if name in self._names:
            return name
        # Checkpoint-style names (transformers' `_checkpoint_conversion_mapping`, used by verl's exporter)
        for pattern, replacement in getattr(self.model, "_checkpoint_conversion_mapping", {}).items():
            renamed, count = re.subn(pattern, replacement, name)
            if count and renamed in self._names:
                return renamed
        return None

    @torch.no_grad()
    def load_weights(self, named_tensors: Iterable[tuple[str, torch.Tensor]]) -> int:
        """Copy full tensors into the model in place. Unknown names are an error (nothing is copied then)."""
        named_tensors = list(named_tensors)
        resolved = [(self._resolve(name), name, tensor) for name, tensor in named_tensors]
        unknown = [name for target, name, _ in resolved if target is None]
        if unknown:
            raise KeyError(f"{len(unknown)} weights are not in the rollout model, e.g. {unknown[:3]}; "
                           f"its names look like {list(self._names)[:3]}")
        for target, name, tensor in resolved:
            own = self._names[target]
            if tuple(own.shape) != tuple(tensor.shape):
                raise ValueError(f"weight {name}: shape {tuple(tensor.shape)} != rollout's {tuple(own.shape)}")
            own.data.copy_(tensor.to(device=own.device, dtype=own.dtype))
            self._updated.add(target)
        return len(resolved)

    def finish_weight_update(self) -> list[str]:
        """End one sync: returns the parameters it did not touch (logged; tied or frozen weights are fine)."""
        missing = sorted(n for n, t in self._names.items() if isinstance(t, torch.nn.Parameter) and n not in self._updated)
        self._updated = set()
        if missing:
            logger.warning("hf rollout: weight sync left %d parameters unchanged, e.g. %s", len(missing), missing[:3])
        return missing

    def weight_digest(self) -> dict[str, dict[str, Any]]:
        """name -> {"sum": float64 sum, "sha256": hash of the bytes, "dtype"}: whether two copies hold the same
        weights (the hash, exactly, for equal dtypes) and how far apart they are (the sum)."""
        return {name: weight_fingerprint(t) for name, t in self._names.items()}

    def to(self, device: str | torch.device) -> None:
        self.model.to(device)
        self.device = torch.device(device)


def weight_fingerprint(tensor: torch.Tensor) -> dict[str, Any]:
    t = tensor.detach().cpu().contiguous()
    raw = t.view(torch.uint8) if t.dim() else t.reshape(1).view(torch.uint8)
    return {"sum": float(t.double().sum()), "sha256": hashlib.sha256(raw.numpy().tobytes()).hexdigest(),
            "dtype": str(t.dtype).replace("torch.", "")}


def _runs(ids: list[int], token: int) -> list[tuple[int, int]]:
    runs, start = [], None
    for k, t in enumerate(ids + [None]):
        if t == token and start is None:
            start = k
        elif t != token and start is not None:
            runs.append((start, k))
            start = None
    return runs
