"""Undo LaTeX commands that an earlier tool read as escape sequences: `\\frac` stored as form feed + "rac".

Annotation files are JSON or stringified Python lists, and LaTeX written into them with single backslashes comes
out of `json.loads` / `ast.literal_eval` as control characters: `\\f` form feed, `\\b` backspace, `\\v` vertical
tab, `\\a` bell, `\\r` carriage return, `\\t` tab, `\\n` newline. MATH-V's official `test.jsonl` holds one
(id 2830, answer "\\x0crac{36}{13}"). No prompt or answer needs a control character, so data preparation passes
every text field through `repair_escapes`: a control character that starts a LaTeX command name gets its
backslash back, `\\r\\n` becomes a newline, any other control character but the newline becomes a space. A newline
is only taken for `\\n` when it is followed by a LaTeX command that begins with n (`\\neq`, `\\nabla`, ...), since
real newlines are common (`\\ne` and `\\ni` are left out: a line starting "e.g." or "i.e." would match).
"""

from __future__ import annotations

import re

# a command name after the control character; \f, \b, \v, \a are never wanted, so any letters will do
_ALWAYS = {"\f": "f", "\b": "b", "\v": "v", "\a": "a"}
# commands starting with t / r / n: only these names count (a tab or newline before ordinary words stays one)
_T = ("times", "theta", "tan", "tanh", "text", "textbf", "textit", "textrm", "tfrac", "triangle", "to", "tau",
      "top", "tilde", "tt", "therefore", "thinspace")
_R = ("right", "rightarrow", "rho", "rangle", "rbrace", "rceil", "rfloor", "rm", "root")
_N = ("neq", "nabla", "nu", "not", "notin", "newline", "nmid", "neg", "nleq", "ngeq", "nexists",
      "nparallel", "nsubseteq")


def _names(names: tuple[str, ...]) -> str:
    return "|".join(sorted((n[1:] for n in names), key=len, reverse=True))


_AFTER = r"(?![A-Za-z])"
_PATTERNS = (
    (re.compile(r"\r\n"), "\n"),
    (re.compile(rf"\t(?=(?:{_names(_T)}){_AFTER})"), r"\\t"),
    (re.compile(rf"\r(?=(?:{_names(_R)}){_AFTER})"), r"\\r"),
    (re.compile(rf"\n(?=(?:{_names(_N)}){_AFTER})"), r"\\n"),
)
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def repair_escapes(s: str) -> str:
    """`s` with LaTeX commands restored and no control character left except the newline."""
    if "\n" not in s and not _CONTROL.search(s):
        return s
    for ch, letter in _ALWAYS.items():
        s = re.sub(rf"{re.escape(ch)}(?=[A-Za-z])", lambda m, c=letter: "\\" + c, s)
    for pattern, repl in _PATTERNS:
        s = pattern.sub(repl, s)
    return _CONTROL.sub(" ", s)


def has_control(s: str) -> bool:
    """Whether `s` holds a control character other than the newline (what `repair_escapes` guarantees away)."""
    return bool(_CONTROL.search(s))
