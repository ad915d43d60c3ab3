"""`python -m specs_verl.pipeline gf-seeds GF_DIR`: one GF table, summary and figure from the seeds' evaluations.

Reads GF_DIR/seed<S>/gf.csv (one `python -m specs_verl.evaluate` run per seed) and writes, next to them,
gf.csv (every row with a `seed` column), gf_mean.csv (mean and std per run and step), gf.json (per run: the
final GF of each seed, mean and std; and the mean curves) and gf.png (mean curves with +-1 std bands).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from specs_verl.atomic import write_atomic
from specs_verl.evaluate.seeds import final_gf, mean_curves, plot_bands, read_gf_csv, with_seed

_SEED_DIR = re.compile(r"seed(\d+)$")


def seed_tables(gf_dir: Path) -> dict[int, list[dict]]:
    tables = {}
    for d in sorted(gf_dir.iterdir()):
        m = _SEED_DIR.match(d.name)
        if m and d.is_dir():
            if not (d / "gf.csv").is_file():
                raise FileNotFoundError(f"{d}: no gf.csv (its evaluation did not finish)")
            tables[int(m.group(1))] = read_gf_csv(d / "gf.csv")
    if not tables:
        raise FileNotFoundError(f"{gf_dir}: no seed<N>/gf.csv")
    return tables


def _csv(rows: list[dict], first: tuple[str, ...]) -> str:
    keys = list(first) + sorted({k for r in rows for k in r} - set(first))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def combine(gf_dir: Path) -> str:
    """Write the combined files; return a short text of what was written."""
    tables = seed_tables(gf_dir)
    rows, curves, finals = with_seed(tables), mean_curves(tables), final_gf(tables)
    write_atomic(gf_dir / "gf.csv", _csv(rows, ("seed", "run", "step")))
    write_atomic(gf_dir / "gf_mean.csv", _csv(curves, ("run", "step", "seeds")))
    payload = {"units": "percent", "metric": rows[0].get("metric"), "seeds": sorted(tables),
               "runs": finals, "curves": curves,
               "files": {str(s): str(gf_dir / f"seed{s}" / "gf.csv") for s in sorted(tables)}}
    write_atomic(gf_dir / "gf.json", json.dumps(payload, indent=2) + "\n")
    plot_bands(curves, gf_dir / "gf.png")
    points = len({c["step"] for c in curves})
    return (f"wrote {gf_dir / 'gf.csv'}, gf_mean.csv, gf.json, gf.png ({len(tables)} seeds, "
            f"{len(finals)} runs, {points} points per curve)")
