"""Property-based tests: `check` agrees with the original regex rules on any string, never raises, and the
pollutions and the supplement keep their promises."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from specs_verl.surface_form import (POLLUTION_RULES, PROFILES, TAG_TEXT, VIOLATIONS, check, parse, pollute,
                                     supplement)
from specs_verl.surface_form.reference import REFERENCE_FORMAT

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# pieces that exercise every branch of the rules: exact tags, near misses, boxes, braces, unicode whitespace
PIECES = st.sampled_from([
    "<think>", "</think>", "<answer>", "</answer>", "< /think>", "</ answer >", "<Think>", "<thinking>",
    "\uff1canswer\uff1e", "<", ">", "/", "think", "answer", "\\boxed{", "\\boxed {", "{", "}", "$", "\\",
    "The answer is ", " ", "\n", "\t", "\u00a0", "\u2003", "\x1c", "\u3000", "a", "x", "42", "\u00e9", "\U0001F914",
])
TEXTS = st.lists(PIECES, max_size=25).map("".join) | st.text(max_size=60)
SAFE = st.text(alphabet=st.characters(blacklist_characters="<>{}\\$", blacklist_categories=("Cs",)), max_size=40)


@SETTINGS
@given(TEXTS, st.sampled_from(sorted(PROFILES)), st.booleans())
@example("<think> </think>\u2003<answer>\n</answer>", "specs", False)
@example("<think></think><answer></answer>", "r1v", False)
@example("<think></think>\\boxed{}", "geo3k", False)
def test_format_ok_agrees_with_the_original_regex(text, profile, prefilled):
    full = "<think>" + text if prefilled else text
    assert check(text, profile, think_prefilled=prefilled).format_ok is REFERENCE_FORMAT[profile](full)


@SETTINGS
@given(TEXTS, st.sampled_from(sorted(PROFILES)))
def test_criteria_are_nested_and_codes_documented(text, profile):
    report = check(text, profile)
    assert report.format_ok or not report.structure_ok
    assert report.structure_ok or not report.style_ok
    assert set(report.violations) <= set(VIOLATIONS)
    assert report.style_ok is (not report.violations)
    assert report.violations == sorted(set(report.violations), key=list(VIOLATIONS).index)


@SETTINGS
@given(TEXTS)
def test_parse_finds_exactly_the_exact_tags_and_balanced_boxes(text):
    parsed = parse(text)
    assert len(parsed.tags) == sum(text.count(tag) for tag in TAG_TEXT.values())
    for tag in parsed.tags:
        assert text[tag.start:tag.end] == TAG_TEXT[tag.kind]
    for tag in parsed.near_misses:
        assert text[tag.start:tag.end] not in TAG_TEXT.values()
    for box in parsed.boxed:
        content = text[box.content_start:box.content_end]
        if box.closed:
            assert content.count("{") == content.count("}") and text[box.content_end] == "}"
        else:
            assert box.end == len(text)


@SETTINGS
@given(TEXTS, st.sampled_from(POLLUTION_RULES + ("random",)), st.integers(0, 2**32))
def test_every_pollution_fails_format_whatever_the_input(text, rule, seed):
    assert not check(pollute(text, rule, rng=seed)).format_ok


@SETTINGS
@given(SAFE.filter(str.strip), SAFE.filter(str.strip), SAFE, st.sampled_from(POLLUTION_RULES))
def test_pollution_keeps_the_answer_text(think, final, between_ws, rule):
    answer = f"The answer is $\\boxed{{{final}}}$"
    text = f"<think>{think}</think>\n<answer>{answer}</answer>"
    assert check(text).format_ok
    polluted = pollute(text, rule)
    assert answer in polluted and think in polluted
    assert not check(polluted).format_ok


@SETTINGS
@given(SAFE.filter(str.strip), SAFE.filter(str.strip), st.sampled_from(["", "\n", "  \n"]),
       st.sampled_from(["{}", "The answer is {}", "$\\boxed{{{}}}$", "Answer: \\boxed{{{}}}.", "\\boxed{{{}}}"]))
def test_supplement_reaches_style_and_keeps_reasoning_and_answer(think, final, between, wrapper):
    text = f"<think>{think}</think>{between}<answer>{wrapper.format(final)}</answer>"
    try:
        out = supplement(text)
    except ValueError:
        assert wrapper == "{}" or wrapper == "The answer is {}"  # only an unboxed answer can be unreadable
        return
    report = check(out)
    assert report.style_ok, report.violations
    assert parse(out).think == think
    assert report.boxed is not None and report.boxed.strip()
    if "boxed" in wrapper:
        assert report.boxed == final.strip()


@SETTINGS
@given(TEXTS)
def test_supplement_raises_only_value_error(text):
    try:
        out = supplement(text)
    except ValueError:
        return
    assert check(out).style_ok
