"""The preference parquet: one row per pair, what the DPO trainer (`specs_verl.dpo.data`) and the SFT cold start
(`schema.sft_chats`) read and `specs_verl.selfdistill` writes.

    prompt        chat messages ({"role", "content"} with string content), `<image>` placeholders in the text, one
                  per entry of `images`; a bare string is read as one user message
    images        [{"bytes", "path"}] or path strings; a path is relative to the parquet's folder (`schema.images`)
    chosen        a string, or an assistant message
    rejected      likewise; never identical to `chosen`
    data_source   optional str ("default")
    pair_id       optional str (`<file>:<row>`)
    extra_info    optional struct, the same keys on every row (the writer's own provenance)

Writer: `write_pair_rows`. Reader: `read_pair_records` + `check_pair`, which raises `BadPairError` naming the
file, the row, the reason and a reason code (a trainer may count the codes instead of stopping).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Sequence

from . import images as img
from .parquet import column_names, iter_records, plain, write_rows

REQUIRED_COLUMNS = ("prompt", "chosen", "rejected")


def arrow_schema(extra_info):
    """The parquet schema; `extra_info`: the struct type of that column (the writer's provenance keys)."""
    import pyarrow as pa

    return pa.schema([
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("data_source", pa.string()),
        ("pair_id", pa.string()),
        ("extra_info", extra_info),
    ])


def write_pair_rows(path: str | os.PathLike, rows: Sequence[dict[str, Any]], extra_info) -> Path:
    return write_rows(path, rows, arrow_schema(extra_info))


class BadPairError(ValueError):
    """A pair that cannot be trained on, with the file, row and reason in its message."""

    def __init__(self, file: str, row: int, reason: str, code: str):
        super().__init__(f"{file}: row {row}: {reason}")
        self.file, self.row, self.reason, self.code = file, row, reason, code


def response_text(value: Any, side: str) -> str:
    value = plain(value)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict):
        if value.get("role", "assistant") != "assistant":
            raise ValueError(f"{side} is a message with role {value.get('role')!r}, expected 'assistant'")
        value = value.get("content")
    if not isinstance(value, str):
        raise ValueError(f"{side} must be a string or an assistant message, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{side} is empty")
    return value


def prompt_messages(value: Any) -> list[dict]:
    value = plain(value)
    if isinstance(value, str):
        value = [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise ValueError("prompt must be a non-empty list of chat messages")
    for m in value:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise ValueError("every prompt message needs a string 'role' and a string 'content'")
    return value


def read_pair_records(file: str, required: Sequence[str] = REQUIRED_COLUMNS) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row index, raw record) of a pairs file, after checking it has the `required` columns."""
    names = column_names(file)
    for column in required:
        if column not in names:
            raise ValueError(f"{file}: missing column {column!r} (columns: {names})")
    yield from enumerate(iter_records(file))


def check_pair(file: str, i: int, record: dict[str, Any]) -> tuple[dict[str, Any], list, list[str]]:
    """(row, decoded RGB images, a digest of each image's bytes) of one record; raises BadPairError.

    The row: messages, chosen, rejected, images (resolved entries), data_source, pair_id, file, row."""

    def bad(code: str, reason: str) -> BadPairError:
        return BadPairError(file, i, reason, code)

    try:
        messages = prompt_messages(record["prompt"])
    except ValueError as e:
        raise bad("bad_prompt", str(e)) from None
    try:
        chosen = response_text(record["chosen"], "chosen")
        rejected = response_text(record["rejected"], "rejected")
    except ValueError as e:
        code = "empty_response" if "empty" in str(e) else "bad_response"
        raise bad(code, str(e)) from None
    if chosen == rejected:
        raise bad("identical_pair", "chosen and rejected are identical")
    try:
        entries = img.resolve_all(record.get("images"), img.folder_of(file))
        images, digests = img.decode_all(entries)
    except ValueError as e:
        raise bad("bad_image", str(e)) from None
    placeholders = img.count_placeholders(messages)
    if placeholders != len(images):
        raise bad("image_count_mismatch", f"the prompt has {placeholders} {img.IMAGE_PLACEHOLDER} placeholder(s) "
                                          f"but {len(images)} image(s)")
    row = {
        "messages": messages, "chosen": chosen, "rejected": rejected, "images": entries,
        "data_source": str(record.get("data_source") or "default"),
        "pair_id": str(record.get("pair_id") if record.get("pair_id") is not None else f"{file}:{i}"),
        "file": file, "row": i,
    }
    return row, images, digests
