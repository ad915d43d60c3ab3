"""MathVerse (`AI4Math/MathVerse`, config `testmini`, split `testmini`): evaluation; SPECS reports vision-only.

Columns (hub card / lmms-eval's MathVerse task): `sample_index` str, `problem_index` str, `problem_version`
(`Text Dominant` | `Text Lite` | `Vision Intensive` | `Vision Dominant` | `Vision Only`; 788 problems x 5 =
3,940 rows), `question` str, `image` Image, `answer` str, `question_type` (`multi-choice` | `free-form`),
`metadata` struct (split, source, subject, subfield), `query_wo`, `query_cot` (the benchmark's prompts),
`question_for_eval` str (the full question text, also for vision-only rows).
Quirks:
- `Vision Only` rows carry the whole question, choices included, inside the image (the benchmark's `query_wo`
  starts "According to the question shown in the image, ..."); whatever `question` text they have follows that
  lead-in here.
- multiple-choice rows keep the benchmark's own letter instruction as their first line (the part of `query_wo`
  before "Question:", e.g. "According to the question shown in the image, please directly answer the question
  and provide the correct option letter, e.g., A, B, C, D."); 436 of the 788 vision-only problems are multiple
  choice with the options only in the image.
- the choices live in the question text ("Choices:\nA:... B:...") or in the image, not in a column; the
  answer is the letter. The options are read from `question_for_eval` (the full text, also for vision-only
  rows) into extra_info.options, so the grader can accept the right option's text. The odd answer written as
  the choice text (`False`, `090^\\circ T`) is mapped back to its letter through them; when that fails it stays
  a free-form answer. Multi-select answers (`C\nD`) become the letter set "C,D".
- free-form answers carry prose and units (`Area $=9 \\pi \\mathrm{cm}^{2}$`): `gold_answers` normalises them.
Variants select `problem_version`: `vision_only` (default), `all`, or one version in snake case.
"""

from __future__ import annotations

from typing import Any

from .dataset_spec import ConvertContext, DatasetSpec
from .problem import (Excluded, Problem, Skip, column, letter_for, letter_set, option_letter, options_in_text,
                      set_choice, set_multi_select, text)

VERSIONS = ("Text Dominant", "Text Lite", "Vision Intensive", "Vision Dominant", "Vision Only")
LEAD_IN = "According to the question shown in the image, answer the question."
# the benchmark's query_wo lead for multiple choice (used when a record has no query_wo)
LETTER_LEAD = {True: "According to the question shown in the image, please directly answer the question and "
                     "provide the correct option letter, e.g., A, B, C, D.",
               False: "Please directly answer the question and provide the correct option letter, e.g., A, B, C, D."}


def _slug(version: str) -> str:
    return "_".join(version.lower().split())


def letter_lead(record: dict[str, Any], vision_only: bool) -> str:
    """The benchmark's own instruction for a multiple-choice row: `query_wo` up to "Question:"."""
    query = text(record.get("query_wo"))
    head = query.split("Question:")[0].strip()
    return head if "option letter" in head else LETTER_LEAD[vision_only]


def record_id(record: dict[str, Any], ctx: ConvertContext) -> str:
    return f"mathverse-{text(column(record, 'sample_index'))}"


def convert(record: dict[str, Any], ctx: ConvertContext) -> Problem:
    version = text(column(record, "problem_version"))
    if ctx.variant != "all" and _slug(version) != ctx.variant:
        raise Excluded(f"problem_version {version!r}")
    vision_only = version == "Vision Only"
    question = text(column(record, "question"))
    answer = text(column(record, "answer"))
    image = record.get("image")
    metadata = record.get("metadata") or {}
    subject = text(metadata.get("subject")) if isinstance(metadata, dict) else ""
    problem = Problem(qid=record_id(record, ctx), question=question,
                      images=[image] if image is not None and image != "" else [], answer=answer,
                      raw_answer=answer, category=f"{version} / {subject}" if subject else version,
                      lead=LEAD_IN if vision_only or not question else "")
    if text(column(record, "question_type")) != "multi-choice" or not answer:
        return problem
    options = options_in_text(text(record.get("question_for_eval")) or question)
    letters = letter_set(answer)
    letter = option_letter(answer)
    if letter is None and letters is None and options:
        try:
            letter = letter_for(answer, options)
        except Skip:
            return problem  # not a letter and none of the options: graded as the free-form answer it is
    if letter is None and letters is None:
        return problem
    problem.lead = letter_lead(record, vision_only)
    if letters is not None:
        return set_multi_select(problem, options, letters, shown=False)
    return set_choice(problem, options, letter, shown=False)


SPEC = DatasetSpec(
    name="mathverse", hub_id="AI4Math/MathVerse", data_source="mathverse", default_split="testmini",
    ability="math", convert=convert, record_id=record_id, role="eval", default_config="testmini",
    summary="MathVerse testmini, vision-only by default (image, question, answer letter/value, problem_version)",
    variants={"vision_only": "Vision Only rows (the paper's 'MathVerse (vision)')", "all": "all five versions",
              **{_slug(v): f"{v} rows" for v in VERSIONS if v != "Vision Only"}},
)
