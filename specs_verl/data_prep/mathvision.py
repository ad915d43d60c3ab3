"""MATH-Vision (`MathLLMs/MathVision`): evaluation; `test` (3,040 rows, default) or `testmini` (304).

Columns (hub card; evalscope's and lmms-eval's MathVision tasks): `id` str, `question` str, `options`
list[str] (empty for free-form), `image` str (a path inside the repo's images.zip), `decoded_image` Image,
`answer` str (the option letter for multiple choice: lmms-eval reads the option as
`options[ord(answer) - ord("A")]`), `solution` str, `level` int, `subject` str.
Quirks: questions reference their picture as `<image1>` (replaced by the placeholder where it stands). Every
record has ONE picture, but 11 % of the questions (339 of the 3,040 in MATH-V's test.jsonl) also name the
sub-figures pasted into it, `<image2>` ... `<image7>` (the answer choices, the ant and the ladybird, ...): the
first reference becomes the placeholder and the later ones the words "image K", so no record is lost for them;
an option that is only such a reference (`options: ["<image2>", ..., "<image6>"]`, a choice drawn in the
picture) becomes its letter. A question that is only the picture (`<image1>`, id 528) gets the lead "Answer
the question shown in the image.". Some multiple-choice questions have their choices drawn in the picture and
`options` empty, the answer still a letter A-E: they stay multiple choice without an options block.
"""

from __future__ import annotations

import re
from typing import Any

from .dataset_spec import ConvertContext, DatasetSpec
from .placeholders import without_references
from .problem import LETTERS, Problem, column, option_letter, set_choice, text

_REFERENCE = re.compile(r"<image(\d+)>")
PICTURE_LEAD = "Answer the question shown in the image."


def composite_references(question: str) -> str:
    """All `<imageK>` of a one-picture record as that picture: the first becomes `<image1>` (the placeholder),
    the rest the words "image K"."""
    seen = False

    def one(m: re.Match) -> str:
        nonlocal seen
        if seen:
            return f"image {m.group(1)}"
        seen = True
        return "<image1>"

    return _REFERENCE.sub(one, question)


def record_id(record: dict[str, Any], ctx: ConvertContext) -> str:
    return f"mathvision-{text(column(record, 'id'))}"


def convert(record: dict[str, Any], ctx: ConvertContext) -> Problem:
    options = [text(o) for o in (column(record, "options") or [])]
    options = [L if _REFERENCE.fullmatch(o) else o for L, o in zip(LETTERS, options)]  # a choice in the picture
    answer = text(column(record, "answer"))
    image = record.get("decoded_image") or text(record.get("image")) or None
    question = text(column(record, "question"))
    problem = Problem(qid=record_id(record, ctx), question=composite_references(question) if image else question,
                      images=[image] if image is not None else [], answer=answer, raw_answer=answer,
                      category=text(record.get("subject")),
                      lead="" if without_references(question) else PICTURE_LEAD)
    letter = option_letter(answer)
    if options or (letter is not None and letter in "ABCDE"):
        set_choice(problem, options, letter)
    return problem


SPEC = DatasetSpec(
    name="mathvision", hub_id="MathLLMs/MathVision", data_source="mathvision", default_split="test",
    ability="math", convert=convert, record_id=record_id, role="eval",
    summary="MATH-Vision (decoded_image, question with <image1>, options list, answer letter/value)",
)
