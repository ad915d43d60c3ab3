"""The consistency judge's prompt and verdicts: render a swappable template, parse a free-text reply.

A template is a text file with the slots `{question}`, `{response}` and `{answer}` (filled by plain
replacement, so LaTeX braces in the template need no escaping). The packaged default is
`specs_verl/templates/judge_consistency.txt`; it asks for a last line "Verdict: yes" or "Verdict: no".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from specs_verl.schema.images import IMAGE_PLACEHOLDER

CONSISTENT, INCONSISTENT, UNPARSEABLE, ERROR = "consistent", "inconsistent", "unparseable", "error"
LABELS = (CONSISTENT, INCONSISTENT, UNPARSEABLE, ERROR)
DEFAULT_TEMPLATE = "judge_consistency"


@dataclass(frozen=True)
class JudgeItem:
    question: str  # the user's prompt text
    response: str  # the full response being judged
    answer: str  # the final answer read from it


@dataclass(frozen=True)
class Verdict:
    label: str  # one of LABELS; only CONSISTENT lets a chosen candidate through
    raw: str  # the judge's reply, or the error that prevented one
    cached: bool = False


def load_template(name_or_file: str = DEFAULT_TEMPLATE) -> str:
    from specs_verl.generation import load_instruction

    text = load_instruction(name_or_file)
    if not text or "{response}" not in text:
        raise ValueError(f"judge template {name_or_file!r} has no {{response}} slot")
    return text


def render(template: str, item: JudgeItem) -> str:
    # "<image>" means "an image goes here" to our backends; in a judge prompt it is only text
    question = item.question.replace(IMAGE_PLACEHOLDER, "[image]")
    filled = template.replace("{question}", question).replace("{answer}", item.answer)
    return filled.replace("{response}", item.response).replace(IMAGE_PLACEHOLDER, "[image]")


_VERDICT_LINE = re.compile(r"verdict\s*[:：=-]?\s*[*_`\"'\[(]*\s*(yes|no|not consistent|inconsistent|consistent)\b",
                           re.IGNORECASE)
_BARE = {"yes": CONSISTENT, "consistent": CONSISTENT, "no": INCONSISTENT, "inconsistent": INCONSISTENT,
         "not consistent": INCONSISTENT}


def parse_verdict(reply: str) -> str:
    """CONSISTENT / INCONSISTENT from the last "Verdict: ..." in the reply (or a bare yes/no reply),
    else UNPARSEABLE."""
    matches = _VERDICT_LINE.findall(reply or "")
    if matches:
        return _BARE[matches[-1].lower()]
    bare = re.sub(r"[\s.!*_`\"']+", " ", (reply or "").lower()).strip()
    return _BARE.get(bare, UNPARSEABLE)
