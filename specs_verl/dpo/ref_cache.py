"""Reference log-probs computed once and kept on disk, so that they can never be read back for other inputs.

The reference model of DPO is frozen and the preference set is fixed, so its log-probs are one number per
response. The trainer computes them in one forward-only pass before step 1 and keeps them here; a rerun or a
resumed run reads them back instead of recomputing, and training then runs the policy only.

Two keys guard the numbers:
- the file is named by a digest of every setting that changes a log-prob (`ReferenceSettings`: the model's
  files, a LoRA adapter's files and settings, the library versions, the dtypes, `model.override_config`, the
  chat template, the processor settings, the length limit);
- inside, each value is stored under its row's key, `pair_id` plus a digest of the row's content (prompt,
  responses, image bytes: `data.py`), and a split is reused only when its stored keys are exactly the keys the
  run needs (`matches`). A row edited, added, removed or skipped recomputes the split, never shifts a value
  onto a neighbour.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from specs_verl.fingerprint import json_digest, model_digest

FORMAT_VERSION = 2
LIBRARIES = ("torch", "transformers", "verl", "specs-verl")


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


@dataclass(frozen=True)
class ReferenceSettings:
    """Everything besides the rows that changes a reference log-prob."""

    model: str  # model_digest of the reference model directory
    adapter: dict = field(default_factory=dict)  # LoRA settings and the adapter files' digest
    versions: dict = field(default_factory=library_versions)
    dtype: dict = field(default_factory=dict)  # engine.model_dtype, engine.dtype, engine.mixed_precision
    override_config: dict = field(default_factory=dict)
    model_flags: dict = field(default_factory=dict)  # remove padding, fused kernels, custom chat template
    template: str = ""
    processor: dict = field(default_factory=dict)  # image processor settings (pixel limits, patch size, ...)
    max_length: int = 0

    def key(self) -> str:
        return json_digest({"format": FORMAT_VERSION, **asdict(self)})[:16]


def reference_settings(model: dict, engine: dict, model_dir: str, processor, max_length: int,
                       versions: dict | None = None) -> ReferenceSettings:
    """Collect the settings from plain dicts of verl's `model` and `engine` sections and the loaded processor."""
    lora = {k: model.get(k) for k in ("lora_rank", "lora_alpha", "target_modules", "target_parameters",
                                      "exclude_modules", "lora_adapter_path")}
    if not lora["lora_rank"] and not lora["lora_adapter_path"]:
        lora = {}
    elif lora["lora_adapter_path"]:
        lora["adapter_files"] = model_digest(lora["lora_adapter_path"])
    image_processor = getattr(processor, "image_processor", None)
    tokenizer = getattr(processor, "tokenizer", processor)
    return ReferenceSettings(
        model=model_digest(model_dir),
        adapter=lora,
        versions=versions if versions is not None else library_versions(),
        dtype={k: engine.get(k) for k in ("model_dtype", "dtype", "mixed_precision")},
        override_config=dict(model.get("override_config") or {}),
        model_flags={k: model.get(k) for k in ("use_remove_padding", "use_fused_kernels", "custom_chat_template")},
        template=str(getattr(processor, "chat_template", None) or getattr(tokenizer, "chat_template", None) or ""),
        processor=image_processor.to_dict() if image_processor is not None else {},
        max_length=int(max_length),
    )


def row_key(pair_id: str, content_digest: str) -> str:
    return f"{pair_id}#{content_digest}"


def matches(stored: list[str] | None, needed: list[str]) -> bool:
    """The exact-match rule: a split is reused only when it holds exactly the rows the run needs (a superset
    means other data, a subset means missing values)."""
    return stored is not None and set(stored) == set(needed)


class RefLogpCache:
    """{split: {row key: (chosen_logp, rejected_logp)}} in `<dir>/ref_logps_<settings key>.pt`."""

    def __init__(self, directory: str | os.PathLike, settings: ReferenceSettings):
        self.settings = settings
        self.path = Path(directory) / f"ref_logps_{settings.key()}.pt"
        self.data: dict[str, dict[str, tuple[float, float]]] = {}

    def load(self) -> None:
        """Read the file if there is one (plain tensors and strings: `weights_only=True`)."""
        if not self.path.exists():
            return
        try:
            payload = torch.load(self.path, weights_only=True)
        except Exception as e:  # truncated or foreign: recompute rather than trust it
            print(f"[specs-dpo] ignoring the unreadable reference cache {self.path} ({type(e).__name__}: {e})")
            return
        if payload.get("format") != FORMAT_VERSION or payload.get("settings") != self._settings_json():
            return
        self.data = {split: dict(zip(part["keys"], map(tuple, part["logps"].tolist())))
                     for split, part in payload["splits"].items()}

    def usable(self, split: str, needed: list[str]) -> bool:
        return matches(list(self.data[split]) if split in self.data else None, needed)

    def get(self, split: str, keys: list[str]) -> torch.Tensor:
        """[2 * len(keys)] in row order chosen_0, rejected_0, chosen_1, ..."""
        have = self.data[split]
        return torch.tensor([v for k in keys for v in have[k]], dtype=torch.float32)

    def replace(self, split: str, values: dict[str, tuple[float, float]]) -> None:
        self.data[split] = dict(values)

    def save(self) -> None:
        """Atomically, through a temp file of a unique name in the same folder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"format": FORMAT_VERSION, "settings": self._settings_json(),
                   "splits": {split: {"keys": list(values),
                                      "logps": torch.tensor(list(values.values()), dtype=torch.float64).reshape(-1, 2)}
                              for split, values in self.data.items()}}
        from specs_verl.atomic import atomic_path

        with atomic_path(self.path) as tmp:
            torch.save(payload, tmp)

    def _settings_json(self) -> str:
        return json.dumps(asdict(self.settings), sort_keys=True, default=str)
