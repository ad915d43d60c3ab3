"""The final answer of a response, and the acceptable answers of a ground truth, as strings.

Extraction: when the response has an `<answer>` tag, the answer comes from there only: the last closed
`<answer>...</answer>` block (the last box inside it when it has one), else the tail after an unclosed
`<answer>` (a truncated rollout). A blank answer block is no answer: the box of a draft inside `<think>` does
not stand in for it (MM-EUREKA reads only the answer block too). Without any `<answer>` tag, the last closed
`\\boxed{}` anywhere. The tags are found by the same linear parse as the format check (`surface_form.parse`).
"""

from __future__ import annotations

import bisect
import math
from typing import Any

from specs_verl.surface_form.parsing import ANSWER_CLOSE, ANSWER_OPEN, parse


class InvalidGroundTruth(ValueError):
    """The ground truth is not a string, a number, an option letter or a list of those."""


def extract_answer(text: str) -> tuple[str | None, bool]:
    """The final answer and whether it came from a `\\boxed{}` (see the module docstring for the order)."""
    parsed = parse(text)
    opens = [t.end for t in parsed.tags if t.kind == ANSWER_OPEN]
    closes = [t.start for t in parsed.tags if t.kind == ANSWER_CLOSE]
    span = None
    for start in reversed(opens):
        i = bisect.bisect_left(closes, start)
        if i < len(closes):
            span = (start, closes[i])
            break
    if span is None and opens:
        span = (opens[-1], len(text))
    if span is not None:
        boxes = [b for b in parsed.boxed if span[0] <= b.start and b.closed and b.end <= span[1]]
        if boxes:
            content = parsed.boxed_content(boxes[-1]).strip()
            if content:
                return content, True
        inner = text[span[0]:span[1]].strip()
        return (inner, False) if inner else (None, False)
    for box in reversed(parsed.boxed):
        if box.closed:
            content = parsed.boxed_content(box).strip()
            if content:
                return content, True
    return None, False


def ground_truths(ground_truth: Any) -> list[str]:
    """The acceptable answers as strings. Raises InvalidGroundTruth for anything else."""
    if hasattr(ground_truth, "tolist") and not isinstance(ground_truth, (str, bytes)):
        ground_truth = ground_truth.tolist()  # numpy arrays and scalars, as parquet hands them to verl
    items = list(ground_truth) if isinstance(ground_truth, (list, tuple)) else [ground_truth]
    out = []
    for item in items:
        if hasattr(item, "tolist") and not isinstance(item, (str, bytes)):
            item = item.tolist()
        if isinstance(item, bytes):
            item = item.decode("utf-8", errors="replace")
        if isinstance(item, bool) or item is None:
            raise InvalidGroundTruth(f"ground truth {item!r} is not an answer")
        if isinstance(item, int):
            item = str(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InvalidGroundTruth(f"ground truth {item!r} is not finite")
            item = str(int(item)) if item.is_integer() else repr(item)
        elif not isinstance(item, str):
            raise InvalidGroundTruth(f"ground truth of type {type(item).__name__} is not supported")
        item = _unbox(item.strip())
        if item:
            out.append(item)
    if not out:
        raise InvalidGroundTruth(f"ground truth {ground_truth!r} is empty")
    return out


def _unbox(gold: str) -> str:
    if "\\boxed" not in gold:
        return gold
    boxes = [b for b in parse(gold).boxed if b.closed]
    return gold[boxes[-1].content_start:boxes[-1].content_end].strip() if boxes else gold
