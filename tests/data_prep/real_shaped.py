"""A few hundred records per dataset with the real column names and value shapes (generated, nothing stored).

The shapes are the ones the official annotation files and hub repos have (see `real_annotations.py` for the
runs on the real annotations): ViRL39K's `39Krelease.parquet` + `images.zip` with `\\boxed{}` answers, options in
the question text and text-only DeepScaleR rows; MathVision's `<image2>`.. `<image7>` naming sub-figures of its
one picture, picture options (`"<image2>"`), a question that is only the picture and the `\\f` that became a form
feed; MathVerse's vision-only rows (question in the image, options only in `question_for_eval`, multi-select
`C\\nD`, textbook answers with units); MathVista's choice-text answers and `precision`; MMMU's stringified option
lists (repr-escaped LaTeX) and list answers. Each maker returns the `--source` and the record count.
"""

from __future__ import annotations

import io
import random
import zipfile
from pathlib import Path

from datasets import Dataset, Features, Image, List, Value
from PIL import Image as PILImage

from tests.data_prep.fixtures import MATHVERSE_README

N = 300


def _png(k: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (30 + k % 17, 20 + k % 11), ((37 * k) % 256, 90, 160)).save(buf, format="PNG")
    return buf.getvalue()


def _jpeg(k: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (28 + k % 13, 22 + k % 7), (120, (53 * k) % 256, 40)).save(buf, format="JPEG")
    return buf.getvalue()


def _save(columns: dict, features: Features, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Dataset.from_dict(columns, features=features).to_parquet(str(path))


def _options(rng: random.Random, n: int) -> list[str]:
    pool = ["40°", "60°", "120°", "140°", "\\frac{1}{2}", "2\\sqrt{3}", "equal to", "larger than", "12 cm", "7",
            "\\theta + \\beta", "3.5", "none of these", "\\alpha", "x^2"]
    return rng.sample(pool, n)


# ------------------------------------------------------------------------------------------------ ViRL39K

VIRL_README = "# ViRL39K (test fixture laid out like TIGER-Lab/ViRL39K: 39Krelease.parquet + images.zip)\n"


def virl39k_hub(root: Path, n: int = N, seed: int = 0) -> tuple[Path, dict]:
    """TIGER-Lab/ViRL39K's files: `39Krelease.parquet` (question, answer boxed, category, source, qid, image =
    paths inside images.zip, PassRate_*), `images.zip`, README.md. Returns (folder, expected counts)."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    cols = {k: [] for k in ("question", "answer", "category", "source", "qid", "image", "PassRate_32BTrained",
                            "PassRate_7BTrained")}
    expect = {"text_only": 0, "choice": 0, "multi_image": 0, "missing": 0}
    with zipfile.ZipFile(root / "images.zip", "w") as zf:
        for i in range(n):
            qid = f"{i:05d}-{rng.randrange(16**6):06x}"
            kind = i % 10
            paths = [f"images/Processed-{qid}-0.jpg"]
            if kind == 0:  # DeepScaleR: text-only math
                question, answer, source, paths = "What is $1+\\frac{1}{2}$?", "\\boxed{\\frac{3}{2}}", "DeepScaleR", []
                expect["text_only"] += 1
            elif kind in (1, 2, 3):
                opts = _options(rng, 4)
                letter = "ABCD"[rng.randrange(4)]
                question = "<image>Which value is marked in the figure?\n" + "\n".join(
                    f"{'ABCD'[j]}. {o}" for j, o in enumerate(opts))
                answer, source = f"\\boxed{{{letter}}}", "GeoQA"
                expect["choice"] += 1
            elif kind == 4:
                paths.append(f"images/Processed-{qid}-1.jpg")
                question, answer, source = "<image>Compare the two charts: what is the difference?", "\\boxed{12}", \
                    "ChartQA"
                expect["multi_image"] += 1
            else:
                question, answer, source = "<image>Find the length of AB.", f"\\boxed{{{rng.randrange(2, 90)}}}", \
                    "Geometry3K"
            if i == n - 1:  # one path the archive lacks
                paths = [f"images/Processed-{qid}-lost.jpg"]
                expect["missing"] += 1
            else:
                for k, p in enumerate(paths):
                    zf.writestr(p, _jpeg(i + k))
            cols["question"].append(question)
            cols["answer"].append(answer)
            cols["category"].append("(GradeSchool) Non-Geo Math" if kind == 0 else "Spatial Reasoning")
            cols["source"].append(source)
            cols["qid"].append(qid)
            cols["image"].append(paths)
            cols["PassRate_32BTrained"].append(rng.random())
            cols["PassRate_7BTrained"].append(rng.random())
    _save(cols, Features({"question": Value("string"), "answer": Value("string"), "category": Value("string"),
                          "source": Value("string"), "qid": Value("string"), "image": List(Value("string")),
                          "PassRate_32BTrained": Value("float64"), "PassRate_7BTrained": Value("float64")}),
          root / "39Krelease.parquet")
    (root / "README.md").write_text(VIRL_README)
    return root, expect


def hub_cache(repo_folder: Path, cache: Path, repo_id: str, commit: str = "0" * 40) -> Path:
    """`repo_folder` laid out as the hub client's cache holds a downloaded dataset repo (refs/main ->
    snapshots/<commit>/...), so that `snapshot_download` offline returns it."""
    import shutil

    base = cache / f"datasets--{repo_id.replace('/', '--')}"
    (base / "refs").mkdir(parents=True, exist_ok=True)
    (base / "refs" / "main").write_text(commit)
    shutil.copytree(repo_folder, base / "snapshots" / commit)
    return cache


# ------------------------------------------------------------------------------------------------ MathVision

def mathvision(root: Path, n: int = N, seed: int = 1) -> tuple[Path, int]:
    """MathLLMs/MathVision `data/test-*.parquet`: id, question (`<image1>`, and in 11 % `<image2>`..), options
    ([] or five: letters, texts or `<imageK>`), image path, decoded_image, answer, solution, level, subject."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        kind = i % 9
        question, options = f"Which of the figures is number {i}?\n<image1>", []
        answer = str(rng.randrange(1, 100))
        if kind == 0:  # sub-figures of the one picture named in the text
            question = "When the ant <image1> walks from home <image2> he gets to the ladybird <image3>.\n<image6>"
            options, answer = list("ABCDE"), "A"
        elif kind == 1:  # the choices are pictures inside the picture
            question, options, answer = "Which graph fits?\n<image1>", [f"<image{k}>" for k in range(2, 7)], "D"
        elif kind in (2, 3, 4):
            options, answer = list("ABCDE"), "ABCDE"[rng.randrange(5)]
        elif kind == 5:
            options, answer = _options(rng, 5), "ABCDE"[rng.randrange(5)]
        elif kind == 6:
            answer = "\\frac{36}{13}" if i % 2 else "\x0crac{36}{13}"  # as MATH-V's id 2830 has it
        rows.append((str(i + 1), question, options, answer))
    rows[-1] = (rows[-1][0], "<image1>", [], "15")  # the question is only the picture (MATH-V id 528)
    png = [{"bytes": _png(i), "path": None} for i in range(n)]
    _save({"id": [r[0] for r in rows], "question": [r[1] for r in rows], "options": [r[2] for r in rows],
           "image": [f"images/{r[0]}.jpg" for r in rows], "decoded_image": png, "answer": [r[3] for r in rows],
           "solution": [""] * n, "level": [rng.randrange(1, 6) for _ in rows],
           "subject": ["metric geometry - length"] * n},
          Features({"id": Value("string"), "question": Value("string"), "options": List(Value("string")),
                    "image": Value("string"), "decoded_image": Image(), "answer": Value("string"),
                    "solution": Value("string"), "level": Value("int64"), "subject": Value("string")}),
          root / "data" / "test-00000-of-00001.parquet")
    return root, n


# ------------------------------------------------------------------------------------------------ MathVerse

LETTER_QUERY = ("According to the question shown in the image, please directly answer the question and provide "
                "the correct option letter, e.g., A, B, C, D.")
VALUE_QUERY = ("According to the question shown in the image, please directly answer the question and provide "
               "the final value, e.g., 1, 2.5, 300.")
TEXTBOOK = [("Area $=9 \\pi \\mathrm{cm}^{2}$", "9 \\pi"), ("Perimeter $=35.7 \\mathrm{~mm}$", "35.7"),
            ("2191.7 metres", "2191.7"), ("62^\\circ ", "62"), ("35掳", "35"), ("$\\frac{4}{5}$", "\\frac{4}{5}"),
            ("y=-2 x+5", "y=-2 x+5"), ("Volume $=904.78 \\mathrm{~cm}^{3}$", "904.78"), ("5", "5")]


def mathverse(root: Path, n: int = N, seed: int = 2) -> tuple[Path, dict]:
    """AI4Math/MathVerse `testmini`: vision-only rows (empty `question`, options only in `question_for_eval`),
    plus one Text Dominant copy of each tenth problem (excluded by default)."""
    rng = random.Random(seed)
    cols = {k: [] for k in ("sample_index", "problem_index", "problem_version", "question", "image", "answer",
                            "question_type", "metadata", "query_wo", "query_cot", "question_for_eval")}
    expect = {"choice": 0, "multi_select": 0, "free_form": {}, "vision_only": 0}
    for i in range(n):
        mc = i % 20 < 11  # 436 of 788 are multiple choice
        opts = _options(rng, 4)
        full = "As shown in the figure, find angle A."
        if mc:
            full += "\nChoices:\n" + "\n".join(f"{'ABCD'[j]}:{o}" for j, o in enumerate(opts))
            if i % 100 == 7:
                answer = "C\nD"
                expect["multi_select"] += 1
            else:
                answer = rng.choice(["A", "B", "(C)", "D", opts[1]])  # the odd answer is the choice's text
                expect["choice"] += 1
        else:
            raw, gold = TEXTBOOK[i % len(TEXTBOOK)]
            answer = raw
            expect["free_form"][str(i + 1)] = gold
        version = "Text Dominant" if i % 10 == 9 else "Vision Only"
        if version == "Vision Only":
            expect["vision_only"] += 1
        elif mc:
            expect["multi_select" if answer == "C\nD" else "choice"] -= 1
        else:
            expect["free_form"].pop(str(i + 1))
        cols["sample_index"].append(str(i + 1))
        cols["problem_index"].append(str(i // 2 + 1))
        cols["problem_version"].append(version)
        cols["question"].append("" if version == "Vision Only" else full)
        cols["image"].append({"bytes": _png(i), "path": None})
        cols["answer"].append(answer)
        cols["question_type"].append("multi-choice" if mc else "free-form")
        cols["metadata"].append({"split": "testmini", "source": "GeoQA", "subject": "Plane Geometry",
                                 "subfield": "Angle"})
        cols["query_wo"].append(LETTER_QUERY if mc else VALUE_QUERY)
        cols["query_cot"].append(LETTER_QUERY if mc else VALUE_QUERY)
        cols["question_for_eval"].append(full)
    root.mkdir(parents=True, exist_ok=True)
    _save(cols, Features({
        "sample_index": Value("string"), "problem_index": Value("string"), "problem_version": Value("string"),
        "question": Value("string"), "image": Image(), "answer": Value("string"), "question_type": Value("string"),
        "metadata": {"split": Value("string"), "source": Value("string"), "subject": Value("string"),
                     "subfield": Value("string")},
        "query_wo": Value("string"), "query_cot": Value("string"), "question_for_eval": Value("string")}),
        root / "testmini.parquet")
    (root / "README.md").write_text(MATHVERSE_README)
    return root, expect


# ------------------------------------------------------------------------------------------------ MathVista

def mathvista(root: Path, n: int = N, seed: int = 3) -> tuple[Path, dict]:
    """AI4Math/MathVista `testmini`: multi_choice rows answer with the choice text; free-form floats carry
    `precision` (1.0 or 2.0, a float as the hub stores it)."""
    rng = random.Random(seed)
    cols = {k: [] for k in ("pid", "question", "image", "decoded_image", "choices", "unit", "precision", "answer",
                            "question_type", "answer_type", "metadata", "query")}
    expect = {"choice": 0, "precision": 0}
    for i in range(n):
        kind = i % 2 if i % 7 else 2
        if kind == 0:  # 539 of 1,000 are multiple choice
            choices = _options(rng, rng.randrange(2, 6))
            answer, qtype, atype, precision = rng.choice(choices), "multi_choice", "text", None
            expect["choice"] += 1
        elif kind == 1:
            choices, answer, qtype, atype, precision = None, str(rng.randrange(100)), "free_form", "integer", None
        else:
            places = 1 + i % 2
            choices, qtype, atype, precision = None, "free_form", "float", float(places)
            answer = f"{rng.uniform(0, 10):.{places}f}"
            expect["precision"] += 1
        cols["pid"].append(str(i + 1))
        cols["question"].append(f"Question {i + 1}: what does the plot show?")
        cols["image"].append(f"images/{i + 1}.jpg")
        cols["decoded_image"].append({"bytes": _png(i), "path": None})
        cols["choices"].append(choices)
        cols["unit"].append(None)
        cols["precision"].append(precision)
        cols["answer"].append(answer)
        cols["question_type"].append(qtype)
        cols["answer_type"].append(atype)
        cols["metadata"].append({"category": "math-targeted-vqa", "source": "FunctionQA"})
        cols["query"].append("Hint: ...")
    _save(cols, Features({
        "pid": Value("string"), "question": Value("string"), "image": Value("string"), "decoded_image": Image(),
        "choices": List(Value("string")), "unit": Value("string"), "precision": Value("float64"),
        "answer": Value("string"), "question_type": Value("string"), "answer_type": Value("string"),
        "metadata": {"category": Value("string"), "source": Value("string")}, "query": Value("string")}),
        root / "data" / "testmini-00000-of-00001.parquet")
    return root, expect


# ------------------------------------------------------------------------------------------------ MMMU

def mmmu(root: Path, n: int = N, seed: int = 4, subjects: tuple[str, ...] = ("Math", "Geography", "Physics")
         ) -> tuple[Path, dict]:
    """MMMU/MMMU: a folder per subject, options as the stringified list the hub stores (`str(list)`, so LaTeX
    backslashes arrive doubled), open answers sometimes a list literal (`"['Tampa', 'Florida']"`)."""
    rng = random.Random(seed)
    expect = {"choice": 0, "lists": {}}
    per = n // len(subjects)
    for subject in subjects:
        cols = {k: [] for k in ("id", "question", "options", "explanation", "img_type", "answer",
                                "topic_difficulty", "question_type", "subfield")}
        cols.update({f"image_{k}": [] for k in range(1, 8)})
        for j in range(1, per + 1):
            qid = f"validation_{subject}_{j}"
            mc = j % 16 != 0  # 847 of 900 are multiple choice
            if mc:
                opts = _options(rng, rng.randrange(3, 6))
                options, answer, qtype = str(opts), "ABCDE"[rng.randrange(len(opts))], "multiple-choice"
                expect["choice"] += 1
            elif j % 32 == 0:
                options, answer, qtype = "[]", str(["Tampa", "Florida"]), "open"
                expect["lists"][qid] = ["Tampa", "Florida"]
            else:
                options, answer, qtype = "[]", str(rng.randrange(1, 50)), "open"
            cols["id"].append(qid)
            cols["question"].append(f"<image 1> What does the figure show? ({subject} {j})")
            cols["options"].append(options)
            cols["explanation"].append("")
            cols["img_type"].append("['Diagrams']")
            cols["answer"].append(answer)
            cols["topic_difficulty"].append("Medium")
            cols["question_type"].append(qtype)
            cols["subfield"].append("General")
            for k in range(1, 8):
                cols[f"image_{k}"].append({"bytes": _png(j), "path": None} if k == 1 else None)
        _save(cols, Features({**{k: Value("string") for k in cols if not k.startswith("image_")},
                              **{f"image_{k}": Image() for k in range(1, 8)}}),
              root / subject / "validation-00000-of-00001.parquet")
    return root, expect
