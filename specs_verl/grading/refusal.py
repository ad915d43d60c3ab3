"""Refuse, before any symbolic grader sees it, an answer whose exact value would be astronomically large.

sympy evaluates integer powers and factorials exactly: `10^{10^{10}}` asks for a ten-billion-digit integer,
`2^{2^{40}}` for more memory than the machine has. Each is one C call that cannot be interrupted. No correct
answer of a benchmark needs such a number, so an estimate of the size of every power, factorial and binomial
in the answer decides up front, in microseconds, whether the graders may try it.

The estimate is an upper bound on the digits of the exact value (numerator and denominator): a number literal
has as many as it is written with, a product adds them, a power `a^b` multiplies the base's digits by the
exponent's value bound, `n!` has about n log10 n. Symbols (`x`, `\\pi`) are unknown and cost nothing, but the
exponent of `x^{10^{10^{10}}}` is still estimated. Anything over `MAX_DIGITS`, or nested deeper than
`MAX_DEPTH`, is refused; the worker pool's kill (see `worker_pool.py`) is the backstop for what this misses.
"""

from __future__ import annotations

import math
import re

MAX_DIGITS = 20_000  # sympy handles exact integers of this size in well under a millisecond
MAX_DEPTH = 60
MAX_EXPONENT_DIGITS = 30  # x^{n} with n over 10^30: sympy still builds n exactly

_TOKEN = re.compile(
    r"\s+|(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<cmd>\\[a-zA-Z]+|\\.)|(?P<op>\*\*|[\^!{}()\[\]*/+\-=,;<>|_])|(?P<other>.)",
    re.S)
_OPEN = {"{": "}", "(": ")", "[": "]", "\\{": "\\}"}
_CLOSE = {"}", ")", "]", "\\}"}
_PRODUCT = {"*", "/", "\\cdot", "\\times", "\\div"}
_SEPARATORS = {"+", "-", "=", ",", ";", "<", ">", "|", "\\pm", "\\mp", "\\le", "\\leq", "\\ge", "\\geq", "\\neq",
               "\\approx", "\\quad", "\\qquad", "\\to", "\\in", "\\cup", "\\cap"}
_SKIP = {"\\right", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\,", "\\;", "\\:", "\\!", "\\ ", "\\displaystyle",
         "\\text", "\\mathrm", "\\mathbf", "\\operatorname"}
_TWO_ARGS = {"\\frac", "\\dfrac", "\\tfrac", "\\cfrac"}
_BINOM = {"\\binom", "\\dbinom", "\\tbinom", "\\choose"}
_FACTORIAL = {"\\factorial"}
_LOG10_E = math.log10(math.e)


class Refused(Exception):
    """The answer asks for a value too large to evaluate exactly (the message says what)."""


def _value_bound(digits: float) -> float:
    """|x| <= 10**digits: the bound used when x is an exponent or a factorial's argument."""
    return math.inf if digits > 300 else 10.0 ** digits


class _Estimator:
    def __init__(self, text: str):
        self.tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(text) if m.lastgroup]
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def check(self, digits: float | None, what: str) -> float | None:
        if digits is not None and digits > MAX_DIGITS:
            raise Refused(f"{what} would have about {digits:.3g} digits (more than {MAX_DIGITS:,})")
        return digits

    def expression(self, depth: int, stop: str | None) -> float | None:
        """Terms joined by separators, up to `stop` (consumed) or the end: the largest term."""
        if depth > MAX_DEPTH:
            raise Refused(f"nested more than {MAX_DEPTH} levels deep")
        worst: float | None = None
        while True:
            tok = self.peek()
            if tok is None:
                return worst
            if tok in _CLOSE or tok == "\\right":
                self.i += 2 if tok == "\\right" else 1  # \right takes its delimiter along
                if stop is not None:
                    return worst  # our closer (or a mismatched one: close the group anyway)
                continue  # a stray closer at the top level
            if tok in _SEPARATORS:
                self.i += 1
                continue
            d = self.term(depth)
            if d is not None:
                worst = self.check(d if worst is None else max(worst, d) + 0.31, "a sum")

    def term(self, depth: int) -> float | None:
        """Factors multiplied (explicitly or side by side): their digits add up."""
        total: float | None = None
        while True:
            tok = self.peek()
            if tok is None or tok in _CLOSE or tok in _SEPARATORS or tok == "\\right":
                return total
            if tok in _PRODUCT:
                self.i += 1
                continue
            d = self.power(depth)
            if d is not None:
                total = self.check(d if total is None else total + d, "a product")

    def power(self, depth: int) -> float | None:
        """An atom with its exponents (right-associative, as `**` and a chained `^` are read) and factorials."""
        base = self.atom(depth)
        while True:
            tok = self.peek()
            if tok in ("^", "**"):
                self.i += 1
                exponent = self.power(depth + 1)
                if exponent is not None and base is not None and base > 0:
                    base = self.check(base * _value_bound(exponent), "a power")
                elif exponent is not None and base is None and exponent > MAX_EXPONENT_DIGITS:
                    base = None  # x^{10^{40}}: symbolic, but an exact exponent that large is refused below
                    raise Refused(f"an exponent of about 10^{exponent:.3g}")
            elif tok == "!" or tok in _FACTORIAL:
                self.i += 1
                if base is not None:
                    base = self.check(_factorial_digits(base), "a factorial")
            elif tok == "_":
                self.i += 1
                self.atom(depth + 1)  # a subscript names, it does not compute
            else:
                return base

    def atom(self, depth: int) -> float | None:
        if self.i >= len(self.tokens):
            return None
        kind, text = self.tokens[self.i]
        self.i += 1
        if kind == "num":
            return _literal_digits(text)
        if text == "\\left":
            self.i += 1  # its delimiter
            return self.expression(depth + 1, "\\right")
        if text in _OPEN:
            return self.expression(depth + 1, _OPEN[text])
        if text in _TWO_ARGS:
            a, b = self.atom(depth + 1), self.atom(depth + 1)
            return None if a is None and b is None else self.check((a or 0) + (b or 0), "a fraction")
        if text in _BINOM:
            n, _ = self.atom(depth + 1), self.atom(depth + 1)
            return None if n is None else self.check(_value_bound(n) * math.log10(2), "a binomial")
        if text in _FACTORIAL:
            n = self.atom(depth + 1)
            return None if n is None else self.check(_factorial_digits(n), "a factorial")
        if text == "\\exp":
            x = self.atom(depth + 1)
            return None if x is None else self.check(_value_bound(x) * _LOG10_E, "an exponential")
        if text == "\\sqrt":
            if self.peek() == "[":
                self.atom(depth + 1)
            return self.atom(depth + 1)  # no larger than its argument
        return None  # symbols, words, other commands: unknown size, costs nothing


def _literal_digits(text: str) -> float:
    """log10 of the larger of numerator and denominator of the exact value of a written number."""
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0")
    value = int(whole or "0")
    if frac:
        return len(frac) + math.log10(max(value, 1) + 1)
    return math.log10(value) if value > 1 else 0.0


def _factorial_digits(n_digits: float) -> float:
    n = _value_bound(n_digits)
    if n < 3:
        return 0.31
    return n * math.log10(n) if math.isfinite(n) else math.inf


def refusal_reason(text: str) -> str | None:
    """Why `text` must not reach a symbolic grader, or None when it may."""
    est = _Estimator(text)
    try:
        while est.peek() is not None:
            est.expression(0, None)
    except Refused as e:
        return str(e)
    except RecursionError:
        return "nested too deeply"
    return None
