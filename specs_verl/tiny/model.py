"""A random-weight Qwen2.5-VL built offline: real transformers classes, tiny dimensions.

The checkpoint directory it writes is a complete Hugging Face model (config, weights, tokenizer with every
Qwen2.5-VL special token and a Qwen-style chat template, image and video processors with small pixel bounds),
so every code path that loads Qwen2.5-VL-7B loads it unchanged. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Qwen2.5-VL's special tokens (same strings as the real model; the ids differ: they come first here).
SPECIAL_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>",
    "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
    "<|quad_start|>", "<|quad_end|>",
    "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
)
# Qwen2's pre-tokenizer split pattern.
_QWEN_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

# The Qwen2.5-VL chat template (system default, images as <|vision_start|><|image_pad|><|vision_end|>).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# Words the tokenizer is trained on: the synthetic task's vocabulary plus the reasoning format, so that the
# tiny model spends its few tokens on whole words rather than bytes.
_CORPUS_WORDS = (
    "the a an image picture shows how many are there is what which of in on shape shapes circle circles "
    "square squares triangle triangles red green blue yellow purple orange color colour count counting total "
    "answer option options choose letter A B C D E first then so I see let me think step by final number "
    "more fewer than and or not yes no most least put your reasoning inside tags box boxed The answer is "
    "Answer: Question: Solution: reply respond with only single format following read carefully "
    "user assistant system you helpful"
).split()
_CORPUS_SYMBOLS = ("<think>", "</think>", "<answer>", "</answer>", "\\boxed{", "}", "$", "(", ")", ".", ",", "?", ":")


@dataclass(frozen=True)
class TinySize:
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    mrope_section: tuple[int, int, int]  # must sum to head_dim // 2
    vision_depth: int
    vision_hidden: int
    vision_intermediate: int
    vision_heads: int


SIZES = {
    # ~0.2 M parameters, < 1 MB on disk: unit tests.
    "tiny": TinySize(512, 64, 128, 2, 4, 2, (2, 3, 3), 2, 32, 64, 2),
    # ~15 M parameters: benchmarks and the tiny CPU pipeline.
    "small": TinySize(1024, 384, 1152, 6, 6, 2, (8, 12, 12), 4, 128, 256, 4),
}

PATCH, MERGE, TEMPORAL_PATCH = 14, 2, 2
MIN_PIXELS, MAX_PIXELS = 28 * 28 * 4, 28 * 28 * 16  # 4 to 16 merged image tokens per image


def _corpus(rng: random.Random, n_lines: int):
    words = list(_CORPUS_WORDS) + list(_CORPUS_SYMBOLS)
    for _ in range(n_lines):
        line = " ".join(rng.choice(words) for _ in range(rng.randint(4, 16)))
        yield f"{line} {rng.randint(0, 99)}\n"


def build_tokenizer(vocab_size: int, seed: int):
    """A byte-level BPE tokenizer with Qwen's pre-tokenizer, special tokens and chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers import AddedToken
    from transformers import Qwen2Tokenizer

    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.normalizer = normalizers.NFC()
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=1, special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    bpe.train_from_iterator(_corpus(random.Random(seed), 5000), trainer)
    state = json.loads(bpe.to_str())
    vocab = state["model"]["vocab"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in state["model"]["merges"]]
    tokenizer = Qwen2Tokenizer(
        vocab=vocab, merges=merges, unk_token=None, bos_token=None,
        eos_token="<|im_end|>", pad_token="<|endoftext|>", model_max_length=32768,
    )
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS],
                         special_tokens=True)
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_processor(tokenizer):
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    bounds = dict(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS, patch_size=PATCH, merge_size=MERGE,
                  temporal_patch_size=TEMPORAL_PATCH)
    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(**bounds), video_processor=Qwen2VLVideoProcessor(**bounds),
        tokenizer=tokenizer, chat_template=CHAT_TEMPLATE,
    )


def build_model(tokenizer, size: TinySize, seed: int):
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tid = tokenizer.convert_tokens_to_ids
    vocab_size = ((len(tokenizer) + 63) // 64) * 64
    config = Qwen2_5_VLConfig(
        text_config=dict(
            vocab_size=vocab_size, hidden_size=size.hidden, intermediate_size=size.intermediate,
            num_hidden_layers=size.layers, num_attention_heads=size.heads, num_key_value_heads=size.kv_heads,
            max_position_embeddings=32768, max_window_layers=size.layers, rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 1000000.0,
                             "mrope_section": list(size.mrope_section)},
            bos_token_id=tid("<|endoftext|>"), eos_token_id=tid("<|im_end|>"), pad_token_id=tid("<|endoftext|>"),
            tie_word_embeddings=False,
        ),
        vision_config=dict(
            depth=size.vision_depth, hidden_size=size.vision_hidden, intermediate_size=size.vision_intermediate,
            num_heads=size.vision_heads, in_channels=3, patch_size=PATCH, spatial_merge_size=MERGE,
            temporal_patch_size=TEMPORAL_PATCH, window_size=112, out_hidden_size=size.hidden,
            fullatt_block_indexes=[size.vision_depth - 1], tokens_per_second=2,
        ),
        image_token_id=tid("<|image_pad|>"), video_token_id=tid("<|video_pad|>"),
        vision_start_token_id=tid("<|vision_start|>"), vision_end_token_id=tid("<|vision_end|>"),
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    gen = model.generation_config
    gen.eos_token_id = [tid("<|im_end|>"), tid("<|endoftext|>")]
    gen.pad_token_id = tid("<|endoftext|>")
    gen.bos_token_id = tid("<|endoftext|>")
    return model


def make_tiny_model(out: str | os.PathLike, size: str = "tiny", seed: int = 0) -> Path:
    """Write a complete random-weight Qwen2.5-VL checkpoint to `out` (atomically) and return its path."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {sorted(SIZES)}")
    out = Path(out)
    tokenizer = build_tokenizer(SIZES[size].vocab, seed)
    processor = build_processor(tokenizer)
    model = build_model(tokenizer, SIZES[size], seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def count_parameters(path: str | os.PathLike) -> int:
    from safetensors import safe_open

    total = 0
    for f in Path(path).glob("*.safetensors"):
        with safe_open(str(f), "pt") as st:
            total += sum(_prod(st.get_slice(k).get_shape()) for k in st.keys())
    return total


def _prod(shape) -> int:
    n = 1
    for d in shape:
        n *= int(d)
    return n
