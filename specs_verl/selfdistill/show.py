"""`show`: print preference pairs side by side (chosen | rejected) for a human check."""

from __future__ import annotations

import shutil
import textwrap
from itertools import zip_longest
from typing import Any


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for para in text.splitlines() or [""]:
        lines.extend(textwrap.wrap(para, width, replace_whitespace=False, drop_whitespace=False) or [""])
    return lines


def format_pair(row: dict[str, Any], width: int) -> str:
    extra = row.get("extra_info") or {}
    col = max(20, (width - 3) // 2)
    question = " | ".join(m["content"] for m in row["prompt"] if m.get("role") == "user")
    head = [
        "=" * width,
        f"pair {row.get('pair_id')}  data_source {row.get('data_source')}  images {len(row.get('images') or [])}  "
        f"ground truth {extra.get('ground_truth')!r}",
        f"rule {extra.get('pollution_rule')}  judge {extra.get('judge')}  "
        f"chosen from {extra.get('chosen_model')}  rejected from {extra.get('rejected_model')}",
        *_wrap("question: " + question, width),
        "-" * width,
        f"{'CHOSEN':{col}s} | REJECTED",
        "-" * width,
    ]
    body = [f"{a:{col}s} | {b}" for a, b in zip_longest(_wrap(row["chosen"], col), _wrap(row["rejected"], col),
                                                          fillvalue="")]
    return "\n".join(head + body)


def show_pairs(path: str, n: int = 5, start: int = 0, width: int | None = None) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    rows = table.slice(start, n).to_pylist()
    width = width or shutil.get_terminal_size((160, 40)).columns
    parts = [format_pair(r, width) for r in rows]
    parts.append(f"({len(rows)} of {table.num_rows} pairs in {path}, from #{start})")
    return "\n".join(parts)
