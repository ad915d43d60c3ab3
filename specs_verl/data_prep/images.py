"""Any image a dataset hands us -> verl's `{"bytes": PNG or JPEG, "path": None}`, checked to decode.

Inputs seen in the wild: PIL images (a decoded `datasets.Image` column), `{"bytes", "path"}` dicts (the same
column read with `decode=False`, which `loading` asks for so that PNG/JPEG bytes pass through untouched), raw
bytes, and paths relative to the dataset folder (TIGER-Lab's ViRL39K release, MathVista's `image` column).
Other formats (GIF, WebP, BMP, TIFF, ...) are re-encoded as PNG; JPEG stays JPEG. Images Qwen2-VL's resizer
rejects (an aspect ratio over 200) are refused here rather than crashing a training run later.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any, Sequence

from .problem import Skip

KEEP_FORMATS = ("PNG", "JPEG")
MAX_ASPECT_RATIO = 200  # qwen_vl_utils.smart_resize raises above this
_PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16")


def _encode(img) -> bytes:
    """PNG (JPEG when the source was JPEG), converting modes the format cannot hold."""
    fmt = "JPEG" if img.format == "JPEG" and img.mode in ("RGB", "L") else "PNG"
    if fmt == "PNG" and img.mode not in _PNG_MODES:
        img = img.convert("RGBA" if "A" in img.mode else "RGB")
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _check(img) -> None:
    w, h = img.size
    if w < 1 or h < 1:
        raise Skip("bad_image", f"image of size {w}x{h}")
    if max(w, h) / min(w, h) > MAX_ASPECT_RATIO:
        raise Skip("bad_image", f"aspect ratio of {w}x{h} is over {MAX_ASPECT_RATIO} (Qwen2-VL's limit)")


def _from_bytes(data: bytes) -> bytes:
    from PIL import Image

    try:
        img = Image.open(io.BytesIO(data))
        img.load()  # a truncated file fails here, not in a data-loader worker mid-training
    except Exception as e:
        raise Skip("bad_image", f"cannot decode: {type(e).__name__}: {e}") from None
    _check(img)
    return bytes(data) if img.format in KEEP_FORMATS else _encode(img)


def _from_path(path: str | os.PathLike, roots: Sequence[Path]) -> bytes:
    p = Path(path)
    candidates = [p] if p.is_absolute() else [root / p for root in roots] + [p]
    for c in candidates:
        if c.is_file():
            return _from_bytes(c.read_bytes())
    where = ", ".join(str(r) for r in roots) or "the working directory"
    raise Skip("missing_image", f"{str(path)!r} not found under {where} (unpack the dataset's images there or "
                                f"pass --image-root)")


def image_entry(ref: Any, roots: Sequence[Path] = ()) -> dict[str, Any]:
    """`{"bytes": ..., "path": None}` for one image reference; Skip("missing_image" | "bad_image") otherwise."""
    from PIL import Image

    if ref is None:
        raise Skip("missing_image", "no image")
    if isinstance(ref, Image.Image):
        try:
            ref.load()
        except Exception as e:
            raise Skip("bad_image", f"cannot decode: {type(e).__name__}: {e}") from None
        _check(ref)
        data = _encode(ref)
    elif isinstance(ref, dict):
        if ref.get("bytes") is not None:
            data = _from_bytes(ref["bytes"])
        elif ref.get("path"):
            data = _from_path(ref["path"], roots)
        else:
            raise Skip("missing_image", "image entry has neither bytes nor path")
    elif isinstance(ref, (bytes, bytearray)):
        data = _from_bytes(bytes(ref))
    elif isinstance(ref, (str, os.PathLike)):
        if not str(ref).strip():
            raise Skip("missing_image", "empty image path")
        data = _from_path(ref, roots)
    else:
        raise Skip("bad_image", f"unsupported image value of type {type(ref).__name__}")
    return {"bytes": data, "path": None}
