"""MMMU (`MMMU/MMMU`): evaluation on `validation` (900 rows: 30 subject configs x 30; `test` answers are hidden).

Columns (hub card; evalscope's MMMU adapter): `id` str (`validation_<Subject>_<n>`), `question` str,
`options` str (a Python list literal, e.g. "['a line', 'a curve']", read with `ast.literal_eval`; "[]" for open
questions), `explanation` str, `image_1` ... `image_7` Image (unused ones None), `img_type` str, `answer` str
(the option letter for `question_type == "multiple-choice"`, free text for `"open"`, "?" on `test`),
`topic_difficulty` str, `question_type` str, `subfield` str.
Quirks: images are referenced as `<image 1>` in the question and sometimes only in the options (picture
choices): each first reference becomes the placeholder where it stands. Some open answers are list literals of
equally good answers ("['24/7', '3.429']", "['Tampa', 'Florida']"): the first is the ground truth and the whole
list goes to extra_info.answers (any one of them scores, as MMMU's own scorer has it).
"""

from __future__ import annotations

import ast
import warnings
from typing import Any

from .dataset_spec import ConvertContext, DatasetSpec
from .problem import Problem, Skip, column, option_letter, set_choice, text

SUBJECTS = (
    "Accounting", "Agriculture", "Architecture_and_Engineering", "Art", "Art_Theory", "Basic_Medical_Science",
    "Biology", "Chemistry", "Clinical_Medicine", "Computer_Science", "Design",
    "Diagnostics_and_Laboratory_Medicine", "Economics", "Electronics", "Energy_and_Power", "Finance",
    "Geography", "History", "Literature", "Manage", "Marketing", "Materials", "Math", "Mechanical_Engineering",
    "Music", "Pharmacy", "Physics", "Psychology", "Public_Health", "Sociology",
)
MAX_IMAGES = 7


def _literal_list(value: Any, what: str) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [text(v) for v in value]
    try:
        with warnings.catch_warnings():  # `\pi` in a hand-written list is an invalid escape: kept as is
            warnings.simplefilter("ignore", (DeprecationWarning, SyntaxWarning))
            parsed = ast.literal_eval(text(value) or "[]")
    except (ValueError, SyntaxError) as e:
        raise Skip("bad_options", f"{what} {text(value)[:80]!r} is not a list literal ({e})") from None
    if not isinstance(parsed, (list, tuple)):
        raise Skip("bad_options", f"{what} {text(value)[:80]!r} is not a list")
    return [text(v) for v in parsed]


def record_id(record: dict[str, Any], ctx: ConvertContext) -> str:
    return text(column(record, "id")) or f"mmmu-{ctx.config}-{ctx.row}"


def convert(record: dict[str, Any], ctx: ConvertContext) -> Problem:
    qid = record_id(record, ctx)
    images = [record.get(f"image_{k}") for k in range(1, MAX_IMAGES + 1)]
    while images and images[-1] is None:
        images.pop()
    raw = text(column(record, "answer"))
    if raw in ("", "?"):
        raise Skip("missing_answer", "no answer (MMMU's test split hides them)")
    subject = ctx.config or (qid.split("_")[1] if qid.count("_") >= 2 else "")  # id: validation_<Subject>_<n>
    problem = Problem(qid=qid, question=text(column(record, "question")), images=images, answer=raw,
                      raw_answer=raw, category=subject)
    if text(column(record, "question_type")) == "multiple-choice":
        set_choice(problem, _literal_list(column(record, "options"), "options"), option_letter(raw))
    elif raw.startswith("["):
        answers = [a for a in _literal_list(raw, "answer") if a]
        problem.answer = answers[0] if answers else ""
        problem.answers = answers
    return problem


SPEC = DatasetSpec(
    name="mmmu", hub_id="MMMU/MMMU", data_source="mmmu", default_split="validation",
    ability="multidiscipline", convert=convert, record_id=record_id, role="eval", configs=SUBJECTS,
    summary="MMMU validation, all 30 subject configs (question with <image k>, options list literal, letter)",
)
