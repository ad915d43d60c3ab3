"""Image references in question text -> verl's `<image>` placeholders, exactly one per image, in image order.

verl's RLHFDataset splits the user text on `<image>`/`<video>`/`<audio>` and hands the i-th `<image>` the i-th
entry of `images`, asserting the counts match. Datasets reference images in their own ways:
- none at all (MathVista, MathVerse): the images go first;
- `<image>` tokens (geometry3k, ViRL39K), sometimes fewer or more than the images: kept when the count is
  right, otherwise removed and the images put first (what VL-Rethinker's own ViRL39K loader does, too);
- numbered `<image 1>` (MMMU, also inside options) or `<image1>` (MathVision): the first reference to image k
  becomes its placeholder, a repeated reference becomes the words "image k", and images the text never
  names go first.
"""

from __future__ import annotations

import re

from specs_verl.schema.images import IMAGE_PLACEHOLDER as PLACEHOLDER

from .problem import Skip

_NUMBERED = re.compile(r"<image[ _]?(\d+)>", re.I)
# verl treats these as video/audio slots; a question that merely mentions them must not open one.
_OTHER_SLOTS = {"<video>": "[video]", "<audio>": "[audio]"}


def has_references(body: str) -> bool:
    """Whether the text refers to an image at all (`<image>`, `<image 1>`, `<image1>`)."""
    return PLACEHOLDER in body or _NUMBERED.search(body) is not None


def without_references(body: str) -> str:
    """The text with every image reference removed (is there a question besides the pictures?)."""
    return _NUMBERED.sub("", body.replace(PLACEHOLDER, "")).strip()


def place_images(body: str, n_images: int) -> tuple[str, list[int]]:
    """(text with exactly `n_images` placeholders, order) where `order[j]` is the image index of placeholder j.

    Raises Skip("missing_image") when the text names an image the record does not have.
    """
    for token, words in _OTHER_SLOTS.items():
        body = body.replace(token, words)
    if _NUMBERED.search(body):
        order: list[int] = []

        def first_use(m: re.Match) -> str:
            k = int(m.group(1))
            if not 1 <= k <= n_images:
                raise Skip("missing_image", f"the text refers to <image {k}> but the record has {n_images} image(s)")
            if k - 1 in order:
                return f"image {k}"
            order.append(k - 1)
            return PLACEHOLDER

        body = _NUMBERED.sub(first_use, body.replace(PLACEHOLDER, ""))
        rest = [i for i in range(n_images) if i not in order]
        return PLACEHOLDER * len(rest) + body, rest + order
    if body.count(PLACEHOLDER) == n_images:
        return body, list(range(n_images))
    body = " ".join(part.strip() for part in body.split(PLACEHOLDER) if part.strip()) if PLACEHOLDER in body \
        else body
    return PLACEHOLDER * n_images + body, list(range(n_images))
