"""The SFT cold start's data: each pair's prompt with its chosen response, in verl's multi-turn SFT schema."""

from __future__ import annotations

from pathlib import Path

from specs_verl.atomic import atomic_path


def pairs_to_sft(pairs_path: str | Path, out_path: str | Path, seed: int | None = None) -> int:
    """Write `messages` (prompt + assistant chosen) and `images` per pair; the SFT baseline of the paper.
    `seed` shuffles the rows: verl's SFT trainer always shuffles with seed 0, so this is how a run's data order
    follows its seed."""
    import pandas as pd

    from specs_verl.dpo.data import prompt_messages, plain, response_text

    frame = pd.read_parquet(pairs_path)
    rows = []
    for i, record in enumerate(frame.to_dict("records")):
        try:
            messages = prompt_messages(record["prompt"]) + [
                {"role": "assistant", "content": response_text(record["chosen"], "chosen")}]
        except ValueError as e:
            raise ValueError(f"{pairs_path}: row {i}: {e}") from None
        rows.append({"messages": messages, "images": plain(record.get("images")) or [],
                     "data_source": record.get("data_source") or "default"})
    if seed is not None:
        import random

        random.Random(seed).shuffle(rows)
    with atomic_path(out_path) as tmp:
        pd.DataFrame(rows).to_parquet(tmp)
    return len(rows)
