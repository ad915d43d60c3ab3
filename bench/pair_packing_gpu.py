"""Shared vs separate DPO pair packing on one GPU: a Qwen2.5-VL-7B-shaped random model with fewer layers, bf16,
forward and backward of pair batches at realistic lengths. Needs torch and transformers only (no verl, vllm,
flash-attn or network); takes the block-mask rule and the SDPA attention function from specs_verl/dpo/
(packing.py, attention.py) without importing the specs_verl package.

    python bench/pair_packing_gpu.py                       # GPU: 7B widths, 4 + 4 layers, ~8 min at most
    python bench/pair_packing_gpu.py --toy --device cpu    # proves it executes (tiny widths, seconds)

Each pair: ~1,200 image tokens (an image of 48 x 100 patches, merged 2 x 2), ~150 prompt text tokens and two
600-token responses. separate: two rows per pair, the image encoded twice; shared: one row
[prompt | chosen | last prompt token | rejected], the image encoded once, rejected masked off chosen.
Attention: `--attention flex` (GPU default) builds a FlexAttention block mask from the rule (no dense mask),
`sdpa` a dense boolean mask. Prints tokens/s, step time, peak memory and MFU for both layouts.
MFU = model FLOPs of the step (6 x parameters x tokens for the matmuls, plus attention over the visible keys)
over step time x --peak-tflops (H200 bf16 dense: 989).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

DPO_DIR = Path(__file__).resolve().parents[1] / "specs_verl" / "dpo"


def load_dpo_module(name: str):
    """specs_verl/dpo/<name>.py without importing specs_verl (whose package imports verl): packing.py and
    attention.py need torch and transformers only."""
    import importlib
    import sys
    import types

    if "specs_dpo_standalone" not in sys.modules:
        package = types.ModuleType("specs_dpo_standalone")
        package.__path__ = [str(DPO_DIR)]
        sys.modules["specs_dpo_standalone"] = package
    return importlib.import_module(f"specs_dpo_standalone.{name}")


def build_model(args, device, dtype):
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    if args.toy:
        width = getattr(args, "toy_hidden", 64)  # the CPU sweep uses a wider toy
        text = dict(hidden_size=width, intermediate_size=2 * width, num_attention_heads=width // 16,
                    num_key_value_heads=width // 32,  # head size 16: mrope sections 2 + 3 + 3
                    num_hidden_layers=2, vocab_size=1000, rope_parameters={"rope_type": "default", "rope_theta":
                                                                            1e6, "mrope_section": [2, 3, 3]})
        vision = dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=width,
                      fullatt_block_indexes=[1], window_size=112)
    else:  # Qwen2.5-VL-7B-Instruct's widths, fewer layers
        text = dict(hidden_size=3584, intermediate_size=18944, num_attention_heads=28, num_key_value_heads=4,
                    num_hidden_layers=args.layers, vocab_size=152064,
                    rope_parameters={"rope_type": "default", "rope_theta": 1e6, "mrope_section": [16, 24, 24]})
        vision = dict(depth=args.vision_layers, hidden_size=1280, intermediate_size=3420, num_heads=16,
                      out_hidden_size=3584, fullatt_block_indexes=[args.vision_layers - 1], window_size=112)
    config = Qwen2_5_VLConfig(text_config=text, vision_config={**vision, "patch_size": 14, "spatial_merge_size": 2,
                                                              "temporal_patch_size": 2, "in_channels": 3},
                              image_token_id=text["vocab_size"] - 3, vision_start_token_id=text["vocab_size"] - 2,
                              vision_end_token_id=text["vocab_size"] - 1)
    config.text_config.image_token_id = config.image_token_id
    config.text_config.bos_token_id = config.text_config.eos_token_id = None
    torch.manual_seed(0)
    model = Qwen2_5_VLForConditionalGeneration(config).to(device=device, dtype=dtype)
    model.gradient_checkpointing_enable() if args.checkpointing else None
    return model.train()


def make_pair(args, model, device):
    """One pair: chosen and rejected sequences (dicts as the trainer's data: input_ids, loss_mask, position_ids
    (4, L): text row + 3-D mRoPE from transformers' get_rope_index on each branch's own sequence)."""
    cfg = model.config
    g = torch.Generator().manual_seed(0)
    grid = torch.tensor([[1, args.grid_h, args.grid_w]])
    n_image = int(grid.prod()) // 4
    vocab = cfg.text_config.vocab_size - 3
    text = torch.randint(0, vocab, (args.prompt_text,), generator=g)
    prompt = torch.cat([text[:10], torch.tensor([cfg.vision_start_token_id]),
                        torch.full((n_image,), cfg.image_token_id), torch.tensor([cfg.vision_end_token_id]), text[10:]])
    patch_dim = 3 * 2 * 14 * 14
    pixels = torch.randn(int(grid.prod()), patch_dim, generator=g)
    sides = {}
    for side in ("chosen", "rejected"):
        response = torch.randint(0, vocab, (args.response,), generator=g)
        ids = torch.cat([prompt, response])
        types = (ids == cfg.image_token_id).int()[None]
        rope, _ = model.model.get_rope_index(ids[None].to(device), types.to(device), image_grid_thw=grid.to(device))
        positions = torch.cat([torch.arange(len(ids))[None].to(device), rope[:, 0]], 0)
        sides[side] = {"input_ids": ids, "loss_mask": torch.cat([torch.zeros(len(prompt)), torch.ones(len(response))]
                                                                ).long(), "position_ids": positions.cpu()}
    return sides, pixels, grid


def register_flex(packing):
    """`specs_pair_flex`: FlexAttention with a block mask from the packing rule (built once per forward)."""
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    from transformers import AttentionInterface
    from transformers.integrations.sdpa_attention import sdpa_attention_forward
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    compiled = torch.compile(flex_attention, dynamic=False)
    cache = {}

    def block_mask(pos):
        if cache.get("pos") is not pos:
            b, n = pos.shape
            step = torch.ones_like(pos, dtype=torch.bool)
            step[:, 1:] = pos[:, 1:] != pos[:, :-1] + 1
            starts = (pos == 0)
            starts[:, 0] = True
            seq = starts.long().cumsum(1)
            seg = (step | starts).long().cumsum(1)
            idx = torch.arange(n, device=pos.device).expand(b, n)
            seg_start = torch.zeros_like(idx).masked_scatter_(step | starts, idx[step | starts]).cummax(1).values
            start_pos = pos.gather(1, seg_start)
            first = seg.gather(1, torch.zeros_like(idx).masked_scatter_(starts, idx[starts]).cummax(1).values)

            def mask_mod(bi, h, q, kv):
                return (q >= kv) & (seq[bi, q] == seq[bi, kv]) & (
                    (seg[bi, q] == seg[bi, kv]) | ((seg[bi, kv] == first[bi, q]) & (pos[bi, kv] < start_pos[bi, q])))

            cache.update(pos=pos, mask=create_block_mask(mask_mod, b, None, n, n, device=pos.device))
        return cache["mask"]

    def attention(module, query, key, value, attention_mask, position_ids=None, **kwargs):
        is_causal = kwargs.get("is_causal", getattr(module, "is_causal", True))
        if position_ids is None or not is_causal or position_ids.dim() != 2:
            return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
        out = compiled(query, key, value, block_mask=block_mask(position_ids), scale=kwargs.get("scaling"),
                       enable_gqa=query.shape[1] != key.shape[1])
        return out.transpose(1, 2).contiguous(), None

    AttentionInterface.register("specs_pair_flex", attention)
    AttentionMaskInterface.register("specs_pair_flex", sdpa_mask)
    return "specs_pair_flex"


def batch_for(layout, sides, pixels, grid, pairs, packing, device):
    if layout == "shared":
        row = packing.pack_pair(sides["chosen"], sides["rejected"])
        rows, images = [row] * pairs, pairs
    else:
        rows, images = [sides["chosen"], sides["rejected"]] * pairs, 2 * pairs
    return {
        "input_ids": torch.stack([r["input_ids"] for r in rows]).to(device),
        "position_ids": torch.stack([r["position_ids"] for r in rows], 1).to(device),  # (4, B, L)
        "pixel_values": pixels.repeat(images, 1).to(device),
        "image_grid_thw": grid.repeat(images, 1).to(device),
        "branch": torch.stack([r.get("branch", r["loss_mask"]) for r in rows]).to(device),
    }


def visible_keys(packing, positions) -> int:
    """Sum over queries of visible keys (the attention FLOPs scale with it)."""
    return int(packing.branch_visibility(positions.cpu()).sum())


def step(model, batch, dtype):
    logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                   pixel_values=batch["pixel_values"].to(dtype), image_grid_thw=batch["image_grid_thw"]).logits
    logp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, batch["input_ids"][:, 1:, None])[..., 0]
    loss = -(logp * (batch["branch"][:, 1:] > 0)).sum() / batch["branch"].shape[0]
    loss.backward()
    return loss


def measure(args, model, batch, dtype, device, packing, attn):
    model.config._attn_implementation = model.config.text_config._attn_implementation = attn
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(args.warmup):
        step(model, batch, dtype)
        model.zero_grad(set_to_none=True)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        step(model, batch, dtype)
        sync()
        times.append(time.perf_counter() - start)
        model.zero_grad(set_to_none=True)
    tokens = batch["input_ids"].numel()
    text_params = sum(p.numel() for n, p in model.named_parameters() if "visual" not in n and "embed_tokens" not in n)
    vision_params = sum(p.numel() for n, p in model.named_parameters() if "visual" in n)
    cfg = model.config.text_config
    attention = 4 * cfg.num_hidden_layers * cfg.hidden_size * visible_keys(packing, batch["position_ids"][0])
    flops = 3 * (2 * text_params * tokens + attention) + 6 * vision_params * batch["pixel_values"].shape[0]
    median = sorted(times)[len(times) // 2]
    return {"step_s": median, "tokens": tokens, "tokens_per_s": tokens / median,
            "pairs_per_s": args.pairs / median, "tflops": flops / median / 1e12,
            "mfu": flops / median / (args.peak_tflops * 1e12),
            "peak_memory_gb": torch.cuda.max_memory_allocated() / 1024**3 if device.type == "cuda" else float("nan")}


@torch.no_grad()
def layout_difference(model, sides, pixels, grid, packing, device, dtype, shared_attn) -> float:
    """The chosen and rejected log-prob sums of one pair in both layouts: the shared mask must reproduce them."""
    sums = {}
    for layout, attn in (("separate", "sdpa"), ("shared", shared_attn)):
        model.config._attn_implementation = model.config.text_config._attn_implementation = attn
        batch = batch_for(layout, sides, pixels, grid, 1, packing, device)
        logits = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                       pixel_values=batch["pixel_values"].to(dtype), image_grid_thw=batch["image_grid_thw"]).logits
        logp = torch.log_softmax(logits[:, :-1].float(), -1).gather(-1, batch["input_ids"][:, 1:, None])[..., 0]
        scored = batch["branch"][:, 1:]
        if layout == "shared":
            sums[layout] = torch.stack([(logp * (scored == k)).sum() for k in (packing.CHOSEN, packing.REJECTED)])
        else:
            sums[layout] = (logp * (scored > 0)).sum(1)
    return float((sums["shared"] - sums["separate"]).abs().max())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--toy", action="store_true", help="tiny widths and lengths: proves the script executes")
    parser.add_argument("--layers", type=int, default=4, help="text decoder layers (7B: 28)")
    parser.add_argument("--vision-layers", type=int, default=4, help="vision blocks (7B: 32)")
    parser.add_argument("--pairs", type=int, default=2, help="pairs per step")
    parser.add_argument("--grid-h", type=int, default=48)
    parser.add_argument("--grid-w", type=int, default=100, help="patches; image tokens = h * w / 4 (1,200)")
    parser.add_argument("--prompt-text", type=int, default=150)
    parser.add_argument("--response", type=int, default=600)
    parser.add_argument("--attention", choices=["flex", "sdpa"], default=None,
                        help="shared layout's attention (default: flex on cuda, sdpa elsewhere)")
    parser.add_argument("--checkpointing", action="store_true", help="gradient checkpointing")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="bf16 dense peak (H200: 989)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    if args.toy:
        args.grid_h, args.grid_w, args.prompt_text, args.response = 4, 8, 12, 20
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    packing, attention = load_dpo_module("packing"), load_dpo_module("attention")
    attention_mode = args.attention or ("flex" if device.type == "cuda" else "sdpa")
    shared_attn = register_flex(packing) if attention_mode == "flex" else attention.register_pair_attention()

    start = time.perf_counter()
    model = build_model(args, device, dtype)
    sides, pixels, grid = make_pair(args, model, device)
    diff = layout_difference(model, sides, pixels, grid, packing, device, dtype, shared_attn)
    print(f"per-pair log-prob sums, shared minus separate: max |difference| {diff:.2e} "
          f"({'bf16' if dtype == torch.bfloat16 else 'fp32'}, attention {attention_mode})", flush=True)
    if attention_mode == "flex" and device.type == "cpu":
        print("FlexAttention has no backward on CPU: the forward check above ran, the timing is skipped")
        return 0
    results = {}
    for layout, attn in (("separate", "sdpa"), ("shared", shared_attn)):
        batch = batch_for(layout, sides, pixels, grid, args.pairs, packing, device)
        results[layout] = measure(args, model, batch, dtype, device, packing, attn)
        r = results[layout]
        print(f"{layout:8s}: step {r['step_s']:.3f} s, {r['tokens']} tokens, {r['tokens_per_s']:.0f} tokens/s, "
              f"{r['pairs_per_s']:.2f} pairs/s, {r['tflops']:.1f} TFLOP/s, MFU {r['mfu']:.1%}, "
              f"peak {r['peak_memory_gb']:.1f} GiB", flush=True)
    speedup = results["separate"]["step_s"] / results["shared"]["step_s"]
    print(f"shared vs separate: {speedup:.2f}x pairs/s; device {device}, {dtype}, attention {attention_mode}; "
          f"{args.pairs} pairs/step; total {time.perf_counter() - start:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "speedup": speedup, "logp_difference": diff, "args": vars(args)}, f,
                      indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
