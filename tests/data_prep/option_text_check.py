"""How the `specs` reward scores option TEXTS on prepared multiple-choice rows: the correct option's text should
score right, another option's text never (the issue's bar: >= 95 % and <= 1 %).

For every row with `extra_info.options` (texts, not bare letters), a well-formed response boxing the correct
option's text, and one per other option boxing that option's text, go through `specs_verl.reward.compute_score`
with the row's own ground truth and extra_info, read from the parquet as verl reads it.

    python -m tests.data_prep.option_text_check FILE.parquet [...]
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

RESPONSE = "<think>Reading the figure and the options carefully, one option fits.</think> " \
           "<answer> The answer is $\\boxed{{{answer}}}$ </answer>"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _rows(path: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(path, columns=["data_source", "reward_model", "extra_info"]).to_pylist()


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def option_text_rates(paths: list[Path]) -> dict[str, dict[str, float]]:
    """Per data_source: rows measured, correct text scored right (fraction), other texts scored right."""
    from specs_verl.reward import compute_score

    counts: dict[str, Counter] = {}
    for path in paths:
        for row in _rows(Path(path)):
            extra = row["extra_info"]
            options, truth = extra["options"], row["reward_model"]["ground_truth"]
            if extra["answer_type"] != "choice" or not options or all(o in LETTERS for o in options):
                continue  # not multiple choice, or options that are only letters (drawn in the picture)
            c = counts.setdefault(row["data_source"], Counter())
            right = options[LETTERS.index(truth)]
            score = compute_score(row["data_source"], RESPONSE.format(answer=right), truth, extra)
            c["rows"] += 1
            c["right_text_ok"] += score["acc"] == 1.0
            for other in options:
                if _same(other, right):
                    continue
                c["other_texts"] += 1
                c["other_text_ok"] += compute_score(row["data_source"], RESPONSE.format(answer=other), truth,
                                                    extra)["acc"] == 1.0
    return {src: {"rows": c["rows"], "right_text": c["right_text_ok"] / max(c["rows"], 1),
                  "other_texts": c["other_texts"], "other_text": c["other_text_ok"] / max(c["other_texts"], 1)}
            for src, c in counts.items()}


def main(argv: list[str]) -> int:
    for src, r in option_text_rates([Path(p) for p in argv]).items():
        print(f"{src:12s} rows {r['rows']:5d}  correct option's text right {100 * r['right_text']:5.1f} %  "
              f"other options' texts right {100 * r['other_text']:4.1f} % (of {r['other_texts']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
