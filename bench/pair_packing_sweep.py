"""How the gain of shared pair packing grows with the prompt's share of a pair: a FLOP model of Qwen2.5-VL-7B at
the paper's lengths, and a measured sweep (bigger images, longer responses) on this machine's CPU.

    python bench/pair_packing_sweep.py --flops          # the FLOP model only (instant)
    python bench/pair_packing_sweep.py [--json F]       # the FLOP model and the measured CPU sweep (~3 min)

FLOP model (per pair, one training step = forward + backward = 3 forward units; the cached reference pass adds
1 forward unit to both layouts, so the end-to-end ratio is the same):
- text matmuls: 2 x 7.07e9 FLOPs per token forward (28 layers of 233 M weights + the 545 M lm_head; the input
  embedding is a lookup); separate computes 2 (P + R) tokens, shared P + C + 1 + R (P = image + text prompt);
- text attention: 4 x 3584 x 28 FLOPs per visible (query, key) pair: separate (P+R)^2 (two causal rows),
  shared (P+C)^2 / 2 + (R+1)(P-1) + (R+1)^2 / 2;
- vision tower: 2 x 0.67e9 FLOPs per patch (4 patches per image token) plus its 4 full-attention blocks
  (4 x 1280 per patch pair each), run twice (separate) or once (shared).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

TEXT_PARAMS = 28 * (2 * 3584 * 3584 + 2 * 3584 * 512 + 3 * 3584 * 18944) + 3584 * 152064
VISION_PARAMS = 0.67e9
ATTN_PER_PAIR = 4 * 3584 * 28


def pair_flops(image_tokens: int, prompt_text: int, response: int, layout: str) -> float:
    """Forward FLOPs of one pair (both responses `response` tokens long)."""
    p, c, r = image_tokens + prompt_text, response, response
    patches = 4 * image_tokens
    vision = 2 * VISION_PARAMS * patches + 4 * 4 * 1280 * patches**2
    if layout == "separate":
        tokens, visible, encodes = 2 * (p + r), (p + r) ** 2, 2
    else:
        tokens, visible, encodes = p + c + 1 + r, (p + c) ** 2 / 2 + (r + 1) * (p - 1) + (r + 1) ** 2 / 2, 1
    return 2 * TEXT_PARAMS * tokens + ATTN_PER_PAIR * visible + encodes * vision


def flop_table() -> list[str]:
    lines = ["| image tokens | prompt text | each response | prompt share of each sequence | separate TFLOP/pair "
             "(train step) | shared TFLOP/pair | expected speed-up |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for image in (256, 1200, 4096, 12000):
        for response in (150, 600, 2000):
            if image + 150 + response > 16384:
                continue
            sep, sh = (3 * pair_flops(image, 150, response, k) for k in ("separate", "shared"))
            share = (image + 150) / (image + 150 + response)
            lines.append(f"| {image} | 150 | {response} | {share:.0%} | {sep / 1e12:.1f} | {sh / 1e12:.1f} | "
                         f"{sep / sh:.2f}x |")
    return lines


def measured_sweep(iters: int) -> list[str]:
    """A small Qwen2.5-VL-shaped random model on CPU (fp32): one step (forward + backward) of 2 pairs per layout."""
    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import pair_packing_gpu as gpu

    torch.set_num_threads(1)
    packing, attention = gpu.load_dpo_module("packing"), gpu.load_dpo_module("attention")
    shared_attn = attention.register_pair_attention()
    lines = ["| image tokens | each response | prompt share | separate s/step | shared s/step | speed-up |",
             "|---:|---:|---:|---:|---:|---:|"]
    base = argparse.Namespace(toy=True, toy_hidden=256, checkpointing=False, pairs=2, warmup=1, iters=iters,
                              peak_tflops=1.0, prompt_text=30)
    model = gpu.build_model(base, torch.device("cpu"), torch.float32)
    for grid_h, grid_w in ((8, 16), (16, 32), (32, 64)):
        for response in (32, 128, 512):
            args = argparse.Namespace(**{**vars(base), "grid_h": grid_h, "grid_w": grid_w, "response": response})
            sides, pixels, grid = gpu.make_pair(args, model, torch.device("cpu"))
            times = {}
            for layout, attn in (("separate", "sdpa"), ("shared", shared_attn)):
                batch = gpu.batch_for(layout, sides, pixels, grid, args.pairs, packing, torch.device("cpu"))
                times[layout] = gpu.measure(args, model, batch, torch.float32, torch.device("cpu"), packing,
                                            attn)["step_s"]
            image = grid_h * grid_w // 4
            share = (image + 32) / (image + 32 + response)  # 30 text tokens + vision start/end
            lines.append(f"| {image} | {response} | {share:.0%} | {times['separate']:.3f} | {times['shared']:.3f} | "
                         f"{times['separate'] / times['shared']:.2f}x |")
            print(lines[-1], flush=True)
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flops", action="store_true", help="the FLOP model only")
    parser.add_argument("--iters", type=int, default=3, help="timed steps per point (median)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    flops = flop_table()
    print("FLOP model, Qwen2.5-VL-7B, one training step per pair:\n" + "\n".join(flops))
    sweep = [] if args.flops else measured_sweep(args.iters)
    if sweep:
        print("\nmeasured on this CPU (Qwen2.5-VL-shaped toy, text width 256, 2 + 2 layers, fp32, 2 pairs per step, "
              "1 thread; the prompt holds 32 text tokens plus the image):\n" + "\n".join(sweep))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"flop_model": flops, "measured": sweep}, f, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
