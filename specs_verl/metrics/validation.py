"""GF from verl's validation metrics, the part shared by the `specs_sync` trainer and the JSONL log reader.

verl splits validation metrics per data source as `val-core/<source>/<var>/mean@N` (the headline variable: `acc`
when the reward returns it, else `reward`) and `val-aux/<source>/<var>/mean@N` (every other variable the reward
returns, e.g. `format`). `GFSpec` names which sources are ID and OOD and which variable is the score, reads the
per-source scores out of such a metric dict (a trainer's, or one line of verl's `file` logger) and turns them
plus the baseline scores into GF metrics:

    val-core/specs/gf, val-core/specs/g_id, val-core/specs/g_ood,
    val-core/specs/id_score, val-core/specs/ood_score, val-core/specs/score/<source>   (per set, this step)
    val-aux/specs/base/<source>                                                        (per set, the baseline)

Pure Python: strings and numbers in, numbers out.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass

from .gf import GFResult, gf_from_scores, weighted_mean

PREFIX = "val-core/specs"
_MEAN_KEY = re.compile(r"^val-(?:core|aux)/(?P<rest>.+)/mean@(?P<n>\d+)$")


def validation_scores(val_metrics: Mapping[str, float]) -> dict[tuple[str, str], float]:
    """(source, var) -> the mean over that source's responses, from verl's flat validation metric names.

    Where several `mean@N` exist for one (source, var) (prompts sampled a different number of times), the largest
    N wins, as in verl's own choice of the core metric. Sources may contain "/"; variable names may not.
    """
    best: dict[tuple[str, str], tuple[int, float]] = {}
    for key, value in val_metrics.items():
        m = _MEAN_KEY.match(key)
        if not m or "/" not in m["rest"] or not isinstance(value, numbers.Real):  # a log may hold null for NaN
            continue
        source, var = m["rest"].rsplit("/", 1)
        if source == "specs":  # our own derived metrics
            continue
        n = int(m["n"])
        if (source, var) not in best or n > best[(source, var)][0]:
            best[(source, var)] = (n, float(value))
    return {k: v for k, (_, v) in best.items()}


@dataclass(frozen=True)
class GFSpec:
    """Which validation sets are ID and OOD, which variable scores them, and how GF weighs them.

    Attributes:
        id_sources: data_source names of the in-distribution held-out sets (averaged with equal weights).
        ood_sources: data_source names of the out-of-distribution sets.
        metric: the variable the reward returns that scores a response: `acc`, `format`, `reward` (the total
            reward verl always records) or any other key of the reward's dict.
        beta: F-beta weight of OOD over ID (2 in the paper).
        ood_weights: one weight per OOD source (aligned with `ood_sources`); equal weights when None.
    """

    id_sources: tuple[str, ...]
    ood_sources: tuple[str, ...]
    metric: str = "acc"
    beta: float = 2.0
    ood_weights: tuple[float, ...] | None = None

    def __post_init__(self):
        if not self.id_sources or not self.ood_sources:
            raise ValueError(f"GF needs at least one ID and one OOD source, got id={list(self.id_sources)} "
                             f"ood={list(self.ood_sources)}")
        both = set(self.id_sources) & set(self.ood_sources)
        if both:
            raise ValueError(f"sources {sorted(both)} are listed as both ID and OOD")
        if self.ood_weights is not None and len(self.ood_weights) != len(self.ood_sources):
            raise ValueError(f"{len(self.ood_sources)} OOD sources but {len(self.ood_weights)} ood_weights")
        if self.beta <= 0:
            raise ValueError(f"beta must be positive, got {self.beta}")

    @classmethod
    def from_mapping(cls, cfg: Mapping) -> GFSpec:
        """Build from a config section with keys id_sources, ood_sources, and optional metric, beta, ood_weights
        (a list aligned with ood_sources, or a mapping source -> weight). A single string counts as a list of one.
        """
        def names(key: str) -> tuple[str, ...]:
            value = cfg.get(key)
            if value is None:
                raise ValueError(f"specs.gf.{key} is not set (a list of validation data_source names)")
            return (value,) if isinstance(value, str) else tuple(str(v) for v in value)

        ood = names("ood_sources")
        weights = cfg.get("ood_weights")
        if isinstance(weights, Mapping):
            missing = [s for s in ood if s not in weights]
            if missing:
                raise ValueError(f"specs.gf.ood_weights has no weight for {missing}")
            weights = [weights[s] for s in ood]
        return cls(
            id_sources=names("id_sources"),
            ood_sources=ood,
            metric=str(cfg.get("metric") or "acc"),
            beta=float(cfg.get("beta") if cfg.get("beta") is not None else 2.0),
            ood_weights=None if weights is None else tuple(float(w) for w in weights),
        )

    @property
    def sources(self) -> tuple[str, ...]:
        return self.id_sources + self.ood_sources

    def scores(self, val_metrics: Mapping[str, float]) -> dict[str, float]:
        """source -> score for every ID and OOD source, read from a verl validation metric dict.

        Raises:
            KeyError: a source has no `<metric>/mean@N`; the message lists what the metrics do hold.
        """
        found = validation_scores(val_metrics)
        missing = [s for s in self.sources if (s, self.metric) not in found]
        if missing:
            have = sorted({f"{s}/{v}" for s, v in found})
            raise KeyError(f"no validation metric '{self.metric}' for sources {missing}; "
                           f"the validation metrics hold (source/variable): {have}")
        return {s: found[(s, self.metric)] for s in self.sources}

    def evaluate(self, scores: Mapping[str, float], baseline: Mapping[str, float]) -> GFResult:
        """GF of per-source `scores` against per-source `baseline` scores."""
        missing = [s for s in self.sources if s not in baseline]
        if missing:
            raise KeyError(f"the GF baseline has no score for sources {missing}; it has {sorted(baseline)}")
        weights = None if self.ood_weights is None else dict(zip(self.ood_sources, self.ood_weights))
        pick = lambda d, names: {s: float(d[s]) for s in names}  # noqa: E731
        return gf_from_scores(
            id_score=weighted_mean(pick(scores, self.id_sources), what="ID scores"),
            ood_scores=pick(scores, self.ood_sources),
            base_id=weighted_mean(pick(baseline, self.id_sources), what="ID baseline"),
            base_ood=pick(baseline, self.ood_sources),
            ood_weights=weights,
            beta=self.beta,
        )

    def metrics(self, scores: Mapping[str, float], baseline: Mapping[str, float]) -> dict[str, float]:
        """The flat GF metric dict (names in the module docstring) for logging next to verl's own."""
        out = self.evaluate(scores, baseline).to_metrics(PREFIX)
        out.update({f"{PREFIX}/score/{s}": float(scores[s]) for s in self.sources})
        out.update({f"val-aux/specs/base/{s}": float(baseline[s]) for s in self.sources})
        return out

