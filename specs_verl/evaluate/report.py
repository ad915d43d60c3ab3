"""Write the GF curves: gf.csv (one row per run and step), gf.json (rows plus every detail), gf.png (three panels).

The figure follows the paper's GF figure: ID score, OOD score and GF against the training step, one line per
run, so several cold starts (or a cold start and a GRPO run) can be compared at a glance.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from specs_verl.atomic import atomic_path, write_atomic

FIXED_COLUMNS = ("run", "origin", "step", "checkpoint", "metric", "id_score", "ood_score", "g_id", "g_ood", "gf")


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    extra = sorted({k for r in rows for k in r} - set(FIXED_COLUMNS))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=[*FIXED_COLUMNS, *extra], lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()})
    write_atomic(path, buf.getvalue())


def write_json(payload: dict[str, Any], path: Path) -> None:
    write_atomic(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def by_run(rows: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        runs.setdefault(r["run"], []).append(r)
    return {name: sorted(rs, key=lambda r: r["step"]) for name, rs in runs.items()}


def plot(rows: Sequence[dict[str, Any]], path: Path, beta: float, title: str | None = None) -> None:
    """Three panels (ID score, OOD score, GF) against the training step, one line per run."""
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed
    from matplotlib.ticker import MaxNLocator

    metrics = sorted({r["metric"] for r in rows})
    fig = Figure(figsize=(15, 4.5), dpi=100)
    axes = fig.subplots(1, 3)
    panels = (("id_score", f"ID score ({'/'.join(metrics)}, %)"),
              ("ood_score", f"OOD score ({'/'.join(metrics)}, %)"),
              ("gf", f"GF (beta={beta:g}, %)"))
    for name, run_rows in by_run(rows).items():
        steps = [r["step"] for r in run_rows]
        for ax, (key, _) in zip(axes, panels):
            ax.plot(steps, [r[key] for r in run_rows], marker="o", markersize=4, linewidth=1.6, label=name)
    for ax, (key, label) in zip(axes, panels):
        ax.set_title(label)
        ax.set_xlabel("training step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, color="0.9")
        low, high = ax.get_ylim()
        if high - low < 2:  # flat curves: show a few points of score around them, not a 1e-3 % zoom
            mid = (low + high) / 2
            ax.set_ylim(mid - 5, mid + 5)
        if key == "gf":
            ax.axhline(0.0, color="0.6", linewidth=0.8)
    axes[2].legend(loc="best", fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
