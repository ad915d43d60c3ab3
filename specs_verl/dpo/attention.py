"""`specs_pair_sdpa`: SDPA over the shared-pair blocks, registered in transformers' attention-function registry
(AttentionInterface), so no model code is patched.

Selected with the model's `attn_implementation` (the trainer sets it when `dpo.pair_packing` is shared). Every
decoder attention layer of Qwen2-VL / Qwen2.5-VL hands the text position ids to the attention function; the
layout is read from them once per forward (`packing.attention_blocks`, cached for all layers) and each row is
computed as its blocks: prompt + chosen causally (SDPA's own causal kernel), rejected on [the prompt's keys | its
own keys, causally] with a small mask, padding on itself. That is exactly `packing.branch_visibility`'s dense
mask (the tests hold it to that) without a (B, L, L) mask and without the masked-out half of a causal square.
Calls without position ids or not causal (the vision tower) pass straight to plain SDPA.

The padded (no-rmpad) batch the engine builds pads position ids with 0, so padding is read from them too; the
mask transformers builds for the padding adds nothing and is not used. On GPU the same rule as a FlexAttention
block mask (bench/pair_packing_gpu.py) skips the masked blocks in one kernel.
"""

from __future__ import annotations

import torch

NAME = "specs_pair_sdpa"

_cache: dict = {"positions": None, "version": None, "plan": None}


def _plan_for(positions: torch.Tensor):
    """Per row, its blocks with the masks they need (built once per forward: every layer gets the same tensor
    object, gradient recomputation too; holding a reference means no later tensor takes its identity)."""
    from .packing import attention_blocks

    if _cache["positions"] is not positions or _cache["version"] != positions._version:
        plan = []
        for row in positions.tolist():
            blocks = []
            for b in attention_blocks(row):
                n = b.q1 - b.q0
                if b.diagonal:
                    mask = torch.eye(n, dtype=torch.bool, device=positions.device) if n > 1 else None
                elif b.prefix:
                    causal = torch.ones(n, n, dtype=torch.bool, device=positions.device).tril()
                    mask = torch.cat([torch.ones(n, b.prefix, dtype=torch.bool, device=positions.device), causal], 1)
                else:
                    mask = None  # causal square: SDPA's is_causal
                blocks.append((b, mask))
            plan.append(blocks)
        _cache.update(positions=positions, version=positions._version, plan=plan)
    return _cache["plan"]


def blockwise_sdpa(query, key, value, positions, scaling=None, dropout=0.0) -> torch.Tensor:
    """query (B, H, L, D), key/value (B, Hkv, L, D) -> (B, L, H, D), attending as the position ids say."""
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    gqa = query.shape[1] != key.shape[1]
    rows = []
    for b, blocks in enumerate(_plan_for(positions)):
        parts = []
        for block, mask in blocks:
            q = query[b:b + 1, :, block.q0:block.q1]
            k, v = key[b:b + 1, :, block.q0:block.q1], value[b:b + 1, :, block.q0:block.q1]
            if block.prefix:
                prefix = slice(block.p0, block.p0 + block.prefix)
                k = torch.cat([key[b:b + 1, :, prefix], k], 2)
                v = torch.cat([value[b:b + 1, :, prefix], v], 2)
            causal = mask is None and not block.diagonal and q.shape[2] > 1
            parts.append(sdpa(q, k, v, attn_mask=mask, is_causal=causal, dropout_p=dropout, scale=scaling,
                              enable_gqa=gqa))
        rows.append(torch.cat(parts, 2))
    return torch.cat(rows, 0).transpose(1, 2).contiguous()


def pair_sdpa_attention(module, query, key, value, attention_mask, position_ids=None, **kwargs):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    is_causal = kwargs.get("is_causal", getattr(module, "is_causal", True))
    if position_ids is None or not is_causal or position_ids.dim() != 2 or query.shape[2] != key.shape[2]:
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    out = blockwise_sdpa(query, key, value, position_ids, scaling=kwargs.get("scaling"),
                         dropout=kwargs.get("dropout", 0.0))
    return out, None


def register_pair_attention() -> str:
    """Register the attention function and its mask builder (plain SDPA's) under NAME; idempotent."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(NAME, pair_sdpa_attention)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return NAME
