"""Each preference loss against values worked out by hand for one pair.

The pair: policy log-probs pi_c = -10, pi_r = -14; reference ref_c = -11, ref_r = -12; 5 and 7 response tokens.
So rho_c = +1, rho_r = -2, h = 3. With beta = 0.5: beta * h = 1.5, beta * rho_c = 0.5, beta * rho_r = -1.
log sigma(x) = -log(1 + e^-x); sigma(0.5) = 0.622459, sigma(-1) = 0.268941, sigma(1.5) = 0.817574.
"""

import math

import pytest
import torch

from specs_verl.dpo.losses import LOSSES, LossOptions, PairLogps, combined_loss, resolve_losses


def pair(**changes) -> PairLogps:
    values = dict(policy_chosen=-10.0, policy_rejected=-14.0, ref_chosen=-11.0, ref_rejected=-12.0,
                  chosen_tokens=5.0, rejected_tokens=7.0)
    values.update(changes)
    return PairLogps(**{k: torch.tensor([v], dtype=torch.float64) for k, v in values.items()})


HAND = {
    # -log sigma(1.5) = log(1 + e^-1.5) = log(1.223130) = 0.201413
    ("sigmoid", 0.0): 0.2014133,
    # 0.9 * 0.201413 + 0.1 * log(1 + e^1.5) = 0.181272 + 0.1 * 1.701413 = 0.351413
    ("sigmoid", 0.1): 0.3514133,
    # per-token log-ratios 1/5 - (-2/7) = 0.485714; (0.485714 - 1/(2*0.5))^2 = 0.264490
    ("ipo", 0.0): 0.2644898,
    # (0.9 * 0.201413 - 0.1 * 1.701413) / (1 - 0.2) = 0.011130 / 0.8 = 0.013913
    ("robust", 0.1): 0.0139133,
    # rho_c - 1/(2 beta) = 0, rho_r + 1/(2 beta) = -1: 0^2 + 1^2
    ("sppo_hard", 0.0): 1.0,
    # -log sigma(0.5) - 0.5 log sigma(-0.5) - 0.5 log sigma(1) = 0.474077 + 0.487039 + 0.156631
    ("nca_pair", 0.0): 1.1177463,
    # (1 - sigma(0.5)) + sigma(-1) = 0.377541 + 0.268941
    ("apo_zero", 0.0): 0.6464821,
    # sigma(0.5) + (1 - sigma(1.5)) = 0.622459 + 0.182426
    ("apo_down", 0.0): 0.8048849,
    # -pi_c / n_c = 10 / 5
    ("sft", 0.0): 2.0,
}


@pytest.mark.parametrize("name,smoothing", sorted(HAND))
def test_loss_matches_hand_computation(name, smoothing):
    value = LOSSES[name](pair(), LossOptions(beta=0.5, label_smoothing=smoothing))
    assert value.item() == pytest.approx(HAND[(name, smoothing)], abs=1e-6)


def test_hinge_is_zero_past_the_margin_and_linear_before_it():
    assert LOSSES["hinge"](pair(), LossOptions(beta=0.5)).item() == 0.0  # 1 - 1.5 < 0
    assert LOSSES["hinge"](pair(), LossOptions(beta=0.1)).item() == pytest.approx(0.7)  # 1 - 0.3


def test_bco_pair_is_trl_1x_without_a_running_delta():
    # TRL 1.x: -log sigma(beta rho_c) - log sigma(-beta rho_r) = -log sigma(0.5) - log sigma(1) = 0.474077 + 0.313262
    value = LOSSES["bco_pair"](pair(), LossOptions(beta=0.5))
    assert value.item() == pytest.approx(0.787339, abs=1e-6)


def test_sigmoid_is_log2_when_policy_equals_reference():
    p = pair(policy_chosen=-11.0, policy_rejected=-12.0)
    assert LOSSES["sigmoid"](p, LossOptions()).item() == pytest.approx(math.log(2))


def test_specs_default_is_dpo_plus_lambda_times_sft():
    terms = resolve_losses("sigmoid", None, sft_weight=1.0)
    assert terms == [("sigmoid", 1.0), ("sft", 1.0)]
    total, parts = combined_loss(pair(), LossOptions(beta=0.5), terms)
    assert total.item() == pytest.approx(0.2014133 + 2.0, abs=1e-6)
    assert set(parts) == {"sigmoid", "sft"}


def test_mpo_style_weighted_mix():
    terms = resolve_losses(["sigmoid", "bco_pair", "sft"], [0.8, 0.2, 1.0], sft_weight=1.0)
    assert terms == [("sigmoid", 0.8), ("bco_pair", 0.2), ("sft", 1.0)]  # sft named once, with its own weight
    total, _ = combined_loss(pair(), LossOptions(beta=0.5), terms)
    # bco_pair: -log sigma(0.5) - log sigma(1) = 0.474077 + 0.313262 = 0.787339
    assert total.item() == pytest.approx(0.8 * 0.2014133 + 0.2 * 0.787339 + 2.0, abs=1e-6)


@pytest.mark.parametrize("loss,weights,match", [
    ("dpo", None, "unknown dpo.loss"),
    (["sigmoid", "sft"], [1.0], "2 losses"),
    ([], None, "empty"),
])
def test_bad_loss_config_is_refused_with_a_clear_message(loss, weights, match):
    with pytest.raises(ValueError, match=match):
        resolve_losses(loss, weights)


def test_gradients_flow_only_into_the_policy():
    p = pair()
    p.policy_chosen.requires_grad_(True)
    p.policy_rejected.requires_grad_(True)
    for name in LOSSES:
        loss = LOSSES[name](p, LossOptions(beta=0.5, label_smoothing=0.1 if name == "robust" else 0.0))
        (g_c, g_r) = torch.autograd.grad(loss.sum(), [p.policy_chosen, p.policy_rejected], allow_unused=True)
        assert g_c is not None and torch.isfinite(g_c).all(), name
