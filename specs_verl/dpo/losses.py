"""Preference losses as pure functions of per-sequence log-probs: one value per pair, no reduction.

Every loss reads a `PairLogps` (summed response log-probs of the policy and the reference for the chosen and
the rejected response of each pair, and their token counts; all tensors of shape [num_pairs]) and returns
a tensor of shape [num_pairs]. The trainer weights, sums and normalises them, so a loss never needs to know
about micro-batches or data parallelism.

Notation: pi_c, pi_r = policy log-probs of chosen / rejected; ref_c, ref_r = reference log-probs;
rho_c = pi_c - ref_c, rho_r = pi_r - ref_r (log-ratios); h = rho_c - rho_r; sigma = logistic function.
Names and conventions follow TRL's DPOTrainer, so metrics and results compare one to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F


@dataclass
class PairLogps:
    policy_chosen: torch.Tensor
    policy_rejected: torch.Tensor
    ref_chosen: torch.Tensor
    ref_rejected: torch.Tensor
    chosen_tokens: torch.Tensor
    rejected_tokens: torch.Tensor

    @property
    def chosen_logratio(self) -> torch.Tensor:
        return self.policy_chosen - self.ref_chosen

    @property
    def rejected_logratio(self) -> torch.Tensor:
        return self.policy_rejected - self.ref_rejected

    @property
    def margin(self) -> torch.Tensor:
        """h = (pi_c - ref_c) - (pi_r - ref_r)."""
        return self.chosen_logratio - self.rejected_logratio


@dataclass
class LossOptions:
    beta: float = 0.1
    label_smoothing: float = 0.0


def sigmoid(p: PairLogps, o: LossOptions) -> torch.Tensor:
    """DPO (Rafailov et al. 2023, arXiv 2305.18290), with conservative label smoothing (cDPO) eps:

        L = -(1 - eps) * log sigma(beta * h) - eps * log sigma(-beta * h)

    The loss SPECS uses (stage 2), with eps = 0."""
    z = o.beta * p.margin
    return -(1 - o.label_smoothing) * F.logsigmoid(z) - o.label_smoothing * F.logsigmoid(-z)


def ipo(p: PairLogps, o: LossOptions) -> torch.Tensor:
    """IPO (Azar et al. 2023, arXiv 2310.12036): L = (h' - 1 / (2 beta))^2, where h' uses log-probs averaged
    per token (as TRL does for IPO), so long responses do not dominate the squared target."""
    h = (p.policy_chosen - p.ref_chosen) / p.chosen_tokens - (p.policy_rejected - p.ref_rejected) / p.rejected_tokens
    return (h - 1 / (2 * o.beta)) ** 2


def hinge(p: PairLogps, o: LossOptions) -> torch.Tensor:
    """SLiC hinge (Zhao et al. 2023, arXiv 2305.10425): L = max(0, 1 - beta * h)."""
    return torch.relu(1 - o.beta * p.margin)


def robust(p: PairLogps, o: LossOptions) -> torch.Tensor:
    """Robust DPO (Chowdhury et al. 2024, arXiv 2403.00409), unbiased under label-flip rate eps:

        L = ((1 - eps) * -log sigma(beta h) + eps * log sigma(-beta h)) / (1 - 2 eps)"""
    z = o.beta * p.margin
    eps = o.label_smoothing
    return (-(1 - eps) * F.logsigmoid(z) + eps * F.logsigmoid(-z)) / (1 - 2 * eps)


def bco_pair(p: PairLogps, o: LossOptions) -> torch.Tensor:
    """BCO on pairs (Jung et al. 2024, arXiv 2404.04656; used by MPO), as TRL 1.x defines it: each side is
    classified on its own implicit reward: L = -log sigma(beta rho_c) - log sigma(-beta rho_r). (TRL 0.x shifted
    both rewards by a running mean delta; TRL 1.x dropped it, and so does this trainer: no state to keep across
    ranks or resumes.)"""
    return -F.logsigmoid(o.beta * p.chosen_logratio) - F.logsigmoid(-o.beta * p.rejected_logratio)


def sppo_hard(p: PairLogps, o: LossOptions) -> torch.Tensor:
    """SPPO with hard labels (Wu et al. 2024, arXiv 2405.00675): pushes rho_c to +1/(2 beta) and rho_r to
    -1/(2 beta): L = (rho_c - 1/(2 beta))^2 + (rho_r + 1/(2 beta))^2."""
    return (p.chosen_logratio - 1 / (2 * o.beta)) ** 2 + (p.rejected_logratio + 1 / (2 * o.beta)) ** 2


def nca_pair(p: PairLogps, o: LossOptions) -> torch.Tensor:
    """NCA on pairs (Chen et al. 2024, arXiv 2402.05369): absolute likelihood rather than a margin:
    L = -log sigma(beta rho_c) - 0.5 log sigma(-beta rho_c) - 0.5 log sigma(-beta rho_r)."""
    rc, rr = o.beta * p.chosen_logratio, o.beta * p.rejected_logratio
    return -F.logsigmoid(rc) - 0.5 * F.logsigmoid(-rc) - 0.5 * F.logsigmoid(-rr)


def apo_zero(p: PairLogps, o: LossOptions) -> torch.Tensor:
    """APO-zero (D'Oosterlinck et al. 2024, arXiv 2408.06266), for chosen better than the model:
    L = (1 - sigma(beta rho_c)) + sigma(beta rho_r)."""
    return (1 - torch.sigmoid(o.beta * p.chosen_logratio)) + torch.sigmoid(o.beta * p.rejected_logratio)


def apo_down(p: PairLogps, o: LossOptions) -> torch.Tensor:
    """APO-down (same paper), for chosen worse than the model: L = sigma(beta rho_c) + (1 - sigma(beta h))."""
    return torch.sigmoid(o.beta * p.chosen_logratio) + (1 - torch.sigmoid(o.beta * p.margin))


def sft(p: PairLogps, o: LossOptions) -> torch.Tensor:
    """NLL of the chosen response, averaged over its tokens: L = -pi_c / n_c. SPECS adds it with weight lambda
    (the framework the authors used, LLaMA-Factory's pref_ftx, takes this per-sequence token mean)."""
    return -p.policy_chosen / p.chosen_tokens.clamp(min=1)


LOSSES: dict[str, Callable[[PairLogps, LossOptions], torch.Tensor]] = {
    f.__name__: f for f in (sigmoid, ipo, hinge, robust, bco_pair, sppo_hard, nca_pair, apo_zero, apo_down, sft)
}


def resolve_losses(loss, loss_weights=None, sft_weight: float = 0.0) -> list[tuple[str, float]]:
    """Turn `dpo.loss` (a name or a list), `dpo.loss_weights` and `dpo.sft_weight` into (name, weight) terms.

    `sft_weight` (SPECS' lambda) adds an `sft` term unless the list already names `sft` with its own weight."""
    names = [loss] if isinstance(loss, str) else list(loss)
    if not names:
        raise ValueError("dpo.loss is empty; name at least one of " + ", ".join(LOSSES))
    unknown = [n for n in names if n not in LOSSES]
    if unknown:
        raise ValueError(f"unknown dpo.loss {unknown}; choose from {', '.join(LOSSES)}")
    weights = [1.0] * len(names) if loss_weights is None else [float(w) for w in loss_weights]
    if len(weights) != len(names):
        raise ValueError(f"dpo.loss_weights has {len(weights)} values for {len(names)} losses {names}")
    terms = list(zip(names, weights))
    if sft_weight and "sft" not in names:
        terms.append(("sft", float(sft_weight)))
    return terms


def combined_loss(p: PairLogps, o: LossOptions, terms: list[tuple[str, float]]) -> tuple[torch.Tensor, dict]:
    """Weighted sum of the terms, per pair; also each term's per-pair values (for logging)."""
    parts = {name: LOSSES[name](p, o) for name, _ in terms}
    total = sum(w * parts[name] for name, w in terms)
    return total, parts
