"""The closing summary of a pipeline run, read from the artifacts the stages wrote (never from memory)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from .checkpoints import latest_hf_dir


def _json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def collect(out: Path) -> dict:
    """Every number of the summary, with the file it came from."""
    summary: dict = {"out_dir": str(out), "artifacts": {}}
    for name, run_dir in (("base (taught)", out / "teach"), ("zero (stage 1a)", out / "zero"),
                          ("cold start dpo", out / "coldstart" / "dpo"), ("cold start sft", out / "coldstart" / "sft"),
                          ("GRPO (stage 3)", out / "rl")):
        hf = latest_hf_dir(run_dir) if run_dir.exists() else None
        if hf is not None:
            summary["artifacts"][name] = str(hf)
    report = _json(out / "pairs" / "report.json")
    if report is not None:
        summary["pairs"] = {
            "file": str(out / "pairs" / "pairs.parquet"),
            "written": report["pairs"],
            "questions_without_pair": {k: v for k, v in report["no_pair"]["all"].items() if v},
            "pollution_rules": report["pollution_rules"],
        }
    dpo = _json(out / "coldstart" / "dpo" / "dpo_summary.json")
    if dpo is not None:
        summary["dpo"] = {
            "file": str(out / "coldstart" / "dpo" / "dpo_summary.json"),
            "curve": [{k: round(h[k], 4) for k in ("train/rewards/chosen", "train/rewards/rejected",
                                                    "train/rewards/accuracies", "train/loss") if k in h}
                      | {"step": h["step"]} for h in dpo["history"]],
        }
        bad = _json(out / "coldstart" / "dpo" / "bad_pairs.json")
        if bad is not None:
            summary["dpo"]["skipped_pairs"] = bad["train"]["skipped"]
    gf_csv = out / "gf" / "gf.csv"
    if gf_csv.is_file():
        with open(gf_csv) as f:
            rows = [r for r in csv.DictReader(f) if r["step"] != "0"]
        summary["gf"] = {"file": str(gf_csv), "metric": rows[0]["metric"] if rows else None,
                         "runs": {r["run"]: {k: float(r[k]) for k in ("id_score", "ood_score", "gf")} for r in rows}}
    rl_log = out / "rl" / "grpo.log"
    if rl_log.is_file():
        summary["grpo_log"] = str(rl_log)
    return summary


def render(summary: dict) -> str:
    lines = [f"SPECS pipeline summary ({summary['out_dir']})", ""]
    if "pairs" in summary:
        p = summary["pairs"]
        lines.append(f"pairs built: {p['written']} -> {p['file']}")
        lines.append(f"  questions without a pair: {p['questions_without_pair'] or 'none'}")
        lines.append(f"  pollution rules used: {p['pollution_rules']}")
    if "dpo" in summary:
        d = summary["dpo"]
        lines.append(f"DPO cold start ({d['file']}); skipped pairs: {d.get('skipped_pairs') or 'none'}")
        lines.append("  step  rewards/chosen  rewards/rejected  accuracy  loss")
        for h in d["curve"]:
            lines.append(f"  {h['step']:>4}  {h.get('train/rewards/chosen', float('nan')):>14.3f}  "
                         f"{h.get('train/rewards/rejected', float('nan')):>16.3f}  "
                         f"{h.get('train/rewards/accuracies', float('nan')):>8.2f}  {h.get('train/loss', float('nan')):.3f}")
    if "gf" in summary:
        g = summary["gf"]
        lines.append(f"GF of each cold start (metric {g['metric']}, percent; {g['file']}):")
        for run, v in g["runs"].items():
            lines.append(f"  {run:>6}: ID {v['id_score']:6.1f}  OOD {v['ood_score']:6.1f}  GF {v['gf']:6.1f}")
    lines.append("artifacts:")
    for name, path in summary["artifacts"].items():
        lines.append(f"  {name:>16}: {path}")
    if "grpo_log" in summary:
        lines.append(f"  {'GRPO log':>16}: {summary['grpo_log']}")
    return "\n".join(lines)
