"""`python -m specs_verl.pipeline data-sources FILE...`: the `data_source` names a set of RL parquet files hold.

The GPU recipe names GF's ID and OOD sources this way (ID_SOURCES from val_id.parquet, OOD_SOURCES from the
val_ood_*.parquet files). A missing or unreadable file, one without a `data_source` column or without rows is
an error naming the file: a silently guessed source name would make every GF of the run meaningless.
"""

from __future__ import annotations

from pathlib import Path


class DataSourceError(ValueError):
    pass


def data_sources(files: list[str | Path]) -> list[str]:
    """Sorted distinct `data_source` values over `files` (each must hold at least one)."""
    import pyarrow.parquet as pq

    if not files:
        raise DataSourceError("no parquet file given")
    names: set[str] = set()
    for file in map(Path, files):
        if not file.is_file():
            raise DataSourceError(f"{file}: no such file")
        try:
            schema = pq.read_schema(file)
        except Exception as e:  # not a parquet file, truncated
            raise DataSourceError(f"{file}: not a readable parquet file ({type(e).__name__}: {e})") from None
        if "data_source" not in schema.names:
            raise DataSourceError(f"{file}: no data_source column (columns: {', '.join(schema.names)})")
        column = pq.read_table(file, columns=["data_source"]).column("data_source").to_pylist()
        found = {str(v) for v in column if v not in (None, "")}
        if not found:
            raise DataSourceError(f"{file}: no row has a data_source ({len(column)} rows)")
        names |= found
    return sorted(names)
