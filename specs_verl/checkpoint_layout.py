"""verl's checkpoint layout, in one place: where a run's steps and Hugging Face weights are.

A verl output directory (`trainer.default_local_dir`) holds one `global_step_N/` folder per saved step. The
Hugging Face weights of step N are in `global_step_N/huggingface` (verl's SFT trainer and our DPO trainer),
`global_step_N/actor/huggingface` (GRPO), or `global_step_N` itself (a folder a user filled by hand). Two
questions are asked of a folder: is it a model (`config.json`: enough to load it, what `evaluate` accepts) and
does it hold a finished save (also weight files: what a recipe hands to the next stage).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

STEP_DIR = re.compile(r"global_step_(\d+)")
HF_LOCATIONS = ("huggingface", "actor/huggingface", ".")  # inside global_step_N, in the order they are tried


def step_dir(run_dir: str | os.PathLike, step: int) -> Path:
    return Path(run_dir) / f"global_step_{step}"


def hf_dir(run_dir: str | os.PathLike, step: int) -> Path:
    """Where verl's SFT engine (and so our DPO trainer) writes step `step`'s Hugging Face weights."""
    return step_dir(run_dir, step) / "huggingface"


def step_of(path: str | os.PathLike) -> int | None:
    """The N of the last `global_step_N` in a path, or None."""
    found = STEP_DIR.findall(str(path))
    return int(found[-1]) if found else None


def step_dirs(run_dir: str | os.PathLike) -> list[Path]:
    """The `global_step_N` folders of a run, by step."""
    root = Path(run_dir)
    return sorted((d for d in root.iterdir() if d.is_dir() and STEP_DIR.fullmatch(d.name)), key=step_of)


def is_model_dir(path: str | os.PathLike) -> bool:
    return (Path(path) / "config.json").is_file()


def has_weights(path: str | os.PathLike) -> bool:
    """A finished save: the config and at least one safetensors file."""
    path = Path(path)
    return is_model_dir(path) and any(path.glob("*.safetensors"))


def hf_weights(step_path: str | os.PathLike) -> Path:
    """The Hugging Face model directory inside a `global_step_N` folder; raises naming where it looked."""
    step_path = Path(step_path)
    for rel in HF_LOCATIONS:
        candidate = step_path.resolve() if rel == "." else step_path / rel
        if is_model_dir(candidate):
            return candidate
    looked = ", ".join(str(step_path / rel) for rel in HF_LOCATIONS)
    raise FileNotFoundError(
        f"{step_path} holds no Hugging Face weights (looked for config.json in {looked}); save checkpoints with "
        "the HF model (verl: trainer.checkpoint.save_contents / checkpoint.save_contents including hf_model)")


def latest_hf_dir(run_dir: str | os.PathLike) -> Path | None:
    """The finished save of the highest step (a folder that is itself one is returned as is); None if none."""
    run_dir = Path(run_dir)
    if has_weights(run_dir):
        return run_dir
    for step_path in reversed(step_dirs(run_dir)) if run_dir.is_dir() else []:
        for rel in HF_LOCATIONS[:2]:
            if has_weights(step_path / rel):
                return step_path / rel
    return None
