"""The SFT parquet: verl's multi-turn SFT schema (what `verl.trainer.sft_trainer` reads), one chat per row.

    messages      [{"role", "content"}...], the last an assistant turn; `<image>` placeholders in the text
    images        [{"bytes": PNG/JPEG, "path": None}], one per placeholder, in order. Always bytes: verl opens
                  a {"bytes": None, "path"} entry as empty bytes, and bytes keep the file valid wherever it lies
    data_source   str

Writer: `write_sft_chats`. The conversion from the pairs contract (the SFT cold start, the paper's baseline):
`chats_from_pairs`. Its reader is verl's `MultiTurnSFTDataset`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from . import images as img
from .pairs import prompt_messages, read_pair_records, response_text
from .parquet import write_rows


def arrow_schema():
    import pyarrow as pa

    return pa.schema([
        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        ("data_source", pa.string()),
    ])


def write_sft_chats(path: str | os.PathLike, rows: Sequence[dict[str, Any]]) -> Path:
    return write_rows(path, rows, arrow_schema())


def chats_from_pairs(pairs_path: str | os.PathLike) -> list[dict[str, Any]]:
    """Each pair's prompt with its chosen response, images as bytes (paths read by the one rule:
    `schema.images`). A row that cannot be used raises ValueError naming the file, the row and the reason."""
    pairs_path = str(pairs_path)
    base_dir = img.folder_of(pairs_path)
    rows = []
    for i, record in read_pair_records(pairs_path, required=("prompt", "chosen")):
        try:
            messages = prompt_messages(record["prompt"]) + [
                {"role": "assistant", "content": response_text(record["chosen"], "chosen")}]
            images = [{"bytes": _read(k, entry), "path": None}
                      for k, entry in enumerate(img.resolve_all(record.get("images"), base_dir))]
        except ValueError as e:
            raise ValueError(f"{pairs_path}: row {i}: {e}") from None
        rows.append({"messages": messages, "images": images, "data_source": record.get("data_source") or "default"})
    return rows


def _read(k: int, entry: dict[str, Any]) -> bytes:
    try:
        return img.image_bytes(entry)
    except OSError as e:
        raise ValueError(f"image {k} cannot be read ({type(e).__name__}: {e})") from None
