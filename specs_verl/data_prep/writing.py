"""Atomic outputs: the parquet streamed in row groups to a temp file, then renamed; the JSON report likewise.

Streaming keeps memory flat on ViRL39K-sized sets (about 3 GB of images); the rename means a reader never sees
a half-written file and an interrupted run leaves the previous output in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from specs_verl.atomic import temp_path, write_atomic


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



def write_json(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    write_atomic(path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return Path(path)
