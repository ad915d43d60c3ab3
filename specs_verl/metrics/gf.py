"""The Generalization Factor (GF) of SPECS (arXiv 2510.25801, section "Generalization Factor").

For a model after n training steps, Psi_ID(n) is its score on a held-out set of the training distribution and
Psi_OOD(n) the weighted mean of its scores on m out-of-distribution sets. The gains over the start are
G_ID = Psi_ID(n) - Psi_ID(0) and G_OOD = Psi_OOD(n) - Psi_OOD(0), and

    GF = (1 + beta^2) * G_ID * G_OOD / (beta^2 * G_ID + G_OOD),    beta = 2 by default,

the F-beta combination of the two gains (a weighted harmonic mean that weights OOD beta^2 times as much as ID):
a cold start that learns its training set but not the task around it scores low.

GF is in the units of the scores (pass percentages give GF in percent, fractions give a fraction): the formula
is homogeneous of degree one in the gains.

Pure Python: numbers in, numbers out.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

Scores = Sequence[float] | Mapping[str, float]


def _finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def generalization_factor(g_id: float, g_ood: float, beta: float = 2.0) -> float:
    """GF from the in-distribution and out-of-distribution gains.

    Edge cases (GF is never NaN and never rewards a regression):
    - both gains positive: the F-beta formula above; GF lies between the two gains and equals them when equal;
    - a gain is zero or negative: GF = min(g_id, g_ood), i.e. 0 when nothing was gained on one side and the
      other did not regress, and the larger regression when either side regressed. This is the limit of the
      formula as a gain falls to 0, so GF is continuous and non-decreasing in each gain everywhere (the raw
      formula would divide by zero at beta^2 * g_id = -g_ood and could turn two regressions into a gain).

    Args:
        g_id: gain on the in-distribution set, Psi_ID(n) - Psi_ID(0).
        g_ood: gain on the (weighted) out-of-distribution sets, Psi_OOD(n) - Psi_OOD(0).
        beta: how many times more OOD counts than ID (as in F-beta); must be positive. The paper uses 2.

    Raises:
        ValueError: a gain or beta is NaN or infinite, or beta is not positive.
    """
    g_id, g_ood, beta = _finite("g_id", g_id), _finite("g_ood", g_ood), _finite("beta", beta)
    if beta <= 0:
        raise ValueError(f"beta must be positive, got {beta}")
    if g_id <= 0 or g_ood <= 0:
        return min(g_id, g_ood)
    b2 = beta * beta
    gf = (1 + b2) * g_id * g_ood / (b2 * g_id + g_ood)
    # Rounding can push a weighted harmonic mean a hair outside [min, max]; keep the documented bound exact.
    return min(max(gf, min(g_id, g_ood)), max(g_id, g_ood))


def weighted_mean(scores: Scores, weights: Scores | None = None, *, what: str = "scores") -> float:
    """The weighted mean of per-set scores (equal weights when `weights` is None).

    `scores` and `weights` are both sequences (aligned by position) or both mappings (aligned by key; every
    score needs a weight). Weights must be non-negative with a positive sum.
    """
    if isinstance(scores, Mapping):
        names = list(scores)
        values = [_finite(f"{what}[{k!r}]", scores[k]) for k in names]
        if weights is not None:
            if not isinstance(weights, Mapping):
                raise TypeError(f"{what} is a mapping, so its weights must be a mapping too")
            missing = [k for k in names if k not in weights]
            if missing:
                raise ValueError(f"no weight for {what} {missing}; weights given for {sorted(weights)}")
            weights = [weights[k] for k in names]
    else:
        values = [_finite(f"{what}[{i}]", v) for i, v in enumerate(scores)]
        if isinstance(weights, Mapping):
            raise TypeError(f"{what} is a sequence, so its weights must be a sequence too")
    if not values:
        raise ValueError(f"{what} is empty")
    if weights is None:
        return sum(values) / len(values)
    weights = [_finite(f"weight[{i}]", w) for i, w in enumerate(weights)]
    if len(weights) != len(values):
        raise ValueError(f"{len(values)} {what} but {len(weights)} weights")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {weights}")
    return sum(w * v for w, v in zip(weights, values)) / sum(weights)


@dataclass(frozen=True)
class GFResult:
    """Scores, gains and GF of one evaluation (all in the units of the scores)."""

    id_score: float  # Psi_ID(n)
    ood_score: float  # Psi_OOD(n), the weighted mean over the OOD sets
    g_id: float
    g_ood: float
    gf: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def to_metrics(self, prefix: str) -> dict[str, float]:
        """Flat metric names, e.g. prefix "val-core/specs" -> val-core/specs/gf, .../g_id, .../id_score."""
        return {f"{prefix}/{k}": v for k, v in asdict(self).items()}


def gf_from_scores(
    id_score: float,
    ood_scores: Scores,
    base_id: float,
    base_ood: float | Scores,
    ood_weights: Scores | None = None,
    beta: float = 2.0,
) -> GFResult:
    """GF of a model from its scores and the scores of the starting model.

    Args:
        id_score: Psi_ID(n), the score on the in-distribution held-out set.
        ood_scores: the scores on each OOD set (a sequence, or a mapping set name -> score).
        base_id: Psi_ID(0).
        base_ood: Psi_OOD(0): either already aggregated (a number) or per OOD set, shaped like `ood_scores`
            (then it is averaged with the same weights).
        ood_weights: weights of the OOD sets, shaped like `ood_scores`; equal weights when None.
        beta: see `generalization_factor`.
    """
    id_score, base_id = _finite("id_score", id_score), _finite("base_id", base_id)
    ood_score = weighted_mean(ood_scores, ood_weights, what="ood_scores")
    if isinstance(base_ood, numbers.Real):
        base_ood_score = _finite("base_ood", base_ood)
    else:
        base_ood_score = weighted_mean(base_ood, ood_weights, what="base_ood")
    g_id, g_ood = id_score - base_id, ood_score - base_ood_score
    return GFResult(id_score, ood_score, g_id, g_ood, generalization_factor(g_id, g_ood, beta))


def preference_gf(
    per_source_accuracies: Mapping[str, float],
    id_sources: Sequence[str],
    ood_sources: Sequence[str],
    baseline: float | Mapping[str, float] = 0.0,
    beta: float = 2.0,
    ood_weights: Scores | None = None,
) -> GFResult:
    """A preference GF for DPO validation: GF over the pair accuracy (`rewards/accuracies`) of each pair set.

    No generation needed: the pair accuracy is the fraction of pairs whose chosen implicit reward beats the
    rejected one, so its gain on the ID pair sets and on the OOD pair sets says whether the cold start learned a
    preference that transfers. With the policy equal to the reference (before training) every implicit reward
    is 0, no pair counts as won, and the accuracy is 0: the default baseline. Pass the validation before
    training (per source) to be exact, e.g. when resuming.

    Args:
        per_source_accuracies: pair-set name (data_source) -> `rewards/accuracies` on that set.
        id_sources: the in-distribution sets (their scores are averaged with equal weights).
        ood_sources: the out-of-distribution sets.
        baseline: the accuracy at the start: one number for every set, or set name -> accuracy.
        beta: see `generalization_factor`.
        ood_weights: weights of the OOD sets (sequence aligned with `ood_sources`, or a mapping); equal if None.

    Raises:
        ValueError: a set has no accuracy or no baseline, or the ID or OOD list is empty.
    """
    def pick(scores: Mapping[str, float], sources: Sequence[str], what: str) -> dict[str, float]:
        if not sources:
            raise ValueError(f"preference_gf needs at least one {what} source")
        missing = [s for s in sources if s not in scores]
        if missing:
            raise ValueError(f"no {what} value for pair sets {missing}; have {sorted(scores)}")
        return {s: scores[s] for s in sources}

    all_sources = list(id_sources) + list(ood_sources)
    base = {s: baseline for s in all_sources} if isinstance(baseline, numbers.Real) else baseline
    id_acc = pick(per_source_accuracies, id_sources, "ID")
    ood_acc = pick(per_source_accuracies, ood_sources, "OOD")
    if ood_weights is not None and not isinstance(ood_weights, Mapping):
        ood_weights = dict(zip(ood_sources, ood_weights, strict=True))
    return gf_from_scores(
        id_score=weighted_mean(id_acc, what="ID accuracies"),
        ood_scores=ood_acc,
        base_id=weighted_mean(pick(base, id_sources, "ID baseline"), what="ID baseline"),
        base_ood=pick(base, ood_sources, "OOD baseline"),
        ood_weights=ood_weights,
        beta=beta,
    )
