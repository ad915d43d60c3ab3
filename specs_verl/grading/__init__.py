"""Grading a final answer against its ground truth, in bounded time on any input (see `grade.py`).

Modules: `extraction` (the answer of a response, the ground truths), `choice` (multiple choice), `hedges`,
`numbers` (plain numbers), `answer_text` (normalisation), `refusal` (answers too large to evaluate),
`symbolic` (math-verify and mathruler), `row_fields` (a row's `extra_info`), `worker_pool` / `worker` (where the symbolic graders run).
"""

from .extraction import InvalidGroundTruth, extract_answer, ground_truths
from .grade import (DEFAULT_TIME_LIMIT, MAX_SYMBOLIC_CHARS, GradeResult, clear_caches, grade, is_free_form_text,
                    warm_up)
from .row_fields import row_fields

__all__ = ["DEFAULT_TIME_LIMIT", "MAX_SYMBOLIC_CHARS", "GradeResult", "InvalidGroundTruth", "clear_caches",
           "extract_answer", "grade", "ground_truths", "is_free_form_text", "row_fields", "warm_up"]
