"""Geometry3K as `hiyouga/geometry3k` ships it (verl's and EasyR1's reference multimodal RL set).

Columns (hub card, 2025): `images` list[Image] (one diagram), `problem` str starting with `<image>`,
`answer` str (the value of the correct choice, e.g. `2 \\sqrt { 221 }`), `id` int64, `choices` list[str]
(four values), `ground_truth` str (the letter A-D; the card's conversion script maps InterGPS's letter through
`MAPPING = {"A": 0, ...}`). Splits: train 2,101 / validation 300 / test 601.
Variants: `free_form` (default; what verl's examples/data_preprocess/geo3k.py does: the value is the ground
truth and the choices are not shown) or `choice` (choices shown as options, the letter is the ground truth).
"""

from __future__ import annotations

from typing import Any

from .dataset_spec import ConvertContext, DatasetSpec
from .problem import Problem, as_list, column, option_letter, set_choice, text


def record_id(record: dict[str, Any], ctx: ConvertContext) -> str:
    return f"geometry3k-{ctx.split}-{text(record.get('id')) or ctx.row}"


def convert(record: dict[str, Any], ctx: ConvertContext) -> Problem:
    answer = text(column(record, "answer"))
    problem = Problem(qid=record_id(record, ctx), question=text(column(record, "problem")),
                      images=as_list(column(record, "images")), answer=answer, raw_answer=answer)
    if ctx.variant == "choice":
        choices = [text(c) for c in (column(record, "choices") or [])]
        set_choice(problem, choices, option_letter(text(record.get("ground_truth"))))
    return problem


SPEC = DatasetSpec(
    name="geometry3k", hub_id="hiyouga/geometry3k", data_source="geometry3k", default_split="train",
    ability="math", convert=convert, record_id=record_id, role="train",
    summary="Geometry3K (hiyouga/geometry3k: images, problem, answer, choices, ground_truth)",
    variants={"free_form": "the value is the ground truth, no options (verl's geo3k recipe)",
              "choice": "the four choices as options, the letter is the ground truth"},
)
