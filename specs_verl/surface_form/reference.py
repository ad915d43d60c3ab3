"""The format rules as their authors wrote them (regexes), kept to check and to benchmark `check` against.

Not used for scoring: these backtrack, and `check` must agree with them exactly (property tests compare the
two on random strings; `bench/scorer.py` times them side by side).
"""

from __future__ import annotations

import re

# MM-EUREKA's Qwen reward (`examples/scripts/reward_func_qwen.py`), the format reward SPECS trained with:
# chained lookaheads, re.search, DOTALL; 0.5 when it matches.
SPECS_AUTHORS = re.compile(
    r"^(?=(?:.*<think>){1})(?=(?:.*<\/think>){1})"
    r"(?=(?:.*<answer>){1})(?=(?:.*<\/answer>){1})"
    r"(?!.*<think>.*<think>)"
    r"(?!.*<\/think>.*<\/think>)"
    r"(?!.*<answer>.*<answer>)"
    r"(?!.*<\/answer>.*<\/answer>)"
    r".*<think>(.+?)</think>\s*<answer>.+?</answer>.*$",
    re.DOTALL,
)
# verl's `utils/reward_score/geo3k.py` (and EasyR1's math reward): re.fullmatch, DOTALL.
GEO3K = re.compile(r"<think>.*</think>.*\\boxed\{.*\}.*", re.DOTALL)
# EasyR1's `examples/reward_function/r1v.py`: re.fullmatch, DOTALL.
R1V = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)


def specs_authors_format(text: str) -> bool:
    return SPECS_AUTHORS.search(text) is not None


def geo3k_format(text: str) -> bool:
    return GEO3K.fullmatch(text) is not None


def r1v_format(text: str) -> bool:
    return R1V.fullmatch(text) is not None


REFERENCE_FORMAT = {"specs": specs_authors_format, "geo3k": geo3k_format, "r1v": r1v_format}
