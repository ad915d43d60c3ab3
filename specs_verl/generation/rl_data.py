"""verl RL parquet rows -> `Request`s. The rows, their checks and the question ids are the RL contract
(`specs_verl.schema.rl_rows`); here the run's instruction is applied."""

from __future__ import annotations

import os
from typing import Any, Iterator

from specs_verl.schema.rl_rows import read_rl_rows

from .prompt import apply_instruction
from .request import Request


def iter_rl_requests(path: str | os.PathLike, instruction: str | None = None, *, skipped: list[str] | None = None,
                     check_images: bool = True, batch_rows: int = 256) -> Iterator[Request]:
    """Stream a verl RL parquet file as Requests, in file order, reading `batch_rows` rows at a time (a large
    image dataset is never held in memory whole).

    `instruction`: format instruction applied to the last user message (see `prompt.apply_instruction`).
    Unusable rows raise `RLDataError` naming the file and row; pass a list as `skipped` to skip them instead
    (each skip is appended as "file: row N: reason"). Duplicate question ids always raise.
    """

    def to_request(row: dict[str, Any], qid: str) -> Request:
        messages, _ = apply_instruction(row["prompt"], instruction)
        return Request(id=qid, messages=messages, images=row["images"], data_source=str(row.get("data_source") or ""),
                       ground_truth=(row.get("reward_model") or {}).get("ground_truth"),
                       extra_info=dict(row.get("extra_info") or {}))

    return read_rl_rows(path, to_request, skipped=skipped, check_images=check_images, batch_rows=batch_rows)


def load_rl_requests(path: str | os.PathLike, instruction: str | None = None, *, skipped: list[str] | None = None,
                     check_images: bool = True) -> list[Request]:
    """All Requests of a verl RL parquet file (see `iter_rl_requests` for the checks and `skipped`)."""
    return list(iter_rl_requests(path, instruction, skipped=skipped, check_images=check_images))
