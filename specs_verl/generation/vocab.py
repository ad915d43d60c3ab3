"""Token ids a backend must never sample, whatever the weights say.

A random-weight (or undertrained) VLM happily emits `<|image_pad|>`; one such token in a response breaks
verl's M-RoPE position ids for that sequence and shows up as garbage in the text. Both backends ban them.
Ids past the tokenizer's vocabulary (the embedding matrix is padded to a multiple of 64 or 128) decode to
nothing; only a random-weight model samples them, and the `hf` backend bans them too (pass `vocab_size`).
"""

from __future__ import annotations

from typing import Any

VISION_TOKENS = ("<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>")
_VISION_CONFIG_KEYS = ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id",
                       "image_token_index", "video_token_index")


def suppressed_token_ids(tokenizer: Any, model_config: Any = None, vocab_size: int | None = None) -> list[int]:
    """Vision placeholder ids (from the model config and the tokenizer) plus ids >= len(tokenizer)."""
    ids: set[int] = set()
    configs = [model_config, getattr(model_config, "text_config", None)] if model_config is not None else []
    for cfg in configs:
        for key in _VISION_CONFIG_KEYS:
            value = getattr(cfg, key, None)
            if isinstance(value, int) and value >= 0:
                ids.add(value)
    vocab = tokenizer.get_vocab() if hasattr(tokenizer, "get_vocab") else {}
    for tok in VISION_TOKENS:
        if tok in vocab:
            ids.add(vocab[tok])
    if vocab_size is not None:
        ids.update(range(len(tokenizer), vocab_size))
    return sorted(ids)
