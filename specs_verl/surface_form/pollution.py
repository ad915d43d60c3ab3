"""The paper's five format pollutions: turn a correct response into a rejected one that differs in form only.

SPECS builds "decoupled" preference pairs: the rejected response carries the same correct answer as the
chosen one, and is polluted with one of five corruptions (picked at random) so that it surely fails the format
check. Every rule below removes (or renames) at least one tag kind entirely, so the output fails `format_ok`
of the `specs` profile whatever the input; no rule touches the text between the tags, so the final answer
text is kept verbatim.
"""

from __future__ import annotations

import random

POLLUTION_RULES = (
    "strip_all_tags",  # 1. remove all four tags
    "strip_answer_tags",  # 2. remove <answer> and </answer>
    "strip_think_tags",  # 3. remove <think> and </think>
    "strip_answer_tags_move_think_close",  # 4. remove the answer tags, move </think> to the end
    "answer_tag_to_prefix",  # 5. replace <answer> with "Answer:", remove </answer>
)


def _replace_all(text: str, replacements: dict[str, str]) -> str:
    # Removing a tag can join its neighbours into a new one ("<ans<answer>wer>"): repeat until none is left.
    # Each pass removes at least one occurrence, and real responses need a single pass.
    while any(tag in text for tag in replacements):
        for tag, new in replacements.items():
            text = text.replace(tag, new)
    return text


def pollute(text: str, rule: str, rng: random.Random | int | None = None) -> str:
    """Apply one pollution rule by name, or `rule="random"` to pick one uniformly with `rng`.

    `rng` is a `random.Random`, a seed, or None (a fresh unseeded generator).
    """
    if rule == "random":
        if not isinstance(rng, random.Random):
            rng = random.Random(rng)
        rule = rng.choice(POLLUTION_RULES)
    if rule == "strip_all_tags":
        return _replace_all(text, {"<think>": "", "</think>": "", "<answer>": "", "</answer>": ""})
    if rule == "strip_answer_tags":
        return _replace_all(text, {"<answer>": "", "</answer>": ""})
    if rule == "strip_think_tags":
        return _replace_all(text, {"<think>": "", "</think>": ""})
    if rule == "strip_answer_tags_move_think_close":
        return _replace_all(text, {"<answer>": "", "</answer>": "", "</think>": ""}) + "</think>"
    if rule == "answer_tag_to_prefix":
        return _replace_all(text, {"<answer>": "Answer:", "</answer>": ""})
    raise ValueError(f"unknown pollution rule {rule!r}; choose one of {POLLUTION_RULES} or 'random'")
