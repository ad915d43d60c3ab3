"""Where a stage's weights are: the latest `huggingface/` directory of a verl output directory."""

from __future__ import annotations

import re
from pathlib import Path

_STEP = re.compile(r"global_step_(\d+)$")


def latest_hf_dir(run_dir: str | Path) -> Path | None:
    """`global_step_N/huggingface` (SFT, DPO) or `global_step_N/actor/huggingface` (GRPO) of the highest N
    holding full weights; a directory that is itself a model is returned as is."""
    run_dir = Path(run_dir)
    if _has_weights(run_dir):
        return run_dir
    steps = sorted((int(m.group(1)), p) for p in run_dir.glob("global_step_*") if (m := _STEP.search(p.name)))
    for _, step_dir in reversed(steps):
        for candidate in (step_dir / "huggingface", step_dir / "actor" / "huggingface"):
            if _has_weights(candidate):
                return candidate
    return None


def _has_weights(path: Path) -> bool:
    return (path / "config.json").is_file() and any(path.glob("*.safetensors"))
