"""Which checkpoints make up a run, and at which training step each was saved.

A run is given on the command line as one of
- a checkpoint directory of verl or of our DPO trainer, holding `global_step_N/` folders: the Hugging Face
  weights of step N are in `global_step_N/huggingface` (SFT / DPO), `global_step_N/actor/huggingface` (GRPO) or
  `global_step_N` itself;
- one Hugging Face model directory (its step is the N of a `global_step_N` in its path, else 1);
- a comma-separated list of model directories (steps from `global_step_N` in each path, else 1, 2, 3, ...);
and any of these may be prefixed with `NAME=` to name the run (default: the directory's name).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from specs_verl.checkpoint_layout import STEP_DIR, hf_weights, is_model_dir, step_dirs, step_of


@dataclass(frozen=True)
class Run:
    """A named sequence of (training step, Hugging Face model directory), sorted by step."""

    name: str
    checkpoints: tuple[tuple[int, Path], ...]


def default_name(path: Path) -> str:
    """A run's name from one of its paths: the folder above `global_step_N` when there is one."""
    parts = path.resolve().parts
    steps = [i for i, p in enumerate(parts) if STEP_DIR.fullmatch(p)]
    return parts[steps[-1] - 1] if steps and steps[-1] > 0 else parts[-1]


def resolve_run(spec: str) -> Run:
    """Parse one `--checkpoints` value into a Run (see the module docstring)."""
    name = None
    if "=" in spec and not os.path.exists(spec):
        name, spec = spec.split("=", 1)
    parts = [Path(p) for p in spec.split(",") if p]
    if not parts:
        raise ValueError(f"empty checkpoint spec {spec!r}")
    missing = [str(p) for p in parts if not p.exists()]
    if missing:
        raise FileNotFoundError(f"checkpoint path(s) {missing} do not exist")

    if len(parts) == 1 and not is_model_dir(parts[0]):
        root = parts[0]
        steps = step_dirs(root)
        if not steps:
            raise FileNotFoundError(f"{root} is neither a model directory (no config.json) nor a checkpoint "
                                    "directory with global_step_N folders")
        checkpoints = [(step_of(d), hf_weights(d)) for d in steps]
        return Run(name or root.resolve().name, tuple(checkpoints))

    checkpoints = []
    for i, p in enumerate(parts, start=1):
        if not is_model_dir(p):
            raise FileNotFoundError(f"{p} is not a Hugging Face model directory (no config.json)")
        step = step_of(p)
        checkpoints.append((step if step is not None else i, p))
    steps = [s for s, _ in checkpoints]
    if len(set(steps)) != len(steps):
        raise ValueError(f"run {spec!r} has repeated steps {steps}; name the folders global_step_N")
    return Run(name or default_name(parts[0]), tuple(sorted(checkpoints)))


def resolve_runs(specs: list[str]) -> list[Run]:
    """Every `--checkpoints` value as a Run; run names are made unique with a numeric suffix."""
    runs, seen = [], {}
    for spec in specs:
        run = resolve_run(spec)
        if run.name in seen:
            seen[run.name] += 1
            run = Run(f"{run.name}-{seen[run.name]}", run.checkpoints)
        else:
            seen[run.name] = 1
        runs.append(run)
    return runs
