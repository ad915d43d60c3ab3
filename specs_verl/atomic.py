"""Atomic file writes: a reader sees the old file or the whole new one, never a part; a failed write leaves nothing.

One rule for every file this package writes: write to a temp file of a unique name in the target's own folder
(the rename is atomic only within one file system; concurrent writers, such as ranks or parallel jobs, never share
a temp name), then rename it over the target; remove it on any failure. The temp file is created by the writer
itself, so the result has the ordinary permissions (a `mkstemp` file would be private to its owner).
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def temp_path(path: str | os.PathLike) -> Path:
    """A fresh temp name beside `path` (its folder is created); for writers that stream into it and rename later."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """`with atomic_path(p) as tmp: write(tmp)` -> `p` holds the whole result, or is untouched if `write` fails."""
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomic(path: str | os.PathLike, data: str | bytes) -> None:
    """Write text (UTF-8) or bytes atomically, flushed to disk before the rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
