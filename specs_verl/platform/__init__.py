"""verl on a machine without an accelerator: the `cpu` platform, its scoped patches and its config overrides.

This package's top level imports nothing from verl, so recipes and tests can read the overrides before verl is
imported. The registration lives in `specs_verl.platform.register`, which the plugin imports at `import verl`:
it registers the platform, and patches verl (as its modules load) only when the process runs with VERL_PLATFORM=cpu.
"""

from .overrides import SFT_CPU, cpu_env, grpo_cpu_overrides, grpo_overrides, is_cpu, merge_overrides, sft_overrides  # noqa: F401


def __getattr__(name: str):
    if name == "GRPO_CPU":  # read from config/grpo_cpu.yaml on first use
        return grpo_cpu_overrides()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
