"""One benchmark question in dataset-neutral form, and the answer/choice helpers every converter shares.

A converter turns one source record into a `Problem` (or raises `Skip` / `Excluded`); `rows.build_row` turns a
`Problem` into a verl RL row. Keeping the dataset quirks in the converters and the verl schema in one place
means a new dataset is a 40-line module.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field
from typing import Any

from .latex_escapes import repair_escapes

LETTERS = string.ascii_uppercase


class Skip(Exception):
    """The record is unusable (no image, no answer, ...): counted under `reason` and listed in the report."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class Excluded(Skip):
    """The record is fine but not part of the requested selection (e.g. another MathVerse problem version):
    counted under `reason`, not listed row by row."""


class LayoutError(ValueError):
    """The source does not look like the dataset it was declared to be (a missing column): stops the run."""


@dataclass
class Problem:
    qid: str
    question: str  # may hold image references: `<image>`, `<image 1>` (MMMU) or `<image1>` (MathVision)
    images: list[Any]  # PIL images, {"bytes", "path"} dicts, bytes or paths, in reference order (image k = [k-1])
    answer: str  # the ground truth: an option letter when `choice`, sorted letters "C,D" when `multi_select`
    options: list[str] = field(default_factory=list)  # the option texts, A first (extra_info.options)
    options_shown: bool = True  # render `options` as an "Options:" block (False: already in the text or image)
    choice: bool = False  # the answer is an option letter (options may live in the question text or image)
    multi_select: bool = False  # the answer is a set of option letters
    category: str = ""
    raw_answer: str = ""  # the answer as the dataset spells it (before letter mapping / unboxing)
    hint: str = ""  # one line after the question/options (e.g. MathVista's required precision)
    answers: list[str] = field(default_factory=list)  # every acceptable answer when there are several (MMMU)
    precision: int | None = None  # decimals numbers are compared to (MathVista's free-form floats)
    text_only: bool = False  # the record has no image by design (ViRL39K's DeepScaleR rows)
    lead: str = ""  # a line before the question (MathVerse's own instruction for its vision-only rows)


def column(record: dict[str, Any], *names: str) -> Any:
    """The first of `names` present in the record; LayoutError naming the columns there are otherwise."""
    for name in names:
        if name in record:
            return record[name]
    raise LayoutError(f"missing column {' or '.join(repr(n) for n in names)} (columns: {sorted(record)})")


def text(value: Any) -> str:
    """A field as stripped text, LaTeX commands read as escapes restored (`latex_escapes`); None, NaN -> ''."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return repair_escapes(str(value)).strip()


def as_list(value: Any) -> list[Any]:
    """A list column, a single value as a one-item list, None as []."""
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


_BOXED = re.compile(r"^\\boxed\{(.*)\}$", re.S)


def strip_boxed(answer: str) -> str:
    """`\\boxed{3}` -> `3` (ViRL39K stores some answers boxed); anything else unchanged."""
    m = _BOXED.match(answer.strip())
    if m is None:
        return answer.strip()
    depth = 0
    for ch in m.group(1):  # the outer braces must close at the very end, not earlier (\boxed{a} + \boxed{b})
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return answer.strip()
    return m.group(1).strip() if depth == 0 else answer.strip()


_LETTER = re.compile(r"\(?([A-Z])\)?\.?")


def option_letter(answer: str) -> str | None:
    """`B`, `(B)`, `B.` -> `B`; None for anything else (lower-case single letters are left to be answers)."""
    m = _LETTER.fullmatch(answer.strip())
    return m.group(1) if m else None


def _norm(s: str) -> str:
    return " ".join(str(s).split()).casefold()


def letter_for(answer: str, options: list[str]) -> str:
    """The letter of the one option equal to `answer` (blanks and case ignored); Skip when none or several are."""
    hits = [i for i, opt in enumerate(options) if _norm(opt) == _norm(answer)]
    if not hits:
        raise Skip("answer_not_in_options", f"answer {answer!r} is none of {len(options)} options")
    if len(hits) > 1:
        raise Skip("ambiguous_answer", f"answer {answer!r} matches options {[LETTERS[i] for i in hits]}")
    if hits[0] >= len(LETTERS):
        raise Skip("too_many_options", f"{len(options)} options")
    return LETTERS[hits[0]]


def check_letter(letter: str, options: list[str]) -> str:
    """A letter answer that names one of `options` (when the options are known)."""
    if options and LETTERS.index(letter) >= len(options):
        raise Skip("answer_not_in_options", f"answer {letter} but only {len(options)} options")
    return letter


def set_choice(problem: Problem, options: list[str], letter: str | None = None, shown: bool = True) -> Problem:
    """Make `problem` multiple choice over `options` (which may be [] when they are unknown, drawn in the image):
    the ground truth is `letter`, checked against the options, else the letter of the option equal to the answer.
    `shown=False`: the options are already in the question text or image (kept for grading, not rendered)."""
    if not problem.answer:
        raise Skip("missing_answer", "empty answer")
    problem.answer = check_letter(letter, options) if letter else letter_for(problem.answer, options)
    problem.options, problem.options_shown, problem.choice = options, shown, True
    return problem


_LETTER_SET = re.compile(r"\(?([A-Z])\)?(?:\s*(?:,|;|\n|and|\s)\s*\(?([A-Z])\)?)+")


def letter_set(answer: str) -> list[str] | None:
    """`C\nD`, `A, C`, `(B) and (D)` -> sorted distinct letters (at least two); None for anything else."""
    answer = answer.strip()
    if not _LETTER_SET.fullmatch(answer):
        return None
    letters = sorted(set(re.findall(r"[A-Z]", answer)))
    return letters if len(letters) > 1 else None


def set_multi_select(problem: Problem, options: list[str], letters: list[str], shown: bool = True) -> Problem:
    """Make `problem` a multi-select question: the ground truth is the sorted letters joined by commas."""
    for letter in letters:
        check_letter(letter, options)
    problem.answer = ",".join(letters)
    problem.options, problem.options_shown, problem.choice, problem.multi_select = options, shown, True, True
    return problem


_OPTION_LINE = re.compile(r"^\s*\(?([A-Z])\s*[:.)：]\s*(.+?)\s*$")


def options_in_text(question: str) -> list[str]:
    """The options a question writes out itself, one per line (`A:40°`, `A. circle`, `(A) 3`): the texts of the
    last run of lines lettered A, B, C, ... (two at least); [] when there is none."""
    runs: list[list[str]] = []
    current: list[str] = []
    for line in question.splitlines():
        m = _OPTION_LINE.match(line)
        if m is not None and len(current) < len(LETTERS) and m.group(1) == LETTERS[len(current)]:
            current.append(m.group(2))
            continue
        if len(current) >= 2:
            runs.append(current)
        current = [m.group(2)] if m and m.group(1) == "A" else []
    if len(current) >= 2:
        runs.append(current)
    return runs[-1] if runs else []


def options_block(options: list[str]) -> str:
    """"Options:\\nA. ...\\nB. ..." (an option that is just its own letter, as in MathVision's picture choices,
    is written once)."""
    if len(options) > len(LETTERS):
        raise Skip("too_many_options", f"{len(options)} options")
    lines = [L if text(o) == L else f"{L}. {text(o)}" for L, o in zip(LETTERS, options)]
    return "Options:\n" + "\n".join(lines)


_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?%?", re.I)


def answer_type(problem: Problem, answer: str | None = None) -> str:
    """`multi_select` (a set of letters), `choice` (an option letter), `number` (a plain decimal number) or
    `text` (anything else): extra_info.answer_type, as the grader reads it. `answer`: the normalised answer
    when it differs from `problem.answer`."""
    if problem.multi_select:
        return "multi_select"
    if problem.choice:
        return "choice"
    return "number" if _NUMBER.fullmatch((problem.answer if answer is None else answer).strip()) else "text"
