"""The one-pass parse: what it finds, and that it stays linear on adversarial input."""

from __future__ import annotations

import gc
import time

import pytest

from specs_verl.surface_form import check, find_boxed, parse


def test_parts_of_a_well_formed_response():
    text = "Sure.\n<think>3+4=7</think>\n<answer>The answer is $\\boxed{7}$</answer>\nBye"
    p = parse(text)
    assert [t.kind for t in p.tags] == ["think_open", "think_close", "answer_open", "answer_close"]
    assert [text[t.start:t.end] for t in p.tags] == ["<think>", "</think>", "<answer>", "</answer>"]
    assert p.think == "3+4=7"
    assert p.answer == "The answer is $\\boxed{7}$"
    assert p.before == "Sure.\n" and p.after == "\nBye"
    assert [p.boxed_content(b) for b in p.boxed] == ["7"]
    assert p.positions("answer_open") == [text.index("<answer>")]


@pytest.mark.parametrize("written, kind", [
    ("< /think>", "think_close"), ("</ answer >", "answer_close"), ("<Think>", "think_open"),
    ("<THINK>", "think_open"), ("<thinking>", "think_open"), ("</thinking>", "think_close"),
    ("<\\think>", "think_close"), ("<think/>", "think_open"), ("<Answer>", "answer_open"),
    ("<answer >", "answer_open"), ("\uff1canswer\uff1e", "answer_open"), ("\uff1c/think\uff1e", "think_close"),
    ("\u2039think\u203a", "think_open"),
])
def test_near_miss_tags_are_reported_not_counted(written, kind):
    p = parse(f"x {written} y")
    assert p.tags == ()
    assert [(t.kind, t.exact) for t in p.near_misses] == [(kind, False)]
    assert "near_miss_tag" in check(f"<think>a {written}</think><answer>\\boxed{{1}}</answer>").violations


def test_things_that_are_not_tags_at_all():
    for text in ["<th\u0456nk>", "<thinker>", "< think\n>", "<answerable>", "a < b and c > d", "<<>>"]:
        p = parse(text)
        assert p.tags == () and p.near_misses == (), text


def test_boxes_nested_unbalanced_and_spaced():
    text = r"\boxed{\frac{1}{2}} and \boxed{\boxed{3}} then \boxed {4} and \boxed{5"
    boxes = find_boxed(text)
    assert [text[b.content_start:b.content_end] for b in boxes] == [r"\frac{1}{2}", r"\boxed{3}", "4", "5"]
    assert [b.closed for b in boxes] == [True, True, True, False]
    assert find_boxed("no box here {}") == ()
    assert find_boxed(r"\boxed{a}\boxed{b}", start=9) == ((9, 18, 16, 17, True),)


def test_unbalanced_close_braces_outside_boxes_are_ignored():
    text = r"}}}} \boxed{1} }}"
    assert [text[b.content_start:b.content_end] for b in find_boxed(text)] == ["1"]


ADVERSARIAL = {
    "many_lt": lambda n: "<" * n,
    "many_tags": lambda n: "<think></think>" * (n // 15),
    "many_near_misses": lambda n: "< /think >" * (n // 10),
    "nested_unclosed_boxes": lambda n: "\\boxed{" * (n // 7),
    "braces_in_box": lambda n: "\\boxed{" + "{}" * (n // 2),
    "open_braces_in_box": lambda n: "\\boxed{" + "{" * n,
    "spaces_after_box": lambda n: ("\\boxed" + " " * 50) * (n // 56),
    "whitespace_between": lambda n: "<think>a</think>" + " " * n + "x<answer>b</answer>",
    "lookalikes": lambda n: "\uff1c" * n + "<think>",
    "answer_tail": lambda n: "<think>a</think><answer>" + "a" * n,
}


def _best_seconds(fn, text: str, repeats: int = 5) -> float:
    """The parser's own CPU time (not wall time: on 2 shared cores another process can take the CPU for the whole
    of the longer run and none of the shorter), with the garbage collector off while it runs (a collection walks
    every object the test session holds, a cost of the process and not of the parse)."""
    best = float("inf")
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            t = time.process_time()
            fn(text)
            best = min(best, time.process_time() - t)
    finally:
        if enabled:
            gc.enable()
    return best


def _check_all_profiles(text: str) -> None:
    for profile in ("specs", "geo3k", "r1v"):
        check(text, profile)


def _seconds(text: str) -> float:
    return _best_seconds(_check_all_profiles, text)


# A 10x larger input costs ~10x for a linear parser and ~100x for a quadratic one: the bound sits between
# (their geometric mean), with no absolute slack that a fast quadratic parser could hide in.
GROWTH_BOUND = 31.6


def growth(fn, make, n: int, repeats: int = 5) -> float:
    return _best_seconds(fn, make(10 * n), repeats) / _best_seconds(fn, make(n), repeats)


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_linear_time_on_adversarial_input(name):
    # both sizes past the CPU caches (100k and 1M characters): from 20k to 200k the per-item floods cross the
    # L2 size and a linear scan measures up to ~33x here, by memory effects alone
    ratio = growth(_check_all_profiles, ADVERSARIAL[name], 100_000)
    assert ratio < GROWTH_BOUND, (name, ratio)


def test_the_growth_test_fails_a_quadratic_parser():
    """verl's geo3k format regex backtracks quadratically on a tag flood: the same measure must reject it."""
    from specs_verl.surface_form.reference import GEO3K

    ratio = growth(GEO3K.fullmatch, ADVERSARIAL["many_tags"], 4_000, repeats=3)
    assert ratio > GROWTH_BOUND, ratio


def test_one_megabyte_response_is_fast():
    think = ("Let the side be $s$; then $s^2 = 49$ and so $s = 7$ since $s > 0$. " * 16_000)[:1_000_000]
    text = f"<think>{think}</think>\n<answer>The answer is $\\boxed{{7}}$</answer>"
    assert check(text).style_ok
    assert _seconds(text) / 3 < 0.5  # the benchmark reports the real figure (a few ms); this guards regressions
