"""Which pairs each data-parallel rank scores in the reference pass and in validation.

Every forward of verl's FSDP engine is a collective (parameter all-gathers, the loss all-reduce, the metric
gathers), so every rank must run the same number of batches. Rank r takes pairs r, r + dp, r + 2 dp, ... and the
ranks that come up one short repeat a pair of their own as padding, marked so its result is dropped: at most
dp - 1 padded pairs in all, and every rank then has the same number of pairs and micro-batches.
"""

from __future__ import annotations


def padded_shard(n_pairs: int, dp_size: int, dp_rank: int) -> list[tuple[int, bool]]:
    """(pair index, is_padding) for one rank; every rank gets ceil(n_pairs / dp_size) entries."""
    if n_pairs < 1 or dp_size < 1 or not 0 <= dp_rank < dp_size:
        raise ValueError(f"cannot shard {n_pairs} pairs over {dp_size} ranks for rank {dp_rank}")
    per_rank = -(-n_pairs // dp_size)
    real = [(i, False) for i in range(dp_rank, n_pairs, dp_size)]
    filler = real[0][0] if real else 0
    return real + [(filler, True)] * (per_rank - len(real))
