"""The "format supplement": rewrite a format-passing response into the canonical wrapper, nothing else.

The paper makes every chosen response conform exactly to the required format before DPO. What changes is only
the wrapper: the think block is kept byte for byte, the answer becomes
`<answer> The answer is $\\boxed{X}$ </answer>` (the example in the paper's prompt) with X the answer's own
boxed content, or, when the answer has no box, its text without a leading "The answer is"/"Answer:", math
delimiters and a final period. Text outside the blocks is dropped. The result passes `style_ok`, or the
call raises (a reasoning that holds a near-miss tag or an unclosed box cannot be fixed without editing it).
"""

from __future__ import annotations

import re

from .criteria import check
from .parsing import find_boxed

_LEAD = re.compile(r"(?:[Tt]he (?:final )?answer is|[Aa]nswer)\s*:?\s*")
_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def canonical_response(think: str, answer: str) -> str:
    """The canonical layout around a think text and a final answer (the content of the box)."""
    return f"<think>{think}</think>\n<answer> The answer is $\\boxed{{{answer}}}$ </answer>"


def _bare_answer(text: str) -> str:
    text = text.strip()
    m = _LEAD.match(text)
    if m:
        text = text[m.end():].strip()
    if text.endswith("."):
        text = text[:-1].rstrip()
    for left, right in _DELIMS:
        if len(text) >= len(left) + len(right) and text.startswith(left) and text.endswith(right):
            text = text[len(left):len(text) - len(right)].strip()
            break
    return text


def supplement(text: str, *, think_prefilled: bool = False) -> str:
    """Normalise a response that passes `format_ok` (profile `specs`) to the canonical wrapper.

    With `think_prefilled` the input and the output both start inside the think block (no leading `<think>`).
    Raises ValueError, with the reason, when the response fails format_ok or its final answer is ambiguous
    (several boxes, an unclosed box, nothing left to box): such a response cannot be a chosen response.
    """
    report = check(text, think_prefilled=think_prefilled)
    if not report.format_ok:
        raise ValueError(f"cannot supplement a response that fails format_ok: {report.violations}")
    if think_prefilled:
        text = "<think>" + text
    think_start = text.index("<think>") + 7
    think = text[think_start:text.index("</think>")]
    answer_start = text.index("<answer>") + 8
    answer_text = text[answer_start:text.index("</answer>")]
    boxes = find_boxed(answer_text)
    if len(boxes) > 1:
        raise ValueError("the answer holds several \\boxed{}: the final answer is ambiguous")
    if boxes:
        box = boxes[0]
        if not box.closed:
            raise ValueError("the answer's \\boxed{ is never closed")
        final = answer_text[box.content_start:box.content_end].strip()
    else:
        final = _bare_answer(answer_text)
    if not final:
        raise ValueError("the answer is empty: nothing to put in \\boxed{}")
    if "$" in final or final.count("{") != final.count("}"):
        raise ValueError(f"the answer {final[:80]!r} cannot be boxed (stray '$' or unbalanced braces)")
    result = canonical_response(think, final)
    after = check(result)
    if not after.style_ok:  # the reasoning itself holds something the stricter criteria reject
        raise ValueError(f"the reasoning keeps the response from passing style_ok: {after.violations}")
    return result[len("<think>"):] if think_prefilled else result
