"""Print the environment and overrides a CPU run of verl needs: `python -m specs_verl.platform sft|grpo`."""

import argparse

from .overrides import SFT_CPU, cpu_env, grpo_cpu_overrides


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m specs_verl.platform", description=__doc__)
    parser.add_argument("kind", choices=["sft", "grpo"], help="verl.trainer.sft_trainer (and DPO) or main_ppo")
    parser.add_argument("--overrides-only", action="store_true",
                        help="one override a line, without the environment line (what the recipes read)")
    args = parser.parse_args()
    overrides = SFT_CPU if args.kind == "sft" else grpo_cpu_overrides()
    if args.overrides_only:
        print("\n".join(overrides))
        return
    print(" ".join(f"{k}={v}" for k, v in cpu_env().items()))
    print(" \\\n".join(overrides))


if __name__ == "__main__":
    main()
