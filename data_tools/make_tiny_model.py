#!/usr/bin/env python
"""Write a random-weight Qwen2.5-VL checkpoint (no download): config, weights, tokenizer, processor.

  python data_tools/make_tiny_model.py --out DIR [--seed N] [--size tiny|small]
"""

import argparse
import sys
import time

from specs_verl.tiny.model import SIZES, count_parameters, make_tiny_model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="checkpoint directory to write (replaced atomically)")
    parser.add_argument("--seed", type=int, default=0, help="weights and tokenizer seed (default 0)")
    parser.add_argument("--size", choices=sorted(SIZES), default="tiny",
                        help="tiny: ~0.2M parameters, <1 MB (tests); small: ~12M (benchmarks, the CPU pipeline)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    path = make_tiny_model(args.out, size=args.size, seed=args.seed)
    print(f"wrote {path} ({args.size}, {count_parameters(path):,} parameters, seed {args.seed}) "
          f"in {time.perf_counter() - start:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
