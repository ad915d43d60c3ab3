"""The SPECS reward as a verl `compute_score`: 0.5 * format + 1.0 * accuracy by default (the paper's GRPO reward).

Use it through the registered reward manager (`reward.reward_manager.name=specs`, see `reward_manager.py`) or
directly as a custom reward function:

    reward.custom_reward_function.path=pkg://specs_verl.reward
    reward.custom_reward_function.name=compute_score

Options (`reward.reward_kwargs.*` with the manager, `reward.custom_reward_function.reward_kwargs.*` without):
`format_weight` (0.5), `accuracy_weight` (1.0), `profile` (`specs` | `geo3k` | `r1v`), `think_prefilled`
(False), `time_limit` (seconds for the symbolic graders, 5), and the style bounds of `surface_form.check`
(`min_think_chars`, `max_think_chars`, `max_answer_chars`).

Every call returns the same keys, whatever it is given (verl assembles the batch from them and fails on a
mismatch): `score`, `acc`, `format`, `structure`, `style` (floats) and `pred` (the extracted answer, a string,
used by verl's majority-vote metrics). Bad input never raises: a bad response scores 0 on what it lacks, a bad
ground truth gives acc=0 and a warning naming the sample. Pure Python: no torch, no verl.
"""

from __future__ import annotations

import logging
from typing import Any

from specs_verl.grading import DEFAULT_TIME_LIMIT, InvalidGroundTruth, grade
from specs_verl.surface_form import PROFILES, check

logger = logging.getLogger(__name__)

REWARD_KEYS = ("score", "acc", "format", "structure", "style", "pred")
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
}
# passed by verl's reward loop when a reward model router exists; not ours to use
_VERL_PASSTHROUGH = frozenset({"reward_router_address", "reward_model_tokenizer"})


def resolve_options(options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The defaults updated with `options`; raises for an unknown key or profile (a config error, not data)."""
    options = {k: v for k, v in dict(options or {}).items() if k not in _VERL_PASSTHROUGH}
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"unknown specs reward option(s) {unknown}; known: {sorted(DEFAULTS)}")
    resolved = {**DEFAULTS, **options}
    if resolved["profile"] not in PROFILES:
        raise ValueError(f"unknown profile {resolved['profile']!r}; choose one of {sorted(PROFILES)}")
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


def compute_score(
    data_source: Any,
    solution_str: Any,
    ground_truth: Any,
    extra_info: dict | None = None,
    **kwargs: Any,
) -> dict[str, float | str]:
    """Score one response; see the module docstring. Works for every `data_source`."""
    opts = resolve_options(kwargs)
    result: dict[str, float | str] = {"score": 0.0, "acc": 0.0, "format": 0.0, "structure": 0.0, "style": 0.0,
                                      "pred": ""}
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
        try:
            graded = grade(text, ground_truth, time_limit=opts["time_limit"])
        except InvalidGroundTruth as e:
            logger.warning("specs reward: sample %s has a bad ground truth (%s); acc=0",
                           sample_name(data_source, extra_info), e)
        else:
            result["acc"] = float(graded.correct)
            result["pred"] = (graded.extracted or "")[:MAX_PRED_CHARS]
            if graded.timed_out:
                logger.warning("specs reward: sample %s: a symbolic grader ran out of time (%ss)",
                               sample_name(data_source, extra_info), opts["time_limit"])
        result["score"] = opts["format_weight"] * result["format"] + opts["accuracy_weight"] * result["acc"]
    except Exception:  # never take the trainer down for one sample; say which one
        logger.exception("specs reward: scoring sample %s failed; it scores 0", sample_name(data_source, extra_info))
        result.update(score=0.0, acc=0.0, format=0.0, structure=0.0, style=0.0, pred="")
    return result
