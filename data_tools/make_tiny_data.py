#!/usr/bin/env python
"""Write tiny synthetic multimodal data (no download): RL, preference and SFT parquet files.

  python data_tools/make_tiny_data.py --out DIR [--seed N] [--n-train 64] [--n-val 16]

Files: rl_train.parquet (ID task), rl_val_id.parquet, rl_val_ood_<name>.parquet (one per OOD task),
pairs_train.parquet and pairs_val.parquet (preference pairs), sft_train.parquet (mixed-format chats).
"""

import argparse
import sys

from specs_verl.tiny.data import make_tiny_data


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="directory to write into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-train", type=int, default=64, help="training questions (default 64)")
    parser.add_argument("--n-val", type=int, default=16, help="validation questions per task (default 16)")
    parser.add_argument("--formatted-share", type=float, default=0.25,
                        help="share of SFT answers in the think/answer format (default 0.25; the rest are plain)")
    args = parser.parse_args(argv)
    written = make_tiny_data(args.out, seed=args.seed, n_train=args.n_train, n_val=args.n_val,
                             formatted_share=args.formatted_share)
    for name, rows in written.items():
        print(f"{args.out}/{name}: {rows} rows")
    return 0


if __name__ == "__main__":
    sys.exit(main())
