"""Images in every parquet this package reads or writes: the `<image>` placeholder, the one path rule, opening.

A row's text holds one `<image>` per entry of its `images` column, in order (verl's RLHFDataset and its SFT
dataset split the text on it). An entry is `{"bytes": PNG/JPEG, "path": None}` (what our writers write), a
`{"bytes": None, "path": ...}` dict or a bare path string. The one rule for a path: absolute as written, relative
to the folder of the parquet file that holds it (never to the working directory, so a file reads the same from
any folder). `resolve` applies it once, when a reader takes a row; from then on an entry is self-contained.
"""

from __future__ import annotations

import io
import os
from typing import Any

from .parquet import plain

IMAGE_PLACEHOLDER = "<image>"


def text_of(message: dict[str, Any]) -> str:
    """A message's text: its string content, or the text parts of structured content."""
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


def count_placeholders(messages: list[dict[str, Any]]) -> int:
    return sum(text_of(m).count(IMAGE_PLACEHOLDER) for m in messages)


def to_chat_parts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages whose `<image>` placeholders become {"type": "image"} parts, the form HF chat templates expect.

    Messages without placeholders keep their string content, so text-only templates see what they know.
    """
    out = []
    for m in messages:
        content = m.get("content", "")
        if not isinstance(content, str) or IMAGE_PLACEHOLDER not in content:
            out.append(dict(m))
            continue
        parts: list[dict[str, Any]] = []
        for i, chunk in enumerate(content.split(IMAGE_PLACEHOLDER)):
            if i > 0:
                parts.append({"type": "image"})
            if chunk:
                parts.append({"type": "text", "text": chunk})
        out.append({**m, "content": parts})
    return out


def folder_of(parquet_path: str | os.PathLike) -> str:
    """The folder relative image paths in `parquet_path` are relative to."""
    return os.path.dirname(os.path.abspath(parquet_path))


def entries(value: Any) -> list:
    """A row's `images` value as a list (None: no image; a single entry: a list of one)."""
    value = plain(value)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def resolve(entry: Any, base_dir: str | os.PathLike) -> dict[str, Any]:
    """One `images` entry as {"bytes", "path"}: an entry with bytes as it is (its path, if any, is only a name);
    else its path, a relative one joined to `base_dir` (the parquet's folder). ValueError: neither bytes nor a path."""
    if isinstance(entry, dict) and entry.get("bytes") is not None:
        return {"bytes": bytes(entry["bytes"]), "path": entry.get("path")}
    if isinstance(entry, dict) and entry.get("path"):
        path = entry["path"]
    elif isinstance(entry, (str, os.PathLike)) and str(entry):
        path = entry
    else:
        raise ValueError("has neither bytes nor a path")
    return {"bytes": None, "path": os.path.join(base_dir, os.fspath(path))}  # join keeps an absolute path


def resolve_all(value: Any, base_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every entry of a row's `images`, resolved; ValueError("image k ...") names the entry that is not."""
    out = []
    for k, entry in enumerate(entries(value)):
        try:
            out.append(resolve(entry, base_dir))
        except ValueError as e:
            raise ValueError(f"image {k} {e}") from None
    return out


def image_bytes(entry: dict[str, Any] | str | os.PathLike) -> bytes:
    """The encoded bytes of a resolved entry (read from its file when it holds none)."""
    if isinstance(entry, dict):
        if entry.get("bytes") is not None:
            return bytes(entry["bytes"])
        entry = entry.get("path") or ""
    if not os.path.exists(entry):
        raise FileNotFoundError(f"{os.fspath(entry)!r} does not exist")
    with open(entry, "rb") as f:
        return f.read()


def check_header(entry: dict[str, Any]) -> None:
    """Cheap validity check of a resolved entry: the file exists and its header opens (pixels wait for a batch)."""
    from PIL import Image

    if entry.get("bytes") is not None:
        Image.open(io.BytesIO(entry["bytes"])).close()
        return
    if not os.path.exists(entry["path"]):
        raise FileNotFoundError(f"{entry['path']!r} does not exist")
    Image.open(entry["path"]).close()


def as_pil(image: Any):
    """An RGB PIL image from a PIL image, a {"bytes", "path"} dict (a resolved entry) or a path."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB") if image.mode != "RGB" else image
    if isinstance(image, dict):
        if image.get("bytes") is None and not image.get("path"):
            raise ValueError("image dict has neither 'bytes' nor 'path'")
        return Image.open(io.BytesIO(image_bytes(image))).convert("RGB")
    if isinstance(image, (str, os.PathLike)):
        return Image.open(image).convert("RGB")
    raise TypeError(f"cannot open an image from {type(image).__name__}")


def decode_all(resolved: list[dict[str, Any]]) -> tuple[list, list[str]]:
    """Resolved entries -> (RGB PIL images, a digest of each one's bytes); ValueError("image k cannot be read")."""
    from PIL import Image

    from specs_verl.fingerprint import bytes_digest

    images, digests = [], []
    for k, entry in enumerate(resolved):
        try:
            data = image_bytes(entry)
            img = Image.open(io.BytesIO(data))
            img.load()
        except Exception as e:  # missing, truncated or not an image
            raise ValueError(f"image {k} cannot be read ({type(e).__name__}: {e})") from None
        images.append(img.convert("RGB"))
        digests.append(bytes_digest(data))
    return images, digests
