"""Small local copies of each dataset, laid out like the real hub repos, built at test time (no binaries in git).

Each `make_<name>(root)` writes the files under `root` and returns the `--source` to pass. Images are tiny PIL
images of varied sizes; a few records are broken on purpose (the `SKIPS_<NAME>` counters say how many of each
reason `prepare` must report).
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

from datasets import Dataset, Features, Image, List, Value
from PIL import Image as PILImage

COLOURS = [(200, 30, 30), (30, 160, 30), (30, 60, 200), (220, 200, 20), (120, 40, 160)]


def pil(k: int, fmt: str = "PNG", size: tuple[int, int] | None = None):
    """A decoded-from-bytes PIL image (so `.format` is set, as `datasets` hands them out)."""
    img = PILImage.new("RGB", size or (40 + 12 * k, 30 + 7 * k), COLOURS[k % len(COLOURS)])
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return PILImage.open(io.BytesIO(buf.getvalue()))


def png_bytes(k: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (36, 28 + k), COLOURS[k % len(COLOURS)]).save(buf, format="PNG")
    return buf.getvalue()


def _save(columns: dict, features: Features, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(columns, features=features).to_parquet(str(path))


# ----------------------------------------------------------------------------------------------- ViRL39K

SKIPS_VIRL = Counter({"missing_image": 1, "missing_answer": 1, "duplicate_qid": 1, "bad_image": 1,
                      "missing_question": 1})


def make_virl39k(root: Path) -> Path:
    """The embedded-image parquet layout (problem, answer, images, category, qid, id)."""
    rows = [
        ("<image>What is x in the figure?", "\\boxed{3}", [pil(0)], "q0"),
        ("<image>Which shape is red?\nA. circle\nB. square", "B", [pil(1, "JPEG")], "q1"),
        ("<image>Compare the two charts. What is the difference?", "12", [pil(2), pil(3)], "q2"),  # 1 tag, 2 images
        ("<image>A question whose image went missing.", "5", [], "q3"),
        ("<image>A question without an answer.", "", [pil(4)], "q4"),
        ("<image>The same qid again.", "7", [pil(0)], "q0"),
        ("<image>A corrupt image.", "9", [{"bytes": b"not an image", "path": None}], "q6"),
        ("How many bars are taller than 10?", "\\boxed{\\frac{1}{2}}", [pil(2)], "q7"),  # no tag at all
        ("<image>", "5", [pil(1)], "q8"),  # nothing to ask
    ]
    _save({"answer": [r[1] for r in rows], "category": ["(GradeSchool) Math"] * len(rows),
           "qid": [r[3] for r in rows], "images": [r[2] for r in rows], "problem": [r[0] for r in rows],
           "id": list(range(len(rows)))},
          Features({"answer": Value("string"), "category": Value("string"), "qid": Value("string"),
                    "images": List(Image()), "problem": Value("string"), "id": Value("int64")}),
          root / "data" / "train-00000-of-00001.parquet")
    return root


def make_virl39k_release(root: Path) -> Path:
    """TIGER-Lab's original release: 39Krelease.parquet with image paths relative to the repo root."""
    (root / "images").mkdir(parents=True)
    (root / "images" / "a.png").write_bytes(png_bytes(0))
    (root / "images" / "b.png").write_bytes(png_bytes(1))
    _save({"question": ["<image>How many?", "<image>Which is larger?\nA. left\nB. right", "<image>Lost picture"],
           "answer": ["4", "A", "1"], "image": [["images/a.png"], ["images/b.png"], ["images/missing.png"]],
           "category": ["Spatial Reasoning"] * 3, "qid": ["r0", "r1", "r2"]},
          Features({"question": Value("string"), "answer": Value("string"), "image": List(Value("string")),
                    "category": Value("string"), "qid": Value("string")}),
          root / "39Krelease.parquet")
    return root / "39Krelease.parquet"


# ----------------------------------------------------------------------------------------------- geometry3k

def make_geometry3k(root: Path) -> Path:
    """hiyouga/geometry3k: images, problem ('<image>...'), answer (value), id, choices, ground_truth (letter)."""
    rows = [
        ("<image>Find x.", "3", ["1", "3", "5", "7"], "B"),
        ("<image>Find the area of the triangle.", "2 \\sqrt { 221 }", ["12", "2 \\sqrt { 221 }", "30", "60"], "B"),
        ("<image>Find y.", "8", ["1", "2", "4", "5"], ""),  # value not among the choices, no letter
    ]
    _save({"images": [[pil(k)] for k in range(len(rows))], "problem": [r[0] for r in rows],
           "answer": [r[1] for r in rows], "id": [10 + k for k in range(len(rows))],
           "choices": [r[2] for r in rows], "ground_truth": [r[3] for r in rows]},
          Features({"images": List(Image()), "problem": Value("string"), "answer": Value("string"),
                    "id": Value("int64"), "choices": List(Value("string")), "ground_truth": Value("string")}),
          root / "data" / "train-00000-of-00001.parquet")
    return root


# ----------------------------------------------------------------------------------------------- MathVista

SKIPS_MATHVISTA = Counter({"answer_not_in_options": 1, "ambiguous_answer": 1, "missing_answer": 1,
                           "missing_image": 1})


def make_mathvista(root: Path) -> Path:
    """AI4Math/MathVista testmini: decoded_image, choices, answer as choice text, question_type, precision."""
    (root / "images").mkdir(parents=True)
    (root / "images" / "3.png").write_bytes(png_bytes(3))
    meta = {"category": "math-targeted-vqa", "context": "function plot", "grade": "college", "img_height": 30,
            "img_width": 40, "language": "english", "skills": ["algebraic reasoning"], "source": "FunctionQA",
            "split": "testmini", "task": "textbook question answering"}
    rows = [  # pid, question, image path, decoded, choices, unit, precision, answer, qtype, atype
        ("1", "The derivative of f(x) at x=2 is ____ that at x=5", "images/1.jpg", pil(0, "JPEG"),
         ["larger than", "equal to", "smaller than"], "", None, "equal to", "multi_choice", "text"),
        ("2", "What is the length of the side AB?", "images/2.png", pil(1), None, "cm", 2.0, "1.45",
         "free_form", "float"),
        ("3", "How many objects are left?", "images/3.png", None, None, "", None, "7", "free_form", "integer"),
        ("4", "Which colour is the bar?", "images/4.png", pil(2), ["red", "blue"], "", None, "purple",
         "multi_choice", "text"),
        ("5", "Which is it?", "images/5.png", pil(3), ["same", "same", "other"], "", None, "same",
         "multi_choice", "text"),
        ("6", "Hidden answer (like the test split).", "images/6.png", pil(4), None, "", None, "", "free_form",
         "integer"),
        ("7", "No picture at all.", "", None, None, "", None, "2", "free_form", "integer"),
    ]
    keys = ["pid", "question", "image", "decoded_image", "choices", "unit", "precision", "answer", "question_type",
            "answer_type"]
    cols = {k: [r[i] for r in rows] for i, k in enumerate(keys)}
    cols["metadata"] = [meta] * len(rows)
    cols["query"] = [f"Hint: ...\nQuestion: {r[1]}" for r in rows]
    _save(cols, Features({
        "pid": Value("string"), "question": Value("string"), "image": Value("string"), "decoded_image": Image(),
        "choices": List(Value("string")), "unit": Value("string"), "precision": Value("float64"),
        "answer": Value("string"), "question_type": Value("string"), "answer_type": Value("string"),
        "metadata": {"category": Value("string"), "context": Value("string"), "grade": Value("string"),
                     "img_height": Value("int64"), "img_width": Value("int64"), "language": Value("string"),
                     "skills": List(Value("string")), "source": Value("string"), "split": Value("string"),
                     "task": Value("string")},
        "query": Value("string")}), root / "data" / "testmini-00000-of-00001.parquet")
    return root


# ----------------------------------------------------------------------------------------------- MathVerse

MATHVERSE_README = """---
configs:
- config_name: testmini
  data_files:
  - split: testmini
    path: testmini.parquet
---
# MathVerse (test fixture)
"""


def make_mathverse(root: Path) -> Path:
    """AI4Math/MathVerse: testmini.parquet + a README whose YAML declares the `testmini` config and split."""
    rows = [  # sample_index, version, question, image, answer, qtype, question_for_eval
        ("1", "Vision Only", "", pil(0), "B", "multi-choice", "As shown, find angle A.\nChoices:\nA:20°\nB:25°"),
        ("2", "Vision Only", "", pil(1), "5", "free-form", "Find the length of AB."),
        ("3", "Text Dominant", "As shown, find angle A.\nChoices:\nA:20°\nB:25°", pil(0), "B", "multi-choice",
         "As shown, find angle A.\nChoices:\nA:20°\nB:25°"),
        ("4", "Vision Only", "", pil(2), "5 cm", "multi-choice", "Which value?\nChoices:\nA:5 cm\nB:5 m"),
        ("5", "Vision Only", "", None, "A", "multi-choice", "Lost image.\nChoices:\nA:1\nB:2"),
    ]
    (root).mkdir(parents=True, exist_ok=True)
    _save({"sample_index": [r[0] for r in rows], "problem_index": [r[0] for r in rows],
           "problem_version": [r[1] for r in rows], "question": [r[2] for r in rows], "image": [r[3] for r in rows],
           "answer": [r[4] for r in rows], "question_type": [r[5] for r in rows],
           "metadata": [{"split": "testmini", "source": "GeoQA", "subject": "Plane Geometry",
                         "subfield": "Angle"}] * len(rows),
           "query_wo": ["According to the question shown in the image, ..."] * len(rows),
           "query_cot": ["According to the question shown in the image, ..."] * len(rows),
           "question_for_eval": [r[6] for r in rows]},
          Features({"sample_index": Value("string"), "problem_index": Value("string"),
                    "problem_version": Value("string"), "question": Value("string"), "image": Image(),
                    "answer": Value("string"), "question_type": Value("string"),
                    "metadata": {"split": Value("string"), "source": Value("string"), "subject": Value("string"),
                                 "subfield": Value("string")},
                    "query_wo": Value("string"), "query_cot": Value("string"),
                    "question_for_eval": Value("string")}),
          root / "testmini.parquet")
    (root / "README.md").write_text(MATHVERSE_README)
    return root


# ----------------------------------------------------------------------------------------------- MathVision

def make_mathvision(root: Path) -> Path:
    """MathLLMs/MathVision: `<image1>` in the question, options list (maybe empty), answer letter or value."""
    rows = [  # id, question, options, decoded, answer
        ("1", "<image1>\nWhich of the numbers is the largest?", ["1", "2", "9", "4", "5"], pil(0), "C"),
        ("2", "Which picture shows the cube from above?\n<image1>", [], pil(1), "D"),
        ("3", "How many triangles are there?", [], pil(2), "7"),
        ("4", "Which path is the shortest? <image1>", ["A", "B", "C", "D", "E"], pil(3), "E"),
        ("5", "<image1> A broken record.", ["1", "2", "3"], pil(4), "F"),
    ]
    _save({"id": [r[0] for r in rows], "question": [r[1] for r in rows], "options": [r[2] for r in rows],
           "image": [f"images/{r[0]}.jpg" for r in rows], "decoded_image": [r[3] for r in rows],
           "answer": [r[4] for r in rows], "solution": [""] * len(rows), "level": [2] * len(rows),
           "subject": ["counting"] * len(rows)},
          Features({"id": Value("string"), "question": Value("string"), "options": List(Value("string")),
                    "image": Value("string"), "decoded_image": Image(), "answer": Value("string"),
                    "solution": Value("string"), "level": Value("int64"), "subject": Value("string")}),
          root / "data" / "test-00000-of-00001.parquet")
    return root


# ----------------------------------------------------------------------------------------------- MMMU

SKIPS_MMMU = Counter({"missing_image": 1, "missing_answer": 1, "bad_options": 1})


def _mmmu_subject(root: Path, subject: str, rows: list[tuple], split: str = "validation") -> None:
    cols = {"id": [], "question": [], "options": [], "explanation": [], **{f"image_{k}": [] for k in range(1, 8)},
            "img_type": [], "answer": [], "topic_difficulty": [], "question_type": [], "subfield": []}
    for n, (question, options, images, answer, qtype) in enumerate(rows, start=1):
        cols["id"].append(f"{split}_{subject}_{n}")
        cols["question"].append(question)
        cols["options"].append(options)
        cols["explanation"].append("")
        for k in range(1, 8):
            cols[f"image_{k}"].append(images[k - 1] if k <= len(images) else None)
        cols["img_type"].append("['Tables']")
        cols["answer"].append(answer)
        cols["topic_difficulty"].append("Medium")
        cols["question_type"].append(qtype)
        cols["subfield"].append("General")
    feats = Features({"id": Value("string"), "question": Value("string"), "options": Value("string"),
                      "explanation": Value("string"), **{f"image_{k}": Image() for k in range(1, 8)},
                      "img_type": Value("string"), "answer": Value("string"), "topic_difficulty": Value("string"),
                      "question_type": Value("string"), "subfield": Value("string")})
    _save(cols, feats, root / subject / f"{split}-00000-of-00001.parquet")


def mmmu_readme(subjects: list[str]) -> str:
    """The YAML header of MMMU's README: one config per subject, each with dev and validation files."""
    lines = ["---", "configs:"]
    for s in subjects:
        lines += [f"- config_name: {s}", "  data_files:", "  - split: dev", f"    path: {s}/dev-*",
                  "  - split: validation", f"    path: {s}/validation-*"]
    return "\n".join(lines + ["---", "# MMMU (test fixture)", ""])


def make_mmmu(root: Path, readme: bool = True) -> Path:
    """MMMU/MMMU: a folder per subject config with validation-*.parquet and dev-*.parquet, and (like the hub
    repo) a README declaring the subjects as configs."""
    _mmmu_subject(root, "Accounting", [
        ("<image 1> shows the ledger. Which entry is wrong?", "['rent', 'wages', 'tax']", [pil(0)], "B",
         "multiple-choice"),
        ("Compute the ratio from the table in <image 1>.", "[]", [pil(1)], "['24/7', '3.429']", "open"),
    ])
    for subject in ("Accounting", "Math"):
        _mmmu_subject(root, subject, [("dev row <image 1>", "['a', 'b']", [pil(0)], "A", "multiple-choice")],
                      split="dev")
    _mmmu_subject(root, "Math", [
        ("Select the graph of y = x^2.", "['<image 1>', '<image 2>']", [pil(2), pil(3)], "A", "multiple-choice"),
        ("Compare <image 1> and <image 2>.", "['same', 'different']", [pil(0)], "B", "multiple-choice"),
        ("What is the value shown in <image 1>?", "[]", [pil(1)], "?", "open"),
        ("A row with broken options <image 1>.", "not a list", [pil(2)], "A", "multiple-choice"),
        ("Is <image 2> a rotation of <image 1>? Look at <image 2> again.", "['yes', 'no']", [pil(3), pil(4)], "A",
         "multiple-choice"),
    ])
    if readme:
        (root / "README.md").write_text(mmmu_readme(["Accounting", "Math"]))
    return root
