"""`torchrun --nproc-per-node=N -m specs_verl.dpo [hydra overrides]`: the SPECS DPO cold start on verl's engine.

With VERL_PLATFORM=cpu the CPU settings (specs_verl.platform.overrides.SFT_CPU) are added by themselves;
any override you pass wins. `python -m specs_verl.dpo --help` shows the config and its documented defaults.
"""

import sys

import verl  # noqa: F401  (loads the plugin: CPU platform, patches)

from specs_verl.platform import sft_overrides


def _with_cpu_overrides(argv: list[str]) -> list[str]:
    flags = [a for a in argv if a.startswith("-") or "=" not in a]
    overrides = [a for a in argv if a not in flags]
    return flags + sft_overrides(overrides)


def main() -> None:
    import hydra

    @hydra.main(config_path="pkg://specs_verl.config", config_name="dpo_trainer", version_base=None)
    def _main(config):
        from verl.utils.device import auto_set_device

        from .trainer import run

        auto_set_device(config)
        run(config)

    sys.argv = [sys.argv[0]] + _with_cpu_overrides(sys.argv[1:])
    _main()


if __name__ == "__main__":
    main()
