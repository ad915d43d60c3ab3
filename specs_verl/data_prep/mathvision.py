"""MATH-Vision (`MathLLMs/MathVision`): evaluation; `test` (3,040 rows, default) or `testmini` (304).

Columns (hub card; evalscope's and lmms-eval's MathVision tasks): `id` str, `question` str, `options`
list[str] (empty for free-form), `image` str (a path inside the repo's images.zip), `decoded_image` Image,
`answer` str (the option letter for multiple choice: lmms-eval reads the option as
`options[ord(answer) - ord("A")]`), `solution` str, `level` int, `subject` str.
Quirks: questions reference their picture as `<image1>` (replaced by the placeholder where it stands); some
multiple-choice questions have their choices drawn in the picture and `options` empty, the answer still a
letter A-E: they stay multiple choice without an options block.
"""

from __future__ import annotations

from typing import Any

from .dataset_spec import ConvertContext, DatasetSpec
from .problem import Problem, column, option_letter, set_choice, text


def record_id(record: dict[str, Any], ctx: ConvertContext) -> str:
    return f"mathvision-{text(column(record, 'id'))}"


def convert(record: dict[str, Any], ctx: ConvertContext) -> Problem:
    options = [text(o) for o in (column(record, "options") or [])]
    answer = text(column(record, "answer"))
    image = record.get("decoded_image") or text(record.get("image")) or None
    problem = Problem(qid=record_id(record, ctx), question=text(column(record, "question")),
                      images=[image] if image is not None else [], answer=answer, raw_answer=answer,
                      category=text(record.get("subject")))
    letter = option_letter(answer)
    if options or (letter is not None and letter in "ABCDE"):
        set_choice(problem, options, letter)
    return problem


SPEC = DatasetSpec(
    name="mathvision", hub_id="MathLLMs/MathVision", data_source="mathvision", default_split="test",
    ability="math", convert=convert, record_id=record_id, role="eval",
    summary="MATH-Vision (decoded_image, question with <image1>, options list, answer letter/value)",
)
