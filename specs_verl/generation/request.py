"""What a generation backend takes (`Request`) and gives back (`Sample`). Pure Python; PIL only to open images."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from specs_verl.schema.images import as_pil, count_placeholders


@dataclass
class Request:
    """One prompt: chat messages in verl's RL row schema plus the images their `<image>` placeholders stand for.

    `images` holds, in placeholder order, anything `schema.images.as_pil` opens: a PIL image, a verl-style dict
    {"bytes": ..., "path": ...} (read from an RL parquet: the path already resolved against its folder), or a
    file path. Backends decode them only when a batch is built, so a dataset of large images is never held
    decoded in memory.
    `id` must be unique within one `generate` call: backends derive each sample's random stream from it.
    """

    id: str
    messages: list[dict[str, Any]]
    images: list[Any] = field(default_factory=list)
    data_source: str = ""
    ground_truth: Any = None
    extra_info: dict[str, Any] = field(default_factory=dict)

    def n_placeholders(self) -> int:
        return count_placeholders(self.messages)

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


def check_images(request: Request) -> None:
    """Raise if the placeholders and the images of a request disagree in number."""
    n = request.n_placeholders()
    if n != len(request.images):
        raise ValueError(f"request {request.id!r}: {n} <image> placeholder(s) but {len(request.images)} image(s)")
