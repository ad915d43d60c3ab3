"""What `import verl` loads (entry point group `verl.plugins`), in every verl process.

Every component is registered by name and loaded when verl itself loads the registry it goes into (a
post-import hook, `specs_verl.import_hooks`), so a process that never trains, rolls out or scores imports none
of it: `import verl` costs about what it costs without the plugin, and verl still picks its platform on first
use. Only the `cpu` platform registers at once (~1 ms: verl has already imported its platform registry, and it
must be there before anything asks for the platform).

verl swallows a plugin's import error (logged at DEBUG), so every failure is logged here at WARNING with its
traceback. `specs_verl.verl_touchpoints` checks the verl internals this package relies on, as their modules load.
"""

from __future__ import annotations

import importlib
import logging
from types import ModuleType

from specs_verl import quiet, verl_touchpoints
from specs_verl.import_hooks import hooks

quiet.install()
logger = logging.getLogger("specs_verl")

# our module -> (what it registers, the verl modules whose import loads it; () = at once)
REGISTRATIONS = {
    "specs_verl.platform.register": ("the `cpu` platform (active with VERL_PLATFORM=cpu)", ()),
    "specs_verl.reward_managers.reward_loop": ("the `specs` reward manager (reward loop)",
                                               ("verl.experimental.reward_loop.reward_manager",)),
    "specs_verl.reward_managers.legacy": ("the `specs` reward manager (legacy registry)",
                                          ("verl.workers.reward_manager",)),
    "specs_verl.grpo": ("the `specs_sync` GRPO trainer (GF in validation)", ("verl.trainer.ppo.v1",)),
    # names only, through hooks of its own on verl's two rollout registries
    "specs_verl.rollout": ("the `hf` rollout (transformers generate; CPU capable)", ()),
}

# our module -> True once imported, False if that failed (a deferred one appears when verl loads its registry)
loaded: dict[str, bool] = {}


def _register(module: str) -> bool:
    if module in loaded:
        return loaded[module]
    try:
        importlib.import_module(module)
    except Exception:
        logger.warning("specs_verl: registering %s failed", REGISTRATIONS[module][0], exc_info=True)
        loaded[module] = False
    else:
        loaded[module] = True
    return loaded[module]


def _when_loaded(module: str):
    def register(_verl_module: ModuleType) -> None:
        _register(module)

    register.__name__ = f"register {module}"
    return register


def _fix_text_only_vision(qwen2_vl: ModuleType) -> None:
    try:
        from specs_verl.text_only_vision import patch_text_only_vision_dummy

        patch_text_only_vision_dummy(qwen2_vl)
    except Exception:
        logger.warning("specs_verl: the fix for text-only Qwen2-VL micro-batches failed to apply", exc_info=True)


verl_touchpoints.install()
# verl 0.9.1 with transformers 5 fails on a Qwen2-VL micro-batch without images (see specs_verl.text_only_vision)
hooks.add("verl.models.transformers.qwen2_vl", _fix_text_only_vision)
for _module, (_what, _triggers) in REGISTRATIONS.items():
    if not _triggers:
        _register(_module)
    for _trigger in _triggers:
        hooks.add(_trigger, _when_loaded(_module))
