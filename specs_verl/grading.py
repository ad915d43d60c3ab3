"""Is the final answer right? Extract it once, then try four graders from strictest to loosest.

Extraction: the text of the last closed `<answer>...</answer>` block (the last box inside it when it has one),
else the tail after an unclosed `<answer>` (a truncated rollout), else the last closed `\\boxed{}` anywhere in
the response. The tags are found by the same linear parse as the format check (`surface_form.parse`).

Grading, first success wins (`GradeResult.method` says which):
0. `number`: both sides are plain numbers (`137`, `-2.50`) and equal as exact rationals; integers that differ
   are settled as wrong here too. Math-verify reaches the same verdicts, after milliseconds in its LaTeX parser.
1. `math_verify`: symbolic equivalence (the grader of MM-EUREKA, which SPECS built on);
2. `mathruler`: the normalise-then-sympy grader of verl's geo3k and EasyR1;
3. `choice`: the ground truth is an option letter, the answer names that letter as a standalone capital and
   no other letter (a stricter form of MM-EUREKA's multiple-choice fallback);
4. `string`: equal after normalisation (case, blanks, `$`, `\\text{}`, a final period).

Both symbolic graders run under one hard wall-clock budget per call (`time_limit`), enforced by
`specs_verl.time_limit`, which works in any thread: verl calls the reward from a thread pool inside Ray actors,
where math-verify's own `signal.alarm` timeout cannot run. Answers longer than `MAX_SYMBOLIC_CHARS` skip the
symbolic graders (sympy on a 1 MB string is never the right answer, and is slow).
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import re
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from math_verify import parse as mv_parse
from math_verify import verify as mv_verify
from mathruler.grader import grade_answer as mathruler_grade

from specs_verl.surface_form.parsing import ANSWER_CLOSE, ANSWER_OPEN, parse
from specs_verl.time_limit import TimeLimitExceeded, call_with_time_limit

logger = logging.getLogger(__name__)

MAX_SYMBOLIC_CHARS = 1000
DEFAULT_TIME_LIMIT = 5.0  # seconds per grade() call for both symbolic graders together (math-verify's default)


class _NoTimeoutWarning(logging.Filter):
    """math-verify warns that "timeout is disabled" when its signal timeout is off; ours is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_NoTimeoutWarning())


class InvalidGroundTruth(ValueError):
    """The ground truth is not a string, a number, an option letter or a list of those."""


@dataclass(frozen=True)
class GradeResult:
    correct: bool
    extracted: str | None  # the final answer as read from the response (None: nothing to read)
    method: str  # number | math_verify | mathruler | choice | string when correct; no_match | no_answer otherwise
    timed_out: bool = False  # a symbolic grader ran out of time (the result is from the other graders)


# --------------------------------------------------------------------------------------------- extraction


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
        if inner:
            return inner, False
    for box in reversed(parsed.boxed):
        if box.closed:
            content = parsed.boxed_content(box).strip()
            if content:
                return content, True
    return None, False


# ------------------------------------------------------------------------------------------- ground truth


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


# ------------------------------------------------------------------------------------------------ graders


@functools.lru_cache(maxsize=4096)
def _parse_gold(gold: str) -> tuple:
    # GRPO grades n samples per prompt against one gold: parse it once.
    text = gold if ("$" in gold or "\\boxed" in gold or "\\(" in gold) else f"${gold}$"
    return tuple(mv_parse(text, parsing_timeout=None))


def _math_verify(pred: str, from_box: bool, golds: list[str]) -> bool:
    pred_parsed = mv_parse(f"\\boxed{{{pred}}}" if from_box else pred, parsing_timeout=None)
    if not pred_parsed:
        return False
    for gold in golds:
        gold_parsed = _parse_gold(gold)
        if gold_parsed and mv_verify(list(gold_parsed), pred_parsed, timeout_seconds=None):
            return True
    return False


def _mathruler(pred: str, golds: list[str]) -> bool:
    return any(mathruler_grade(pred, gold) for gold in golds)


_PLAIN_NUMBER = re.compile(r"[-+]?(?:\d{1,100}(?:\.\d{0,100})?|\.\d{1,100})")
_INTEGER = re.compile(r"[-+]?\d{1,100}")


def _plain_number_verdict(pred: str, golds: list[str]) -> bool | None:
    """Settle plain numbers without a LaTeX parser (math-verify spends milliseconds parsing "137").

    True when the answer equals a ground truth as an exact rational; False when all are integers and none is
    equal (math-verify compares integers exactly too); None otherwise (decimals that differ: math-verify's
    rounding decides).
    """
    if not _PLAIN_NUMBER.fullmatch(pred) or not all(_PLAIN_NUMBER.fullmatch(g) for g in golds):
        return None
    value = Fraction(pred)
    if any(Fraction(g) == value for g in golds):
        return True
    if _INTEGER.fullmatch(pred) and all(_INTEGER.fullmatch(g) for g in golds):
        return False
    return None


_GOLD_LETTER = re.compile(r"\(?([A-Z])\)?[.:]?")
_OPTION_LETTER = re.compile(r"(?<![A-Za-z\\])[A-Z](?![A-Za-z])")


def _choice(pred: str, golds: list[str]) -> bool:
    letters = None
    for gold in golds:
        m = _GOLD_LETTER.fullmatch(gold)
        if m is None:
            continue
        if letters is None:
            letters = set(_OPTION_LETTER.findall(pred))
        if letters == {m.group(1)}:
            return True
    return False


_WRAPPER = re.compile(r"\\(?:text|mathrm|textbf|mbox|operatorname)\s*\{([^{}]*)\}")
_NOISE = re.compile(r"\s+|\$|\\[,;:! ]|\\left|\\right")
_LEAD = re.compile(r"^(?:thefinalansweris|theansweris|answer)[:=]?")


def _normalise(text: str) -> str:
    text = _NOISE.sub("", _WRAPPER.sub(r"\1", text)).lower()
    text = _LEAD.sub("", text)
    return text[:-1] if text.endswith(".") else text


def _string(pred: str, golds: list[str]) -> bool:
    p = _normalise(pred)
    return bool(p) and any(p == _normalise(g) for g in golds)


# ----------------------------------------------------------------------------------------------------- grade


def grade(prediction_text: str, ground_truth: Any, *, time_limit: float = DEFAULT_TIME_LIMIT) -> GradeResult:
    """Grade one response against its ground truth (a string, a number, a list of those, or a letter).

    Raises InvalidGroundTruth for a ground truth that cannot be read; never raises for any response text.
    """
    golds = ground_truths(ground_truth)
    if not isinstance(prediction_text, str):
        prediction_text = "" if prediction_text is None else str(prediction_text)
    pred, from_box = extract_answer(prediction_text)
    if pred is None:
        return GradeResult(False, None, "no_answer")

    verdict = _plain_number_verdict(pred, golds)
    if verdict is not None:
        return GradeResult(verdict, pred, "number" if verdict else "no_match")
    timed_out = False
    if len(pred) <= MAX_SYMBOLIC_CHARS:
        deadline = time.monotonic() + time_limit
        graders = [("math_verify", _math_verify, (pred, from_box, golds)), ("mathruler", _mathruler, (pred, golds))]
        if _PLAIN_NUMBER.fullmatch(pred) and all(_PLAIN_NUMBER.fullmatch(g) for g in golds):
            graders = graders[:1]  # plain numbers: math-verify's verdict is final; mathruler's sympy parse is ~1 ms
        for method, fn, args in graders:
            try:
                if call_with_time_limit(deadline - time.monotonic(), fn, *args):
                    return GradeResult(True, pred, method, timed_out)
            except TimeLimitExceeded:
                timed_out = True
            except Exception:  # a grader bug on odd input is a wrong answer, not a crashed trainer
                logger.debug("%s failed on %r", method, pred[:200], exc_info=True)
    if _choice(pred, golds):
        return GradeResult(True, pred, "choice", timed_out)
    if _string(pred, golds):
        return GradeResult(True, pred, "string", timed_out)
    return GradeResult(False, pred, "no_match", timed_out)
