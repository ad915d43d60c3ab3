"""Imported by the plugin at `import verl`: registers the `cpu` platform; patches verl only when it is selected.

Import verl before this module (the plugin does): verl's own import loads the plugin, which must find the
platform registered before any module asks verl for the current platform.
"""

import os

from . import cpu  # noqa: F401  (registers the platform)
from .overrides import is_cpu

if is_cpu():
    from .patches import apply_all

    apply_all()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
