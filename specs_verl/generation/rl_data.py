"""verl RL parquet rows -> `Request`s, with every row checked and errors that name the file and row.

verl's RL schema: `prompt` (chat messages, `<image>` placeholders, one per entry of `images`), `images`
(list of {"bytes", "path"}), `data_source`, `reward_model` ({"style", "ground_truth"}), `extra_info` (dict).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Iterator

from .prompt import apply_instruction
from .request import IMAGE_PLACEHOLDER, Request


class RLDataError(ValueError):
    """A row that cannot be used; the message names the file and the row."""


def question_id(row: dict[str, Any], row_index: int, stem: str) -> str:
    """The id a question keeps across tools: extra_info.qid, else `<data_source>-<extra_info.index>`, else
    `<file stem>-<row>`."""
    extra = row.get("extra_info") or {}
    if extra.get("qid") not in (None, ""):
        return str(extra["qid"])
    if extra.get("index") is not None:
        return f"{row.get('data_source') or stem}-{extra['index']}"
    return f"{stem}-{row_index}"


def _check_image(ref: Any) -> None:
    """Cheap validity check: the header must open (decoding waits until a batch needs the pixels)."""
    from PIL import Image

    if isinstance(ref, dict):
        if ref.get("bytes") is not None:
            Image.open(io.BytesIO(ref["bytes"]))
            return
        if ref.get("path"):
            if not os.path.exists(ref["path"]):
                raise FileNotFoundError(f"image path {ref['path']!r} does not exist")
            return
        raise ValueError("image entry has neither 'bytes' nor 'path'")
    if isinstance(ref, str):
        if not os.path.exists(ref):
            raise FileNotFoundError(f"image path {ref!r} does not exist")
        return
    raise ValueError(f"image entry of type {type(ref).__name__}; expected {{'bytes', 'path'}} or a path")


def row_to_request(row: dict[str, Any], row_index: int, stem: str, instruction: str | None = None,
                   check_images: bool = True) -> Request:
    """One RL row as a Request; raises ValueError (without the file name) when the row is unusable."""
    prompt = row.get("prompt")
    if prompt is None or len(prompt) == 0:
        raise ValueError("empty or missing 'prompt'")
    messages = [dict(m) for m in prompt]
    for m in messages:
        if not isinstance(m.get("content"), str):
            raise ValueError("prompt message content must be a string (verl's RL schema)")
    images = list(row.get("images") or [])
    n_ph = sum(m["content"].count(IMAGE_PLACEHOLDER) for m in messages)
    if n_ph != len(images):
        raise ValueError(f"{n_ph} <image> placeholder(s) in the prompt but {len(images)} image(s)")
    if check_images:
        for k, ref in enumerate(images):
            try:
                _check_image(ref)
            except Exception as e:
                raise ValueError(f"image {k} cannot be opened: {e}") from e
    messages, _ = apply_instruction(messages, instruction)
    reward = row.get("reward_model") or {}
    return Request(
        id=question_id(row, row_index, stem),
        messages=messages,
        images=images,
        data_source=str(row.get("data_source") or ""),
        ground_truth=reward.get("ground_truth"),
        extra_info=dict(row.get("extra_info") or {}),
    )


def iter_rl_requests(path: str | os.PathLike, instruction: str | None = None, *, skipped: list[str] | None = None,
                     check_images: bool = True, batch_rows: int = 256) -> Iterator[Request]:
    """Stream a verl RL parquet file as Requests, in file order, reading `batch_rows` rows at a time (a large
    image dataset is never held in memory whole).

    `instruction`: format instruction applied to the last user message (see `prompt.apply_instruction`).
    Unusable rows raise `RLDataError` naming the file and row; pass a list as `skipped` to skip them instead
    (each skip is appended as "file: row N: reason"). Duplicate question ids always raise.
    """
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.exists():
        raise RLDataError(f"{path}: no such file")
    pf = pq.ParquetFile(path)
    if "prompt" not in pf.schema_arrow.names:
        raise RLDataError(f"{path}: no 'prompt' column (columns: {pf.schema_arrow.names}); is this a verl RL file?")
    seen: dict[str, int] = {}
    i = -1
    for batch in pf.iter_batches(batch_size=batch_rows):
        for row in batch.to_pylist():
            i += 1
            try:
                req = row_to_request(row, i, path.stem, instruction, check_images)
            except ValueError as e:
                msg = f"{path}: row {i}: {e}"
                if skipped is None:
                    raise RLDataError(msg) from e
                skipped.append(msg)
                continue
            if req.id in seen:
                raise RLDataError(f"{path}: row {i}: question id {req.id!r} already used by row {seen[req.id]}")
            seen[req.id] = i
            yield req


def count_rows(path: str | os.PathLike) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def load_rl_requests(path: str | os.PathLike, instruction: str | None = None, *, skipped: list[str] | None = None,
                     check_images: bool = True) -> list[Request]:
    """All Requests of a verl RL parquet file (see `iter_rl_requests` for the checks and `skipped`)."""
    return list(iter_rl_requests(path, instruction, skipped=skipped, check_images=check_images))
