"""verl on a machine without an accelerator: the `cpu` platform, its scoped patches and its config overrides.

This package's top level imports nothing from verl, so recipes and tests can read the overrides before verl is
imported. The registration lives in `specs_verl.platform.register`, which the plugin imports at `import verl`:
it registers the platform, and applies the patches only when the process runs with VERL_PLATFORM=cpu.
"""

from .overrides import GRPO_CPU, SFT_CPU, cpu_env, grpo_overrides, is_cpu, merge_overrides, sft_overrides  # noqa: F401
