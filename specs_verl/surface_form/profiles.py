"""The format rules of three conventions, each an exact, linear-time restatement of the rule its authors ran.

A profile reads the response and the start of each of its exact tags (`parsing.scan_tags`) and returns the
format-level violation codes (empty exactly when the convention's reward would give full format credit) plus
the spans of the think block and of the answer region that the structure and style criteria then inspect.

- `specs` (the paper's reward; the authors built on MM-EUREKA, whose Qwen reward is the regex kept in
  `bench/scorer.py`): each of the four tags exactly once, in the order think, /think, answer, /answer, at least
  one character (whitespace counts) inside each block, only whitespace between `</think>` and `<answer>`. Text
  before `<think>` and after `</answer>` is allowed.
- `geo3k` (verl's `verl/utils/reward_score/geo3k.py`, EasyR1's `math`): the whole response matches
  `<think>.*</think>.*\\boxed\\{.*\\}.*` with DOTALL. The answer region is everything after `</think>`.
- `r1v` (EasyR1's `r1v.py`): the whole response matches `<think>.*?</think>\\s*<answer>.*?</answer>` with
  DOTALL; tags may repeat inside the blocks, blocks may be empty.
"""

from __future__ import annotations

import re
from typing import Callable, NamedTuple

from .parsing import ANSWER_CLOSE, ANSWER_OPEN, TAG_KINDS, THINK_CLOSE, THINK_OPEN


class Layout(NamedTuple):
    format_codes: set[str]
    think_span: tuple[int, int] | None  # [start, end) of the think block's content
    answer_span: tuple[int, int] | None  # [start, end) of the answer region


def _is_blank(text: str, start: int, end: int) -> bool:
    return start >= end or text[start:end].isspace()


_SPACES = re.compile(r"\s*")


def _next_non_space(text: str, pos: int) -> int:
    return _SPACES.match(text, pos).end()


def specs_layout(text: str, pos: dict[str, list[int]]) -> Layout:
    codes: set[str] = set()
    for kind in TAG_KINDS:
        n = len(pos[kind])
        if n != 1:
            codes.add(("missing_" if n == 0 else "duplicate_") + kind)
    opens, closes, aopens, acloses = pos[THINK_OPEN], pos[THINK_CLOSE], pos[ANSWER_OPEN], pos[ANSWER_CLOSE]
    if not (opens and closes and aopens and acloses):
        return Layout(codes, None, None)
    to, tc, ao, ac = opens[0], closes[0], aopens[0], acloses[0]
    if not to < tc < ao < ac:
        codes.add("tags_out_of_order")
        return Layout(codes, None, None)
    think = (to + 7, tc)
    answer = (ao + 8, ac)
    if think[0] == think[1]:
        codes.add("empty_think")
    if not _is_blank(text, tc + 8, ao):
        codes.add("text_between_think_and_answer")
    if answer[0] == answer[1]:
        codes.add("empty_answer")
    return Layout(codes, think, answer)


def _whole_response_prefix(text: str, pos: dict[str, list[int]], codes: set[str]) -> bool:
    """geo3k and r1v match the whole response: it must start with `<think>`."""
    if text.startswith("<think>"):
        return True
    codes.add("text_before_think" if pos[THINK_OPEN] else "missing_think_open")
    return False


def geo3k_layout(text: str, pos: dict[str, list[int]]) -> Layout:
    codes: set[str] = set()
    starts = _whole_response_prefix(text, pos, codes)
    # With the response starting with <think>, every exact </think> lies after it; greedy or lazy, the regex
    # matches iff some </think> is followed by "\boxed{" and later a "}": the first </think> is the best bet.
    closes = [c for c in pos[THINK_CLOSE] if c >= 7]
    if not closes:
        codes.add("missing_think_close")
        return Layout(codes, None, None)
    tc = closes[0]
    box = text.find("\\boxed{", tc + 8)
    if box < 0 or text.find("}", box + 7) < 0:
        codes.add("no_boxed_after_think")
    return Layout(codes, (7, tc) if starts else None, (tc + 8, len(text)))


def r1v_layout(text: str, pos: dict[str, list[int]]) -> Layout:
    n = len(text)
    codes: set[str] = set()
    starts = _whole_response_prefix(text, pos, codes)
    if not text.endswith("</answer>"):
        codes.add("trailing_text" if pos[ANSWER_CLOSE] else "missing_answer_close")
    # The lazy regex takes the first </think> that is followed by whitespace, "<answer>", and room for the
    # final "</answer>". Whitespace runs after different </think> tags are disjoint: linear overall.
    for tc in pos[THINK_CLOSE]:
        if tc < 7:
            continue
        ao = _next_non_space(text, tc + 8)
        if text.startswith("<answer>", ao) and ao + 8 <= n - 9:
            think = (7, tc) if starts else None
            answer = (ao + 8, n - 9) if text.endswith("</answer>") else None
            return Layout(codes, think, answer)
    if not pos[THINK_CLOSE]:
        codes.add("missing_think_close")
    elif not pos[ANSWER_OPEN]:
        codes.add("missing_answer_open")
    elif pos[ANSWER_OPEN][0] < pos[THINK_CLOSE][0]:
        codes.add("tags_out_of_order")
    else:
        codes.add("text_between_think_and_answer")
    return Layout(codes, None, None)


PROFILES: dict[str, Callable[[str, dict[str, list[int]]], Layout]] = {
    "specs": specs_layout,
    "geo3k": geo3k_layout,
    "r1v": r1v_layout,
}
