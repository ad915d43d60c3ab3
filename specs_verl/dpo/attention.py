"""`specs_pair_sdpa`: SDPA with the shared-pair block mask, registered in transformers' attention-function
registry (AttentionInterface), so no model code is patched.

Selected with the model's `attn_implementation` (the trainer sets it when `dpo.pair_packing` is shared). Every
decoder attention layer of Qwen2-VL / Qwen2.5-VL hands the text position ids to the attention function; the mask
is rebuilt from them (`packing.branch_visibility`) once per forward and shared by all layers. A sequence without
branches (the separate layout, the vision tower, generation) gets what plain SDPA gives: the vision tower's calls
carry no position ids and are not causal, and pass straight through.

On GPU this is a dense (B, L, L) mask too, which is fine at the lengths of the tiny model and the benchmark; at
16k tokens a FlexAttention block mask from the same `branch_visibility` rule is the path without a dense mask.
"""

from __future__ import annotations

import torch

NAME = "specs_pair_sdpa"

_cache: dict = {"positions": None, "version": None, "mask": None}


def _mask_for(positions: torch.Tensor) -> torch.Tensor:
    from .packing import branch_visibility

    # one forward hands every layer the same position tensor object (gradient recomputation too); holding a
    # reference to it means no later tensor can take its place under the same identity
    if _cache["positions"] is not positions or _cache["version"] != positions._version:
        _cache.update(positions=positions, version=positions._version, mask=branch_visibility(positions))
    return _cache["mask"]


def pair_sdpa_attention(module, query, key, value, attention_mask, position_ids=None, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    is_causal = kwargs.get("is_causal", getattr(module, "is_causal", True))
    if position_ids is None or not is_causal or position_ids.dim() != 2 or query.shape[2] != key.shape[2]:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    mask = _mask_for(position_ids.to(query.device))
    if attention_mask is not None:
        # transformers' own padding/causal mask (bool for sdpa); both must allow a key
        mask = mask & (attention_mask.bool() if attention_mask.dtype == torch.bool else attention_mask == 0)
    kwargs.pop("is_causal", None)
    return sdpa_attention_forward(module, query, key, value, mask, is_causal=False, **kwargs)


def register_pair_attention() -> str:
    """Register the attention function and its mask builder (plain SDPA's) under NAME; idempotent."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, pair_sdpa_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME
