"""verl on a machine without an accelerator: the `cpu` platform, its scoped patches and its config overrides.

Importing this package (the plugin does, at `import verl`) registers the platform. The patches and the
default environment apply only when the process runs with VERL_PLATFORM=cpu.
"""

from __future__ import annotations

import os

from . import cpu  # noqa: F401  (registers the platform)
from .overrides import GRPO_CPU, SFT_CPU, cpu_env, grpo_overrides, is_cpu, merge_overrides, sft_overrides  # noqa: F401

if is_cpu():
    from .patches import apply_all

    apply_all()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
