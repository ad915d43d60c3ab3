"""Seeding, top-p set sizes and the per-row sampler: the pieces that make samples reproducible and measurable."""

import math

import torch

from specs_verl.generation.branching import set_size_from_logprobs
from specs_verl.generation.sampler import TEMPERATURE_1, SeededSampler, top_p_set_size
from specs_verl.generation.seeding import row_seed


def test_row_seed_is_stable_and_distinct():
    assert row_seed(0, "q1", 0) == row_seed(0, "q1", 0)
    assert len({row_seed(s, q, k) for s in (0, 1) for q in ("q1", "q2") for k in range(3)}) == 12
    assert row_seed(0, "q1", 0) == 2397437089262086946  # fixed across processes and Python versions


def test_top_p_set_size():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05], [0.97, 0.01, 0.01, 0.01], [0.25, 0.25, 0.25, 0.25]])
    assert top_p_set_size(probs, 0.95).tolist() == [3, 1, 4]
    assert top_p_set_size(probs, 0.8).tolist() == [2, 1, 4]


def test_set_size_from_top_k_logprobs():
    lps = [math.log(p) for p in (0.15, 0.5, 0.3, 0.05)]
    assert set_size_from_logprobs(lps, 0.95, cap=20) == 3
    assert set_size_from_logprobs(lps[:2], 0.95, cap=2) == 3  # the top 2 hold 0.65: more than 2 needed


def test_sampler_bans_suppressed_tokens_and_follows_its_seeds():
    scores = torch.zeros(3, 8)
    scores[:, 5] = 20.0  # the model "wants" token 5, which is banned
    sampler = SeededSampler([1, 2, 1], temperature=1.0, top_p=1.0, suppress_ids=[5], logprobs=TEMPERATURE_1,
                            branching_top_p=0.95)
    picks = [sampler(None, scores.clone()).argmax(-1).tolist() for _ in range(50)]
    assert all(5 not in p for p in picks)
    assert [p[0] for p in picks] == [p[2] for p in picks]  # same seed, same stream
    assert [p[0] for p in picks] != [p[1] for p in picks]
    lp, sizes = sampler.per_row(0, 4)
    assert len(lp) == len(sizes) == 4 and all(abs(x - math.log(1 / 7)) < 1e-5 for x in lp)
    assert sizes == [7] * 4  # seven equally likely tokens: all of them to reach 95 %


def test_sampler_top_p_and_greedy():
    scores = torch.log(torch.tensor([[0.6, 0.3, 0.06, 0.04]]))
    nucleus = SeededSampler([0], temperature=1.0, top_p=0.8, suppress_ids=[])
    assert {int(nucleus(None, scores.clone()).argmax()) for _ in range(200)} == {0, 1}
    greedy = SeededSampler([0], temperature=0.0, top_p=1.0, suppress_ids=[0])
    assert int(greedy(None, scores.clone()).argmax()) == 1


def test_set_sizes_agree_with_the_gf_metric():
    import numpy as np

    from specs_verl.metrics.branching import top_p_set_sizes

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(50, 0.3), size=64)
    probs[0] = np.full(50, 1 / 50)  # mass reaching top_p only up to rounding
    for top_p in (0.5, 0.9, 0.95, 1.0):
        ours = top_p_set_size(torch.tensor(probs).sort(dim=-1, descending=True).values, top_p)
        assert ours.tolist() == top_p_set_sizes(probs, top_p).tolist()
        from_logprobs = [set_size_from_logprobs(np.log(row).tolist(), top_p, cap=50) for row in probs]
        assert from_logprobs == top_p_set_sizes(probs, top_p).tolist()
