"""Prompt instructions: the format instruction a run adds to each question (a swappable text file)."""

from __future__ import annotations

from typing import Any

NO_TEMPLATE = "none"


def load_instruction(name_or_file: str | None) -> str | None:
    """The text of a packaged template (`specs`, `choice`, `terse`), a file path, or None for `none`/None."""
    if name_or_file is None or name_or_file == NO_TEMPLATE:
        return None
    from specs_verl.tiny.data import template

    return template(name_or_file)


def apply_instruction(messages: list[dict[str, Any]], instruction: str | None) -> tuple[list[dict[str, Any]], bool]:
    """Messages with the instruction applied to the last user message, and whether anything changed.

    An instruction holding `{question}` is a full template: the user text replaces `{question}`. Otherwise the
    instruction is appended on a new line, unless the user text already contains it (datasets prepared for
    SPECS carry it already, and doubling it would change the prompt the model was trained on).
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
    elif instruction in content:
        return messages, False
    else:
        new = f"{content.rstrip()}\n{instruction}"
    out = [dict(m) for m in messages]
    out[idx]["content"] = new
    return out, True
