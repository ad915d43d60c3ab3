"""Compose a stage's config exactly as its entry point will, without running it (the recipes' --dry-run).

An unknown key, a wrong type or a missing `???` value fails here with hydra's own message, before any GPU is
touched. verl's GRPO config is also turned into verl's dataclasses (what main_ppo does first), which checks
values too. `settings()` names the values a stage will train with, for the dry run's report.
"""

from __future__ import annotations

from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

_GRPO_REQUIRED = ("data.train_files", "data.val_files", "actor_rollout_ref.model.path")
_SFT_REQUIRED = ("data.train_files", "model.path")

# kind -> (config module, config name, what the stage must be given: verl's trees also hold `???` keys that
# only optional features need)
CONFIGS = {
    "grpo": ("verl.trainer.config", "ppo_trainer", _GRPO_REQUIRED),  # verl's own, for a plain verl command
    "grpo_specs": ("specs_verl.config", "grpo_specs", _GRPO_REQUIRED),
    "grpo_cpu": ("specs_verl.config", "grpo_cpu", _GRPO_REQUIRED),
    "sft": ("verl.trainer.config", "sft_trainer_engine", _SFT_REQUIRED),
    "sft_coldstart": ("specs_verl.config", "sft_coldstart", _SFT_REQUIRED),
    "dpo": ("specs_verl.config", "dpo_trainer", _SFT_REQUIRED),
}

# what the dry run reports of a composed config (short name -> key), the paper's settings among them
SETTINGS = {
    "grpo": {"n": "actor_rollout_ref.rollout.n", "lr": "actor_rollout_ref.actor.optim.lr",
             "kl_loss": "actor_rollout_ref.actor.use_kl_loss", "kl_reward": "algorithm.use_kl_in_reward",
             "clip": ("actor_rollout_ref.actor.clip_ratio_low", "actor_rollout_ref.actor.clip_ratio_high"),
             "max_response": "data.max_response_length", "reward": "reward.reward_manager.name",
             "save": "actor_rollout_ref.actor.checkpoint.save_contents", "trainer": "trainer.v1.trainer_mode",
             "gf_id": "specs.gf.id_sources", "gf_ood": "specs.gf.ood_sources", "gf_metric": "specs.gf.metric"},
    "sft": {"lr": "optim.lr", "batch": "data.train_batch_size", "max_length": "data.max_length",
            "epochs": "trainer.total_epochs", "save": "checkpoint.save_contents"},
}


def compose_config(kind: str, overrides: list[str]):
    if kind not in CONFIGS:
        raise ValueError(f"unknown config kind {kind!r}; choose from {sorted(CONFIGS)}")
    module, name, required = CONFIGS[kind]
    with initialize_config_module(config_module=module, version_base=None):
        config = compose(config_name=name, overrides=list(overrides))
    for key in required:
        if OmegaConf.is_missing(config, key) if "." not in key else _missing(config, key):
            raise ValueError(f"{key} is required")
    OmegaConf.to_container(config, resolve=True)
    if kind.startswith("grpo"):
        from verl.utils.config import omega_conf_to_dataclass

        omega_conf_to_dataclass(config.actor_rollout_ref.actor)
        omega_conf_to_dataclass(config.actor_rollout_ref.rollout)
    return config


def settings(kind: str, config) -> str:
    """`n=8 lr=1e-06 ...`: the values of SETTINGS for this kind of stage (absent keys left out)."""
    family = "grpo" if kind.startswith("grpo") else "sft" if kind.startswith("sft") else None
    parts = []
    for short, key in SETTINGS.get(family, {}).items():
        values = [OmegaConf.select(config, k, default=None) for k in ((key,) if isinstance(key, str) else key)]
        if all(v is None for v in values):
            continue
        parts.append(f"{short}=" + "/".join(_show(v) for v in values))
    return " ".join(parts)


def _show(value) -> str:
    if OmegaConf.is_config(value):
        value = OmegaConf.to_container(value, resolve=True)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(map(str, value)) + "]"
    return str(value)


def _missing(config, dotted: str) -> bool:
    parent, _, leaf = dotted.rpartition(".")
    node = OmegaConf.select(config, parent)
    return node is None or OmegaConf.is_missing(node, leaf) or OmegaConf.select(config, dotted) in (None, "")
