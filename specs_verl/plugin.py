"""What `import verl` loads (entry point group `verl.plugins`), in every verl process.

Each module below registers its components with verl when imported. verl swallows a plugin's import error
(logged at DEBUG), so every failure is logged here at WARNING with its traceback. Nothing heavy is imported:
no CUDA initialisation, no vLLM.
"""

from __future__ import annotations

import importlib
import logging

from specs_verl import quiet

quiet.install()  # before the registrations below import verl modules that raise the silenced warnings
logger = logging.getLogger("specs_verl")

# module -> what it registers (the platform first: the others import verl modules that ask for the platform)
REGISTRATIONS = {
    "specs_verl.platform.register": "the `cpu` platform (active with VERL_PLATFORM=cpu)",
    "specs_verl.reward_manager": "the `specs` reward manager",
    "specs_verl.grpo": "the `specs_sync` GRPO trainer (GF in validation)",
    "specs_verl.rollout": "the `hf` rollout (transformers generate; CPU capable)",
}

loaded: dict[str, bool] = {}


def _register(module: str) -> bool:
    try:
        importlib.import_module(module)
    except Exception:
        logger.warning("specs_verl: registering %s failed", REGISTRATIONS[module], exc_info=True)
        return False
    return True


for _module in REGISTRATIONS:
    loaded[_module] = _register(_module)
