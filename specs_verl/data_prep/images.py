"""Any image a dataset hands us -> verl's `{"bytes": PNG or JPEG, "path": None}`, checked to decode.

Inputs seen in the wild: PIL images (a decoded `datasets.Image` column), `{"bytes", "path"}` dicts (the same
column read with `decode=False`, which `loading` asks for so that PNG/JPEG bytes pass through untouched), raw
bytes, and paths relative to the dataset folder (MathVista's `image` column) or inside a zip archive next to the
data (TIGER-Lab's ViRL39K: `image` = ["images/Processed-...-0.jpg"], the files in `images.zip`). Archives are
read in place, never extracted, so no member name can write anywhere; a member is read under a size limit.
Other formats (GIF, WebP, BMP, TIFF, ...) are re-encoded as PNG; JPEG stays JPEG. Images Qwen2-VL's resizer
rejects (an aspect ratio over 200) are refused here rather than crashing a training run later.
"""

from __future__ import annotations

import io
import os
import posixpath
import zipfile
from pathlib import Path
from typing import Any, Sequence

from .problem import Skip

KEEP_FORMATS = ("PNG", "JPEG")
MAX_ASPECT_RATIO = 200  # qwen_vl_utils.smart_resize raises above this
_PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16")
MAX_IMAGE_BYTES = 64 << 20  # one image read from an archive: far above any dataset's, far below a zip bomb's


class ImageArchive:
    """A zip file of images, looked up by the relative paths a dataset stores (read in place, never extracted).

    A path matches the member of the same name, or, when the archive adds or drops leading folders
    (`ViRL39K/images/x.jpg` for `images/x.jpg`, or `x.jpg`), the one member whose name ends with it or that it
    ends with. Member names that are absolute or climb out with `..` are ignored.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._zip: zipfile.ZipFile | None = None
        self._names: dict[str, zipfile.ZipInfo] = {}
        self._by_base: dict[str, list[str]] = {}

    def __repr__(self) -> str:
        return f"ImageArchive({str(self.path)!r})"

    def __str__(self) -> str:
        return str(self.path)

    def _open(self) -> zipfile.ZipFile:
        if self._zip is None:
            try:
                self._zip = zipfile.ZipFile(self.path)
            except (OSError, zipfile.BadZipFile) as e:
                raise ValueError(f"cannot read the image archive {self.path}: {e}") from None
            for info in self._zip.infolist():
                name = posixpath.normpath(info.filename.replace("\\", "/"))
                if info.is_dir() or name.startswith(("/", "../")) or name == ".." or ":" in name.split("/")[0]:
                    continue
                self._names[name] = info
                self._by_base.setdefault(posixpath.basename(name), []).append(name)
        return self._zip

    def member(self, path: str) -> zipfile.ZipInfo | None:
        """The member `path` names (see the class docstring), None when there is none or several."""
        self._open()
        key = posixpath.normpath(str(path).replace("\\", "/")).lstrip("/")
        if key in self._names:
            return self._names[key]
        hits = [n for n in self._by_base.get(posixpath.basename(key), ())
                if n.endswith("/" + key) or key.endswith("/" + n)]
        return self._names[hits[0]] if len(hits) == 1 else None

    def read(self, path: str) -> bytes | None:
        info = self.member(path)
        if info is None:
            return None
        if info.file_size > MAX_IMAGE_BYTES:
            raise Skip("bad_image", f"{info.filename} in {self.path} is {info.file_size} bytes (limit "
                                    f"{MAX_IMAGE_BYTES})")
        with self._open().open(info) as f:
            data = f.read(MAX_IMAGE_BYTES + 1)  # the header's size can lie; this limit holds
        if len(data) > MAX_IMAGE_BYTES:
            raise Skip("bad_image", f"{info.filename} in {self.path} is over {MAX_IMAGE_BYTES} bytes")
        return data

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None


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


def _from_path(path: str | os.PathLike, roots: Sequence[Path | ImageArchive]) -> bytes:
    """The image at `path`: absolute, or relative to the first root (folder or archive) that holds it, or to the
    working directory."""
    p = Path(path)
    if not p.is_absolute():
        for root in roots:
            if isinstance(root, ImageArchive):
                data = root.read(str(path))
                if data is not None:
                    return _from_bytes(data)
            elif (root / p).is_file():
                return _from_bytes((root / p).read_bytes())
    if p.is_file():
        return _from_bytes(p.read_bytes())
    where = ", ".join(str(r) for r in roots) or "the working directory"
    raise Skip("missing_image", f"{str(path)!r} not found in {where} (put the dataset's images or images.zip "
                                f"there or pass --image-root)")


def image_entry(ref: Any, roots: Sequence[Path | ImageArchive] = ()) -> dict[str, Any]:
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
