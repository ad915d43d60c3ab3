"""Known-harmless dependency warnings, silenced at the loggers and warning categories that raise them.

Each entry says why it is harmless; everything else still reaches the user. Installed by the plugin (so every
verl process, Ray workers included, gets it) and by this package's own entry points.
"""

from __future__ import annotations

import logging
import warnings

# UserWarnings: (message regex, why it is harmless)
WARNINGS = (
    # verl probes optional training engines at import and warns for each one not installed; the FSDP engine
    # this package uses is always there
    (r"(torchtitan|veomni|automodel|mindspeed|megatron) engine is not available", "optional verl engines"),
    # torchdata's StatefulDataLoader calls a torch API that torch has deprecated; nothing to act on
    (r"'set_vital' is deprecated", "torchdata internals"),
)

# logger name -> (message prefix, why it is harmless)
LOG_RECORDS = {
    # verl's datasets and rollouts pass processor options as plain kwargs; transformers 5 still honours them and
    # logs this once per call (hundreds of lines per stage)
    "transformers.processing_utils": ("Kwargs passed to `processor.__call__` have to be in", "verl's processor calls"),
    # verl's checkpoint manager saves configs with the old `torch_dtype` name; the saved config loads the same
    "transformers.configuration_utils": ("`torch_dtype` is deprecated", "verl's checkpoint manager"),
}


class _DropPrefix(logging.Filter):
    def __init__(self, prefix: str):
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


_installed = False


def install() -> None:
    """Idempotent: add the warning filters and the logger filters once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    for pattern, _why in WARNINGS:
        warnings.filterwarnings("ignore", message=pattern, category=UserWarning)
    for name, (prefix, _why) in LOG_RECORDS.items():
        logging.getLogger(name).addFilter(_DropPrefix(prefix))
