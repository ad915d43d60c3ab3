"""The rollout branching factor from a backend's top-k log-probs: the size of the smallest top-p token set."""

from __future__ import annotations

import math
from typing import Iterable


def set_size_from_logprobs(logprobs: Iterable[float], top_p: float, cap: int) -> int:
    """Smallest number of most likely tokens whose probability mass reaches `top_p`.

    `logprobs` are the top-`cap` log-probabilities of one position (any order). When even all of them fall short
    of `top_p`, the true size is larger than `cap` and `cap + 1` is returned (a lower bound).
    """
    mass = 0.0
    for k, lp in enumerate(sorted(logprobs, reverse=True)[:cap], start=1):
        mass += math.exp(lp)
        if mass >= top_p - 1e-6:  # float rounding must not cost a token (as `metrics.branching`)
            return k
    return cap + 1
