"""Imported by the plugin at `import verl`: registers the `cpu` platform; patches verl only when it is selected.

Import verl before this module (the plugin does): verl's own import loads the plugin, which must find the
platform registered before any module asks verl for the current platform. Registering costs ~1 ms (verl has
already imported its platform registry); verl still picks the platform on first use, as without the plugin.
"""

from . import cpu  # noqa: F401  (registers the platform)
from .patches import install

install()
