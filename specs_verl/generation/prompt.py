"""Prompt instructions: the format instruction a run adds to each question (a swappable text file)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from specs_verl.templates import is_packaged, packaged_names, template

NO_TEMPLATE = "none"
CHOICE_SUFFIX = "_choice"  # `specs_choice.txt`: the variant of `specs.txt` that multiple-choice rows get


def load_instruction(name_or_file: str | None, *, choice: bool = False) -> str | None:
    """The text of a packaged template (`specs`, `choice`, `terse`), a file path, or None for `none`/None.

    `choice=True`: the template's multiple-choice variant (`<name>_choice`, which asks for the option letter in
    the same format) when one is packaged, else the template itself."""
    if name_or_file is None or name_or_file == NO_TEMPLATE:
        return None
    if choice and is_packaged(name_or_file + CHOICE_SUFFIX):
        return template(name_or_file + CHOICE_SUFFIX)
    return template(name_or_file)


@lru_cache(maxsize=16)
def _choice_variant(instruction: str) -> str | None:
    """The packaged `_choice` variant of the packaged template whose text is `instruction`, if any."""
    for name in packaged_names():
        if is_packaged(name + CHOICE_SUFFIX) and template(name) == instruction:
            return template(name + CHOICE_SUFFIX)
    return None


def apply_instruction(messages: list[dict[str, Any]], instruction: str | None) -> tuple[list[dict[str, Any]], bool]:
    """Messages with the instruction applied to the last user message, and whether anything changed.

    An instruction holding `{question}` is a full template: the user text replaces `{question}`. Otherwise the
    instruction is appended on a new line, unless the user text already contains it (datasets prepared for
    SPECS carry it already, and doubling it would change the prompt the model was trained on); their
    multiple-choice rows carry its `_choice` variant, which counts as the instruction too.
    """
    if not instruction:
        return messages, False
    idx = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=None)
    if idx is None:
        raise ValueError("prompt has no user message to add the instruction to")
    content = messages[idx].get("content", "")
    if not isinstance(content, str):
        raise ValueError("prompt content must be a string with <image> placeholders (verl's RL schema)")
    if "{question}" in instruction:
        new = instruction.replace("{question}", content)
    elif instruction in content or (_choice_variant(instruction) or "\0") in content:
        return messages, False
    else:
        new = f"{content.rstrip()}\n{instruction}"
    out = [dict(m) for m in messages]
    out[idx]["content"] = new
    return out, True
