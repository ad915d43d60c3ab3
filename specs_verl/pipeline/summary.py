"""The closing summary of a pipeline run, read from the artifacts the stages wrote (never from memory).

Cold starts are read from OUT/coldstart/<kind>/[seed<S>/], GF from OUT/gf: per seed from gf/seed<S>/gf.csv (what
each evaluation wrote), or from gf/gf.csv alone for a run without seeds. The paper's claims on the cold start
(SFT below DPO in GF, DPO + SFT at least DPO, the chosen reward falling without the SFT term) are checked on
the means and reported with the spread, whatever they show.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from specs_verl.checkpoint_layout import latest_hf_dir

_SEED = re.compile(r"seed(\d+)$")
CURVE_KEYS = ("train/rewards/chosen", "train/rewards/rejected", "train/rewards/accuracies", "train/loss")
# the paper's names: `dpo` here is its "DPO + SFT" (lambda 1), `dpo_nosft` its plain "DPO" (lambda 0)
PAPER_NAMES = {"dpo": "DPO + SFT", "dpo_nosft": "DPO", "sft": "SFT"}


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _mean_std(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    return mean, ((sum((v - mean) ** 2 for v in values) / (n - 1)) ** 0.5 if n > 1 else 0.0)


def _seed_dirs(run_dir: Path) -> dict[int, Path]:
    """{seed: dir} of a cold start with per-seed runs, else {None: run_dir}."""
    seeds = {int(m.group(1)): d for d in sorted(run_dir.iterdir()) if (m := _SEED.match(d.name)) and d.is_dir()} \
        if run_dir.is_dir() else {}
    return seeds or ({None: run_dir} if run_dir.is_dir() else {})


def _gf_rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def collect_gf(gf_dir: Path) -> dict | None:
    """Per run: the final GF, ID, OOD and extra-set scores of each seed (from that seed's gf.csv), mean, std."""
    seed_files = {int(m.group(1)): d / "gf.csv" for d in sorted(gf_dir.iterdir())
                  if (m := _SEED.match(d.name)) and (d / "gf.csv").is_file()} if gf_dir.is_dir() else {}
    if not seed_files and (gf_dir / "gf.csv").is_file():
        seed_files = {0: gf_dir / "gf.csv"}
    if not seed_files:
        return None
    runs: dict[str, dict] = {}
    metric, points, outside = None, {}, set()
    for seed, path in seed_files.items():
        rows = _gf_rows(path)
        meta = _json(path.with_name("gf.json")) or {}
        outside |= {s["name"] for s in meta.get("evaluation", {}).get("sets", []) if s.get("kind") == "extra"}
        for r in rows:
            metric = r["metric"]
            points.setdefault(r["run"], set()).add(int(r["step"]))
        last: dict[str, dict] = {}
        for r in rows:
            if r["run"] not in last or int(r["step"]) > int(last[r["run"]]["step"]):
                last[r["run"]] = r
        for run, r in last.items():
            entry = runs.setdefault(run, {"seeds": {}, "id_score": {}, "ood_score": {}, "extra": {}})
            entry["seeds"][str(seed)] = float(r["gf"])
            entry["id_score"][str(seed)] = float(r["id_score"])
            entry["ood_score"][str(seed)] = float(r["ood_score"])
            for k, v in r.items():
                if k.startswith("score/") and k.removeprefix("score/") in outside and v != "":
                    entry["extra"].setdefault(k.removeprefix("score/"), {})[str(seed)] = float(v)
            entry["step"] = int(r["step"])
    for run, entry in runs.items():
        for key in ("seeds", "id_score", "ood_score"):
            mean, std = _mean_std(list(entry[key].values()))
            entry["mean" if key == "seeds" else f"{key}_mean"] = round(mean, 4)
            if key == "seeds":
                entry["std"] = round(std, 4)
        entry["points"] = len(points[run])
    return {"file": str(gf_dir / "gf.csv"), "per_seed_files": {str(s): str(p) for s, p in seed_files.items()},
            "metric": metric, "outside_gf": sorted(outside), "runs": runs}


def collect_coldstarts(root: Path) -> dict:
    """Per DPO cold start: the final implicit rewards of each seed, from its dpo_summary.json."""
    out = {}
    for kind_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        seeds = {}
        for seed, d in _seed_dirs(kind_dir).items():
            s = _json(d / "dpo_summary.json")
            if s and s.get("history"):
                last = s["history"][-1]
                seeds["-" if seed is None else str(seed)] = {
                    "file": str(d / "dpo_summary.json"),
                    **{k: round(last[k], 4) for k in CURVE_KEYS if k in last}, "step": last["step"]}
        if seeds:
            out[kind_dir.name] = seeds
    return out


def paper_checks(gf: dict | None, coldstarts: dict) -> list[dict]:
    """The paper's cold-start claims, each with what this run shows (on means over seeds) and the numbers."""
    checks = []
    runs = (gf or {}).get("runs", {})

    def cmp(name, low, high, strict):
        if low in runs and high in runs:
            a, b = runs[low], runs[high]
            holds = a["mean"] < b["mean"] if strict else b["mean"] >= a["mean"]
            checks.append({"claim": name, "holds": holds,
                           "detail": f"{low} {a['mean']:.1f} +- {a['std']:.1f} vs {high} {b['mean']:.1f} "
                                     f"+- {b['std']:.1f} (GF, mean +- std over {len(a['seeds'])} seeds)"})

    cmp("SFT below DPO in GF", "sft", "dpo_nosft", strict=True)
    cmp("DPO + SFT at least DPO in GF", "dpo_nosft", "dpo", strict=False)
    key = "train/rewards/chosen"
    if "dpo_nosft" in coldstarts and "dpo" in coldstarts:
        nosft = [v[key] for v in coldstarts["dpo_nosft"].values() if key in v]
        with_sft = [v[key] for v in coldstarts["dpo"].values() if key in v]
        if nosft and with_sft:
            a, b = _mean_std(nosft), _mean_std(with_sft)
            checks.append({"claim": "the chosen reward falls below zero with lambda 0", "holds": a[0] < 0,
                           "detail": f"final chosen reward: lambda 0 {a[0]:+.3f} +- {a[1]:.3f}, "
                                     f"lambda 1 {b[0]:+.3f} +- {b[1]:.3f}"})
    return checks


def collect(out: Path) -> dict:
    """Every number of the summary, with the file it came from."""
    summary: dict = {"out_dir": str(out), "artifacts": {}}
    for name, run_dir in (("base (taught)", out / "teach"), ("zero (stage 1a)", out / "zero"),
                          ("GRPO (stage 3)", out / "rl")):
        hf = latest_hf_dir(run_dir) if run_dir.exists() else None
        if hf is not None:
            summary["artifacts"][name] = str(hf)
    for kind_dir in sorted((out / "coldstart").glob("*")):
        for seed, d in _seed_dirs(kind_dir).items():
            hf = latest_hf_dir(d)
            if hf is not None:
                summary["artifacts"][f"{kind_dir.name}" + ("" if seed is None else f" seed {seed}")] = str(hf)
    report = _json(out / "pairs" / "report.json")
    if report is not None:
        summary["pairs"] = {
            "file": str(out / "pairs" / "pairs.parquet"),
            "written": report["pairs"],
            "questions_without_pair": {k: v for k, v in report["no_pair"]["all"].items() if v},
            "pollution_rules": report["pollution_rules"],
        }
    dpo_dirs = _seed_dirs(out / "coldstart" / "dpo")
    first = dpo_dirs[min(dpo_dirs, key=lambda s: -1 if s is None else s)] if dpo_dirs else None
    dpo = _json(first / "dpo_summary.json") if first is not None else None
    if dpo is not None:
        summary["dpo"] = {
            "file": str(first / "dpo_summary.json"),
            "curve": [{k: round(h[k], 4) for k in CURVE_KEYS if k in h} | {"step": h["step"]}
                      for h in dpo["history"]],
        }
        bad = _json(first / "bad_pairs.json")
        if bad is not None:
            summary["dpo"]["skipped_pairs"] = bad["train"]["skipped"]
    summary["coldstarts"] = collect_coldstarts(out / "coldstart")
    gf = collect_gf(out / "gf")
    if gf is not None:
        summary["gf"] = gf
    summary["paper_checks"] = paper_checks(gf, summary["coldstarts"])
    rl_log = out / "rl" / "grpo.log"
    if rl_log.is_file():
        summary["grpo_log"] = str(rl_log)
    return summary


def _per_seed(values: dict[str, float]) -> str:
    return " ".join(f"{v:.1f}" for _, v in sorted(values.items(), key=lambda kv: int(kv[0])))


def render(summary: dict) -> str:
    lines = [f"SPECS pipeline summary ({summary['out_dir']})", ""]
    if "pairs" in summary:
        p = summary["pairs"]
        lines.append(f"pairs built: {p['written']} -> {p['file']}")
        lines.append(f"  questions without a pair: {p['questions_without_pair'] or 'none'}")
        lines.append(f"  pollution rules used: {p['pollution_rules']}")
    if "dpo" in summary:
        d = summary["dpo"]
        lines.append(f"DPO cold start, first seed ({d['file']}); skipped pairs: {d.get('skipped_pairs') or 'none'}")
        lines.append("  step  rewards/chosen  rewards/rejected  accuracy  loss")
        for h in d["curve"]:
            lines.append(f"  {h['step']:>4}  {h.get('train/rewards/chosen', float('nan')):>14.3f}  "
                         f"{h.get('train/rewards/rejected', float('nan')):>16.3f}  "
                         f"{h.get('train/rewards/accuracies', float('nan')):>8.2f}  {h.get('train/loss', float('nan')):.3f}")
    for kind, seeds in summary.get("coldstarts", {}).items():
        chosen = [v["train/rewards/chosen"] for v in seeds.values() if "train/rewards/chosen" in v]
        rejected = [v["train/rewards/rejected"] for v in seeds.values() if "train/rewards/rejected" in v]
        if chosen and rejected:
            lines.append(f"  final rewards, {kind:<9} ({len(chosen)} seeds): chosen {_mean_std(chosen)[0]:+.3f} "
                         f"+- {_mean_std(chosen)[1]:.3f}, rejected {_mean_std(rejected)[0]:+.3f} "
                         f"+- {_mean_std(rejected)[1]:.3f}")
    if "gf" in summary:
        g = summary["gf"]
        hard = g.get("outside_gf", [])
        lines.append(f"GF at the last cold-start step (metric {g['metric']}, percent; mean +- std over seeds; "
                     f"{g['file']}):")
        lines.append(f"  {'run':<10} {'ID':>6} {'OOD':>6} {'GF':>14}  GF per seed"
                     + "".join(f"   {k} (outside GF)" for k in hard))
        for run, v in g["runs"].items():
            line = (f"  {run:<10} {v['id_score_mean']:6.1f} {v['ood_score_mean']:6.1f} "
                    f"{v['mean']:6.1f} +- {v['std']:4.1f}  {_per_seed(v['seeds'])}")
            for k in hard:
                vals = list(v["extra"].get(k, {}).values())
                line += f"   {_mean_std(vals)[0]:6.1f}" if vals else "   -"
            lines.append(line)
    if summary.get("paper_checks"):
        lines.append("the paper's cold-start claims on this toy:")
        for c in summary["paper_checks"]:
            lines.append(f"  {c['claim']}: {'yes' if c['holds'] else 'no'} ({c['detail']})")
    lines.append("artifacts:")
    for name, path in summary["artifacts"].items():
        lines.append(f"  {name:>16}: {path}")
    if "grpo_log" in summary:
        lines.append(f"  {'GRPO log':>16}: {summary['grpo_log']}")
    return "\n".join(lines)
