"""MathVista (`AI4Math/MathVista`): evaluation, `testmini` (1,000 rows; the `test` split has no answers).

Columns (hub card): `pid` str, `question` str, `image` str (a path inside the repo's images.zip),
`decoded_image` Image, `choices` list[str] (None for free-form), `unit` str, `precision` float, `answer` str,
`question_type` (`multi_choice` | `free_form`), `answer_type` (`text` | `integer` | `float` | `list`),
`metadata` struct (category, context, grade, img_height, img_width, language, skills, source, split, task),
`query` str (the benchmark's own full prompt, not used: we write our own instruction).
Quirk: a multiple-choice `answer` is the text of the right choice, not its letter (evalscope's and other
evaluators map it with `choices.index(answer)`); answers that match no choice, or several equal choices, are
skipped rather than guessed. Free-form questions get the benchmark's precision as a hint line, and float answers
carry it in extra_info.precision (the official scorer rounds to it before comparing).
"""

from __future__ import annotations

from typing import Any

from .dataset_spec import ConvertContext, DatasetSpec
from .problem import Problem, column, set_choice, text

_HINTS = {"integer": "The answer is an integer.", "list": "The answer is a Python list."}


def _places(precision: Any) -> int | None:
    try:
        places = int(float(precision))
    except (TypeError, ValueError):
        return None
    return places if places >= 0 else None


def _hint(answer_type: str, places: int | None) -> str:
    if answer_type == "float":
        if places is None:
            return "The answer is a decimal number."
        return f"The answer is a decimal number with {places} decimal place{'s' if places != 1 else ''}."
    return _HINTS.get(answer_type, "")


def record_id(record: dict[str, Any], ctx: ConvertContext) -> str:
    return f"mathvista-{text(column(record, 'pid'))}"


def convert(record: dict[str, Any], ctx: ConvertContext) -> Problem:
    question = text(column(record, "question"))
    unit = text(record.get("unit"))
    if unit and f"(Unit: {unit})" not in question:
        question = f"{question} (Unit: {unit})"
    image = record.get("decoded_image") or text(record.get("image")) or None
    answer = text(column(record, "answer"))
    metadata = record.get("metadata") or {}
    problem = Problem(qid=record_id(record, ctx), question=question,
                      images=[image] if image is not None else [], answer=answer, raw_answer=answer,
                      category=text(metadata.get("category") if isinstance(metadata, dict) else ""))
    if text(column(record, "question_type")) == "multi_choice":
        set_choice(problem, [text(c) for c in (record.get("choices") or [])])
    else:
        kind, places = text(record.get("answer_type")), _places(record.get("precision"))
        problem.hint = _hint(kind, places)
        problem.precision = places if kind == "float" else None
    return problem


SPEC = DatasetSpec(
    name="mathvista", hub_id="AI4Math/MathVista", data_source="mathvista", default_split="testmini",
    ability="math", convert=convert, record_id=record_id, role="eval",
    summary="MathVista testmini (decoded_image, question, choices, answer text -> letter, precision hints)",
)
