"""The three places where verl assumes an accelerator, each patched narrowly, and only on the CPU platform.

Applied by `specs_verl.platform` at `import verl` time when VERL_PLATFORM=cpu, before verl's trainers and workers
import the patched names (they use `from module import name`, so the patch must come first).
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

logger = logging.getLogger(__name__)


def gloo_process_groups() -> None:
    """verl builds the backend string `cpu:gloo,<device>:<backend>`, which torch rejects when the device is
    `cpu` itself (duplicate device type). On CPU the whole group is plain gloo."""
    import torch.distributed as dist
    import verl.utils.distributed as vd

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


def unpinned_cpu_offload() -> None:
    """verl's FSDP2 engine hard-codes `CPUOffloadPolicy(pin_memory=True)` for forward-only models (the
    reference policy). Pinning needs an accelerator; on CPU the policy is the same without it."""
    import verl.utils.fsdp_utils as fu

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


def apply_all() -> None:
    gloo_process_groups()
    unpinned_cpu_offload()
    fsdp_engine_for_cpu()
