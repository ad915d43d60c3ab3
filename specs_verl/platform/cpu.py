"""A `cpu` platform for verl: device "cpu", process groups over gloo, every accelerator query answered.

verl ships nvidia, npu and rocm platforms and falls back to nvidia (cuda + nccl) when it finds none, so on a
machine without an accelerator its engine cannot start. Selected with `VERL_PLATFORM=cpu`; registering it
changes nothing for any other platform.
"""

from __future__ import annotations

import types
from contextlib import contextmanager
from typing import Any, Optional

import torch
from verl.plugin.platform.platform_base import PlatformBase
from verl.plugin.platform.platform_manager import PlatformRegistry


def _device_module() -> types.SimpleNamespace:
    """`torch.cpu` plus the `torch.cuda` calls verl makes (memory stats read as zero, no allocator)."""
    module = types.SimpleNamespace(**{n: getattr(torch.cpu, n) for n in dir(torch.cpu) if not n.startswith("__")})
    zero = lambda *args, **kwargs: 0  # noqa: E731
    none = lambda *args, **kwargs: None  # noqa: E731
    module.__dict__.update(
        empty_cache=none, memory_allocated=zero, memory_reserved=zero, max_memory_allocated=zero,
        max_memory_reserved=zero, reset_peak_memory_stats=none, mem_get_info=lambda *a, **k: (0, 0),
        manual_seed=torch.manual_seed, manual_seed_all=torch.manual_seed, get_rng_state=torch.get_rng_state,
        set_rng_state=torch.set_rng_state, is_bf16_supported=lambda *a, **k: True,
        get_device_name=lambda *a, **k: "cpu", set_device=none, current_device=lambda: "cpu",
        device_count=lambda: 1, is_available=lambda: True, synchronize=none,
        memory=types.SimpleNamespace(_set_allocator_settings=none),
    )
    return module


@PlatformRegistry.register(platform="cpu")
class PlatformCPU(PlatformBase):
    _module = _device_module()

    @property
    def device_name(self) -> str:
        return "cpu"

    @property
    def vendor_name(self) -> str:
        return "cpu"

    @property
    def device_module(self):
        return self._module

    def is_available(self) -> bool:
        return True

    def is_platform_available(self, use_smi_check=False) -> bool:
        # Never auto-detected: a CPU run is asked for explicitly with VERL_PLATFORM=cpu.
        return False

    def current_device(self):
        # verl hands this to .to(), torch.device() and FSDP(device_id=...): an int would mean an accelerator.
        return "cpu"

    def device_count(self) -> int:
        return 1

    def set_device(self, device_index: int) -> None:
        pass

    def synchronize(self, device_index: Optional[int] = None) -> None:
        pass

    def manual_seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def manual_seed_all(self, seed: int) -> None:
        torch.manual_seed(seed)

    def set_allocator_settings(self, settings: str) -> None:
        pass

    def empty_cache(self) -> None:
        pass

    def get_device_capability(self, device_index: int = 0):
        return None, None

    def communication_backend_name(self) -> str:
        return "gloo"

    def visible_devices_envvar(self) -> str:
        return "CUDA_VISIBLE_DEVICES"

    @contextmanager
    def nvtx_range(self, msg: str):
        yield

    def profiler_start(self) -> None:
        pass

    def profiler_stop(self) -> None:
        pass

    def ray_resource_name(self) -> str:
        return "CPU"

    def ray_resource_options(self, num_gpus: float) -> dict[str, Any]:
        # Each verl worker takes one logical CPU; Ray is started with more logical CPUs than cores
        # (see specs_verl.platform.overrides) because TransferQueue also reserves one per actor.
        return {"num_cpus": 1}

    def ray_noset_envvars(self) -> list[str]:
        return []

    def is_ipc_supported(self) -> bool:
        return False

    def cudart(self) -> Any:
        return None
