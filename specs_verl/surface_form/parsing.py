"""One linear-time pass that turns a response into its parts: `parse` for the whole form, `scan_tags` for the
lean core that `check` reads on every rollout.

Why not regexes over the whole response: the usual format rules (chained lookaheads, `.*` between tags)
backtrack: about a millisecond per 10k-token rollout for the SPECS authors' rule, quadratic time on repeated
tags for verl's geo3k rule. Here the response is scanned once: a regex whose every quantifier is bounded finds
tag-like strings (a match can never extend past 20 characters, so it cannot backtrack over the response), and
`str.find`/`str.count` find `\\boxed{...}` and its balancing brace. Time and memory are linear in the length.

Only the four exact strings `<think>`, `</think>`, `<answer>`, `</answer>` are tags. Strings that real models
emit instead (`< /think>`, `</ answer >`, `<Think>`, `<thinking>`, full-width `＜think＞`) are "near misses":
reported with their position and the tag they imitate, never counted as tags.
"""

from __future__ import annotations

import re
from operator import itemgetter
from typing import NamedTuple

THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE = "think_open", "think_close", "answer_open", "answer_close"
TAG_KINDS = (THINK_OPEN, THINK_CLOSE, ANSWER_OPEN, ANSWER_CLOSE)
TAG_TEXT = {THINK_OPEN: "<think>", THINK_CLOSE: "</think>", ANSWER_OPEN: "<answer>", ANSWER_CLOSE: "</answer>"}
_EXACT = {text: kind for kind, text in TAG_TEXT.items()}

# Anything that looks like one of the four tags: '<', up to 4 blanks or slashes (a backslash too), the name in
# any ASCII case (`thinking` too), up to 4 blanks or slashes, '>'. Every repetition is bounded, so a failed
# attempt costs O(1); the pattern starts with a literal '<', so the regex engine skips to each '<' at C speed.
_TAG_LIKE = re.compile(
    r"<([ \t/\\]{0,4})([Tt][Hh][Ii][Nn][Kk](?:[Ii][Nn][Gg])?|[Aa][Nn][Ss][Ww][Ee][Rr])[ \t/]{0,4}>"
)
# The same with look-alike brackets (full-width, angle quotes, CJK and math angle brackets). A pattern that
# starts with a character set is scanned one character at a time (about 20x slower), so it only runs on the
# rare response that holds one of these characters.
_LOOKALIKE_BRACKETS = "\uff1c\u2039\u3008\u27e8\u2329"
_TAG_LIKE_UNICODE = re.compile(
    "[<" + _LOOKALIKE_BRACKETS + "]"
    r"([ \t/\\\uff0f]{0,4})([Tt][Hh][Ii][Nn][Kk](?:[Ii][Nn][Gg])?|[Aa][Nn][Ss][Ww][Ee][Rr])[ \t/\uff0f]{0,4}"
    "[>\uff1e\u203a\u3009\u27e9\u232a]"
)
_SPACES = re.compile(r"\s*")


class Tag(NamedTuple):
    """A tag (exact) or a near miss, as found in the text: `text[start:end]` is what was written."""

    kind: str  # one of TAG_KINDS (for a near miss: the tag it imitates)
    start: int
    end: int
    exact: bool


class Boxed(NamedTuple):
    """A top-level `\\boxed{...}`: `text[start:end]` is the whole command, `text[content_start:content_end]`
    the inside. An unclosed box runs to the end of the text with `closed=False`."""

    start: int
    end: int
    content_start: int
    content_end: int
    closed: bool


class ParsedResponse(NamedTuple):
    """A response split into its parts. Positions index `text`; the string parts are sliced on demand.

    The think block is the text between the first `<think>` and the first `</think>` after it; the answer
    block is the text between the first `<answer>` and the first `</answer>` after it. With well-formed
    responses these are the only blocks; with malformed ones they are the first plausible reading and the
    violation codes of `check` say what is wrong.
    """

    text: str
    tags: tuple[Tag, ...]  # exact tags, in order of position
    near_misses: tuple[Tag, ...]  # tag-like strings that are not exact tags, in order
    boxed: tuple[Boxed, ...]  # top-level \boxed{...}, in order

    def positions(self, kind: str) -> list[int]:
        """Start positions of the exact tags of one kind."""
        return [t.start for t in self.tags if t.kind == kind]

    @property
    def think_span(self) -> tuple[int, int] | None:
        return _block(self.tags, THINK_OPEN, THINK_CLOSE)

    @property
    def answer_span(self) -> tuple[int, int] | None:
        return _block(self.tags, ANSWER_OPEN, ANSWER_CLOSE)

    @property
    def think(self) -> str | None:
        span = self.think_span
        return None if span is None else self.text[span[0]:span[1]]

    @property
    def answer(self) -> str | None:
        span = self.answer_span
        return None if span is None else self.text[span[0]:span[1]]

    @property
    def before(self) -> str:
        """Text before the first exact tag (the whole text when there is none)."""
        return self.text[: self.tags[0].start] if self.tags else self.text

    @property
    def after(self) -> str:
        """Text after the last exact tag (empty when there is none)."""
        return self.text[self.tags[-1].end:] if self.tags else ""

    def boxed_content(self, box: Boxed) -> str:
        return self.text[box.content_start:box.content_end]


def _new_tag(fields: tuple) -> Tag:
    # tuple.__new__ skips NamedTuple's Python-level __new__ (a tag flood makes many of these)
    return tuple.__new__(Tag, fields)


def _block(tags: tuple[Tag, ...], open_kind: str, close_kind: str) -> tuple[int, int] | None:
    start = None
    for t in tags:
        if start is None and t.kind == open_kind:
            start = t.end
        elif start is not None and t.kind == close_kind:
            return start, t.start
    return None


def scan_tags(text: str) -> tuple[dict[str, list[int]], list[re.Match]]:
    """The start of every exact tag by kind, and the near misses (as regex matches), in one pass.

    The lean core shared by `parse` and `check`: it builds no objects per tag beyond an int, because the
    scorer runs on every rollout and must not be slower than the regex it replaces even on short responses.
    """
    pos: dict[str, list[int]] = {THINK_OPEN: [], THINK_CLOSE: [], ANSWER_OPEN: [], ANSWER_CLOSE: []}
    near: list[re.Match] = []
    lookalikes = not text.isascii() and any(c in text for c in _LOOKALIKE_BRACKETS)
    for m in (_TAG_LIKE_UNICODE if lookalikes else _TAG_LIKE).finditer(text):
        kind = _EXACT.get(m.group())
        if kind is None:
            near.append(m)
        else:
            pos[kind].append(m.start())
    return pos, near


def _near_miss_kind(m: re.Match) -> str:
    lead = m.group(1)
    close = "/" in lead or "\\" in lead or "\uff0f" in lead
    name = "think" if m.group(2)[0] in "Tt" else "answer"
    return f"{name}_{'close' if close else 'open'}"


def parse(text: str) -> ParsedResponse:
    """Scan `text` once for tags, near-miss tags and top-level boxes."""
    pos, near = scan_tags(text)
    tags = [_new_tag((kind, start, start + len(TAG_TEXT[kind]), True))
            for kind, starts in pos.items() for start in starts]
    tags.sort(key=itemgetter(1))
    near_tags = tuple(_new_tag((_near_miss_kind(m), m.start(), m.end(), False)) for m in near)
    return tuple.__new__(ParsedResponse, (text, tuple(tags), near_tags, find_boxed(text)))


def find_boxed(text: str, start: int = 0, end: int | None = None) -> tuple[Boxed, ...]:
    """Every top-level `\\boxed{...}` in `text[start:end]`, braces balanced; linear in the length.

    Braces are only counted inside a box (`str.find` for the next '}', `str.count` for the '{' before it),
    so each character is looked at a constant number of times. A `\\boxed` inside another box is part of
    the outer box's content, not a box of its own. Escaped braces `\\{ \\}` are counted like any other
    brace (LaTeX sets write them in pairs), the same convention as mathruler's `extract_boxed_content`.
    """
    end = len(text) if end is None else end
    boxes: list[Boxed] = []
    pos = start
    while True:
        # str.find beats a regex search here: LaTeX is full of backslashes, each one a false start for the regex
        at = text.find("\\boxed", pos, end)
        if at < 0:
            return tuple(boxes)
        brace = at + 6
        if brace < end and text[brace] != "{":
            brace = _SPACES.match(text, brace, end).end()
        if brace >= end or text[brace] != "{":
            pos = at + 6
            continue
        content_start = cursor = brace + 1
        depth = 1
        while True:
            close = text.find("}", cursor, end)
            if close < 0:  # unclosed: the box swallows the rest of the text
                boxes.append(tuple.__new__(Boxed, (at, end, content_start, end, False)))
                return tuple(boxes)
            depth += text.count("{", cursor, close) - 1
            cursor = close + 1
            if depth == 0:
                break
        boxes.append(tuple.__new__(Boxed, (at, cursor, content_start, close, True)))
        pos = cursor
