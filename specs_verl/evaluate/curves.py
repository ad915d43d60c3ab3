"""GF curves: one row per (run, training step), from evaluated checkpoints or from a verl `file` logger JSONL.

Every score, gain and GF in a row is in percent (the paper's unit). A row holds: run, origin (`eval` for
generated-and-scored checkpoints, `log` for a training log), step, checkpoint, metric, id_score, ood_score, g_id,
g_ood, gf and `score/<set>` per evaluation set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from specs_verl.metrics import GFSpec, validation_scores

PERCENT = 100.0


def gf_row(run: str, origin: str, step: int, checkpoint: str, spec: GFSpec, scores: Mapping[str, float],
           baseline: Mapping[str, float]) -> dict[str, Any]:
    """One curve point; `scores` and `baseline` are fractions (set -> score), the row is in percent."""
    pct = {s: PERCENT * float(v) for s, v in scores.items()}
    base = {s: PERCENT * float(v) for s, v in baseline.items()}
    result = spec.evaluate(pct, base)
    return {"run": run, "origin": origin, "step": int(step), "checkpoint": str(checkpoint), "metric": spec.metric,
            **result.to_dict(), **{f"score/{s}": pct[s] for s in spec.sources}}


def read_val_log(path: str | Path, spec: GFSpec) -> list[tuple[int, dict[str, float]]]:
    """(step, set -> score) for every line of a verl `file` logger JSONL that holds validation metrics.

    verl's FileLogger writes one `{"step": N, "data": {metric: value}}` per `log` call; validation metrics are
    `val-core|val-aux/<data_source>/<var>/mean@N` (see `specs_verl.metrics.validation`). Lines without any of
    the sets (training-only steps) are skipped; a line that validates some sets but not others is an error.
    """
    path = Path(path)
    points, seen = [], set()
    with path.open() as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                step, data = int(record["step"]), record["data"]
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{lineno}: not a verl file-logger line ({e})") from e
            found = validation_scores(data)
            seen.update(found)
            present = [s for s in spec.sources if (s, spec.metric) in found]
            if not present:
                continue
            missing = [s for s in spec.sources if s not in present]
            if missing:
                raise ValueError(f"{path}:{lineno}: step {step} has validation metric '{spec.metric}' for "
                                 f"{present} but not for {missing}; the line's validation metrics are "
                                 f"(source/variable): {sorted(f'{s}/{v}' for s, v in found)}")
            points.append((step, {s: found[(s, spec.metric)] for s in spec.sources}))
    if not points:
        have = sorted(f"{s}/{v}" for s, v in seen)
        raise ValueError(f"{path}: no line holds validation metric '{spec.metric}' for {list(spec.sources)}; "
                         f"its validation metrics are (source/variable): {have}")
    return points


def log_curve(path: str | Path, spec: GFSpec, name: str,
              baseline: Mapping[str, float] | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """GF rows of a training log, and the step whose validation is the baseline (None if given explicitly).

    The baseline is the earliest validation (step 0 with `trainer.val_before_train=True`) unless given.
    """
    points = sorted(read_val_log(path, spec), key=lambda p: p[0])
    base_step = None
    if baseline is None:
        base_step, baseline = points[0]
    rows = [gf_row(name, "log", step, str(path), spec, scores, baseline) for step, scores in points]
    return rows, base_step
