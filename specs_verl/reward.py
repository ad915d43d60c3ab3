"""The SPECS reward as a verl `compute_score`: 0.5 * format + 1.0 * accuracy by default (the paper's GRPO reward).

Use it through the registered reward manager (`reward.reward_manager.name=specs`, see `reward_managers/`) or
directly as a custom reward function:

    reward.custom_reward_function.path=pkg://specs_verl.reward
    reward.custom_reward_function.name=compute_score

Options (`reward.reward_kwargs.*` with the manager, `reward.custom_reward_function.reward_kwargs.*` without),
type-checked once (a wrong type or value fails when the manager is built, naming the option):
`format_weight` (0.5), `accuracy_weight` (1.0), `profile` (`specs` | `geo3k` | `r1v`), `think_prefilled`
(False), `time_limit` (seconds per grade, 5: every call returns within it plus about 0.3 s), the style bounds of
`surface_form.check` (`min_think_chars`, `max_think_chars`, `max_answer_chars`), and the optional free-form
answer judge (`judge_url`, `judge_model`, `judge_api_key_env`, `judge_timeout`, `judge_retries`,
`judge_max_tokens`, `judge_cache`, `judge_max_answer_chars`; see `selfdistill/judge/answer.py`).

Rows prepared by `specs_verl.data_prep` carry `extra_info.options`, `answer_type`, `answers` and `precision`;
they are passed to the grader (multiple choice with option texts, multi-select sets, any listed answer,
decimals at a precision). Absent keys grade as a bare ground truth.

Every call returns the same keys, whatever it is given (verl assembles the batch from them and fails on a
mismatch): `score`, `acc`, `format`, `structure`, `style`, `grade_timeout` (the symbolic graders ran out of
time), `grade_refused` (the answer asked for an astronomically large exact value and was not evaluated),
`judged` (the judge gave a verdict), `judge_failed` (it was asked and could not) (floats, so verl's metrics
average them) and `pred` (the extracted answer, a string, used by verl's majority-vote metrics). Bad input
never raises: a bad response scores 0 on what it lacks, a bad ground truth gives acc=0 and a warning naming
the sample. Pure Python: no torch, no verl.
"""

from __future__ import annotations

import logging
import math
import numbers
import threading
from typing import Any, Callable

from specs_verl.grading import (DEFAULT_TIME_LIMIT, InvalidGroundTruth, grade, ground_truths, is_free_form_text,
                                row_fields)
from specs_verl.surface_form import PROFILES, check

logger = logging.getLogger(__name__)

REWARD_KEYS = ("score", "acc", "format", "structure", "style", "grade_timeout", "grade_refused", "judged",
               "judge_failed", "pred")
MAX_PRED_CHARS = 1000  # `pred` is logged per sample; a runaway answer is cut

DEFAULTS: dict[str, Any] = {
    "format_weight": 0.5,
    "accuracy_weight": 1.0,
    "profile": "specs",
    "think_prefilled": False,
    "time_limit": DEFAULT_TIME_LIMIT,
    "min_think_chars": 0,
    "max_think_chars": None,
    "max_answer_chars": None,
    "judge_url": None,
    "judge_model": None,
    "judge_api_key_env": "OPENAI_API_KEY",
    "judge_timeout": 10.0,
    "judge_retries": 1,
    "judge_max_tokens": 64,
    "judge_cache": None,
    "judge_max_answer_chars": 200,
}
# passed by verl's reward loop when a reward model router exists; not ours to use
_VERL_PASSTHROUGH = frozenset({"reward_router_address", "reward_model_tokenizer"})


def _number(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def _count(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 0


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


# option -> (check, what it must be)
_CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "format_weight": (_number, "a number"),
    "accuracy_weight": (_number, "a number"),
    "profile": (lambda v: isinstance(v, str) and v in PROFILES, f"one of {sorted(PROFILES)}"),
    "think_prefilled": (lambda v: isinstance(v, bool), "true or false"),
    "time_limit": (lambda v: _number(v) and v > 0, "a positive number of seconds"),
    "min_think_chars": (_count, "a non-negative integer"),
    "max_think_chars": (lambda v: v is None or (_count(v) and v > 0), "a positive integer or null"),
    "max_answer_chars": (lambda v: v is None or (_count(v) and v > 0), "a positive integer or null"),
    "judge_url": (lambda v: v is None or _text(v), "a URL or null"),
    "judge_model": (lambda v: v is None or _text(v), "a model name or null"),
    "judge_api_key_env": (lambda v: v is None or isinstance(v, str), "an environment variable name"),
    "judge_timeout": (lambda v: _number(v) and v > 0, "a positive number of seconds"),
    "judge_retries": (_count, "a non-negative integer"),
    "judge_max_tokens": (lambda v: _count(v) and v > 0, "a positive integer"),
    "judge_cache": (lambda v: v is None or _text(v), "a file path or null"),
    "judge_max_answer_chars": (lambda v: _count(v) and v > 0, "a positive integer"),
}

_resolved_cache: dict[tuple, dict[str, Any]] = {}


def resolve_options(options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The defaults updated with `options`; raises TypeError/ValueError naming the option for an unknown key or
    a value of the wrong type (a config error: it fails once, when the manager is built, not per sample)."""
    options = {k: v for k, v in dict(options or {}).items() if k not in _VERL_PASSTHROUGH}
    try:
        key = tuple(sorted(options.items()))
        hit = _resolved_cache.get(key)
    except TypeError:  # an unhashable value: check it the slow way (and fail below)
        key, hit = None, None
    if hit is not None:
        return dict(hit)
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"unknown specs reward option(s) {unknown}; known: {sorted(DEFAULTS)}")
    resolved = {**DEFAULTS, **options}
    for name, value in resolved.items():
        ok, what = _CHECKS[name]
        if not ok(value):
            hint = " (on the command line write it unquoted, e.g. format_weight=0.5)" if isinstance(value, str) else ""
            error = ValueError if name == "profile" and isinstance(value, str) else TypeError
            raise error(f"specs reward option {name}={value!r} ({type(value).__name__}) must be {what}{hint}")
    if bool(resolved["judge_url"]) != bool(resolved["judge_model"]):
        raise ValueError("specs reward: the free-form judge needs both judge_url and judge_model")
    if key is not None and len(_resolved_cache) < 64:
        _resolved_cache[key] = dict(resolved)
    return resolved


def sample_name(data_source: Any, extra_info: Any) -> str:
    """How warnings name a sample: its data source and, when present, its index / uid."""
    name = str(data_source)
    if isinstance(extra_info, dict):
        for key in ("index", "uid", "id"):
            if extra_info.get(key) is not None:
                return f"{name}[{key}={extra_info[key]}]"
    return name


def _as_text(solution_str: Any) -> str:
    if isinstance(solution_str, str):
        return solution_str
    if solution_str is None:
        return ""
    if isinstance(solution_str, (bytes, bytearray)):
        return bytes(solution_str).decode("utf-8", errors="replace")
    return str(solution_str)


class _Counter:
    """Process-wide counts of timeouts and refusals, logged at 1, 2, 4, 8, ... so a user sees them."""

    def __init__(self) -> None:
        self.counts = {"grade_timeout": 0, "grade_refused": 0, "judge_failed": 0}
        self._lock = threading.Lock()

    def add(self, key: str, sample: str) -> None:
        with self._lock:
            self.counts[key] += 1
            n = self.counts[key]
        if n & (n - 1) == 0:
            logger.warning("specs reward: %s (%d so far in this process; latest: sample %s)", key, n, sample)


COUNTS = _Counter()
_judges: dict[tuple, Any] = {}
_judges_lock = threading.Lock()


def _judge(opts: dict[str, Any]):
    key = tuple(opts[k] for k in ("judge_url", "judge_model", "judge_api_key_env", "judge_timeout", "judge_retries",
                                  "judge_max_tokens", "judge_cache"))
    with _judges_lock:
        if key not in _judges:
            from specs_verl.selfdistill.judge.answer import AnswerJudge

            _judges[key] = AnswerJudge(opts["judge_url"], opts["judge_model"], api_key_env=opts["judge_api_key_env"],
                                       timeout=opts["judge_timeout"], retries=opts["judge_retries"],
                                       max_tokens=opts["judge_max_tokens"], cache_path=opts["judge_cache"])
        return _judges[key]


def _question(extra_info: Any) -> str:
    if isinstance(extra_info, dict):
        for key in ("question", "problem", "query"):
            if isinstance(extra_info.get(key), str):
                return extra_info[key]
    return ""


def compute_score(
    data_source: Any,
    solution_str: Any,
    ground_truth: Any,
    extra_info: dict | None = None,
    **kwargs: Any,
) -> dict[str, float | str]:
    """Score one response; see the module docstring. Works for every `data_source`."""
    opts = resolve_options(kwargs)
    result: dict[str, float | str] = {k: 0.0 for k in REWARD_KEYS}
    result["pred"] = ""
    try:
        text = _as_text(solution_str)
        report = check(
            text,
            opts["profile"],
            think_prefilled=opts["think_prefilled"],
            min_think_chars=opts["min_think_chars"],
            max_think_chars=opts["max_think_chars"],
            max_answer_chars=opts["max_answer_chars"],
        )
        result["format"] = float(report.format_ok)
        result["structure"] = float(report.structure_ok)
        result["style"] = float(report.style_ok)
        row = row_fields(extra_info)
        try:
            graded = grade(text, ground_truth, time_limit=opts["time_limit"], **row)
        except InvalidGroundTruth as e:
            logger.warning("specs reward: sample %s has a bad ground truth (%s); acc=0",
                           sample_name(data_source, extra_info), e)
        else:
            result["acc"] = float(graded.correct)
            result["pred"] = (graded.extracted or "")[:MAX_PRED_CHARS]
            result["grade_timeout"] = float(graded.timed_out)
            result["grade_refused"] = float(graded.refused)
            for key in ("grade_timeout", "grade_refused"):
                if result[key]:
                    COUNTS.add(key, sample_name(data_source, extra_info))
            if (opts["judge_url"] and not graded.correct and graded.method == "no_match" and graded.extracted
                    and len(graded.extracted) <= opts["judge_max_answer_chars"] and not row.get("options")):
                _ask_judge(opts, result, graded.extracted, ground_truth, row, data_source, extra_info)
        result["score"] = opts["format_weight"] * result["format"] + opts["accuracy_weight"] * result["acc"]
    except Exception:  # never take the trainer down for one sample; say which one
        logger.exception("specs reward: scoring sample %s failed; it scores 0", sample_name(data_source, extra_info))
        result = {k: 0.0 for k in REWARD_KEYS}
        result["pred"] = ""
    return result


def _ask_judge(opts, result, answer, ground_truth, row, data_source, extra_info) -> None:
    golds = ground_truths(ground_truth) + list(row.get("answers", []))
    if not (row.get("answer_type") == "text" or is_free_form_text(golds)):
        return
    verdict = _judge(opts).same(_question(extra_info), " / ".join(dict.fromkeys(golds)), answer)
    if verdict is None:
        result["judge_failed"] = 1.0
        COUNTS.add("judge_failed", sample_name(data_source, extra_info))
    else:
        result["judged"] = 1.0
        result["acc"] = float(verdict)
