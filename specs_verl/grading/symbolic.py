"""The two symbolic graders (math-verify, then mathruler), as run inside a grading worker process.

`symbolic_grade` is the whole job a worker does for one answer; it imports sympy-heavy code, so the parent
process only imports this module when the worker pool cannot be used (see `worker_pool.py`).
"""

from __future__ import annotations

import functools
import logging
import time

from math_verify import parse as mv_parse
from math_verify import verify as mv_verify
from mathruler.grader import grade_answer as mathruler_grade

from specs_verl.time_limit import TimeLimitExceeded, call_with_time_limit

logger = logging.getLogger(__name__)


class _NoTimeoutWarning(logging.Filter):
    """math-verify warns that "timeout is disabled" when its signal timeout is off; ours is on."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Timeout is disabled" not in record.getMessage()


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_NoTimeoutWarning())


@functools.lru_cache(maxsize=4096)
def parse_gold(gold: str) -> tuple:
    # GRPO grades n samples per prompt against one gold: parse it once.
    text = gold if ("$" in gold or "\\boxed" in gold or "\\(" in gold) else f"${gold}$"
    return tuple(mv_parse(text, parsing_timeout=None))


def math_verify_equal(pred: str, from_box: bool, golds: list[str]) -> bool:
    pred_parsed = mv_parse(f"\\boxed{{{pred}}}" if from_box else pred, parsing_timeout=None)
    if not pred_parsed:
        return False
    for gold in golds:
        gold_parsed = parse_gold(gold)
        if gold_parsed and mv_verify(list(gold_parsed), pred_parsed, timeout_seconds=None):
            return True
    return False


def mathruler_equal(pred: str, golds: list[str]) -> bool:
    return any(mathruler_grade(pred, gold) for gold in golds)


def symbolic_grade(pred: str, from_box: bool, golds: list[str], seconds: float,
                   math_verify_only: bool = False) -> tuple[str | None, bool]:
    """(the grader that accepted the answer or None, whether time ran out), both graders within `seconds`."""
    deadline = time.monotonic() + seconds
    graders = [("math_verify", math_verify_equal, (pred, from_box, golds)), ("mathruler", mathruler_equal, (pred, golds))]
    if math_verify_only:
        graders = graders[:1]
    timed_out = False
    for method, fn, args in graders:
        try:
            if call_with_time_limit(deadline - time.monotonic(), fn, *args):
                return method, timed_out
        except TimeLimitExceeded:
            timed_out = True
        except Exception:  # a grader bug on odd input is a wrong answer, not a crashed trainer
            logger.debug("%s failed on %r", method, pred[:200], exc_info=True)
    return None, timed_out


def clear_caches() -> None:
    """Empty every parse cache (the benchmark times cold grading)."""
    import math_verify.parser as mv_parser

    for cache in (mv_parser.parse_latex_cached, mv_parser.parse_expr_cached, mv_parser.extract_latex, parse_gold):
        cache.cache_clear()
