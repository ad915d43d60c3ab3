"""Inspect the surface form of a file of responses from the shell.

    python -m specs_verl.surface_form rollouts.jsonl [--profile specs] [--column response] [--out results.jsonl]

Reads a .jsonl or .parquet file, scores every response with `check`, prints the pass rate of each criterion and
the frequency of each violation code, and writes one JSON line per response (row, sample, the three verdicts,
the codes). A cell may hold one response, a list of responses (verl's generation output: one row, n samples),
or chat messages (the last message's content is the response).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Iterator

from .criteria import check
from .profiles import PROFILES
from .violations import VIOLATIONS

CANDIDATE_COLUMNS = ("response", "responses", "solution_str", "completion", "output", "chosen", "text")


def read_column(path: Path, column: str | None) -> tuple[str, list[Any]]:
    """The cells of one column, choosing the first of CANDIDATE_COLUMNS present when `column` is None."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        names = pq.read_schema(path).names
        column = column or next((c for c in CANDIDATE_COLUMNS if c in names), None)
        if column not in names:
            raise SystemExit(f"{path}: no column {column!r} (columns: {names}); pass --column")
        return column, pq.read_table(path, columns=[column]).column(column).to_pylist()
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    keys = rows[0].keys() if rows and isinstance(rows[0], dict) else []
    column = column or next((c for c in CANDIDATE_COLUMNS if c in keys), None)
    if column is None:
        raise SystemExit(f"{path}: cannot tell which field holds the response (fields: {list(keys)}); pass --column")
    return column, [row.get(column) if isinstance(row, dict) else None for row in rows]


def responses(cell: Any) -> Iterator[str | None]:
    """The responses a cell holds (None for a cell that holds none)."""
    if isinstance(cell, str):
        yield cell
    elif isinstance(cell, dict):
        yield cell.get("content") if isinstance(cell.get("content"), str) else None
    elif isinstance(cell, (list, tuple)) and cell and all(isinstance(m, dict) for m in cell):
        yield from responses(cell[-1])  # chat messages: the last turn is the response
    elif isinstance(cell, (list, tuple)) and cell:
        for item in cell:
            yield from responses(item)
    else:
        yield None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m specs_verl.surface_form", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path, help="a .jsonl or .parquet file of responses")
    parser.add_argument("--profile", default="specs", choices=sorted(PROFILES),
                        help="format convention: specs (the paper's reward), geo3k (verl), r1v (EasyR1)")
    parser.add_argument("--column", default=None,
                        help=f"the column holding the responses (default: the first of {', '.join(CANDIDATE_COLUMNS)})")
    parser.add_argument("--think-prefilled", action="store_true",
                        help="the chat template puts <think> in the prompt: restore it before scoring")
    parser.add_argument("--min-think-chars", type=int, default=0, help="style: shortest think block (characters)")
    parser.add_argument("--max-think-chars", type=int, default=None, help="style: longest think block (characters)")
    parser.add_argument("--max-answer-chars", type=int, default=None, help="style: longest answer (characters)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the per-response results (default: FILE.surface_form.jsonl)")
    args = parser.parse_args(argv)

    column, cells = read_column(args.file, args.column)
    out = args.out or args.file.with_name(args.file.name + ".surface_form.jsonl")
    options = dict(think_prefilled=args.think_prefilled, min_think_chars=args.min_think_chars,
                   max_think_chars=args.max_think_chars, max_answer_chars=args.max_answer_chars)
    passed, codes, scored, skipped = Counter(), Counter(), 0, 0
    try:
        from tqdm import tqdm
    except ImportError:  # pragma: no cover
        def tqdm(x, **_):
            return x
    with out.open("w", encoding="utf-8") as f:
        for row, cell in enumerate(tqdm(cells, desc="scoring", unit="row", disable=len(cells) < 10_000)):
            for sample, text in enumerate(responses(cell)):
                if text is None:
                    skipped += 1
                    continue
                report = check(text, args.profile, **options)
                scored += 1
                passed.update(k for k in ("format_ok", "structure_ok", "style_ok") if getattr(report, k))
                codes.update(report.violations)
                f.write(json.dumps({"row": row, "sample": sample, "format_ok": report.format_ok,
                                    "structure_ok": report.structure_ok, "style_ok": report.style_ok,
                                    "violations": report.violations}) + "\n")

    print(f"{args.file} [{column}]  profile={args.profile}  responses={scored}")
    print(f"{'criterion':<32}{'pass':>8}{'rate':>9}")
    for key in ("format_ok", "structure_ok", "style_ok"):
        print(f"{key:<32}{passed[key]:>8}{passed[key] / max(scored, 1):>9.2%}")
    print(f"{'violation':<32}{'count':>8}{'rate':>9}")
    for code in VIOLATIONS:
        if codes[code]:
            print(f"{code:<32}{codes[code]:>8}{codes[code] / max(scored, 1):>9.2%}")
    print(f"wrote {scored} results to {out}; skipped {skipped} cells without a response")
    return 0


if __name__ == "__main__":
    sys.exit(main())
