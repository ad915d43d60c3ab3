"""The SFT cold start's data: each pair's prompt with its chosen response, in verl's multi-turn SFT schema."""

from __future__ import annotations

import random
from pathlib import Path

from specs_verl.schema.sft_chats import chats_from_pairs, write_sft_chats


def pairs_to_sft(pairs_path: str | Path, out_path: str | Path, seed: int | None = None) -> int:
    """Write `messages` (prompt + assistant chosen) and `images` per pair; the SFT baseline of the paper.
    `seed` shuffles the rows: verl's SFT trainer always shuffles with seed 0, so this is how a run's data order
    follows its seed."""
    rows = chats_from_pairs(pairs_path)
    if seed is not None:
        random.Random(seed).shuffle(rows)
    write_sft_chats(out_path, rows)
    return len(rows)
