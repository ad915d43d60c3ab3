"""Small text normalisations of a final answer, shared by the graders: wrappers, units of angle and percent."""

from __future__ import annotations

import re

_WRAPPER = re.compile(r"\\(?:text|mathrm|textbf|textit|mbox|operatorname|mathbf)\s*\{([^{}]*)\}")
_NOISE = re.compile(r"\s+|\$|\\[,;:! ]|\\left|\\right|\\displaystyle")
_LEAD = re.compile(r"^(?:thefinalansweris|thecorrectansweris|theansweris|answer|finalanswer)[:=]?")
# a trailing degree sign or percent, in every way models and datasets write them
_UNIT = re.compile(r"\s*(?:\^\s*\{?\s*\\circ\s*\}?|\\circ|°|\\degree|\s+degrees?|\s*\\?%|\s+percent)\s*\.?\s*$",
                   re.IGNORECASE)


def unwrap(text: str) -> str:
    """`\\text{or}` -> `or` (nested wrappers too, at most a few levels)."""
    for _ in range(3):
        new = _WRAPPER.sub(r"\1", text)
        if new == text:
            break
        text = new
    return text


def strip_unit(text: str) -> str:
    """`45^\\circ` -> `45`, `30°` -> `30`, `10\\%` -> `10` (only a trailing unit; the rest is kept)."""
    head, tail = (text[:-64], text[-64:]) if len(text) > 64 else ("", text)  # a unit is at the end: no scan
    stripped = head + _UNIT.sub("", tail)
    return stripped if stripped.strip() else text


def normalise(text: str) -> str:
    """For string comparison: wrappers, blanks, `$`, case, a leading "the answer is", a final period, units."""
    text = strip_unit(unwrap(text))
    text = _NOISE.sub("", text).lower()
    text = _LEAD.sub("", text)
    return text[:-1] if text.endswith(".") else text


_UNICODE_ROOT = re.compile(r"√\s*(\d+(?:\.\d+)?|[a-zA-Z])")


def latexify_unicode(text: str) -> str:
    """`√3` -> `\\sqrt{3}` (math-verify reads `π` and `−` but not a bare radical sign)."""
    return _UNICODE_ROOT.sub(r"\\sqrt{\1}", text) if "√" in text else text
