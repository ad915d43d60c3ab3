"""Plain numbers (`137`, `-2.50`, `1,000`) settled without a LaTeX parser, exactly or at a given precision."""

from __future__ import annotations

import re
from fractions import Fraction

PLAIN_NUMBER = re.compile(r"[-+]?(?:\d{1,100}(?:\.\d{0,100})?|\.\d{1,100})")
_INTEGER = re.compile(r"[-+]?\d{1,100}")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d{1,100})?")


def as_plain_number(text: str) -> str | None:
    """The number as `Fraction` can read it (thousands separators dropped), or None if it is not plain."""
    text = text.strip()
    if PLAIN_NUMBER.fullmatch(text):
        return text
    if _THOUSANDS.fullmatch(text):
        return text.replace(",", "")
    return None


def plain_number_verdict(pred: str, golds: list[str], precision: int | None = None) -> bool | None:
    """Settle plain numbers without a LaTeX parser (math-verify spends milliseconds parsing "137").

    True when the answer equals a ground truth as an exact rational (or both round to the same value at
    `precision` decimals, as MathVista's scorer compares); False when all are integers and none is equal
    (math-verify compares integers exactly too), or when a precision is given and none matches; None otherwise
    (decimals that differ: math-verify's rounding decides).
    """
    p = as_plain_number(pred)
    gs = [as_plain_number(g) for g in golds]
    if p is None or any(g is None for g in gs):
        return None
    value = Fraction(p)
    if any(Fraction(g) == value for g in gs):
        return True
    if precision is not None:
        return any(round(Fraction(g), precision) == round(value, precision) for g in gs)
    if _INTEGER.fullmatch(p) and all(_INTEGER.fullmatch(g) for g in gs):
        return False
    return None


def same_number(a: str, b: str) -> bool:
    pa, pb = as_plain_number(a), as_plain_number(b)
    return pa is not None and pb is not None and Fraction(pa) == Fraction(pb)
