"""Register the `hf` rollout with verl when verl's rollout modules load, without importing them earlier.

verl looks a rollout up in two registries: `RolloutReplicaRegistry` (in `verl.workers.rollout.replica`: the
trainer side, which starts servers) and `_ROLLOUT_REGISTRY[(name, "async")]` (in `verl.workers.rollout.base`:
the worker side, a dotted path to the server adapter class). Importing `verl.workers.rollout.replica` costs
3-5 s (Ray's worker-group machinery), and the plugin runs in every verl process, most of which never roll out.
So the entries are added by a post-import hook the moment verl itself imports those modules (immediately if
they are already imported). Both entries are names only: the `hf` classes, transformers and the model load
when a run asks for `actor_rollout_ref.rollout.name=hf`, and never otherwise.
"""

from __future__ import annotations

import importlib.abc
import logging
import sys
import threading
from types import ModuleType
from typing import Callable

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


class _RunAfterExec(importlib.abc.Loader):
    """Wraps a module's real loader: executes the module, then the hook. Everything else goes to the real one."""

    def __init__(self, inner: importlib.abc.Loader, hook: Callable[[ModuleType], None]):
        self._inner, self._hook = inner, hook

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        _run(self._hook, module)

    def __getattr__(self, name):  # get_source, get_filename, is_package, ... (tracebacks, inspect)
        return getattr(self._inner, name)


class PostImportHooks(importlib.abc.MetaPathFinder):
    """A meta-path finder that only watches for the named modules; it removes itself once all have loaded."""

    def __init__(self):
        self._pending: dict[str, Callable[[ModuleType], None]] = {}
        self._lock = threading.Lock()

    def add(self, module_name: str, hook: Callable[[ModuleType], None]) -> None:
        with self._lock:
            if module_name in sys.modules:
                already = sys.modules[module_name]
            else:
                already = None
                self._pending[module_name] = hook
                if self not in sys.meta_path:
                    sys.meta_path.insert(0, self)
        if already is not None:
            _run(hook, already)

    def find_spec(self, fullname, path, target=None):
        if fullname not in self._pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        with self._lock:
            hook = self._pending.pop(fullname, None)
            if not self._pending and self in sys.meta_path:
                sys.meta_path.remove(self)
        if hook is not None and spec.loader is not None:
            spec.loader = _RunAfterExec(spec.loader, hook)
        return spec

    @property
    def pending(self) -> list[str]:
        return sorted(self._pending)


def _run(hook: Callable[[ModuleType], None], module: ModuleType) -> None:
    try:
        hook(module)
    except Exception:  # never break verl's own import; say so loudly instead
        logger.warning("specs_verl: hook %s on %s failed", getattr(hook, "__name__", hook), module.__name__,
                       exc_info=True)


hooks = PostImportHooks()


def register() -> None:
    hooks.add("verl.workers.rollout.replica", register_replica)
    hooks.add("verl.workers.rollout.base", register_adapter)
