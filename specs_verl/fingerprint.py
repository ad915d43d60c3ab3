"""Content fingerprints for caches: whole files streamed through a hash, never sizes, dates or heads and tails.

Used by the reference log-prob cache (`ref_cache.py`) and by `specs_verl.evaluate`'s score cache, so that a
model retrained into the same folder, or a data file rewritten in place, never reads back old numbers.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CHUNK = 8 << 20

# the files of a Hugging Face model directory that change its outputs (weights, config, tokenizer, processor)
MODEL_SUFFIXES = (".json", ".safetensors", ".bin", ".pt", ".model", ".jinja", ".txt", ".tiktoken")


def new_hash():
    return hashlib.blake2b(digest_size=16)


def update_with_file(h, path: str | os.PathLike) -> None:
    """Feed a file's whole content into `h` (streamed in chunks: weight files may be tens of GB)."""
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)


def file_digest(path: str | os.PathLike) -> str:
    h = new_hash()
    update_with_file(h, path)
    return h.hexdigest()


def bytes_digest(data: bytes) -> str:
    h = new_hash()
    h.update(data)
    return h.hexdigest()


def json_digest(value) -> str:
    """A stable digest of JSON-able data (keys sorted; anything else by its str)."""
    return bytes_digest(json.dumps(value, sort_keys=True, default=str).encode())


def _local_snapshot(model_id: str) -> Path | None:
    """The Hugging Face cache folder a hub id was loaded from (no download), if there is one."""
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(model_id, local_files_only=True))
    except Exception:  # not a hub id, or not in the cache
        return None


def model_digest(model_path: str | os.PathLike) -> str:
    """Every output-changing file of a model directory (names and content, recursively: adapters sit in
    sub-folders). A hub id is read from its cached snapshot; one that is in no cache is known only by name."""
    root = Path(model_path).expanduser()
    h = new_hash()
    if not root.is_dir():
        root = _local_snapshot(str(model_path))
    if root is None:
        h.update(f"hub:{model_path}".encode())
        return h.hexdigest()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name.endswith(MODEL_SUFFIXES)):
        h.update(f"\0{path.relative_to(root).as_posix()}\0".encode())
        update_with_file(h, path)
    return h.hexdigest()
