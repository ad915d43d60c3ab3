"""Hedges: a final answer that names two or more different candidates ("2 or 3", "A and B", "7 (or maybe 8)").

A hedge scores 0 unless the ground truth is itself a list or a set (then the graders compare the whole answer).
MM-EUREKA's grader, which SPECS built on, scores hedges 0; graders that keep the first alternative (mathruler's
normaliser) would reward them, and a hedging chosen response would teach hedging.

How: the answer is split into parts at connectives. Words that only ever join alternatives (or, either, maybe,
perhaps, possibly, `\\lor`) split it everywhere, inside parentheses too; commas, semicolons and "and" split
only at the top level (not inside `(1, 2)`, `[0, 1)` or `\\{1, 2\\}`), and a comma between digit groups
(`1,000`) is a thousands separator. A part is a candidate when it names a value: a number, a formula or an
option letter; prose around the answer ("B, since angle A = 30") is not. Two candidates that differ after
normalisation make a hedge.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .answer_text import normalise, strip_unit, unwrap
from .numbers import as_plain_number

_ALTERNATIVE = re.compile(r"\b(?:or|either|maybe|perhaps|possibly|otherwise)\b|\\lor\b|\\vee\b", re.IGNORECASE)
_AND = re.compile(r"\b(?:and|as well as)\b|\\land\b|\\wedge\b|\\quad\b|\\qquad\b|&", re.IGNORECASE)
_OPENERS, _CLOSERS = "([{", ")]}"
_ASSIGN = re.compile(r"^\s*[a-zA-Z](?:_\{?\w+\}?)?\s*=\s*(?=\S)")
_LEAD_WORDS = re.compile(r"^\s*(?:the\s+)?(?:final\s+)?(?:answer|value|result)?\s*(?:is|:|=)?\s*", re.IGNORECASE)
_PROSE = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")  # a word of 3+ letters that is not a LaTeX command
_UNIT_WORDS = re.compile(r"\b(?:degrees?|units?|square|cubic|cm|mm|km|m|meters?|inches|inch|feet|foot|ft|"
                         r"seconds?|minutes?|hours?|days?|years?|dollars?|cents?|percent|kg|g|grams?|liters?)\b",
                         re.IGNORECASE)
_OPTION = re.compile(r"\(?[A-Z]\)?\.?")
_MATH = re.compile(r"\d|\\[a-zA-Z]+|[\^_=+*/<>]")


def _top_level_splits(text: str) -> list[str]:
    """Split at commas, semicolons and `and` outside brackets (thousands separators kept)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text) and text[i + 1] in "{}":
            depth += 1 if text[i + 1] == "{" else -1
            i += 2
            continue
        if c in _OPENERS:
            depth += 1
        elif c in _CLOSERS:
            depth = max(0, depth - 1)
        elif depth == 0 and c in ",;":
            thousands = (c == "," and i > 0 and text[i - 1].isdigit()
                         and re.match(r"\d{3}(?!\d)", text[i + 1:i + 5]) is not None)
            if not thousands:
                parts.append(text[start:i])
                start = i + 1
        elif depth == 0 and c in "a&\\":
            m = _AND.match(text, i)
            if m and (i == 0 or not text[i - 1].isalpha() or c != "a"):
                parts.append(text[start:i])
                start = i = m.end()
                continue
        i += 1
    parts.append(text[start:])
    return parts


def _clean(part: str) -> str:
    part = part.strip().strip(".,;:!?").strip()
    part = _LEAD_WORDS.sub("", part, count=1) if not _OPTION.fullmatch(part) else part
    part = _ASSIGN.sub("", part, count=1)
    part = strip_unit(part).strip().strip(".,;:!?").strip()
    while len(part) >= 2 and part[0] in "([" and part[-1] in ")]" and part.count("(") + part.count("[") == 1:
        part = part[1:-1].strip()  # "(8)" -> "8"; "(1, 2)" stays (two openers would not be one group)
    return part


def _is_candidate(part: str, text_answers: bool) -> bool:
    if not part:
        return False
    if _OPTION.fullmatch(part):
        return True
    if text_answers:
        return len(part.split()) <= 4
    if not _MATH.search(part):
        return False
    return not _PROSE.search(_UNIT_WORDS.sub("", part))


def _key(part: str):
    number = as_plain_number(part)
    return Fraction(number) if number is not None else normalise(part)


def candidates(answer: str, text_answers: bool = False) -> list[str]:
    """The distinct candidates an answer names, in order (one for an ordinary answer).

    `text_answers`: the ground truth is free-form text (a name, a word); then only the words that join
    alternatives split the answer ("black and white" is one answer) and short phrases count as candidates.
    """
    text = unwrap(answer).replace("$", "")
    if _ALTERNATIVE.search(text):
        pieces = []
        for chunk in _ALTERNATIVE.split(text):
            pieces.extend(re.split(r"[()]", chunk) if not text_answers else [chunk])
        if not text_answers:
            pieces = [p for piece in pieces for p in _top_level_splits(piece)]
    elif text_answers:
        return [answer]
    else:
        pieces = _top_level_splits(text)
        if len(pieces) == 1:
            return [answer]
    out, seen = [], set()
    for piece in pieces:
        part = _clean(piece)
        if _is_candidate(part, text_answers):
            key = _key(part)
            if key not in seen:
                seen.add(key)
                out.append(part)
    return out or [answer]


def is_hedge(answer: str, text_answers: bool = False) -> bool:
    return len(candidates(answer, text_answers)) >= 2
