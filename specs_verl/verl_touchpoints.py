"""Every verl and torch name (and two transformers ones) this package relies on beyond verl's documented
extension points, in one list.

Each entry says where the name lives, what this package does with it (patches it, subclasses it, calls it with
these parameters, reads a private registry), which of our modules does so, and the verl versions it was written
against. A verl upgrade that moves or renames one of them would otherwise fail far from the cause, or not at
all (a patch that finds nothing to patch).

Checked by the plugin, once per process: the entries of a module verl has already imported when the plugin
loads are checked at once; the others the moment verl imports their module (a post-import hook: checking them
all at load would import ~2,000 modules into every verl process). Each missing name, or a callable whose
parameters no longer start with the ones listed, logs one WARNING naming the touchpoint and what stops
working. `check_all()` imports every module and returns the problems (tests/test_verl_touchpoints.py).
Attributes an object only gets when built (HFReplica reads `workers`, `world_size`...; the DPO trainer reads its
engine's `module`) cannot be checked before a run; the `use` text names them.
"""

from __future__ import annotations

import importlib
import inspect
import logging
from dataclasses import dataclass
from types import ModuleType

logger = logging.getLogger("specs_verl")

WRITTEN_FOR = "0.9.1"  # the verl release the verl entries were read in (pyproject claims 0.9.x)


@dataclass(frozen=True)
class Touchpoint:
    module: str  # where verl (or torch) defines or exposes the name
    name: str  # attribute path inside the module ("Class.method")
    params: tuple[str, ...] | None  # leading parameter names we rely on (without self); None: not called
    use: str  # what this package does with it
    where: str  # our module that does it
    written_for: str = f"verl {WRITTEN_FOR}"  # the release the entry was read in

    @property
    def label(self) -> str:
        return f"{self.module}.{self.name}"


T = Touchpoint
TOUCHPOINTS: tuple[Touchpoint, ...] = (
    # the CPU platform (specs_verl.platform)
    T("verl.plugin.platform.platform_manager", "PlatformRegistry.register", ("platform",),
      "registers the `cpu` platform", "platform/cpu.py"),
    T("verl.plugin.platform.platform_base", "PlatformBase", None, "base class of the `cpu` platform", "platform/cpu.py"),
    T("verl.utils.distributed", "initialize_global_process_group", ("timeout_second",),
      "replaced on CPU by a plain gloo group", "platform/patches.py"),
    T("verl.utils.distributed", "initialize_global_process_group_ray", ("timeout_second", "backend"),
      "wrapped on CPU to force backend gloo", "platform/patches.py"),
    T("verl.utils.fsdp_utils", "CPUOffloadPolicy", ("pin_memory",),
      "torch's FSDP2 policy, replaced on CPU by an unpinned subclass (super().__init__(False))",
      "platform/patches.py"),
    # the `hf` rollout (specs_verl.rollout)
    T("verl.workers.rollout.replica", "RolloutReplicaRegistry._registry", None,
      "private dict read so that another `hf` rollout is not replaced", "rollout/registration.py"),
    T("verl.workers.rollout.replica", "RolloutReplicaRegistry.register", ("name", "loader"),
      "registers the `hf` replica by a loader (no import)", "rollout/registration.py"),
    T("verl.workers.rollout.base", "_ROLLOUT_REGISTRY", None,
      "private dict: (name, mode) -> adapter path, `hf` added", "rollout/registration.py"),
    T("verl.workers.rollout.replica", "RolloutReplica.launch_servers", (),
      "overridden by HFReplica (reads workers, world_size, replica_rank, name_suffix, max_concurrency)",
      "rollout/replica.py"),
    T("verl.workers.rollout.replica", "TokenOutput", ("token_ids", "log_probs", "routed_experts", "stop_reason"),
      "built by the hf server as verl's generate reply", "rollout/server.py"),
    T("verl.workers.rollout.base", "BaseRollout.__init__", ("config", "model_config", "device_mesh"),
      "called positionally by HFServerAdapter", "rollout/adapter.py"),
    T("verl.workers.rollout.base", "BaseRollout.update_weights", ("weights", "wire_format"),
      "overridden by HFServerAdapter", "rollout/adapter.py"),
    T("verl.utils.tensordict_utils", "maybe_fix_3d_position_ids", ("data",),
      "wrapped where it has verl issue 7899; if it is gone, the 7899 guard is off", "rollout/position_ids_fix.py"),
    T("verl.utils.tensordict_utils", "nested_tensor_from_tensor_list", ("tensors", "ragged_idx"),
      "rebuilds equal-length position ids (7899 guard)", "rollout/position_ids_fix.py"),
    # the `specs_sync` GRPO trainer (specs_verl.grpo)
    T("verl.trainer.ppo.v1.trainer_base", "register_trainer", ("name",),
      "registers `specs_sync`", "grpo.py"),
    T("verl.trainer.ppo.v1.trainer_sync", "PPOTrainerSync.__init__", ("config",),
      "subclassed; trainer_mode forced back to the exact string 'sync' before it runs", "grpo.py"),
    T("verl.trainer.ppo.v1.trainer_sync", "PPOTrainerSync._val_metrics_update", ("data_sources",),
      "private method overridden to add the GF metrics to every validation", "grpo.py"),
    # the `specs` reward managers (specs_verl.reward_managers)
    T("verl.experimental.reward_loop.reward_manager", "register", ("name",),
      "registers `specs` in the reward loop", "reward_managers/reward_loop.py"),
    T("verl.experimental.reward_loop.reward_manager.naive", "NaiveRewardManager.__init__",
      ("config", "tokenizer", "compute_score", "reward_router_address", "reward_model_tokenizer"),
      "subclassed; super().__init__ called with these keywords", "reward_managers/reward_loop.py"),
    T("verl.experimental.reward_loop.reward_manager.naive", "NaiveRewardManager.run_single", ("data",),
      "inherited; scores with the compute_score attribute set after super().__init__",
      "reward_managers/reward_loop.py"),
    T("verl.workers.reward_manager", "register", ("name",), "registers `specs` in the legacy registry",
      "reward_managers/legacy.py"),
    T("verl.workers.reward_manager.naive", "NaiveRewardManager.__init__",
      ("tokenizer", "num_examine", "compute_score", "reward_fn_key", "compute_score_timeout"),
      "subclassed; super().__init__ called with these keywords", "reward_managers/legacy.py"),
    # the DPO trainer (specs_verl.dpo)
    T("verl.workers.engine_workers", "TrainingWorker.__init__", ("config",), "the DPO policy and reference",
      "dpo/trainer.py"),
    T("verl.workers.engine_workers", "TrainingWorker.set_loss_fn", ("loss_fn",), "the DPO loss", "dpo/trainer.py"),
    T("verl.workers.engine_workers", "TrainingWorker.train_batch", ("data",), "one DPO step", "dpo/trainer.py"),
    T("verl.workers.engine_workers", "TrainingWorker.infer_batch", ("data",), "reference log-probs, validation",
      "dpo/trainer.py"),
    T("verl.workers.engine_workers", "TrainingWorkerConfig",
      ("_target_", "model_type", "model_config", "engine_config", "optimizer_config", "checkpoint_config",
       "profiler_config"), "built by keyword", "dpo/trainer.py"),
    T("verl.utils.checkpoint", "CheckpointHandler.__init__", ("engine", "train_dataloader"),
      "saves and resumes the DPO run in verl's layout", "dpo/trainer.py"),
    T("verl.utils.tensordict_utils", "get_tensordict", ("tensor_dict", "non_tensor_dict"), "DPO batches",
      "dpo/trainer.py"),
    T("verl.utils.tensordict_utils", "assign_non_tensor", ("tensor_dict",), "DPO batch metadata", "dpo/trainer.py"),
    T("verl.utils.tensordict_utils", "get_non_tensor_data", ("data", "key", "default"), "DPO loss metadata",
      "dpo/loss_fn.py"),
    T("verl.utils.dataset.dataset_utils", "SFTTensorCollator.__init__", ("pad_mode",),
      "collates pairs in no-padding mode", "dpo/data.py"),
    T("verl.utils.dataset.dataset_utils", "DatasetPadMode.NO_PADDING", None, "the collator's mode", "dpo/data.py"),
    T("verl.models.transformers.qwen2_vl", "get_rope_index", ("processor", "input_ids", "image_grid_thw"),
      "Qwen-VL mRoPE ids of a pair", "dpo/data.py"),
    T("verl.models.transformers.qwen2_vl", "_get_input_embeds",
      ("model", "input_ids", "attention_mask", "pixel_values", "pixel_values_videos", "image_grid_thw",
       "video_grid_thw"), "private function replaced for text-only micro-batches", "text_only_vision.py"),
    T("verl.models.transformers.qwen2_vl", "unpack_visual_output", ("visual_output",),
      "reads the vision tower's output in the text-only patch", "text_only_vision.py"),
    T("verl.utils.tracking", "Tracking.__init__", ("project_name", "experiment_name"), "DPO metrics",
      "dpo/trainer.py"),
    # the DPO engine (dpo/engine.py): verl's FSDP engine with the LM head on the scored positions only
    T("verl.workers.engine", "EngineRegistry.register", ("model_type", "backend", "device"),
      "registers the DPO engine under its own model type", "dpo/engine.py"),
    T("verl.workers.engine", "EngineRegistry._engines", None,
      "private dict read so that the DPO engine is registered once", "dpo/engine.py"),
    T("verl.workers.engine", "EngineRegistry.get_engine_cls", ("model_type", "backend"),
      "looks up the registered DPO engine", "dpo/engine.py"),
    T("verl.workers.engine.fsdp.transformer_impl", "FSDPEngineWithLMHead.prepare_model_inputs", ("micro_batch",),
      "subclassed: reads output_args' `input_ids_rmpad_rolled`, `temperature_is_one`, `pad_size` and the engine's "
      "`use_ulysses_sp`", "dpo/engine.py"),
    T("verl.workers.engine.fsdp.transformer_impl", "FSDPEngineWithLMHead.prepare_model_outputs",
      ("output", "output_args", "micro_batch", "logits_processor_func"),
      "subclassed: returns `log_probs` in verl's jagged layout", "dpo/engine.py"),
    T("verl.workers.engine.fsdp.transformer_impl", "FSDPEngineWithLMHead.optimizer_step", (),
      "subclassed on one process: reads the engine's `module`, `optimizer`, `optimizer_config.clip_grad`, "
      "`scaler`, `_qat_enabled`", "dpo/engine.py"),
    T("verl.workers.engine.fsdp.transformer_impl", "FSDPEngineWithLMHead.forward_step",
      ("micro_batch", "loss_function", "forward_only"), "subclassed: clears the LM-head selection",
      "dpo/engine.py"),
    T("verl.utils.torch_functional", "logprobs_from_logits", ("logits", "labels"),
      "flash-attn's fused log-probs where available", "dpo/engine.py"),
    T("verl.utils.torch_functional", "FLAH_ATTN_CROSS_ENTROPY_LOSS_AVAILABLE", None,
      "chooses verl's fused log-probs (verl's spelling)", "dpo/engine.py"),
    # generation over verl's rollout replicas (generation/replicas.py)
    T("verl.workers.rollout.replica", "get_rollout_replica_class", ("rollout",),
      "the replica class of `--backend`", "generation/replicas.py"),
    T("verl.workers.rollout.replica", "RolloutReplica.__init__",
      ("replica_rank", "config", "model_config", "gpus_per_node"),
      "built by keyword with a `name_suffix` per pool; reads `server_handle`, `servers`, `workers` once started",
      "generation/replicas.py"),
    T("verl.workers.rollout.replica", "RolloutReplica.init_standalone", (),
      "starts a replica outside a trainer", "generation/replicas.py"),
    T("verl.plugin.platform.platform_manager", "set_platform", ("platform",),
      "selects the `cpu` platform in a driver that picked another", "generation/replicas.py"),
    T("verl.plugin.platform.platform_manager", "get_platform", (),
      "reads the driver's platform", "generation/replicas.py"),
    # transformers (the DPO pair attention)
    T("transformers.integrations.sdpa_attention", "sdpa_attention_forward",
      ("module", "query", "key", "value", "attention_mask"),
      "called positionally by the pair attention for what it does not pack", "dpo/attention.py",
      written_for="transformers 5.10"),
    T("transformers.masking_utils", "sdpa_mask", ("batch_size", "q_length", "kv_length"),
      "registered as the pair attention's mask builder", "dpo/attention.py", written_for="transformers 5.10"),
)
del T


def _resolve(module: ModuleType, dotted: str):
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def problem(touchpoint: Touchpoint, module: ModuleType | None = None) -> str | None:
    """What is wrong with one touchpoint in the loaded verl (None: it is there as expected)."""
    try:
        module = module or importlib.import_module(touchpoint.module)
    except ImportError as e:
        return f"module {touchpoint.module} cannot be imported ({e})"
    try:
        obj = _resolve(module, touchpoint.name)
    except AttributeError:
        return f"{touchpoint.label} is missing"
    if touchpoint.params is None:
        return None
    try:
        params = [p for p in inspect.signature(obj).parameters if p != "self"]
    except (TypeError, ValueError):
        return None  # a builtin without a signature: nothing more to compare
    if params[:len(touchpoint.params)] != list(touchpoint.params):
        return f"{touchpoint.label} takes ({', '.join(params)}), expected ({', '.join(touchpoint.params)}, ...)"
    return None


_checked: set[Touchpoint] = set()


def check_module(module: ModuleType) -> int:
    """Check every touchpoint of `module` not yet checked in this process; one WARNING per problem."""
    found = 0
    for touchpoint in TOUCHPOINTS:
        if touchpoint.module != module.__name__ or touchpoint in _checked:
            continue
        _checked.add(touchpoint)
        issue = problem(touchpoint, module)
        if issue is not None:
            found += 1
            logger.warning("specs_verl: verl touchpoint changed: %s (written for %s). Affected: %s (%s)",
                           issue, touchpoint.written_for, touchpoint.use, touchpoint.where)
    return found


def install() -> None:
    """Check each touchpoint the moment verl has its module imported (at once for those already imported)."""
    from specs_verl.import_hooks import hooks

    for name in dict.fromkeys(t.module for t in TOUCHPOINTS):
        hooks.add(name, check_module)


def check_all() -> list[str]:
    """Import every module listed and return the problems (empty when this verl has every touchpoint)."""
    return [issue for t in TOUCHPOINTS if (issue := problem(t)) is not None]
