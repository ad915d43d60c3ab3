"""GF: the paper's figures, the edge cases, and the properties a weighted harmonic mean of gains must have."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specs_verl.metrics import GFResult, generalization_factor, gf_from_scores, preference_gf, weighted_mean

gains = st.floats(min_value=-100, max_value=100, allow_nan=False, allow_infinity=False)
pos_gains = st.floats(min_value=1e-6, max_value=100, allow_nan=False, allow_infinity=False)
betas = st.floats(min_value=0.1, max_value=10)


@pytest.mark.parametrize("g_id, g_ood, expected", [
    (98, 69, 73.3),  # SFT cold start: ID ~98, OOD ~69 (paper)
    (97, 25, 29.4),  # the paper's second check
])
def test_paper_figures(g_id, g_ood, expected):
    assert generalization_factor(g_id, g_ood) == pytest.approx(expected, abs=0.05)
    # the same from scores with a zero base, and in fractions instead of percent (GF scales with the scores)
    assert gf_from_scores(g_id, [g_ood], 0, 0).gf == pytest.approx(expected, abs=0.05)
    assert generalization_factor(g_id / 100, g_ood / 100) == pytest.approx(expected / 100, abs=5e-4)


def test_beta_weights_ood():
    # beta = 2 weighs OOD four times: swapping the gains changes GF, beta = 1 is the symmetric F1
    assert generalization_factor(90, 30) < generalization_factor(30, 90)
    assert generalization_factor(90, 30, beta=1) == pytest.approx(generalization_factor(30, 90, beta=1))
    assert generalization_factor(90, 30, beta=1) == pytest.approx(2 * 90 * 30 / 120)


@pytest.mark.parametrize("g_id, g_ood, expected", [
    (0, 0, 0.0),        # nothing gained
    (50, 0, 0.0),       # ID gain only: no generalization
    (0, 50, 0.0),
    (50, -5, -5.0),     # an OOD regression is never rewarded
    (-5, 50, -5.0),
    (-3, -8, -8.0),     # two regressions do not make a gain (the raw formula gives +4.4 here)
    (1, -4, -4.0),      # the raw formula divides by zero at beta^2 * g_id = -g_ood
])
def test_edge_cases(g_id, g_ood, expected):
    gf = generalization_factor(g_id, g_ood)
    assert not math.isnan(gf)
    assert gf == expected


@pytest.mark.parametrize("bad", [(math.nan, 1), (1, math.inf), (1, 1, 0), (1, 1, -2), (1, 1, math.nan)])
def test_rejects_non_finite_and_bad_beta(bad):
    with pytest.raises(ValueError):
        generalization_factor(*bad)


@given(pos_gains, pos_gains, betas)
def test_between_min_and_max_for_positive_gains(a, b, beta):
    assert min(a, b) <= generalization_factor(a, b, beta) <= max(a, b)


@given(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100), betas)
def test_between_min_and_max_for_non_negative_gains(a, b, beta):
    assert min(a, b) <= generalization_factor(a, b, beta) <= max(a, b)


@given(gains, gains, st.floats(min_value=0, max_value=50), betas)
def test_monotone_in_each_gain(a, b, delta, beta):
    base = generalization_factor(a, b, beta)
    assert generalization_factor(a + delta, b, beta) >= base - 1e-9
    assert generalization_factor(a, b + delta, beta) >= base - 1e-9


@given(gains, betas)
def test_equal_gains_give_the_gain(g, beta):
    assert generalization_factor(g, g, beta) == pytest.approx(g, rel=1e-12, abs=1e-12)


@given(gains, gains, betas)
def test_never_rewards_a_regression(a, b, beta):
    gf = generalization_factor(a, b, beta)
    if a < 0 or b < 0:
        assert gf < 0
    assert not math.isnan(gf)


@given(pos_gains, pos_gains)
def test_continuous_at_zero(a, b):
    # the F-beta formula goes to 0 as a gain goes to 0, matching the edge-case rule
    assert generalization_factor(1e-12, b) == pytest.approx(0, abs=1e-10)
    assert generalization_factor(a, 1e-12) == pytest.approx(0, abs=1e-10)


def test_gf_from_scores_with_bases_and_weights():
    r = gf_from_scores(id_score=80, ood_scores={"chart": 60, "doc": 40}, base_id=50,
                       base_ood={"chart": 30, "doc": 30}, ood_weights={"chart": 3, "doc": 1})
    assert isinstance(r, GFResult)
    assert r.ood_score == pytest.approx(55)  # (3*60 + 40) / 4
    assert (r.g_id, r.g_ood) == (pytest.approx(30), pytest.approx(25))
    assert r.gf == pytest.approx(generalization_factor(30, 25))
    assert r.to_metrics("val-core/specs")["val-core/specs/gf"] == r.gf
    # an aggregated base_ood is used as is
    assert gf_from_scores(80, [60, 40], 50, 30).g_ood == pytest.approx(20)


def test_weighted_mean_errors_name_the_problem():
    with pytest.raises(ValueError, match="no weight for"):
        weighted_mean({"a": 1, "b": 2}, {"a": 1})
    with pytest.raises(ValueError, match="2 scores but 1 weights"):
        weighted_mean([1, 2], [1])
    with pytest.raises(ValueError, match="non-negative"):
        weighted_mean([1, 2], [1, -1])
    with pytest.raises(ValueError, match="empty"):
        weighted_mean([])
    with pytest.raises(ValueError, match=r"scores\[1\] must be a finite"):
        weighted_mean([1, math.nan])


def test_preference_gf():
    acc = {"pairs_id": 0.9, "ood_a": 0.7, "ood_b": 0.5}
    r = preference_gf(acc, ["pairs_id"], ["ood_a", "ood_b"], beta=2.0)  # baseline 0: policy == reference
    assert (r.g_id, r.g_ood) == (pytest.approx(0.9), pytest.approx(0.6))
    assert r.gf == pytest.approx(generalization_factor(0.9, 0.6))
    r = preference_gf(acc, ["pairs_id"], ["ood_a", "ood_b"], baseline={"pairs_id": 0.5, "ood_a": 0.5,
                                                                       "ood_b": 0.5}, ood_weights=[1, 0])
    assert (r.g_id, r.g_ood) == (pytest.approx(0.4), pytest.approx(0.2))
    with pytest.raises(ValueError, match=r"no OOD value for pair sets \['ood_c'\]"):
        preference_gf(acc, ["pairs_id"], ["ood_c"])
    with pytest.raises(ValueError, match="at least one ID"):
        preference_gf(acc, [], ["ood_a"])
