"""Is the final answer right? Extract it once, settle what is cheap in-process, send the rest to a worker.

Order, first decision wins (`GradeResult.method` says which):
- `no_answer`: nothing to read (see `extraction.py`).
- multiple choice (`choice.py`): when the ground truth is an option letter (or a set of letters, or the row's
  `options` say so), the letters named decide; with options and no letter, the option's text (normalised, or
  math-equivalent through the symbolic graders). Methods `choice`, `option_text`.
- `hedge`: the answer names two or more different candidates and the ground truth is not itself a list.
- `number`: plain numbers on both sides, exact rationals (or rounded at `precision`), degree signs and percent
  dropped on either side. Math-verify reaches the same verdicts, after milliseconds in its LaTeX parser.
- `refused`: the answer (or gold) asks for an astronomically large exact value (`refusal.py`): wrong, counted.
- `math_verify`, `mathruler`: the symbolic graders, in a worker process under a hard wall-clock limit
  (`worker_pool.py`), so that every call returns within `time_limit` + about 0.3 s on any input, in any thread.
- `string`: equal after normalisation (case, blanks, `$`, `\\text{}`, a final period, units).

Answers longer than `MAX_SYMBOLIC_CHARS` are only compared as strings (no answer of that length is a letter, a
number or a formula a grader should parse; every step above stays linear on them this way).
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from typing import Any, Sequence

from specs_verl.time_limit import TimeLimitExceeded, call_with_time_limit

from . import worker_pool
from .answer_text import latexify_unicode, normalise, strip_unit
from .choice import ChoiceSpec, choice_spec, correct_texts, grade_choice
from .extraction import extract_answer, ground_truths
from .hedges import candidates
from .numbers import PLAIN_NUMBER, as_plain_number, plain_number_verdict
from .refusal import refusal_reason

logger = logging.getLogger(__name__)

MAX_SYMBOLIC_CHARS = 1000
DEFAULT_TIME_LIMIT = 5.0  # seconds per grade() call for both symbolic graders together (math-verify's default)


@dataclass(frozen=True)
class GradeResult:
    correct: bool
    extracted: str | None  # the final answer as read from the response (None: nothing to read)
    # number | math_verify | mathruler | choice | option_text | string when correct;
    # no_match | no_answer | hedge | refused otherwise
    method: str
    timed_out: bool = False  # the symbolic graders ran out of time (the verdict is from the cheap graders)
    refused: bool = False  # the answer was too costly to evaluate and was not given to the symbolic graders


@functools.lru_cache(maxsize=4096)
def _gold_refusal(gold: str) -> str | None:
    return refusal_reason(gold)


@functools.lru_cache(maxsize=4096)
def _gold_is_list(gold: str, text_answers: bool) -> bool:
    return len(candidates(gold, text_answers)) >= 2


def is_free_form_text(golds: Sequence[str]) -> bool:
    """Ground truths that are words (a name, "yes"), not numbers, formulas or option letters."""
    return all(not PLAIN_NUMBER.search(g) and not any(c.isdigit() or c in "\\^_=+*/{}" for c in g)
               and sum(c.isalpha() for c in g) >= 2 for g in golds)


def _symbolic(pred: str, from_box: bool, golds: list[str], deadline: float,
              math_verify_only: bool) -> tuple[str | None, bool]:
    """(accepting method or None, timed out). In a worker process; in-process only where none can start."""
    seconds = deadline - time.monotonic()
    if seconds <= 0:
        return None, True
    args = (pred, from_box, golds, seconds, math_verify_only)
    try:
        return worker_pool.get_pool().call("grade", args, deadline)
    except worker_pool.NoWorker:
        return None, True
    except worker_pool.PoolUnavailable:
        from .symbolic import symbolic_grade

        try:  # the thread watchdog: enough for everything but one long C call (refused above)
            return call_with_time_limit(seconds + 0.5, symbolic_grade, *args)
        except TimeLimitExceeded:
            return None, True
    except Exception:  # the worker died (a crash in sympy, MemoryError): a wrong answer
        logger.debug("grading worker failed on %r", pred[:200], exc_info=True)
        return None, False


def _options(options: Any) -> tuple[str, ...]:
    if options is None:
        return ()
    if hasattr(options, "tolist"):
        options = options.tolist()
    if isinstance(options, str):
        return ()
    return tuple(str(o) for o in options if o is not None)


def grade(prediction_text: str, ground_truth: Any, *, options: Any = None, answer_type: str | None = None,
          answers: Any = None, precision: int | None = None, time_limit: float = DEFAULT_TIME_LIMIT,
          refuse_costly: bool = True) -> GradeResult:
    """Grade one response against its ground truth (a string, a number, a list of those, or a letter).

    `options` (option texts in letter order), `answer_type` ("choice", "multi_select", "number", "text"),
    `answers` (more acceptable answers) and `precision` (decimals for numbers) come from the row's
    `extra_info` (the row contract: `specs_verl/schema/rl_rows.py`); absent, grading is as for a bare ground truth.
    `refuse_costly=False` sends even refused answers to the graders (to test the kill; never in training).
    Raises InvalidGroundTruth for a ground truth that cannot be read; never raises for any response text.
    """
    deadline = time.monotonic() + time_limit
    golds = ground_truths(ground_truth)
    extra = _options(answers)
    if extra:
        golds += [g for g in ground_truths(list(extra)) if g not in golds]
    if not isinstance(prediction_text, str):
        prediction_text = "" if prediction_text is None else str(prediction_text)
    pred, from_box = extract_answer(prediction_text)
    if pred is None:
        return GradeResult(False, None, "no_answer")
    if len(pred) > MAX_SYMBOLIC_CHARS:  # a runaway answer: only string equality, in linear time
        correct = _string(pred, golds)
        return GradeResult(correct, pred, "string" if correct else "no_match")

    spec = choice_spec(golds, _options(options), answer_type)
    if spec is not None:
        return _grade_choice(pred, from_box, spec, deadline, refuse_costly)

    text_answers = answer_type == "text" or is_free_form_text(golds)
    if len(candidates(pred, text_answers)) >= 2 and not any(_gold_is_list(g, text_answers) for g in golds):
        return GradeResult(False, pred, "hedge")

    core = strip_unit(pred)
    cores = [strip_unit(g) for g in golds]
    verdict = plain_number_verdict(core, cores, precision)
    if verdict is not None:
        return GradeResult(verdict, pred, "number" if verdict else "no_match")
    timed_out = refused = False
    if len(pred) <= MAX_SYMBOLIC_CHARS:
        reason = refusal_reason(pred) if refuse_costly else None
        usable = [g for g in golds if not (refuse_costly and _gold_refusal(g))]
        if reason is not None:
            refused = True
            logger.debug("refused to evaluate %r: %s", pred[:200], reason)
        elif usable:
            plain = as_plain_number(core) is not None and all(as_plain_number(g) is not None for g in cores)
            sym_pred = core if plain else latexify_unicode(pred)
            method, timed_out = _symbolic(sym_pred, from_box and not plain, cores if plain else usable, deadline,
                                          math_verify_only=plain)
            if method is not None:
                return GradeResult(True, pred, method, timed_out)
    if _string(pred, golds):
        return GradeResult(True, pred, "string", timed_out, refused)
    return GradeResult(False, pred, "refused" if refused else "no_match", timed_out, refused)


def _grade_choice(pred: str, from_box: bool, spec: ChoiceSpec, deadline: float, refuse_costly: bool) -> GradeResult:
    verdict = grade_choice(pred, spec, is_hedge=lambda: len(candidates(pred)) >= 2)
    if verdict == "hedge":
        return GradeResult(False, pred, "hedge")  # "0 or A", "30° or 45°": two answers, whatever the letters
    if verdict is not None:
        return GradeResult(verdict, pred, "choice" if verdict else "no_match")
    # no letter, no equal text: is the answer math-equivalent to the correct option's text ("1/2" for "0.5")?
    if len(pred) > MAX_SYMBOLIC_CHARS or (refuse_costly and refusal_reason(pred)):
        return GradeResult(False, pred, "refused" if len(pred) <= MAX_SYMBOLIC_CHARS else "no_match",
                           refused=len(pred) <= MAX_SYMBOLIC_CHARS)
    texts = [t for t in correct_texts(spec) if not (refuse_costly and _gold_refusal(t))]
    if not texts:
        return GradeResult(False, pred, "no_match")
    method, timed_out = _symbolic(strip_unit(pred), from_box, [strip_unit(t) for t in texts], deadline, False)
    return GradeResult(method is not None, pred, "option_text" if method else "no_match", timed_out)


def _string(pred: str, golds: list[str]) -> bool:
    p = normalise(pred)
    return bool(p) and any(p == normalise(g) for g in golds)


def warm_up() -> None:
    """Start a grading worker in the background, so that the first symbolic grade does not wait for it."""
    worker_pool.get_pool().warm_up(1)


def clear_caches() -> None:
    """Empty every parse cache, here and in the workers (the benchmark times cold grading)."""
    _gold_refusal.cache_clear()
    _gold_is_list.cache_clear()
    worker_pool.get_pool().broadcast("clear")
