"""Compose a stage's config exactly as its entry point will, without running it (the recipes' --dry-run).

An unknown key, a wrong type or a missing `???` value fails here with hydra's own message, before any GPU is
touched. verl's GRPO config is also turned into verl's dataclasses (what main_ppo does first), which checks
values too.
"""

from __future__ import annotations

from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

# what each stage must be given (verl's trees also hold `???` keys that only optional features need)
REQUIRED = {
    "grpo": ("data.train_files", "data.val_files", "actor_rollout_ref.model.path"),
    "sft": ("data.train_files", "model.path"),
    "dpo": ("data.train_files", "model.path"),
}

# entry point -> (config module, config name)
CONFIGS = {
    "grpo": ("verl.trainer.config", "ppo_trainer"),
    "grpo_cpu": ("specs_verl.config", "grpo_cpu"),
    "sft": ("verl.trainer.config", "sft_trainer_engine"),
    "dpo": ("specs_verl.config", "dpo_trainer"),
}


def compose_config(kind: str, overrides: list[str]):
    if kind not in CONFIGS:
        raise ValueError(f"unknown config kind {kind!r}; choose from {sorted(CONFIGS)}")
    module, name = CONFIGS[kind]
    with initialize_config_module(config_module=module, version_base=None):
        config = compose(config_name=name, overrides=list(overrides))
    for key in REQUIRED[kind.removesuffix("_cpu")]:
        if OmegaConf.is_missing(config, key) if "." not in key else _missing(config, key):
            raise ValueError(f"{key} is required")
    OmegaConf.to_container(config, resolve=True)
    if kind.startswith("grpo"):
        from verl.utils.config import omega_conf_to_dataclass

        omega_conf_to_dataclass(config.actor_rollout_ref.actor)
        omega_conf_to_dataclass(config.actor_rollout_ref.rollout)
    return config


def _missing(config, dotted: str) -> bool:
    parent, _, leaf = dotted.rpartition(".")
    node = OmegaConf.select(config, parent)
    return node is None or OmegaConf.is_missing(node, leaf) or OmegaConf.select(config, dotted) in (None, "")
