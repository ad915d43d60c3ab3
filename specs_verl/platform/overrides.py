"""Everything a verl run needs to change on CPU, in one readable place.

Our entry points (the DPO trainer, the recipes) add these by themselves when VERL_PLATFORM=cpu; a user's own
override of the same key always wins. For verl's own commands (`verl.trainer.sft_trainer`,
`verl.trainer.main_ppo`), `python -m specs_verl.platform sft|grpo` prints them.
"""

from __future__ import annotations

import os


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

# verl's main_ppo (GRPO) with the `hf` rollout. The same settings as the preset specs_verl/config/grpo_cpu.yaml
# (`--config-path=pkg://specs_verl.config --config-name=grpo_cpu`, which also sets algorithm.adv_estimator=grpo);
# tests/rollout/test_preset.py keeps the two in step.
GRPO_CPU = (
    "trainer.device=cpu",
    "actor_rollout_ref.rollout.name=hf",
    "actor_rollout_ref.model.use_remove_padding=False",
    "actor_rollout_ref.model.enable_gradient_checkpointing=False",
    "+actor_rollout_ref.model.override_config.attn_implementation=sdpa",
    "actor_rollout_ref.actor.strategy=fsdp2",
    "actor_rollout_ref.ref.strategy=fsdp2",
    "actor_rollout_ref.actor.fsdp_config.strategy=fsdp2",
    "actor_rollout_ref.ref.fsdp_config.strategy=fsdp2",
    "actor_rollout_ref.actor.use_torch_compile=False",
    "actor_rollout_ref.ref.use_torch_compile=False",
    "actor_rollout_ref.actor.fsdp_config.use_torch_compile=False",
    "actor_rollout_ref.ref.fsdp_config.use_torch_compile=False",
    "actor_rollout_ref.rollout.tensor_model_parallel_size=1",
    "actor_rollout_ref.rollout.agent.num_workers=1",
    # float32 on both sides: on CPU bf16 saves nothing, and rollout and actor log-probs then agree to ~1e-6
    # (verl's FSDP engine computes in bf16 unless told; reduce and buffer dtypes already default to fp32)
    "+actor_rollout_ref.actor.fsdp_config.mixed_precision.param_dtype=fp32",
    "+actor_rollout_ref.ref.fsdp_config.mixed_precision.param_dtype=fp32",
    "actor_rollout_ref.rollout.dtype=float32",
    "data.dataloader_num_workers=0",
    "reward.num_workers=1",
    "trainer.n_gpus_per_node=1",
    "trainer.nnodes=1",
    "trainer.logger=[console]",
    # TransferQueue starts ~9 actors that each reserve a CPU: give Ray more logical CPUs than cores, declare
    # one logical GPU (verl sizes its resource pool from accelerators) and use a single storage unit.
    "ray_kwargs.ray_init.num_cpus=32",
    "+ray_kwargs.ray_init.num_gpus=1",
    "transfer_queue.backend.SimpleStorage.num_data_storage_units=1",
)


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def merge_overrides(defaults: tuple[str, ...] | list[str], user: list[str]) -> list[str]:
    """`defaults` first, minus every key the user sets; the user's overrides after (so they win)."""
    user_keys = {_key(o) for o in user}
    return [o for o in defaults if _key(o) not in user_keys] + list(user)


def sft_overrides(user: list[str]) -> list[str]:
    return merge_overrides(SFT_CPU, user) if is_cpu() else list(user)


def grpo_overrides(user: list[str]) -> list[str]:
    return merge_overrides(GRPO_CPU, user) if is_cpu() else list(user)
