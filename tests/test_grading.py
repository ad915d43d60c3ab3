"""Answer grading: extraction, the graders in order, ground-truth shapes, hedges, multiple choice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specs_verl import grading
from specs_verl.grading.numbers import plain_number_verdict
from specs_verl.grading.symbolic import math_verify_equal
from specs_verl.grading import InvalidGroundTruth, extract_answer, grade, ground_truths


@pytest.mark.parametrize("text, expected", [
    ("<think>\\boxed{1}</think><answer>The answer is $\\boxed{2}$</answer>", ("2", True)),
    ("<answer>\\boxed{1} no, \\boxed{3}</answer>", ("3", True)),
    ("<answer> 42 </answer>", ("42", False)),
    ("<think>quote <answer>x</answer></think><answer>\\boxed{5}</answer>", ("5", True)),  # the last answer block
    ("<think>a</think><answer>truncated, so far \\boxed{7}", ("7", True)),  # unclosed answer: its tail
    ("<think>a</think><answer>", (None, False)),
    ("<answer></answer> but \\boxed{9} outside", (None, False)),  # a blank answer block is no answer
    ("<think>\\boxed{9}</think><answer>  \n </answer>", (None, False)),  # the blank-answer-block loophole
    ("<think>a</think>\\boxed{4}</answer>", ("4", True)),  # a stray close tag alone: the last box
    ("The answer is \\boxed{8}. Or \\boxed{9}.", ("9", True)),
    ("\\boxed{} and \\boxed{unclosed", (None, False)),
    ("no answer at all", (None, False)),
])
def test_extraction_order(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize("response, gold, method", [
    ("<answer>The answer is $\\boxed{\\frac{1}{2}}$</answer>", "0.5", "math_verify"),
    ("<answer>The answer is $\\boxed{0.5}$</answer>", "\\frac{1}{2}", "math_verify"),
    ("<answer>\\boxed{x=2}</answer>", "2", "math_verify"),
    ("<answer>\\boxed{45^\\circ}</answer>", 45, "number"),  # the degree sign dropped: a plain number
    ("<answer>\\boxed{7 3/4}</answer>", "31/4", "mathruler"),
    ("<answer>\\boxed{10\\%}</answer>", "10", "number"),
    ("<answer>\\boxed{B. 45^\\circ}</answer>", "B", "choice"),
    ("<answer>(B) 30 degrees</answer>", "(B)", "choice"),
    ("<answer>The answer is Paris.</answer>", "Paris", "string"),
    ("<answer>\\boxed{3}</answer>", ["2", 3], "number"),
    ("<answer>\\boxed{3}</answer>", np.array(["3", "three"]), "math_verify"),
    ("<answer>\\boxed{3}</answer>", np.int64(3), "number"),
    ("<answer>\\boxed{3}</answer>", "\\boxed{3}", "number"),
    ("<answer>\\boxed{3}</answer>", b"3", "number"),
    ("<answer>\\boxed{0.50}</answer>", ".5", "number"),
    ("<answer>\\boxed{3.0000001}</answer>", "3.0000002", "math_verify"),  # math-verify's rounding decides
])
def test_correct_answers_and_the_grader_that_accepted_them(response, gold, method):
    result = grade(response, gold)
    assert result.correct and result.method == method, result


@pytest.mark.parametrize("response, gold", [
    ("<answer>B or C</answer>", "B"),  # another option letter
    ("<answer>\\boxed{A}</answer>", "B"),
    ("<answer>\\boxed{3}</answer>", "4"),
    ("<answer>\\boxed{3}</answer>", [1, 2]),
    ("<answer>The answer is 2 cm</answer>", "3"),
])
def test_wrong_answers(response, gold):
    result = grade(response, gold)
    assert not result.correct and result.method in ("no_match", "hedge")


def test_nothing_to_grade():
    assert grade("I don't know", "3") == grading.GradeResult(False, None, "no_answer")
    assert grade(None, "3").method == "no_answer"


@pytest.mark.parametrize("gold", [None, True, float("nan"), float("inf"), {"a": 1}, [], ["", " "], [None], "  "])
def test_unreadable_ground_truth(gold):
    with pytest.raises(InvalidGroundTruth):
        ground_truths(gold)


def test_ground_truth_shapes():
    assert ground_truths(3) == ["3"]
    assert ground_truths(2.5) == ["2.5"] and ground_truths(4.0) == ["4"]
    assert ground_truths(["A", 1, np.float64(0.25)]) == ["A", "1", "0.25"]
    assert ground_truths(np.array([1, 2])) == ["1", "2"]
    assert ground_truths("$\\boxed{12}$") == ["12"]


@pytest.mark.parametrize("answer, gold", [
    ("A \\text{ or } B", "A"), ("2 \\text{ or } 3", "2"), ("2 \\text{ and } 3", "2"),
    ("x = 2 \\text{ or } x = 3", "2"), ("7 \\text{ (or maybe } 8)", "7"),
    ("2, 3", "2"), ("either 4 or 5", "4"), ("\\frac{1}{2} or \\frac{1}{3}", "\\frac{1}{2}"),
    ("45^\\circ or 135^\\circ", "45"), ("B or C", "B"), ("A, B", "A"), ("Tampa or Orlando", "Tampa"),
    ("x = 1, 2", "1"), ("2 (or 3)", "2"),
])
def test_hedges_score_zero(answer, gold):
    result = grade(f"<answer>\\boxed{{{answer}}}</answer>", gold)
    assert not result.correct, result


@pytest.mark.parametrize("answer, gold", [
    ("2, 3", "2, 3"), ("x = 1 \\text{ or } x = 2", "1, 2"), ("(1, 2)", "(1,2)"), ("\\{1, 2\\}", "\\{1,2\\}"),
    ("[0, 1)", "[0,1)"), ("1,000", "1000"), ("black and white", "black and white"),
])
def test_lists_and_intervals_are_not_hedges(answer, gold):
    assert grade(f"<answer>\\boxed{{{answer}}}</answer>", gold).correct


@pytest.mark.parametrize("answer, gold", [
    ("45°", "45"), ("45", "45°"), ("45^{\\circ}", "45"), ("30 degrees", "30"), ("25\\%", "25"), ("25", "25%"),
    ("I think it's B", "B"), ("B. A square", "B"), ("B, since angle A = 30", "B"), ("B", "B. 30^\\circ"),
    ("The answer is (C)", "C"), ("Option D", "D"), ("\\text{B}", "B"), ("30°", "B. 30^\\circ"),
    ("b", "B"), ("(c)", "C"), ("√3", "\\sqrt{3}"), ("1,234", "1234"), ("5 cm", "5"),
])
def test_former_false_negatives(answer, gold):
    result = grade(f"<answer>\\boxed{{{answer}}}</answer>", gold)
    assert result.correct, result


OPTIONS = ["15^\\circ", "30^\\circ", "45^\\circ", "\\frac{1}{2}"]


@pytest.mark.parametrize("answer, gold, correct", [
    ("B", "B", True), ("30^\\circ", "B", True), ("30°", "B", True), ("(B) 30°", "B", True),
    ("B. 30^\\circ", "B", True), ("45^\\circ", "B", False), ("A", "B", False), ("B or C", "B", False),
    ("30^\\circ or 45^\\circ", "B", False), ("0.5", "D", True), ("\\dfrac{2}{4}", "D", True),
    ("\\frac{1}{2}", "C", False),
])
def test_multiple_choice_with_option_texts(answer, gold, correct):
    result = grade(f"<answer>\\boxed{{{answer}}}</answer>", gold, options=OPTIONS, answer_type="choice")
    assert result.correct is correct, result


@pytest.mark.parametrize("answer, correct", [
    ("C, D", True), ("D and C", True), ("CD", True), ("C", False), ("C, D, A", False), ("B, D", False),
])
def test_multi_select_is_graded_as_a_set(answer, correct):
    result = grade(f"<answer>\\boxed{{{answer}}}</answer>", "C,D", options=OPTIONS, answer_type="multi_select")
    assert result.correct is correct, result


def test_extra_answers_and_precision():
    assert grade("<answer>\\boxed{Florida}</answer>", "Tampa", answers=["Tampa", "Florida"]).correct
    assert not grade("<answer>\\boxed{Miami}</answer>", "Tampa", answers=["Tampa", "Florida"]).correct
    assert grade("<answer>\\boxed{1.53}</answer>", "1.5", precision=1).correct
    assert not grade("<answer>\\boxed{1.56}</answer>", "1.5", precision=1).correct
    assert grade("<answer>\\boxed{1.5}</answer>", "1.5", options=[], answers=[], precision=None).correct


VALUES = st.one_of(st.integers(-999, 999).map(str), st.sampled_from(["\\frac{1}{2}", "\\sqrt{2}", "2\\pi", "x+1",
                                                                      "A", "B", "C", "3.5", "45^\\circ"]))
JOINS = [" or ", " \\text{ or } ", " and ", " \\text{ and } ", ", ", "; ", " \\lor ", " (or maybe {w})"]


@settings(max_examples=80, deadline=None)
@given(VALUES, VALUES, st.sampled_from(JOINS), st.booleans())
def test_a_hedge_of_the_right_answer_and_a_wrong_one_never_scores(right, wrong, join, right_first):
    if grade(f"<answer>\\boxed{{{wrong}}}</answer>", right).correct:
        return  # the "wrong" one is right too (45^\\circ vs 45)
    if "{w}" in join:
        answer = f"{right}{join.format(w=wrong)}" if right_first else f"{wrong}{join.format(w=right)}"
    else:
        answer = join.join([right, wrong] if right_first else [wrong, right])
    assert not grade(f"<answer>\\boxed{{{answer}}}</answer>", right).correct, answer


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(-10**6, 10**6).map(str), st.decimals(-1000, 1000, places=3).map(str)),
       st.one_of(st.integers(-10**6, 10**6).map(str), st.decimals(-1000, 1000, places=3).map(str)))
def test_plain_number_shortcut_agrees_with_math_verify(pred, gold):
    verdict = plain_number_verdict(pred, [gold])
    if verdict is not None:
        assert verdict is math_verify_equal(pred, True, [gold])


def test_real_graders_run_in_threads():
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda g: grade("<answer>\\boxed{\\frac{2}{4}}</answer>", g), ["0.5"] * 8))
    assert all(r.correct and r.method == "math_verify" and not r.timed_out for r in results)


def test_oversized_answer_skips_the_symbolic_graders():
    result = grade("<answer>" + "1" * 5000 + "</answer>", "1" * 5000, time_limit=30)
    assert result.correct and result.method == "string" and not result.timed_out


OPTION_SETS = [  # shapes of real benchmark options: numbers, units, LaTeX, words, point and angle names
    ["2", "3", "4", "5", "6"],
    ["30^\\circ", "45^\\circ", "60^\\circ", "90^\\circ"],
    ["\\frac{1}{2}", "\\frac{1}{3}", "\\frac{2}{3}", "\\frac{3}{4}"],
    ["2\\sqrt{3}", "3\\sqrt{2}", "4", "\\sqrt{17}"],
    ["\\angle A", "\\angle B", "\\angle C", "none of these"],
    ["A square", "A triangle", "A circle", "A pentagon"],
    ["Yes", "No"],
    ["1.5 cm", "2.5 cm", "3 cm", "4 cm"],
    ["(1, 2)", "(2, 1)", "(-1, 2)", "(1, -2)"],
    ["y = 2x + 1", "y = x + 2", "y = 2x - 1", "y = -2x + 1"],
    ["12%", "15%", "20%", "25%"],
    ["1, 2, 3", "2, 3, 4", "3, 4, 5"],  # an option text that is itself a list is not a hedge
    ["either A or B", "only C", "A, B, C or D", "sample A"],  # texts that name letters
    ["XAXA", "XAXa", "xaXA"],  # equal up to case: the spelling decides
]


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: o[0])
def test_option_text_is_right_for_its_letter_only(options):
    letters = "ABCDE"[:len(options)]
    for i, gold in enumerate(letters):
        def acc(answer):
            return grade(f"<answer>The answer is $\\boxed{{{answer}}}$</answer>", gold, options=options,
                         answer_type="choice").correct
        assert acc(options[i]) and acc(gold) and acc(f"{gold}. {options[i]}") and acc(f"({gold}) {options[i]}")
        for j, other in enumerate(options):
            if j != i:
                assert not acc(other) and not acc(letters[j]), (options, gold, other)
