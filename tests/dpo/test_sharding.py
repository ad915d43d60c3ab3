"""Each rank's share of the reference pass and validation: every pair once, equal lengths, padding marked."""

import pytest

from specs_verl.dpo.sharding import padded_shard


@pytest.mark.parametrize("n,dp", [(7, 2), (5, 3), (2, 3), (6, 3), (1, 4)])
def test_every_pair_once_and_every_rank_the_same_count(n, dp):
    shards = [padded_shard(n, dp, r) for r in range(dp)]
    assert len({len(s) for s in shards}) == 1  # same batches, hence the same collectives, on every rank
    real = sorted(i for s in shards for i, pad in s if not pad)
    assert real == list(range(n))
    assert sum(pad for s in shards for _, pad in s) == len(shards[0]) * dp - n  # at most dp - 1
