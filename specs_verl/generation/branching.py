"""The rollout branching factor from a backend's top-k log-probs: the size of the smallest top-p token set."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from specs_verl.metrics.branching import TOP_P_TOL, nucleus_sizes


def set_size_from_logprobs(logprobs: Iterable[float], top_p: float, cap: int) -> int:
    """Smallest number of most likely tokens whose probability mass reaches `top_p` (the metric's rule).

    `logprobs` are the top-`cap` log-probabilities of one position (any order). When even all of them fall short
    of `top_p`, the true size is larger than `cap` and `cap + 1` is returned (a lower bound).
    """
    probs = np.exp(np.sort(np.asarray(list(logprobs), dtype=np.float64))[::-1][:cap])
    if probs.size == 0 or probs.sum() < top_p - TOP_P_TOL:
        return cap + 1
    return int(nucleus_sizes(probs, top_p))
