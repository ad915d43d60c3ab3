"""Free-form gold answers as a grader can compare them: the value, without the prose and units around it.

MathVerse's answers come from textbooks: `Area $=9 \\pi \\mathrm{cm}^{2}$`, `Perimeter $=35.7 \\mathrm{~mm}$`,
`2191.7 metres`, `62^\\circ `, `35掳` (a mis-decoded degree sign). A correct model answers `9\\pi`, `35.7`, `62`.
`normalise_free_form` removes, in this order and only where the rest is still an answer:
- math delimiters around the whole answer (`$...$`, `$$...$$`, `\\[...\\]`) and a trailing full stop;
- a leading label: words then `=` (`Area =`, `Surface Area $=`, `S.A. =`, `Center =`, `slope =`, a bare `=`);
  a single-letter left side (`y=-2x+5`, `x=0`) is kept, it is the answer;
- units at the end: `\\mathrm{~cm}^{2}`, `\\text { units }^2`, `cm^2`, `metres`, `square units`, ...;
- degree signs: every spelling becomes `°`, and a number with a degree sign becomes the number.
Anything else (equations, intervals, prose answers) is left as it is. The raw answer stays in `extra_info.answer`.
"""

from __future__ import annotations

import re

_DELIMITED = re.compile(r"^(?:\$\$(.+)\$\$|\$(.+)\$|\\\[(.+)\\\])$", re.S)
_LABEL = re.compile(r"^(?:[A-Za-z][A-Za-z.]*(?:\s+[A-Za-z.]+)*\s*)?\$?\s*=\s*(?!=)")
_UNIT_WORDS = ("Litres", "square units", "cubic units", "sq units", "units", "unit", "metres", "meters", "metre",
               "meter", "litres", "liters", "litre", "liter", "km/h", "km / h", "m/s", "mm", "cm", "km", "kg", "mg", "ml",
               "m", "g", "L", "s", "h", "degrees")
_POWER = r"(?:\s*\$?\s*\^\s*(?:\{\s*\d\s*\}|\d)\s*\$?)?"
_UNIT_TEXT = rf"(?:\\mathrm|\\text|\\mbox)\s*\{{\s*~?\s*([^{{}}]*?)\s*\}}{_POWER}"
_TRAILING_UNIT = re.compile(
    rf"(?<=[\d}}).\s])\s*(?:{_UNIT_TEXT}|(?:{'|'.join(re.escape(u) for u in _UNIT_WORDS)}){_POWER})\s*$")
_DEGREE = re.compile(r"\s*(?:\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|°|掳|º)\s*")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_NUMBER_DEGREES = re.compile(rf"^({_NUMBER})\s*°$")


def _strip_delimiters(s: str) -> str:
    s = s.strip()
    if re.search(r"(?:\d|\$|\\\])\.$", s):  # `216.`, `$...$.`, `\[...\].`: a full stop after the answer
        s = s[:-1].rstrip()
    m = _DELIMITED.match(s)
    return next(g for g in m.groups() if g is not None).strip() if m else s


def _strip_label(s: str) -> str:
    m = _LABEL.match(s)
    if m is None:
        return s
    label = m.group(0).split("=")[0].strip().rstrip("$").strip()
    if len(re.sub(r"[^A-Za-z]", "", label)) == 1:  # y = -2x + 5: the equation is the answer
        return s
    rest = s[m.end():].strip()
    return rest.strip("$").strip() if rest else s


def _strip_units(s: str) -> str:
    for _ in range(2):  # `12 \mathrm{~cm}^{2}` then a stray `$`
        new = _TRAILING_UNIT.sub("", s).strip()
        new = new[:-1].strip() if new.endswith("$") and new.count("$") % 2 else new
        if not new or new == s:
            break
        s = new
    return s


def normalise_degrees(s: str) -> str:
    """Every degree spelling as `°`; a plain number of degrees as the number."""
    s = _DEGREE.sub(lambda m: "°" + (" " if m.group(0).endswith(" ") and m.end() < len(s) else ""), s).strip()
    m = _NUMBER_DEGREES.match(s)
    return m.group(1) if m else s


def normalise_free_form(answer: str) -> str:
    """The answer a grader should compare against (see the module docstring); `answer` itself when unsure."""
    s = re.sub(r"\\mathrm\s*\{\s*(SA|[A-Za-z]\.?[A-Za-z]?\.?)\s*\}(?=\s*\$?\s*=)", r"\1", answer.strip())
    s = _strip_delimiters(s)
    s = _strip_label(s)
    s = _strip_delimiters(s)
    s = _strip_units(s)
    s = re.sub(r"\s*\\?%", "%", s)
    s = re.sub(r"^(\d+)\.$", r"\1", s)  # `216.` once its unit is gone
    s = normalise_degrees(s)
    return s if s else answer.strip()
