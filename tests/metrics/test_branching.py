"""Rollout branching factor: the top-p nucleus size, hand-computed cases and its limits."""

import numpy as np
import pytest

from specs_verl.metrics import rollout_branching_factor, top_p_set_sizes


def test_hand_computed_sizes():
    probs = [
        [1.0, 0.0, 0.0, 0.0],       # certain: 1
        [0.5, 0.45, 0.05, 0.0],     # 0.5 + 0.45 reaches 0.95 exactly (no extra token for rounding): 2
        [0.25, 0.25, 0.25, 0.25],   # uniform: 4
        [0.1, 0.6, 0.3, 0.0],       # order does not matter: 0.6 + 0.3 = 0.9 < 0.95, so 3
    ]
    assert top_p_set_sizes(probs).tolist() == [1, 2, 4, 3]
    assert rollout_branching_factor(probs) == pytest.approx(10 / 4)
    assert top_p_set_sizes(probs, top_p=0.5).tolist() == [1, 1, 2, 1]


def test_pools_chunks_and_accepts_float32():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(50, 32)) * 3
    probs = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    whole = rollout_branching_factor(probs)
    assert rollout_branching_factor([probs[:7], probs[7:30], probs[30:]]) == pytest.approx(whole)
    assert 1 <= whole <= 32
    # a sharper distribution branches less
    sharp = np.exp(logits * 4) / np.exp(logits * 4).sum(1, keepdims=True)
    assert rollout_branching_factor(sharp) < whole


def test_errors():
    with pytest.raises(ValueError, match="row 1 sums to 0.500000"):
        top_p_set_sizes([[1.0, 0.0], [0.5, 0.0]])
    with pytest.raises(ValueError, match="shape"):
        top_p_set_sizes([0.5, 0.5])
    with pytest.raises(ValueError, match="non-negative"):
        top_p_set_sizes([[1.5, -0.5]])
    with pytest.raises(ValueError, match="top_p"):
        top_p_set_sizes([[1.0]], top_p=0)
    with pytest.raises(ValueError, match="at least one generated position"):
        rollout_branching_factor([np.zeros((0, 4))])
