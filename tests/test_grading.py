"""Answer grading: extraction, the four graders in order, ground-truth shapes, and the hard time limit."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from specs_verl import grading
from specs_verl.grading import InvalidGroundTruth, extract_answer, grade, ground_truths


@pytest.mark.parametrize("text, expected", [
    ("<think>\\boxed{1}</think><answer>The answer is $\\boxed{2}$</answer>", ("2", True)),
    ("<answer>\\boxed{1} no, \\boxed{3}</answer>", ("3", True)),
    ("<answer> 42 </answer>", ("42", False)),
    ("<think>quote <answer>x</answer></think><answer>\\boxed{5}</answer>", ("5", True)),  # the last answer block
    ("<think>a</think><answer>truncated, so far \\boxed{7}", ("7", True)),  # unclosed answer: its tail
    ("<think>a</think><answer>", (None, False)),
    ("<answer></answer> but \\boxed{9} outside", ("9", True)),  # empty answer: fall back to the last box
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
    ("<answer>\\boxed{45^\\circ}</answer>", 45, "math_verify"),
    ("<answer>\\boxed{7 3/4}</answer>", "31/4", "mathruler"),
    ("<answer>\\boxed{10\\%}</answer>", "10", "mathruler"),
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
    assert not result.correct and result.method == "no_match"


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


def _spin(*_args):
    while True:  # a pure-Python hang, as sympy's would be
        time.sleep(0)


@pytest.fixture
def hung_symbolic_graders(monkeypatch):
    monkeypatch.setattr(grading, "_math_verify", _spin)
    monkeypatch.setattr(grading, "_mathruler", _spin)


def _timed_grade():
    start = time.monotonic()
    result = grade("<answer>\\boxed{B}</answer>", "B", time_limit=0.3)
    return result, time.monotonic() - start


def test_hung_grader_is_cut_in_the_main_thread(hung_symbolic_graders):
    result, seconds = _timed_grade()
    assert result.timed_out and result.correct and result.method == "choice"
    assert seconds < 2.0


def test_hung_grader_is_cut_in_a_worker_thread(hung_symbolic_graders):
    with ThreadPoolExecutor(2) as pool:  # how verl's reward loop calls compute_score
        (r1, s1), (r2, s2) = pool.map(lambda _: _timed_grade(), range(2))
    assert r1.timed_out and r2.timed_out and r1.correct and r2.correct
    assert max(s1, s2) < 2.0


def test_hung_grader_is_cut_under_run_in_executor(hung_symbolic_graders):
    loop = asyncio.new_event_loop()
    try:
        result, seconds = loop.run_until_complete(loop.run_in_executor(None, _timed_grade))
    finally:
        loop.close()
    assert result.timed_out and seconds < 2.0


def test_real_math_verify_runs_in_threads():
    """math-verify's own signal timeout raises in threads; ours does not."""
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda g: grade("<answer>\\boxed{\\frac{2}{4}}</answer>", g), ["0.5"] * 8))
    assert all(r.correct and r.method == "math_verify" and not r.timed_out for r in results)


def test_oversized_answer_skips_the_symbolic_graders(monkeypatch):
    monkeypatch.setattr(grading, "_math_verify", _spin)
    result = grade("<answer>" + "1" * 5000 + "</answer>", "1" * 5000, time_limit=30)
    assert result.correct and result.method == "string" and not result.timed_out


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(-10**6, 10**6).map(str), st.decimals(-1000, 1000, places=3).map(str)),
       st.one_of(st.integers(-10**6, 10**6).map(str), st.decimals(-1000, 1000, places=3).map(str)))
def test_plain_number_shortcut_agrees_with_math_verify(pred, gold):
    verdict = grading._plain_number_verdict(pred, [gold])
    if verdict is not None:
        assert verdict is grading._math_verify(pred, True, [gold])
