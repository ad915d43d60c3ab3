"""`HFGenerator`: the `hf` rollout's engine, the HF model core (`specs_verl.generation.hf_model.HFModel`) plus
the weight sync verl's trainer drives after every step.

`HFGenerator.generate(requests)` takes prompts as token ids (images as PIL images, the way verl's agent loop hands
them over) and returns, per request, `n` samples: the generated token ids, their log-probabilities if asked, and
why generation stopped (see `hf_model` for what the core guarantees). The rollout asks for log-probs at the
sampling temperature (`log_softmax(raw_logits / T)`, T = 1 for greedy): the quantity verl's actor recomputes.
`load_weights` / `finish_weight_update` copy the trained tensors in place; `weight_digest` says what it holds.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, Iterable

import torch

from specs_verl.generation.hf_model import GenerationOutput, GenerationRequest, HFModel, PreparedPrompt

logger = logging.getLogger(__name__)

__all__ = ["GenerationOutput", "GenerationRequest", "HFGenerator", "PreparedPrompt", "weight_fingerprint"]


class HFGenerator(HFModel):
    """The HF model core answering verl-style generate requests, with in-place weight updates."""

    def __init__(self, model, tokenizer, processor=None, device: str | torch.device = "cpu", eos_token_ids=None):
        super().__init__(model, tokenizer, processor, device=device, eos_token_ids=eos_token_ids)
        self._names = self._parameter_names()
        self._updated: set[str] = set()

    @classmethod
    def from_pretrained(cls, path, dtype="float32", device="cpu", trust_remote_code: bool = False,
                        attn_implementation: str = "sdpa", **kwargs) -> "HFGenerator":
        return super().from_pretrained(path, dtype=dtype, device=device, trust_remote_code=trust_remote_code,
                                       attn_implementation=attn_implementation, **kwargs)

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


def weight_fingerprint(tensor: torch.Tensor) -> dict[str, Any]:
    t = tensor.detach().cpu().contiguous()
    raw = t.view(torch.uint8) if t.dim() else t.reshape(1).view(torch.uint8)
    return {"sum": float(t.double().sum()), "sha256": hashlib.sha256(raw.numpy().tobytes()).hexdigest(),
            "dtype": str(t.dtype).replace("torch.", "")}
