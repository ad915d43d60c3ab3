"""Everything a verl run needs to change on CPU, in one readable place.

Our entry points (the DPO trainer, the recipes) add these by themselves when VERL_PLATFORM=cpu; a user's own
override of the same key always wins. For verl's own commands (`verl.trainer.sft_trainer`,
`verl.trainer.main_ppo`), `python -m specs_verl.platform sft|grpo` prints them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path


def is_cpu() -> bool:
    return os.environ.get("VERL_PLATFORM", "").strip().lower() == "cpu"


def cpu_env() -> dict[str, str]:
    """Environment for a CPU run of verl (the plugin sets the engine variables itself once selected)."""
    return {
        "VERL_PLATFORM": "cpu",
        "VERL_ENGINE_DEVICE": "cuda",  # verl's FSDP engine is registered for cuda only; it runs on CPU as is
        "VERL_ENGINE_VENDOR": "nvidia",
        "RAY_AUTH_MODE": "disabled",  # Ray >= 2.60 writes an auth token under $HOME otherwise
        "WANDB_MODE": "disabled",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }


# verl's SFT engine trainer (and our DPO trainer, which extends its config).
SFT_CPU = (
    "trainer.device=cpu",
    "engine.strategy=fsdp2",  # FSDP1 wants parameters on an accelerator
    "engine.use_torch_compile=False",
    "+model.override_config.attn_implementation=sdpa",  # the default asks for flash_attention_2
    # compute in float32: verl's engine autocasts to bf16 by default, which on CPU is several times slower
    "+engine.mixed_precision.param_dtype=fp32",
    "model.use_remove_padding=False",  # the remove-padding patch imports flash_attn
    "model.enable_gradient_checkpointing=False",
    "data.num_workers=0",
    "trainer.logger=[console]",
)

# verl's main_ppo (GRPO) with the `hf` rollout: the keys of specs_verl/config/grpo_cpu.yaml itself (what it adds
# to grpo_specs), read from that file as `++key=value` overrides (`++`: set whether or not verl's tree has the key),
# so a verl command built on any ppo_trainer config gets the same CPU settings as the preset.
GRPO_CPU_PRESET = Path(__file__).resolve().parents[1] / "config" / "grpo_cpu.yaml"


@functools.cache
def grpo_cpu_overrides() -> tuple[str, ...]:
    from omegaconf import OmegaConf

    own = OmegaConf.to_container(OmegaConf.load(GRPO_CPU_PRESET), resolve=False)
    own.pop("hydra", None)
    own.pop("defaults", None)
    return tuple(f"++{key}={_hydra_value(value)}" for key, value in _leaves(own))


def _leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _hydra_value(value) -> str:
    if isinstance(value, list):
        return "[" + ",".join(_hydra_value(v) for v in value) + "]"
    return "null" if value is None else str(value)


def __getattr__(name: str):
    if name == "GRPO_CPU":  # read on first use: importing this module reads no file and imports no omegaconf
        return grpo_cpu_overrides()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def merge_overrides(defaults: tuple[str, ...] | list[str], user: list[str]) -> list[str]:
    """`defaults` first, minus every key the user sets; the user's overrides after (so they win)."""
    user_keys = {_key(o) for o in user}
    return [o for o in defaults if _key(o) not in user_keys] + list(user)


def sft_overrides(user: list[str]) -> list[str]:
    return merge_overrides(SFT_CPU, user) if is_cpu() else list(user)


def grpo_overrides(user: list[str]) -> list[str]:
    return merge_overrides(grpo_cpu_overrides(), user) if is_cpu() else list(user)
