"""Per-sample random streams: a sample depends on (seed, request id, sample index), never on batching."""

from __future__ import annotations

import hashlib


def row_seed(seed: int, request_id: str, k: int) -> int:
    """A stable 63-bit seed for sample `k` of request `request_id` (independent of Python's hash salt)."""
    digest = hashlib.blake2b(f"{seed}\x00{request_id}\x00{k}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & ((1 << 63) - 1)
