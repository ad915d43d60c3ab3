"""Register the `hf` rollout with verl when verl's rollout modules load, without importing them earlier.

verl looks a rollout up in two registries: `RolloutReplicaRegistry` (in `verl.workers.rollout.replica`: the
trainer side, which starts servers) and `_ROLLOUT_REGISTRY[(name, "async")]` (in `verl.workers.rollout.base`:
the worker side, a dotted path to the server adapter class). Importing `verl.workers.rollout.replica` costs
3-5 s (Ray's worker-group machinery), and the plugin runs in every verl process, most of which never roll out.
So the entries are added by post-import hooks (`specs_verl.import_hooks`) the moment verl itself imports those
modules. Both entries are names only: the `hf` classes, transformers and the model load when a run asks for
`actor_rollout_ref.rollout.name=hf`, and never otherwise.
"""

from __future__ import annotations

import logging
from types import ModuleType

from specs_verl.import_hooks import PostImportHooks, hooks  # noqa: F401  (PostImportHooks: the tests' handle)

logger = logging.getLogger(__name__)

NAME = "hf"
ADAPTER_PATH = "specs_verl.rollout.adapter.HFServerAdapter"


def load_replica_class():
    from .replica import HFReplica

    return HFReplica


def register_replica(module: ModuleType) -> None:
    registry = module.RolloutReplicaRegistry
    if NAME in registry._registry and registry._registry[NAME] is not load_replica_class:
        logger.warning("specs_verl: verl already has a rollout replica named %r; not replacing it", NAME)
        return
    registry.register(NAME, load_replica_class)


def register_adapter(module: ModuleType) -> None:
    current = module._ROLLOUT_REGISTRY.setdefault((NAME, "async"), ADAPTER_PATH)
    if current != ADAPTER_PATH:
        logger.warning("specs_verl: verl already has a rollout adapter named %r (%s); not replacing it", NAME, current)


def register() -> None:
    hooks.add("verl.workers.rollout.replica", register_replica)
    hooks.add("verl.workers.rollout.base", register_adapter)
