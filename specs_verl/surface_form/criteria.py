"""`check`: does a response have good surface form? Three nested criteria, one parse.

- `format_ok`: the profile's format rule (for `specs`, exactly the format reward the SPECS authors trained
  with; see `profiles.py`).
- `structure_ok` (stricter): format_ok, and no duplicate or near-miss tags, nothing but whitespace outside
  the blocks, exactly one top-level `\\boxed{}` in the answer, closed and non-empty.
- `style_ok` (strictest): structure_ok, and the answer reads `The answer is \\boxed{...}` (the wrapper of the
  paper's prompt, optionally inside `$...$`, `$$...$$` or `\\(...\\)`, with an optional final period), and the
  optional length bounds hold.

The preference pairs need all three levels (a chosen response must reach the level the user asks for, a
polluted rejected one must fail format), the GRPO reward uses format_ok, GF measures format following.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from .parsing import TAG_KINDS, find_boxed, scan_tags
from .profiles import PROFILES, Layout
from .violations import STYLE_CODES, ordered

# Codes that break format_ok, per profile (all other non-style codes break structure_ok only).
_COUNT_CODES = {f"{p}_{k}" for p in ("missing", "duplicate") for k in TAG_KINDS}
_DUPLICATE = {k: f"duplicate_{k}" for k in TAG_KINDS}
PROFILE_FORMAT_CODES: dict[str, frozenset[str]] = {
    "specs": frozenset(_COUNT_CODES | {"tags_out_of_order", "empty_think", "text_between_think_and_answer",
                                       "empty_answer"}),
    "geo3k": frozenset({"missing_think_open", "missing_think_close", "text_before_think", "no_boxed_after_think"}),
    "r1v": frozenset({"missing_think_open", "missing_think_close", "missing_answer_open", "missing_answer_close",
                      "text_before_think", "trailing_text", "tags_out_of_order",
                      "text_between_think_and_answer"}),
}

# "The answer is" + an optional math delimiter before the box; the matching delimiter (and a period) after.
_CANON_BEFORE = re.compile(r"[Tt]he answer is:?\s*(\$\$|\$|\\\(|\\\[)?")
_CANON_AFTER = re.compile(r"(\$\$|\$|\\\)|\\\])?\s*\.?")
_CLOSING = {None: None, "$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}


class FormReport(NamedTuple):
    profile: str
    format_ok: bool
    structure_ok: bool
    style_ok: bool
    violations: list[str]  # codes from `violations.VIOLATIONS`, in table order
    answer: str | None  # the answer region (None when the layout has none)
    boxed: str | None  # content of the answer's single top-level \boxed{} (None unless exactly one)


def check(
    text: str,
    profile: str = "specs",
    *,
    think_prefilled: bool = False,
    min_think_chars: int = 0,
    max_think_chars: int | None = None,
    max_answer_chars: int | None = None,
) -> FormReport:
    """Score the surface form of one response.

    Args:
        text: the response (the model's output only, not the prompt).
        profile: `specs` (default, the paper's reward), `geo3k` or `r1v`.
        think_prefilled: the chat template already put `<think>` in the prompt, so the response starts inside
            the think block; `<think>` is restored before scoring (a response that writes it again then has
            a duplicate, as the full sequence does).
        min_think_chars, max_think_chars, max_answer_chars: optional style bounds, in characters.
    """
    rule = PROFILES.get(profile)
    if rule is None:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PROFILES)}")
    if think_prefilled:
        text = "<think>" + text
    pos, near = scan_tags(text)
    layout: Layout = rule(text, pos)
    codes = layout.format_codes

    # structure
    for kind, starts in pos.items():
        if len(starts) > 1:
            codes.add(_DUPLICATE[kind])
    if near:
        codes.add("near_miss_tag")
    think, region = layout.think_span, layout.answer_span
    if think is not None and think[0] > 7 and not text[:think[0] - 7].isspace():
        codes.add("text_before_think")
    answer = boxed = None
    if region is not None:
        start, end = region
        answer = text[start:end]
        if profile != "geo3k" and end + 9 < len(text) and not text[end + 9:].isspace():
            codes.add("trailing_text")
        boxes = find_boxed(text, start, end)
        if not boxes:
            codes.add("no_boxed_in_answer")
        elif len(boxes) > 1:
            codes.add("multiple_boxed_in_answer")
        else:
            box = boxes[0]
            boxed = text[box.content_start:box.content_end]
            if not box.closed:
                codes.add("unclosed_boxed")
            elif not boxed.strip():
                codes.add("empty_boxed")
            elif not _canonical(text[start:box.start].strip(), text[box.end:end].strip()):
                codes.add("answer_not_canonical")

    # style bounds
    if think is not None:
        n = think[1] - think[0]
        if n < min_think_chars:
            codes.add("think_too_short")
        if max_think_chars is not None and n > max_think_chars:
            codes.add("think_too_long")
    if region is not None and max_answer_chars is not None and region[1] - region[0] > max_answer_chars:
        codes.add("answer_too_long")

    if not codes:
        return tuple.__new__(FormReport, (profile, True, True, True, [], answer, boxed))
    format_ok = codes.isdisjoint(PROFILE_FORMAT_CODES[profile])
    structure_ok = format_ok and region is not None and codes <= STYLE_CODES
    return tuple.__new__(FormReport, (profile, format_ok, structure_ok, False, ordered(codes), answer, boxed))


def _canonical(before: str, after: str) -> bool:
    if before == "The answer is $" and after == "$":  # the paper's own wrapper, the common case
        return True
    m = _CANON_BEFORE.fullmatch(before)
    if m is None:
        return False
    m2 = _CANON_AFTER.fullmatch(after)
    return m2 is not None and m2.group(1) == _CLOSING[m.group(1)]
