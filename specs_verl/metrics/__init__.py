"""Metrics of SPECS as pure functions: numbers in, numbers out (no torch, verl or Ray).

- `generalization_factor`, `gf_from_scores`, `preference_gf`: the Generalization Factor (gf.py)
- `GFSpec`, `validation_scores`: GF from verl's `val-core/<source>/<var>/mean@N` metrics (validation.py)
- `pass_at_k`, `mean_pass_at_k`, `pass_at_ks`: the unbiased pass@k estimator (pass_at_k.py)
- `rollout_branching_factor`, `top_p_set_sizes`: mean top-p nucleus size along rollouts (branching.py)

    >>> from specs_verl.metrics import generalization_factor
    >>> round(generalization_factor(98, 69), 1)   # SFT cold start in the paper: ID 98, OOD 69
    73.3
"""

from .branching import rollout_branching_factor, top_p_set_sizes
from .gf import GFResult, generalization_factor, gf_from_scores, preference_gf, weighted_mean
from .pass_at_k import mean_pass_at_k, pass_at_k, pass_at_ks
from .validation import GFSpec, validation_scores

__all__ = [
    "GFResult", "GFSpec",
    "generalization_factor", "gf_from_scores", "mean_pass_at_k", "pass_at_k", "pass_at_ks", "preference_gf",
    "rollout_branching_factor", "top_p_set_sizes", "validation_scores", "weighted_mean",
]
