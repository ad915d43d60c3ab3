"""GF curves over several seeds: the rows of each seed's gf.csv in one table, their mean and spread, one figure.

A seed's rows are what `python -m specs_verl.evaluate` wrote for that seed (its own base evaluation, so its own
baseline). The mean curve averages each (run, step) over the seeds that have it; the final GF of a seed is the
GF at its run's last step; `std` is the sample standard deviation (n - 1; 0 for a single seed).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

NUMERIC = ("id_score", "ood_score", "g_id", "g_ood", "gf")


def read_gf_csv(path: str | Path) -> list[dict[str, Any]]:
    """gf.csv rows with numbers as numbers (step as int, scores as float)."""
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            r: dict[str, Any] = dict(row)
            r["step"] = int(r["step"])
            for k, v in row.items():
                if k in NUMERIC or k.startswith("score/"):
                    r[k] = float(v) if v not in ("", None) else math.nan
            out.append(r)
    return out


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, std


def with_seed(rows_by_seed: Mapping[int, Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every row of every seed, with a `seed` column, in seed then file order."""
    return [{"seed": seed, **r} for seed in sorted(rows_by_seed) for r in rows_by_seed[seed]]


def mean_curves(rows_by_seed: Mapping[int, Sequence[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per (run, step): `<key>` the mean and `<key>_std` the spread over seeds of every score, and
    `seeds` how many seeds have that point."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for rows in rows_by_seed.values():
        for r in rows:
            groups.setdefault((r["run"], r["step"]), []).append(r)
    out = []
    for (run, step), rs in sorted(groups.items()):
        row: dict[str, Any] = {"run": run, "step": step, "metric": rs[0].get("metric"), "seeds": len(rs)}
        keys = [k for k in rs[0] if k in NUMERIC or k.startswith("score/")]
        for k in keys:
            row[k], row[f"{k}_std"] = mean_std([float(r[k]) for r in rs])
        out.append(row)
    return out


def final_gf(rows_by_seed: Mapping[int, Sequence[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per run: the final GF (and ID/OOD score) of each seed, their mean and std."""
    finals: dict[str, dict[int, dict[str, Any]]] = {}
    for seed, rows in rows_by_seed.items():
        for r in rows:
            best = finals.setdefault(r["run"], {}).get(seed)
            if best is None or r["step"] > best["step"]:
                finals[r["run"]][seed] = r
    out = {}
    for run, per_seed in finals.items():
        seeds = sorted(per_seed)
        gfs = [float(per_seed[s]["gf"]) for s in seeds]
        mean, std = mean_std(gfs)
        out[run] = {"seeds": {str(s): round(g, 4) for s, g in zip(seeds, gfs)}, "mean": round(mean, 4),
                    "std": round(std, 4), "step": max(per_seed[s]["step"] for s in seeds),
                    "id_score": {str(s): round(float(per_seed[s]["id_score"]), 4) for s in seeds},
                    "ood_score": {str(s): round(float(per_seed[s]["ood_score"]), 4) for s in seeds},
                    **{k: {str(s): round(float(per_seed[s][k]), 4) for s in seeds}
                       for k in per_seed[seeds[0]] if k.startswith("score/")}}
    return out


def plot_bands(curves: Sequence[dict[str, Any]], path: Path, beta: float = 2.0, title: str | None = None) -> None:
    """Three panels (ID score, OOD score, GF) against the step: the mean over seeds with a ±1 std band."""
    from matplotlib.figure import Figure

    from specs_verl.atomic import atomic_path
    from matplotlib.ticker import MaxNLocator

    metric = "/".join(sorted({str(c["metric"]) for c in curves}))
    fig = Figure(figsize=(15, 4.5), dpi=100)
    axes = fig.subplots(1, 3)
    panels = (("id_score", f"ID score ({metric}, %)"), ("ood_score", f"OOD score ({metric}, %)"),
              ("gf", f"GF (beta={beta:g}, %)"))
    runs: dict[str, list[dict[str, Any]]] = {}
    for c in curves:
        runs.setdefault(c["run"], []).append(c)
    for name, rs in runs.items():
        rs = sorted(rs, key=lambda c: c["step"])
        steps = [c["step"] for c in rs]
        seeds = max(c["seeds"] for c in rs)
        for ax, (key, _) in zip(axes, panels):
            mean = [c[key] for c in rs]
            std = [c[f"{key}_std"] for c in rs]
            (line,) = ax.plot(steps, mean, marker="o", markersize=4, linewidth=1.6, label=f"{name} ({seeds} seeds)")
            ax.fill_between(steps, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                            color=line.get_color(), alpha=0.18, linewidth=0)
    for ax, (key, label) in zip(axes, panels):
        ax.set_title(label)
        ax.set_xlabel("cold-start step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, color="0.9")
        if key == "gf":
            ax.axhline(0.0, color="0.6", linewidth=0.8)
    axes[2].legend(loc="best", fontsize="small")
    fig.suptitle(title or "mean over seeds, band = ±1 std")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
