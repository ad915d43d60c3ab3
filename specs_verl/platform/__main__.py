"""Print the environment and overrides a CPU run of verl needs: `python -m specs_verl.platform sft|grpo`."""

import argparse

from .overrides import GRPO_CPU, SFT_CPU, cpu_env


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m specs_verl.platform", description=__doc__)
    parser.add_argument("kind", choices=["sft", "grpo"], help="verl.trainer.sft_trainer (and DPO) or main_ppo")
    args = parser.parse_args()
    print(" ".join(f"{k}={v}" for k, v in cpu_env().items()))
    print(" \\\n".join(SFT_CPU if args.kind == "sft" else GRPO_CPU))


if __name__ == "__main__":
    main()
