"""The `pair` report: a JSON document (`report.json`) and the table printed at the end of a run."""

from __future__ import annotations

import statistics
from typing import Any, Sequence

from .pair_builder import DROPS, NO_PAIR_REASONS, STAGES, Pair, PairStats


def _summary(values: Sequence[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"mean": round(statistics.fmean(values), 1), "median": statistics.median(values),
            "min": min(values), "max": max(values)}


def _with_total(per_source: dict[str, Any], keys: Sequence[str], sources: Sequence[str]) -> dict[str, dict[str, int]]:
    table = {src: {k: int(per_source.get(src, {}).get(k, 0)) for k in keys} for src in sources}
    table = {"all": {k: sum(t[k] for t in table.values()) for k in keys}, **table}
    return table


def build_report(stats: PairStats, pairs: Sequence[Pair], **sections: Any) -> dict[str, Any]:
    """All counts: filter stages and drops per data source, reasons for questions without a pair, the pollution
    rule histogram, pairs per question and length statistics. `sections` are added as they are."""
    sources = sorted(stats.stages)
    stages = _with_total(stats.stages, STAGES + DROPS, sources)
    no_pair = _with_total(stats.no_pair, NO_PAIR_REASONS, sources)
    lengths = {
        "chosen_chars": _summary([len(p.chosen) for p in pairs]),
        "rejected_chars": _summary([len(p.rejected) for p in pairs]),
        "chosen_tokens": _summary([p.chosen_sample.n_tokens for p in pairs if p.chosen_sample.n_tokens is not None]),
        "rejected_tokens": _summary([p.rejected_sample.n_tokens for p in pairs
                                     if p.rejected_sample.n_tokens is not None]),
    }
    return {
        "pairs": len(pairs),
        "stages": stages,
        "no_pair": no_pair,
        "pollution_rules": dict(sorted(stats.rules.items())),
        "pairs_per_question": {str(k): v for k, v in sorted(stats.pairs_per_question.items())},
        "lengths": lengths,
        **sections,
    }


def format_table(report: dict[str, Any]) -> str:
    """Stage counts per data source, then drops, no-pair reasons, rules and lengths."""
    sources = list(report["stages"])
    width = max(12, *(len(s) + 2 for s in sources))
    head = f"{'stage':34s}" + "".join(f"{s:>{width}s}" for s in sources)
    lines = [head, "-" * len(head)]

    def rows(table: dict[str, dict[str, int]], keys: Sequence[str], skip_zero: bool) -> None:
        for k in keys:
            values = [table[s].get(k, 0) for s in sources]
            if skip_zero and not any(values):
                continue
            lines.append(f"{k:34s}" + "".join(f"{v:>{width}d}" for v in values))

    rows(report["stages"], STAGES, skip_zero=False)
    lines.append("dropped:")
    rows(report["stages"], DROPS, skip_zero=True)
    lines.append("questions without a pair, by first reason:")
    rows(report["no_pair"], NO_PAIR_REASONS, skip_zero=True)
    rules = report["pollution_rules"]
    if rules:
        lines.append("pollution rules: " + ", ".join(f"{k} {v}" for k, v in rules.items()))
    lines.append("pairs per question: " + ", ".join(f"{k}: {v}" for k, v in report["pairs_per_question"].items()))
    for name, s in report["lengths"].items():
        if s:
            lines.append(f"{name:16s} mean {s['mean']:.1f}  median {s['median']}  min {s['min']}  max {s['max']}")
    return "\n".join(lines)
