"""pass@k: the chance that at least one of k samples solves a problem, estimated without bias from n >= k samples.

The estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on Code"): with c correct among n
samples, pass@k = 1 - C(n - c, k) / C(n, k), the probability that a random k-subset of the n samples holds a
correct one. SPECS reports it on MMMU (k = 8 / 64) as evidence that the DPO cold start keeps exploration.

Pure Python: numbers in, numbers out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with `c` correct answers among `n` samples (1 <= k <= n, 0 <= c <= n).

    Computed as 1 - prod_{i = n-c+1}^{n} (1 - k / i), the same value as the binomial ratio without huge
    integers.
    """
    n, c, k = int(n), int(c), int(k)
    if n < 1 or not 0 <= c <= n:
        raise ValueError(f"pass_at_k needs n >= 1 and 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass_at_k needs 1 <= k <= n, got k={k} with n={n} samples")
    if n - c < k:  # every k-subset holds a correct sample
        return 1.0
    fail = 1.0
    for i in range(n - c + 1, n + 1):
        fail *= 1.0 - k / i
    return 1.0 - fail


def mean_pass_at_k(correct: Iterable[Sequence[float | bool]], k: int) -> float:
    """pass@k averaged over problems; `correct[p]` holds problem p's per-sample outcomes (truthy = correct).

    Problems may have different numbers of samples, each at least k.
    """
    values = []
    for p, outcomes in enumerate(correct):
        if len(outcomes) < k:
            raise ValueError(f"problem {p} has {len(outcomes)} samples, fewer than k={k}")
        values.append(pass_at_k(len(outcomes), sum(1 for o in outcomes if o), k))
    if not values:
        raise ValueError("mean_pass_at_k needs at least one problem")
    return sum(values) / len(values)


def pass_at_ks(correct: Sequence[Sequence[float | bool]], ks: Iterable[int] | None = None) -> dict[int, float]:
    """Mean pass@k for several k (by default 1, 2, 4, ... up to the fewest samples any problem has)."""
    if not correct:
        raise ValueError("pass_at_ks needs at least one problem")
    if ks is None:
        n_min = min(len(o) for o in correct)
        ks = [2**i for i in range(n_min.bit_length()) if 2**i <= n_min]
    return {k: mean_pass_at_k(correct, k) for k in ks}
