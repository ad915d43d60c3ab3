"""Multiple choice as the benchmarks grade it: the option letter, the option's text, or both; never two options.

`ChoiceSpec` says what is right: the correct letter(s) (one for single choice, several for multi-select) and,
when the row carries them, the option texts in letter order (`extra_info.options`). An answer that is exactly
one option's text is that option. Otherwise `named_letters` reads the letters an answer names, in this order
of evidence:
1. a list of bare letters ("B or C", "A, B", "\\text{A and C}"): all of them (a hedge, or a multi-select answer);
2. a leading letter ("B. A square", "(B) 30°", "B, since angle A = 30"): that one;
3. "answer/option/choice (is) X": that one;
4. every standalone capital, except the article "A" and the pronoun "I" before a lower-case word
   ("I think it's B" names B).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from .answer_text import normalise, unwrap
from .hedges import _top_level_splits
from .numbers import same_number

_GOLD = re.compile(r"\s*\(?([A-Z])\)?(?:\s*[.:)]\s*(.*?))?\s*", re.S)
_MULTI_GOLD = re.compile(r"\s*[A-Z](?:\s*[,;\s]\s*[A-Z])+\s*")
_BARE = re.compile(r"\(?([A-Z])\)?\.?")
_LEADING = re.compile(r"\s*(\()?([A-Z])(\))?(?![A-Za-z0-9'’])")
_PHRASE = re.compile(r"(?:answer|option|choice)\s*(?:is|:|-)?\s*\(?([A-Z])\)?(?![A-Za-z])", re.IGNORECASE)
_STANDALONE = re.compile(r"(?<![A-Za-z\\'’])([A-Z])(?![A-Za-z'’])")
_CONNECTIVE = {"or", "and", "nor", "either", "maybe", "perhaps", "possibly"}
_CONNECTIVE_WORD = re.compile(r"\b(?:or|either|maybe|perhaps|possibly)\b", re.IGNORECASE)
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class ChoiceSpec:
    letters: frozenset[str]  # the correct letter(s)
    options: tuple[str, ...] = ()  # option texts, index 0 = A
    gold_text: str | None = None  # "B. 30^\circ" as a ground truth: its text part
    multi: bool = False  # multi-select: the answer must name exactly `letters`


def choice_spec(golds: list[str], options: tuple[str, ...], answer_type: str | None) -> ChoiceSpec | None:
    """The multiple-choice reading of the ground truth, or None when it is not an option answer."""
    if answer_type == "multi_select" or (len(golds) == 1 and _MULTI_GOLD.fullmatch(golds[0])):
        letters = frozenset(c for g in golds for c in g if c in _LETTERS)
        if letters:
            return ChoiceSpec(letters, options, multi=len(letters) > 1 or answer_type == "multi_select")
    for gold in golds:
        m = _GOLD.fullmatch(gold)
        if m is not None:
            return ChoiceSpec(frozenset(m.group(1)), options, gold_text=(m.group(2) or None))
    if options and answer_type == "choice":
        # a ground truth given as the option's text: find its letter
        for i, text in enumerate(options[:26]):
            if any(normalise(text) == normalise(g) for g in golds):
                return ChoiceSpec(frozenset(_LETTERS[i]), options)
    return None


def _is_article(text: str, end: int, letter: str) -> bool:
    """'A square', 'I think': the letter starts an English phrase rather than naming an option."""
    if letter not in "AI":
        return False
    m = re.match(r"\s+([a-z][a-z'’]*)", text[end:])
    return m is not None and m.group(1) not in _CONNECTIVE


def named_letters(answer: str, n_options: int = 0, multi: bool = False) -> list[str]:
    """The option letters an answer names (see the module docstring); [] when it names none."""
    text = unwrap(answer).replace("$", "").strip()
    valid = _LETTERS[:n_options] if n_options else _LETTERS
    parts = [p.strip() for chunk in _CONNECTIVE_WORD.split(text) for p in _top_level_splits(chunk)]
    bare = [m.group(1) for p in parts if (m := _BARE.fullmatch(p.strip().strip(".")))]
    if len(set(bare)) >= 2:
        return sorted(set(bare))
    if multi and re.fullmatch(r"[A-Z]{2,}", text) and all(c in valid for c in text):
        return sorted(set(text))  # "CD"
    lower = re.fullmatch(r"\(?([a-z])\)?\.?", text)
    if lower and lower.group(1).upper() in valid:
        return [lower.group(1).upper()]  # "b", "(c)": the letter in lower case
    m = _LEADING.match(text)
    if m and m.group(2) in valid and not (m.group(1) is None and _is_article(text, m.end(), m.group(2))):
        rest = text[m.end():]
        if not (_CONNECTIVE_WORD.match(rest.strip()) and _STANDALONE.search(rest)):
            return [m.group(2)]
    phrases = [m.group(1).upper() for m in _PHRASE.finditer(text) if m.group(1).upper() in valid]
    if phrases:
        return [phrases[-1]]
    found = []
    for m in _STANDALONE.finditer(text):
        letter = m.group(1)
        if letter in valid and not _is_article(text, m.end(), letter) and letter not in found:
            found.append(letter)
    return sorted(found)


def grade_choice(answer: str, spec: ChoiceSpec, is_hedge: Callable[[], bool] = lambda: False) -> bool | str | None:
    """True/False when the option texts or the letters decide; "hedge" when the answer names two different
    candidates (single choice); None when only a math-equivalence check of the answer against the correct
    option's text can (the caller runs the symbolic graders on it).

    An answer that is exactly one option's text is that option (so "\\angle A" as the text of option C is not
    read as the letter A); otherwise the letters it names decide; otherwise its text, compared with the options.
    """
    texts = list(spec.options)
    mine = normalise(answer)
    if texts and not spec.multi:
        exact = {_LETTERS[i] for i, t in enumerate(texts[:26]) if normalise(t) == mine}
        if len(exact) > 1:  # options equal up to case ("XAXA" / "XAXa"): the exact spelling decides
            spelled = "".join(answer.replace("$", "").split())
            exact = {_LETTERS[i] for i, t in enumerate(texts[:26]) if "".join(t.replace("$", "").split()) == spelled}
        if exact:
            return exact <= spec.letters
        m = _LEADING.match(unwrap(answer).replace("$", ""))
        if m is not None and ord(m.group(2)) - 65 < len(texts):  # "B. 1, 2, 3": a letter and its own text
            rest = unwrap(answer).replace("$", "")[m.end():].lstrip(" .:)")
            if rest and normalise(rest) == normalise(texts[ord(m.group(2)) - 65]):
                return m.group(2) in spec.letters
    if not spec.multi and is_hedge():
        return "hedge"
    letters = named_letters(answer, len(spec.options), spec.multi)
    if letters:
        return frozenset(letters) == spec.letters
    if spec.multi:
        return False
    correct = correct_texts(spec)
    if not correct:
        return False
    others = [t for i, t in enumerate(texts[:26]) if _LETTERS[i] not in spec.letters]
    if any(normalise(t) == mine or same_number(normalise(t), mine) for t in others):
        return False  # another option's text
    if any(normalise(t) == mine or same_number(normalise(t), mine) for t in correct):
        return True
    return None


def correct_texts(spec: ChoiceSpec) -> list[str]:
    """The texts that are right: the correct options' and, for a ground truth "B. 30°", its text."""
    out = [spec.options[ord(c) - 65] for c in sorted(spec.letters) if ord(c) - 65 < len(spec.options)]
    return out + ([spec.gold_text] if spec.gold_text else [])
