"""What a generation backend takes (`Request`) and gives back (`Sample`). Pure Python; PIL only to open images."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any

IMAGE_PLACEHOLDER = "<image>"


@dataclass
class Request:
    """One prompt: chat messages in verl's RL row schema plus the images their `<image>` placeholders stand for.

    `images` holds, in placeholder order, anything `as_pil` opens: a PIL image, a verl-style dict
    {"bytes": ..., "path": ...}, or a file path. Backends decode them only when a batch is built, so a
    dataset of large images is never held decoded in memory.
    `id` must be unique within one `generate` call: backends derive each sample's random stream from it.
    """

    id: str
    messages: list[dict[str, Any]]
    images: list[Any] = field(default_factory=list)
    data_source: str = ""
    ground_truth: Any = None
    extra_info: dict[str, Any] = field(default_factory=dict)

    def n_placeholders(self) -> int:
        return sum(_text_of(m).count(IMAGE_PLACEHOLDER) for m in self.messages)

    def pil_images(self) -> list:
        return [as_pil(im) for im in self.images]


@dataclass
class Sample:
    """One generated response.

    `n_tokens` counts the generated tokens including the end-of-sequence token when generation stopped on it
    (vLLM's convention); `finish_reason` is "stop" or "length"; `token_ids` are the generated ids. The
    optional per-token lists have `n_tokens` entries: `logprobs` are log-probabilities of the sampled tokens
    under the model's own distribution (temperature 1, before top-p truncation; vLLM's "raw_logprobs"),
    `top_p_set_sizes` the size of the smallest token set holding `branching_top_p` of that distribution
    (the "rollout branching factor").
    """

    text: str
    n_prompt_tokens: int
    n_tokens: int
    finish_reason: str
    token_ids: list[int] | None = None
    logprobs: list[float] | None = None
    top_p_set_sizes: list[int] | None = None


def _text_of(message: dict[str, Any]) -> str:
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    # already structured content (a list of parts): count text parts only
    return "".join(p.get("text", "") for p in content if isinstance(p, dict))


def as_pil(image: Any):
    """An RGB PIL image from a PIL image, a {"bytes", "path"} dict (verl's parquet schema) or a path."""
    from PIL import Image

    if isinstance(image, Image.Image):
        return image.convert("RGB") if image.mode != "RGB" else image
    if isinstance(image, dict):
        if image.get("bytes") is not None:
            return Image.open(io.BytesIO(image["bytes"])).convert("RGB")
        if image.get("path"):
            return Image.open(image["path"]).convert("RGB")
        raise ValueError("image dict has neither 'bytes' nor 'path'")
    if isinstance(image, (str, os.PathLike)):
        return Image.open(image).convert("RGB")
    raise TypeError(f"cannot open an image from {type(image).__name__}")


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


def check_images(request: Request) -> None:
    """Raise if the placeholders and the images of a request disagree in number."""
    n = request.n_placeholders()
    if n != len(request.images):
        raise ValueError(f"request {request.id!r}: {n} <image> placeholder(s) but {len(request.images)} image(s)")
