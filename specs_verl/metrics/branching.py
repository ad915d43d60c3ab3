"""Rollout branching factor: how many tokens the policy seriously considers at each step of its own rollouts.

SPECS reports a higher "rollout branching factor" after the DPO cold start than after SFT (more room for GRPO to
explore). The paper does not define it; we use the natural reading: at each generated position, the size of the
smallest set of tokens whose probability reaches top_p (the nucleus of top-p sampling, 0.95 by default), averaged
over all generated positions. 1 means the policy is certain; larger means it branches.

Numbers in, numbers out (numpy, no torch): callers pass next-token distributions, e.g. a softmax of
teacher-forced logits over the sampled responses, in chunks.
"""

from __future__ import annotations

import numpy as np

# A distribution that reaches top_p exactly should not need one more token because of float rounding.
TOP_P_TOL = 1e-6


def nucleus_sizes(sorted_probs, top_p: float):
    """The one rule for the top-p set: per row of probabilities sorted in descending order, the number of
    tokens whose preceding mass is still below `top_p` (less `TOP_P_TOL`): the smallest set reaching `top_p`.

    Works on a numpy array or a torch tensor alike (the sampler's batches, the metric's chunks, a backend's
    top-k log-probs), so every caller counts the same way. A row whose whole mass falls short of `top_p` counts
    all its tokens; callers that can tell (a truncated top-k list) say so themselves.
    """
    mass_before = sorted_probs.cumsum(-1) - sorted_probs
    return (mass_before < top_p - TOP_P_TOL).sum(-1)


def top_p_set_sizes(token_probs, top_p: float = 0.95) -> np.ndarray:
    """For each position (row), the size of the smallest token set whose probability reaches `top_p`.

    Args:
        token_probs: array-like of shape (positions, vocab), each row a full next-token distribution
            (non-negative, summing to about 1).
        top_p: the nucleus mass, in (0, 1].

    Returns:
        int64 array of shape (positions,), values in [1, vocab].

    Raises:
        ValueError: bad shape, negative or non-finite probabilities, or a row whose total mass is below top_p
            (a truncated distribution: its set size is not known).
    """
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p}")
    probs = np.asarray(token_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] == 0:
        raise ValueError(f"token_probs must have shape (positions, vocab), got {probs.shape}")
    if probs.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if not np.isfinite(probs).all() or (probs < 0).any():
        raise ValueError("token_probs must be finite and non-negative")
    ordered = -np.sort(-probs, axis=1)
    totals = ordered.sum(axis=1)
    short = np.flatnonzero(totals < top_p - TOP_P_TOL)
    if short.size:
        raise ValueError(
            f"row {int(short[0])} sums to {totals[short[0]]:.6f} < top_p={top_p}: pass full distributions"
        )
    return nucleus_sizes(ordered, top_p).astype(np.int64)


def rollout_branching_factor(token_probs, top_p: float = 0.95) -> float:
    """Mean top-p set size over generated positions.

    Args:
        token_probs: one array of shape (positions, vocab), or an iterable of such arrays (e.g. one per response
            or one per chunk; all positions are pooled).
        top_p: see `top_p_set_sizes`.

    Raises:
        ValueError: no positions at all, or any row fails `top_p_set_sizes`.
    """
    if isinstance(token_probs, np.ndarray) and token_probs.ndim == 2:
        chunks = [token_probs]
    else:
        items = list(token_probs)
        # rows of numbers make one 2-d array; otherwise each item is a 2-d chunk
        chunks = [items] if items and np.ndim(items[0]) == 1 else items
    total, count = 0, 0
    for chunk in chunks:
        sizes = top_p_set_sizes(chunk, top_p)
        total += int(sizes.sum())
        count += sizes.size
    if count == 0:
        raise ValueError("rollout_branching_factor needs at least one generated position")
    return total / count

