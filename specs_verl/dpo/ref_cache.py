"""Reference log-probs computed once and kept on disk.

The reference model of DPO is frozen and the preference set is fixed, so its log-probs are one number per
response. We compute them in one forward-only pass before step 1 and store them next to the output, keyed by
everything that changes them (model weights, data, tokenizer and chat template, length limit). A rerun or a
resumed run reads them back instead of recomputing, and training then runs the policy only.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch

FORMAT_VERSION = 1


def _file_digest(path: Path, h) -> None:
    """Size and content of a file (large weight files: size, head and tail, which change with any save)."""
    stat = path.stat()
    h.update(f"{path.name}:{stat.st_size}".encode())
    with open(path, "rb") as f:
        if stat.st_size <= 64 << 20:
            h.update(f.read())
        else:
            h.update(f.read(8 << 20))
            f.seek(-(8 << 20), os.SEEK_END)
            h.update(f.read())


def cache_key(model_path: str, data_files: list[str], max_length: int, extra: dict | None = None) -> str:
    h = hashlib.sha256(f"v{FORMAT_VERSION}:{max_length}:{json.dumps(extra or {}, sort_keys=True)}".encode())
    model_dir = Path(model_path)
    if model_dir.is_dir():
        for name in sorted(os.listdir(model_dir)):
            p = model_dir / name
            if p.is_file() and (name.endswith((".json", ".safetensors", ".bin", ".model", ".jinja", ".txt"))):
                _file_digest(p, h)
    else:  # a hub id: the name is all we know here
        h.update(model_path.encode())
    for f in data_files:
        _file_digest(Path(f), h)
    return h.hexdigest()[:16]


class RefLogpCache:
    """{split: {pair_id: (chosen_logp, rejected_logp)}} in one file per key: `<dir>/ref_logps_<key>.pt`."""

    def __init__(self, directory: str | os.PathLike, key: str):
        self.path = Path(directory) / f"ref_logps_{key}.pt"
        self.data: dict[str, dict[str, tuple[float, float]]] = {}
        if self.path.exists():
            self.data = torch.load(self.path, weights_only=False)

    def has(self, split: str, pair_ids: list[str]) -> bool:
        have = self.data.get(split, {})
        return all(p in have for p in pair_ids)

    def get(self, split: str, pair_ids: list[str]) -> torch.Tensor:
        """[2 * len(pair_ids)] in row order chosen_0, rejected_0, chosen_1, ..."""
        have = self.data[split]
        return torch.tensor([v for p in pair_ids for v in have[p]], dtype=torch.float32)

    def put(self, split: str, values: dict[str, tuple[float, float]]) -> None:
        self.data.setdefault(split, {}).update(values)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        torch.save(self.data, tmp)
        os.replace(tmp, self.path)
