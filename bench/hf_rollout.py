"""hf rollout benchmark: what batching buys `HFGenerator` over answering requests one at a time.

    python bench/hf_rollout.py [--model DIR] [--prompts 4] [--n 2] [--max-tokens 32] [--threads 1] [--repeats 3]

verl sends the rollout one request per sample, all samples of a step at once. The `hf` rollout server gathers
them into one left-padded batch; without that it would run them one after the other. This times both on the
same requests (`--prompts` tiny RL rows x `--n` samples, sampling at temperature 1 with log-probs, the way GRPO
asks), best of `--repeats`, and checks that greedy decoding gives the same tokens either way. Without
`--model` it builds the tiny random-weight Qwen2.5-VL (no download). Figures, not a pass/fail test.
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from pathlib import Path


def build_requests(generator, data_dir: Path, prompts: int, n: int, spec):
    import pandas as pd
    from PIL import Image

    from specs_verl.rollout.engine import GenerationRequest

    rows = pd.read_parquet(data_dir / "rl_train.parquet").head(prompts)
    requests = []
    for _, row in rows.iterrows():
        image = Image.open(io.BytesIO(row["images"][0]["bytes"])).convert("RGB")
        question = row["prompt"][0]["content"].replace("<image>", "")
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}]
        text = generator.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = generator.processor(text=[text], images=[image], return_tensors="pt")["input_ids"][0].tolist()
        requests += [GenerationRequest(ids, spec, [image]) for _ in range(n)]
    return requests


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a Qwen-VL checkpoint directory (default: build the tiny one)")
    parser.add_argument("--prompts", type=int, default=4, help="RL prompts (tiny data rows)")
    parser.add_argument("--n", type=int, default=2, help="samples per prompt (rollout.n)")
    parser.add_argument("--max-tokens", type=int, default=32, help="tokens generated per sample")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (the best counts)")
    args = parser.parse_args()

    import torch

    from specs_verl.rollout.engine import HFGenerator
    from specs_verl.rollout.sampling import SamplingSpec
    from specs_verl.tiny.data import make_tiny_data
    from specs_verl.tiny.model import make_tiny_model

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or str(make_tiny_model(Path(tmp) / "model", size="tiny", seed=0))
        make_tiny_data(Path(tmp) / "data", seed=0, n_train=max(8, args.prompts), n_val=4)
        generator = HFGenerator.from_pretrained(model)
        sample = SamplingSpec(max_tokens=args.max_tokens, temperature=1.0, logprobs=True, ignore_eos=True)
        requests = build_requests(generator, Path(tmp) / "data", args.prompts, args.n, sample)
        generator.generate(requests[:1])  # warm-up
        one_by_one = best_of(args.repeats, lambda: [generator.generate([r]) for r in requests])
        batched = best_of(args.repeats, lambda: generator.generate(requests))

        greedy = build_requests(generator, Path(tmp) / "data", args.prompts, 1,
                                SamplingSpec(max_tokens=args.max_tokens, temperature=0.0))
        same = [o[0].token_ids for o in generator.generate(greedy)] == [
            generator.generate([r])[0][0].token_ids for r in greedy]

    tokens = len(requests) * args.max_tokens
    print(f"{len(requests)} requests ({args.prompts} prompts x n={args.n}), {args.max_tokens} tokens each, "
          f"{args.threads} thread(s), best of {args.repeats}")
    print(f"one at a time: {one_by_one:.2f} s ({tokens / one_by_one:.0f} tokens/s)")
    print(f"batched:       {batched:.2f} s ({tokens / batched:.0f} tokens/s), {one_by_one / batched:.1f}x")
    print(f"greedy tokens identical batched and alone: {same}")


if __name__ == "__main__":
    main()
