"""The violation codes `check` reports: stable strings, safe to count, log and filter on.

Codes are reported in the order of this table. Which criterion a code breaks depends on the profile: under
`specs` text before `<think>` breaks only `structure_ok` (the authors' reward allowed it), under `geo3k` and
`r1v` it breaks `format_ok` (their rules match the whole response). `PROFILE_FORMAT_CODES` in `criteria.py`
says which codes are format-level for each profile; style codes are style-level everywhere; every other code
is structure-level.
"""

from __future__ import annotations

VIOLATIONS: dict[str, str] = {
    # exact-tag counts
    "missing_think_open": "no `<think>`",
    "missing_think_close": "no `</think>`",
    "missing_answer_open": "no `<answer>`",
    "missing_answer_close": "no `</answer>`",
    "duplicate_think_open": "`<think>` more than once",
    "duplicate_think_close": "`</think>` more than once",
    "duplicate_answer_open": "`<answer>` more than once",
    "duplicate_answer_close": "`</answer>` more than once",
    # layout of the blocks
    "tags_out_of_order": "the first of each tag are not in the order think, /think, answer, /answer",
    "empty_think": "nothing between `<think>` and `</think>` (whitespace counts as something)",
    "text_between_think_and_answer": "non-whitespace between `</think>` and `<answer>`",
    "empty_answer": "nothing between `<answer>` and `</answer>` (whitespace counts as something)",
    "no_boxed_after_think": "no `\\boxed{` followed by `}` after `</think>` (geo3k's rule)",
    "text_before_think": "non-whitespace before `<think>`",
    "trailing_text": "non-whitespace after the answer (after `</answer>`)",
    # the answer's content
    "no_boxed_in_answer": "the answer holds no `\\boxed{...}`",
    "multiple_boxed_in_answer": "the answer holds more than one top-level `\\boxed{...}`",
    "empty_boxed": "the answer's `\\boxed{}` is empty",
    "unclosed_boxed": "the answer's `\\boxed{` is not closed before the answer ends",
    "near_miss_tag": "a tag-like string that is not an exact tag (`< /think>`, `<Think>`, `<thinking>`, `＜answer＞`)",
    # style
    "answer_not_canonical": "the answer does not read `The answer is \\boxed{...}` (optionally in `$...$`)",
    "think_too_short": "the think block is shorter than `min_think_chars`",
    "think_too_long": "the think block is longer than `max_think_chars`",
    "answer_too_long": "the answer block is longer than `max_answer_chars`",
}

STYLE_CODES = frozenset({"answer_not_canonical", "think_too_short", "think_too_long", "answer_too_long"})

_ORDER = {code: i for i, code in enumerate(VIOLATIONS)}


def ordered(codes: set[str] | list[str]) -> list[str]:
    """The codes in table order (a stable order for logs and tests)."""
    return sorted(codes, key=_ORDER.__getitem__)
