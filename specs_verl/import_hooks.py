"""Run a function the moment a named module has been imported, without importing it earlier.

The plugin runs in every verl process (driver, TaskRunner, every Ray worker), and most of them never train,
roll out or score. So each registration and each patch waits for the verl module it needs: a post-import hook
runs it right after verl itself imports that module (at once if it is already imported), before any other module
can bind a name from it with `from module import name`. The finder only watches the named modules and leaves
`sys.meta_path` once all of them have loaded.
"""

from __future__ import annotations

import importlib.abc
import logging
import sys
import threading
from types import ModuleType
from typing import Callable

logger = logging.getLogger(__name__)

Hook = Callable[[ModuleType], None]


class _RunAfterExec(importlib.abc.Loader):
    """Wraps a module's real loader: executes the module, then the hooks. Everything else goes to the real one."""

    def __init__(self, inner: importlib.abc.Loader, hooks: list[Hook]):
        self._inner, self._hooks = inner, hooks

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        for hook in self._hooks:
            _run(hook, module)

    def __getattr__(self, name):  # get_source, get_filename, is_package, ... (tracebacks, inspect)
        return getattr(self._inner, name)


class PostImportHooks(importlib.abc.MetaPathFinder):
    """A meta-path finder that only watches for the named modules; it removes itself once all have loaded."""

    def __init__(self):
        self._pending: dict[str, list[Hook]] = {}
        self._lock = threading.Lock()

    def add(self, module_name: str, hook: Hook) -> None:
        with self._lock:
            already = sys.modules.get(module_name)
            if already is None:
                self._pending.setdefault(module_name, []).append(hook)
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
            hooks = self._pending.pop(fullname, None)
            if not self._pending and self in sys.meta_path:
                sys.meta_path.remove(self)
        if hooks and spec.loader is not None:
            spec.loader = _RunAfterExec(spec.loader, hooks)
        return spec

    @property
    def pending(self) -> list[str]:
        return sorted(self._pending)


def _run(hook: Hook, module: ModuleType) -> None:
    try:
        hook(module)
    except Exception:  # never break verl's own import; say so loudly instead
        logger.warning("specs_verl: hook %s on %s failed", getattr(hook, "__name__", hook), module.__name__,
                       exc_info=True)


# the one instance the plugin's registrations, patches and touchpoint checks share
hooks = PostImportHooks()
