"""Hub-shaped copies of the benchmarks' official annotation files, with placeholder images, and the converters run
on them: the counts the README quotes.

The benchmarks publish their annotations on GitHub (the hub copies add the images):
  MATH-V     mathllm/MATH-V            data/test.jsonl, data/testmini.jsonl
  MathVista  lupantech/MathVista       data/testmini.json
  MathVerse  ZrrSkywalker/MathVerse    data/testmini_text_only.json (the 788 problems' full text; the per-version
                                       testmini.json is not in the git tree)
  MMMU       MMMU-Benchmark/MMMU       mmmu/example_outputs/llava1.5_13b/<Subject>/output.json (ids, question
                                       types, options, answers of the 900 validation records; no question text)

    python -m tests.data_prep.real_annotations --math-v DIR --mathvista DIR --mathverse DIR --mmmu DIR --out OUT

Each DIR is a checkout (or a folder holding the same relative paths). Nothing here is a test: the files are far
too big for the repo. `hub_copy_*` functions are also what the grading check (`option_text_check.py`) reads.
"""

from __future__ import annotations

import argparse
import io
import json
import re
from pathlib import Path

from datasets import Dataset, Features, Image, List, Value
from PIL import Image as PILImage

from specs_verl.data_prep import prepare
from specs_verl.data_prep.mathverse import LETTER_LEAD
from tests.data_prep.fixtures import MATHVERSE_README


def placeholder_png() -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (32, 24), (200, 200, 200)).save(buf, format="PNG")
    return buf.getvalue()


def _save(columns: dict, features: Features, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(columns, features=features).to_parquet(str(path))


def hub_copy_mathvision(jsonl: Path, out: Path, split: str) -> Path:
    """MathLLMs/MathVision's `data/<split>-*.parquet`: the jsonl's fields plus `decoded_image`."""
    rows = [json.loads(line) for line in jsonl.read_text().splitlines() if line.strip()]
    png = {"bytes": placeholder_png(), "path": None}
    keys = ["id", "question", "options", "image", "answer", "solution", "level", "subject"]
    cols = {k: [r.get(k) for r in rows] for k in keys}
    cols["solution"] = [s or "" for s in cols["solution"]]
    cols["decoded_image"] = [png] * len(rows)
    _save(cols, Features({"id": Value("string"), "question": Value("string"), "options": List(Value("string")),
                          "image": Value("string"), "answer": Value("string"), "solution": Value("string"),
                          "level": Value("int64"), "subject": Value("string"), "decoded_image": Image()}),
          out / "data" / f"{split}-00000-of-00001.parquet")
    return out


def hub_copy_mathvista(testmini: Path, out: Path) -> Path:
    """AI4Math/MathVista's `data/testmini-*.parquet` from the official testmini.json."""
    rows = list(json.loads(testmini.read_text()).values())
    png = {"bytes": placeholder_png(), "path": None}
    keys = ["pid", "question", "image", "choices", "unit", "precision", "answer", "question_type", "answer_type"]
    cols = {k: [r.get(k) for r in rows] for k in keys}
    cols["precision"] = [float(p) if p is not None else None for p in cols["precision"]]
    cols["decoded_image"] = [png] * len(rows)
    cols["metadata"] = [{"category": r["metadata"].get("category"), "source": r["metadata"].get("source")}
                        for r in rows]
    _save(cols, Features({
        "pid": Value("string"), "question": Value("string"), "image": Value("string"),
        "choices": List(Value("string")), "unit": Value("string"), "precision": Value("float64"),
        "answer": Value("string"), "question_type": Value("string"), "answer_type": Value("string"),
        "decoded_image": Image(), "metadata": {"category": Value("string"), "source": Value("string")}}),
        out / "data" / "testmini-00000-of-00001.parquet")
    return out




def hub_copy_mathverse(text_only: Path, out: Path) -> Path:
    """AI4Math/MathVerse's `testmini` config, Vision Only rows: the question lives in the image (here a
    placeholder), `question` is empty, `question_for_eval` and `query_wo` as the hub has them."""
    rows = json.loads(text_only.read_text())
    png = {"bytes": placeholder_png(), "path": None}
    ff = "According to the question shown in the image, please directly answer the question and provide the " \
         "final value, e.g., 1, 2.5, 300."
    cols = {"sample_index": [str(3940 - len(rows) + i + 1) for i in range(len(rows))],
            "problem_index": [r["problem_index"] for r in rows], "problem_version": ["Vision Only"] * len(rows),
            "question": [""] * len(rows), "image": [png] * len(rows), "answer": [r["answer"] for r in rows],
            "question_type": [r["question_type"] for r in rows], "metadata": [r["metadata"] for r in rows],
            "query_wo": [LETTER_LEAD[True] if r["question_type"] == "multi-choice" else ff for r in rows],
            "question_for_eval": [r["question"] for r in rows]}
    _save(cols, Features({
        "sample_index": Value("string"), "problem_index": Value("string"), "problem_version": Value("string"),
        "question": Value("string"), "image": Image(), "answer": Value("string"), "question_type": Value("string"),
        "metadata": {"split": Value("string"), "source": Value("string"), "subject": Value("string"),
                     "subfield": Value("string")},
        "query_wo": Value("string"), "question_for_eval": Value("string")}), out / "testmini.parquet")
    (out / "README.md").write_text(MATHVERSE_README)
    return out


def hub_copy_mmmu(outputs: Path, out: Path) -> Path:
    """MMMU/MMMU's `<Subject>/validation-*.parquet`: ids, types, options (as the hub's stringified list) and
    answers from the official example outputs; the question text is a placeholder naming <image 1>."""
    png = {"bytes": placeholder_png(), "path": None}
    for subject_dir in sorted(p for p in outputs.iterdir() if p.is_dir()):
        records = json.loads((subject_dir / "output.json").read_text())
        cols = {"id": [], "question": [], "options": [], "answer": [], "question_type": [],
                **{f"image_{k}": [] for k in range(1, 8)}}
        for r in records:
            mc = r["question_type"] == "multiple-choice"
            options = str([r["index2ans"][k] for k in r["all_choices"]]) if mc else "[]"
            named = [int(k) for k in re.findall(r"<image (\d+)>", options)]
            cols["id"].append(r["id"])
            cols["question"].append(f"<image 1> Question {r['id']}.")
            cols["options"].append(options)
            for k in range(1, 8):
                cols[f"image_{k}"].append(png if k <= max(named, default=1) else None)
            cols["answer"].append(r["answer"] if isinstance(r["answer"], str) else str(r["answer"]))
            cols["question_type"].append("multiple-choice" if mc else "open")
        _save(cols, Features({"id": Value("string"), "question": Value("string"), "options": Value("string"),
                              "answer": Value("string"), "question_type": Value("string"),
                              **{f"image_{k}": Image() for k in range(1, 8)}}),
              out / subject_dir.name / "validation-00000-of-00001.parquet")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--math-v", type=Path)
    ap.add_argument("--mathvista", type=Path)
    ap.add_argument("--mathverse", type=Path)
    ap.add_argument("--mmmu", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    runs = []
    if args.math_v:
        for split in ("test", "testmini"):
            src = hub_copy_mathvision(args.math_v / "data" / f"{split}.jsonl", args.out / f"src_mathvision_{split}",
                                      split)
            runs.append(("mathvision", src, {"split": split}))
    if args.mathvista:
        runs.append(("mathvista", hub_copy_mathvista(args.mathvista / "data" / "testmini.json",
                                                     args.out / "src_mathvista"), {}))
    if args.mathverse:
        runs.append(("mathverse", hub_copy_mathverse(args.mathverse / "data" / "testmini_text_only.json",
                                                     args.out / "src_mathverse"), {}))
    if args.mmmu:
        runs.append(("mmmu", hub_copy_mmmu(args.mmmu / "mmmu" / "example_outputs" / "llava1.5_13b",
                                           args.out / "src_mmmu"), {}))
    for name, src, kw in runs:
        result = prepare(name, args.out / "rows", source=str(src), progress=False, **kw)
        print(result.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
