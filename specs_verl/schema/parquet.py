"""Parquet reading and writing shared by the three contracts: atomic writes, streamed reads, plain values.

A writer never leaves a half-written file: whole tables and streamed row groups alike go to a temp file that is
renamed into place (`specs_verl.atomic`). Streaming keeps memory flat on ViRL39K-sized sets (about 3 GB of images).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Sequence

from specs_verl.atomic import atomic_path, temp_path


def plain(value: Any) -> Any:
    """Parquet read through pandas hands back numpy arrays for lists; make them Python lists, recursively."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def write_rows(path: str | os.PathLike, rows: Sequence[dict[str, Any]], schema) -> Path:
    """All `rows` as one parquet file of `schema`, atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(list(rows), schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return Path(path)


class ParquetRowWriter:
    """`add(row)` buffers; every `rows_per_group` rows go to disk; `commit()` renames into place."""

    def __init__(self, path: str | os.PathLike, schema, rows_per_group: int = 64):
        import pyarrow.parquet as pq

        self.path = Path(path)
        self.tmp = temp_path(self.path)
        self.schema = schema
        self.rows_per_group = rows_per_group
        self._buffer: list[dict[str, Any]] = []
        self._writer = pq.ParquetWriter(self.tmp, schema)
        self.rows = 0

    def add(self, row: dict[str, Any]) -> None:
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        import pyarrow as pa

        if self._buffer:
            self._writer.write_table(pa.Table.from_pylist(self._buffer, schema=self.schema))
            self._buffer = []

    def commit(self) -> Path:
        self._flush()
        self._writer.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def column_names(path: str | os.PathLike) -> list[str]:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).schema_arrow.names


def iter_records(path: str | os.PathLike, batch_rows: int = 256) -> Iterator[dict[str, Any]]:
    """The rows of a parquet file as dicts of Python values, `batch_rows` at a time (a large image set is never
    held in memory whole)."""
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_rows):
        yield from batch.to_pylist()


def count_rows(path: str | os.PathLike) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows
