"""MathVerse (`AI4Math/MathVerse`, config `testmini`, split `testmini`): evaluation; SPECS reports vision-only.

Columns (hub card / lmms-eval's MathVerse task): `sample_index` str, `problem_index` str, `problem_version`
(`Text Dominant` | `Text Lite` | `Vision Intensive` | `Vision Dominant` | `Vision Only`; 788 problems x 5 =
3,940 rows), `question` str, `image` Image, `answer` str, `question_type` (`multi-choice` | `free-form`),
`metadata` struct (split, source, subject, subfield), `query_wo`, `query_cot` (the benchmark's prompts),
`question_for_eval` str (the full question text, also for vision-only rows).
Quirks:
- `Vision Only` rows carry the whole question, choices included, inside the image (the benchmark's `query_wo`
  starts "According to the question shown in the image, ..."); whatever `question` text they have follows that
  lead-in here, and an empty question becomes the lead-in alone.
- multiple-choice choices live in the question text ("Choices:\\nA:... B:...") or in the image, not in a
  column; the answer is the letter. The odd multiple-choice answer written as the choice text is mapped back to
  its letter through the "Choices" block of `question_for_eval`; when that fails it stays a free-form answer.
Variants select `problem_version`: `vision_only` (default), `all`, or one version in snake case.
"""

from __future__ import annotations

import re
from typing import Any

from .dataset_spec import ConvertContext, DatasetSpec
from .problem import Excluded, Problem, Skip, column, letter_for, option_letter, set_choice, text

VERSIONS = ("Text Dominant", "Text Lite", "Vision Intensive", "Vision Dominant", "Vision Only")
LEAD_IN = "According to the question shown in the image, answer the question."
_CHOICE_LINE = re.compile(r"^\s*([A-H])\s*[:.)]\s*(.+?)\s*$", re.M)


def _slug(version: str) -> str:
    return "_".join(version.lower().split())


def choices_in_text(question: str) -> list[str]:
    """The options of a "Choices:" block (`A:...`, `A. ...`, `(A) ...` lines), in order; [] when there is none."""
    _, sep, tail = question.partition("Choice")
    found = _CHOICE_LINE.findall(tail if sep else "")
    letters = [k for k, _ in found]
    return [v for _, v in found] if letters == [chr(65 + i) for i in range(len(letters))] else []


def record_id(record: dict[str, Any], ctx: ConvertContext) -> str:
    return f"mathverse-{text(column(record, 'sample_index'))}"


def convert(record: dict[str, Any], ctx: ConvertContext) -> Problem:
    version = text(column(record, "problem_version"))
    if ctx.variant != "all" and _slug(version) != ctx.variant:
        raise Excluded(f"problem_version {version!r}")
    question = text(column(record, "question"))
    if version == "Vision Only" or not question:
        question = f"{LEAD_IN}\n{question}" if question else LEAD_IN
    answer = text(column(record, "answer"))
    image = record.get("image")
    metadata = record.get("metadata") or {}
    subject = text(metadata.get("subject")) if isinstance(metadata, dict) else ""
    problem = Problem(qid=record_id(record, ctx), question=question,
                      images=[image] if image is not None and image != "" else [], answer=answer,
                      raw_answer=answer, category=f"{version} / {subject}" if subject else version)
    if text(column(record, "question_type")) == "multi-choice" and answer:
        letter = option_letter(answer)
        if letter is None:
            options = choices_in_text(text(record.get("question_for_eval")) or question)
            try:
                letter = letter_for(answer, options) if options else None
            except Skip:
                letter = None
        if letter is not None:
            set_choice(problem, [], letter)
    return problem


SPEC = DatasetSpec(
    name="mathverse", hub_id="AI4Math/MathVerse", data_source="mathverse", default_split="testmini",
    ability="math", convert=convert, record_id=record_id, role="eval", default_config="testmini",
    summary="MathVerse testmini, vision-only by default (image, question, answer letter/value, problem_version)",
    variants={"vision_only": "Vision Only rows (the paper's 'MathVerse (vision)')", "all": "all five versions",
              **{_slug(v): f"{v} rows" for v in VERSIONS if v != "Vision Only"}},
)
