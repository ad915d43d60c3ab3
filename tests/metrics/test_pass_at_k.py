"""pass@k against brute-force enumeration of every k-subset."""

from itertools import combinations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from specs_verl.metrics import mean_pass_at_k, pass_at_k, pass_at_ks


def brute_force(n, c, k):
    outcomes = [True] * c + [False] * (n - c)
    subsets = list(combinations(range(n), k))
    return sum(any(outcomes[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_matches_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12), (n, c, k)


@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_bounds_and_monotone_in_k(nck):
    n, c, k = nck
    p = pass_at_k(n, c, k)
    assert 0.0 <= p <= 1.0
    if k == 1:
        assert p == pytest.approx(c / n)
    if k < n:
        assert pass_at_k(n, c, k + 1) >= p - 1e-12


def test_large_n_is_stable():
    # C(1000, 64) overflows floats; the product form does not
    assert pass_at_k(1000, 1, 64) == pytest.approx(0.064)
    assert pass_at_k(1000, 0, 64) == 0.0


@pytest.mark.parametrize("args", [(0, 0, 1), (4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)])
def test_rejects_bad_counts(args):
    with pytest.raises(ValueError):
        pass_at_k(*args)


def test_per_problem_aggregate():
    correct = [[1, 0, 0, 0], [0, 0, 0, 0], [True, True, False, False, False, False]]
    expected = (brute_force(4, 1, 2) + 0.0 + brute_force(6, 2, 2)) / 3
    assert mean_pass_at_k(correct, 2) == pytest.approx(expected)
    assert pass_at_ks(correct) == {1: pytest.approx((0.25 + 0 + 1 / 3) / 3), 2: pytest.approx(expected),
                                   4: pytest.approx(mean_pass_at_k(correct, 4))}
    with pytest.raises(ValueError, match="problem 1 has 2 samples, fewer than k=4"):
        mean_pass_at_k([[1, 1, 1, 1], [0, 1]], 4)
