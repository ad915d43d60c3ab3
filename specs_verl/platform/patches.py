"""The three places where verl assumes an accelerator, each patched narrowly, and only on the CPU platform.

`specs_verl.platform.register` installs them as post-import hooks: each patch runs the moment verl imports the
module it changes, before verl's trainers and workers import the patched names (they use `from module import
name`, so the patch must come first), and never imports that module earlier. Each one applies only if the CPU
platform is selected (VERL_PLATFORM=cpu) at that moment, so a VERL_PLATFORM set after `import verl` still counts.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from types import ModuleType

logger = logging.getLogger(__name__)


def gloo_process_groups(vd: ModuleType) -> None:
    """verl builds the backend string `cpu:gloo,<device>:<backend>`, which torch rejects when the device is
    `cpu` itself (duplicate device type). On CPU the whole group is plain gloo. `vd`: verl.utils.distributed."""
    import torch.distributed as dist

    if getattr(vd.initialize_global_process_group, "_specs_cpu", False):
        return

    def initialize_global_process_group(timeout_second=36000):
        dist.init_process_group(backend="gloo", timeout=timedelta(seconds=timeout_second),
                                init_method=os.environ.get("DIST_INIT_METHOD", None))
        return int(os.environ["LOCAL_RANK"]), int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])

    original_ray = vd.initialize_global_process_group_ray

    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        return original_ray(timeout_second=timeout_second, backend="gloo")

    initialize_global_process_group._specs_cpu = True
    vd.initialize_global_process_group = initialize_global_process_group
    vd.initialize_global_process_group_ray = initialize_global_process_group_ray


def unpinned_cpu_offload(fu: ModuleType) -> None:
    """verl's FSDP2 engine hard-codes `CPUOffloadPolicy(pin_memory=True)` for forward-only models (the
    reference policy). Pinning needs an accelerator; on CPU the policy is the same without it.
    `fu`: verl.utils.fsdp_utils."""
    policy = getattr(fu, "CPUOffloadPolicy", None)
    if policy is None or getattr(policy, "_specs_cpu", False):
        return

    class UnpinnedCPUOffloadPolicy(policy):
        _specs_cpu = True

        def __init__(self, pin_memory: bool = False, *args, **kwargs):
            super().__init__(False, *args, **kwargs)

    fu.CPUOffloadPolicy = UnpinnedCPUOffloadPolicy


def fsdp_engine_for_cpu() -> None:
    """verl registers its FSDP engine for cuda and npu only. Its documented override variables make the
    registry hand the same engine out on CPU (the engine itself runs on CPU with gloo and FSDP2)."""
    os.environ.setdefault("VERL_ENGINE_DEVICE", "cuda")
    os.environ.setdefault("VERL_ENGINE_VENDOR", "nvidia")


def _when_cpu(patch):
    def hook(module: ModuleType) -> None:
        from .overrides import is_cpu

        if is_cpu():
            fsdp_engine_for_cpu()
            patch(module)

    hook.__name__ = patch.__name__
    return hook


def install() -> None:
    from specs_verl.import_hooks import hooks

    from .overrides import is_cpu

    hooks.add("verl.utils.distributed", _when_cpu(gloo_process_groups))
    hooks.add("verl.utils.fsdp_utils", _when_cpu(unpinned_cpu_offload))
    if is_cpu():
        fsdp_engine_for_cpu()
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
