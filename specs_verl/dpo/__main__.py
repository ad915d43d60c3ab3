"""`torchrun --nproc-per-node=N -m specs_verl.dpo [hydra overrides]`: the SPECS DPO cold start on verl's engine.
On one device `python -m specs_verl.dpo [hydra overrides]` is enough: without torchrun's variables the trainer
starts a one-rank process group itself, so no launcher process holds memory.

With VERL_PLATFORM=cpu the CPU settings (specs_verl.platform.overrides.SFT_CPU) are added by themselves;
any override you pass wins. `python -m specs_verl.dpo --help` prints every dpo.* and data.* key with its help
and default; `--cfg job` prints the whole composed config (verl's model.*, engine.*, optim.*, trainer.* too).
"""

import sys

import verl  # noqa: F401  (loads the plugin: CPU platform, patches)

from specs_verl.platform import sft_overrides


def _with_cpu_overrides(argv: list[str]) -> list[str]:
    flags = [a for a in argv if a.startswith("-") or "=" not in a]
    overrides = [a for a in argv if a not in flags]
    return flags + sft_overrides(overrides)


USAGE = """usage: torchrun --nproc-per-node=N -m specs_verl.dpo data.train_files=PAIRS.parquet [key=value ...]
       python -m specs_verl.dpo data.train_files=PAIRS.parquet [key=value ...]   (one device, one process)

The SPECS DPO cold start (arXiv 2510.25801, stage 2) on verl's FSDP engine. Every key of verl's
sft_trainer_engine.yaml (model.*, engine.*, optim.*, checkpoint.*, trainer.*) works as there; the keys this
trainer adds or reads:
"""

FOOTER = """
Print the whole composed config with `python -m specs_verl.dpo --cfg job [key=value ...]`; hydra's own flags:
--hydra-help. The result, global_step_N/huggingface, goes into GRPO's actor_rollout_ref.model.path.
"""


def print_help() -> None:
    """The help of every dpo.* and data.* key, with the default the composed config really has."""
    from hydra import compose, initialize_config_module
    from omegaconf import OmegaConf

    from .config import help_text

    with initialize_config_module(config_module="specs_verl.config", version_base=None):
        config = compose(config_name="dpo_trainer")

    def default(key: str):
        node = OmegaConf.select(config, key, throw_on_missing=False)
        return OmegaConf.to_container(node) if OmegaConf.is_config(node) else node

    print(USAGE + "\n" + help_text(default) + "\n" + FOOTER.rstrip())


def main() -> None:
    if any(a in ("--help", "-h") for a in sys.argv[1:]):
        print_help()
        return
    import hydra

    @hydra.main(config_path="pkg://specs_verl.config", config_name="dpo_trainer", version_base=None)
    def _main(config):
        from verl.utils.device import auto_set_device

        from .config import load_settings
        from .trainer import run

        try:
            settings = load_settings(config)  # a bad value stops here, before any process group or model
        except ValueError as e:
            print(f"specs_verl.dpo: error: {e}", file=sys.stderr)
            sys.exit(2)
        auto_set_device(config)
        run(config, *settings)

    sys.argv = [sys.argv[0]] + _with_cpu_overrides(sys.argv[1:])
    _main()


if __name__ == "__main__":
    main()
