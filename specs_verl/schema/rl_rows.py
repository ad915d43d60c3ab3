"""The RL parquet: verl's RL row schema (what RLHFDataset, the specs reward and offline generation read).

    data_source   str                       one per set (GF splits validation metrics by it)
    prompt        [{"role": "user", "content": "<image>...question...\\n" + instruction}]; multiple-choice rows
                  get the template's `_choice` variant, which asks for the option letter
    images        [{"bytes": PNG/JPEG, "path": None}], one per `<image>` placeholder, in order ([] for a
                  text-only row); a path is relative to the parquet's folder (`schema.images`)
    ability       str
    reward_model  {"style": "rule", "ground_truth": str}   an option letter for multiple choice, sorted letters
                  joined by commas for multi-select ("C,D"), else the normalised gold answer
    extra_info    the same keys on every row (verl fails to batch rows whose extra_info keys differ). Prepared
                  datasets (`specs_verl.data_prep`) carry `EXTRA_INFO_KEYS`, as the grader reads them
                  (`specs_verl.grading.grade`): index, split, qid, question, answer (as the dataset spells it),
                  answer_type (choice | multi_select | number | text), options (option texts, A first; [] when
                  not multiple choice or unknown), category, source_row, answers (every acceptable answer when
                  there are several, else []), precision (decimals numbers are compared to, else null).
                  Other writers (the tiny tasks) pass their own struct; the grader reads what is there.

Writers: `open_writer` (streamed, the prepared datasets) and `write_rl_rows` (rows in memory). Reader:
`read_rl_rows`, every row checked, errors that name the file, the row and the reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

from . import images as img
from .parquet import ParquetRowWriter, column_names, iter_records, write_rows

T = TypeVar("T")

EXTRA_INFO_KEYS = ("index", "split", "qid", "question", "answer", "answer_type", "options", "category",
                   "source_row", "answers", "precision")


def extra_info_type():
    """The struct of `EXTRA_INFO_KEYS`."""
    import pyarrow as pa

    return pa.struct([
        ("index", pa.int64()), ("split", pa.string()), ("qid", pa.string()), ("question", pa.string()),
        ("answer", pa.string()), ("answer_type", pa.string()), ("options", pa.list_(pa.string())),
        ("category", pa.string()), ("source_row", pa.int64()), ("answers", pa.list_(pa.string())),
        ("precision", pa.int64()),
    ])


def arrow_schema(extra_info=None):
    """The parquet schema, fixed so that every chunk a streaming writer appends has the same types.
    `extra_info`: the struct type of that column (default: `EXTRA_INFO_KEYS`)."""
    import pyarrow as pa

    return pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", extra_info if extra_info is not None else extra_info_type()),
    ])


def open_writer(path: str | os.PathLike, rows_per_group: int = 64) -> ParquetRowWriter:
    """A streaming writer of prepared-dataset rows: `add(row)`, then `commit()` (or `abort()`)."""
    return ParquetRowWriter(path, arrow_schema(), rows_per_group)


def write_rl_rows(path: str | os.PathLike, rows: Sequence[dict[str, Any]], extra_info=None) -> Path:
    return write_rows(path, rows, arrow_schema(extra_info))


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


def check_row(row: dict[str, Any], base_dir: str, check_images: bool = True) -> dict[str, Any]:
    """The row with `prompt` as a list of message dicts and `images` resolved (`schema.images.resolve`);
    raises ValueError (without the file name) when the row is unusable."""
    prompt = row.get("prompt")
    if prompt is None or len(prompt) == 0:
        raise ValueError("empty or missing 'prompt'")
    messages = [dict(m) for m in prompt]
    for m in messages:
        if not isinstance(m.get("content"), str):
            raise ValueError("prompt message content must be a string (verl's RL schema)")
    images = img.resolve_all(row.get("images"), base_dir)
    n_ph = img.count_placeholders(messages)
    if n_ph != len(images):
        raise ValueError(f"{n_ph} {img.IMAGE_PLACEHOLDER} placeholder(s) in the prompt but {len(images)} image(s)")
    if check_images:
        for k, entry in enumerate(images):
            try:
                img.check_header(entry)
            except Exception as e:
                raise ValueError(f"image {k} cannot be opened: {e}") from e
    return {**row, "prompt": messages, "images": images}


def read_rl_rows(path: str | os.PathLike, convert: Callable[[dict[str, Any], str], T] | None = None, *,
                 skipped: list[str] | None = None, check_images: bool = True,
                 batch_rows: int = 256) -> Iterator[T]:
    """Stream a verl RL parquet file, in file order, each row checked (`check_row`) and given its question id.

    `convert(row, question_id)` turns a checked row into what the caller wants (default: the row, with its id
    under "id"); a ValueError it raises counts as a bad row. Bad rows raise `RLDataError` naming the file and
    row; pass a list as `skipped` to skip them instead (each skip appended as "file: row N: reason").
    Duplicate question ids always raise.
    """
    path = Path(path)
    if not path.exists():
        raise RLDataError(f"{path}: no such file")
    names = column_names(path)
    if "prompt" not in names:
        raise RLDataError(f"{path}: no 'prompt' column (columns: {names}); is this a verl RL file?")
    convert = convert or (lambda row, qid: {**row, "id": qid})
    base_dir = img.folder_of(path)
    seen: dict[str, int] = {}
    for i, row in enumerate(iter_records(path, batch_rows)):
        try:
            qid = question_id(row, i, path.stem)
            out = convert(check_row(row, base_dir, check_images), qid)
        except ValueError as e:
            msg = f"{path}: row {i}: {e}"
            if skipped is None:
                raise RLDataError(msg) from e
            skipped.append(msg)
            continue
        if qid in seen:
            raise RLDataError(f"{path}: row {i}: question id {qid!r} already used by row {seen[qid]}")
        seen[qid] = i
        yield out
