"""Prompt templates shipped with the package (`<name>.txt` beside this file), and the one loader for them.

`specs` is the paper's format instruction, `specs_choice` its multiple-choice variant (asks for the option
letter in the same format); `choice`, `terse`, `terse_choice` and `novel` are the tiny tasks' other wordings;
`judge_consistency` is the consistency judge's prompt.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def is_packaged(name: str) -> bool:
    return "/" not in name and resources.files(__name__).joinpath(f"{name}.txt").is_file()


def packaged_names() -> list[str]:
    return sorted(e.name.removesuffix(".txt") for e in resources.files(__name__).iterdir() if e.name.endswith(".txt"))


def template(name: str) -> str:
    """A packaged template by name, or the text of a file path."""
    if os.path.sep in name or name.endswith(".txt"):
        return Path(name).read_text().strip()
    if not is_packaged(name):
        raise ValueError(f"unknown template {name!r}: give a file path or one of {', '.join(packaged_names())}")
    return resources.files(__name__).joinpath(f"{name}.txt").read_text().strip()
