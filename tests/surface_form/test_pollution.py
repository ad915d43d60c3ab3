"""The paper's five pollutions and the format supplement, on a real-looking response."""

from __future__ import annotations

import random

import pytest

from specs_verl.grading import grade
from specs_verl.surface_form import POLLUTION_RULES, check, pollute, supplement

CHOSEN = ("<think>\nThe triangle has legs 6 and 8, so the hypotenuse is 10 and the area is 24.\n"
          "The altitude to the hypotenuse is 2 * 24 / 10 = 4.8.\n</think>\n"
          "<answer> The answer is $\\boxed{4.8}$ </answer>")

EXPECTED = {
    "strip_all_tags": "\nThe triangle has legs 6 and 8, so the hypotenuse is 10 and the area is 24.\n"
                      "The altitude to the hypotenuse is 2 * 24 / 10 = 4.8.\n\n The answer is $\\boxed{4.8}$ ",
    "strip_answer_tags": CHOSEN.replace("<answer>", "").replace("</answer>", ""),
    "strip_think_tags": CHOSEN.replace("<think>", "").replace("</think>", ""),
    "strip_answer_tags_move_think_close":
        CHOSEN.replace("<answer>", "").replace("</answer>", "").replace("</think>", "") + "</think>",
    "answer_tag_to_prefix": CHOSEN.replace("<answer>", "Answer:").replace("</answer>", ""),
}


@pytest.mark.parametrize("rule", POLLUTION_RULES)
def test_each_rule_does_what_the_paper_says(rule):
    polluted = pollute(CHOSEN, rule)
    assert polluted == EXPECTED[rule]
    assert not check(polluted).format_ok
    assert "The answer is $\\boxed{4.8}$" in polluted
    assert grade(polluted, "4.8").correct  # same answer, different form: a decoupled pair


def test_random_rule_is_reproducible_and_covers_all_rules():
    outs = {pollute(CHOSEN, "random", rng=random.Random(seed)) for seed in range(60)}
    assert outs == set(EXPECTED.values())
    assert pollute(CHOSEN, "random", rng=7) == pollute(CHOSEN, "random", rng=random.Random(7))


def test_unknown_rule_is_an_error():
    with pytest.raises(ValueError, match="unknown pollution rule"):
        pollute(CHOSEN, "strip_everything")


def test_removal_that_forms_a_new_tag_is_repeated():
    assert "<answer>" not in pollute("<think>a</think><ans<answer>wer>b</answer>", "strip_answer_tags")


@pytest.mark.parametrize("answer, final", [
    ("42", "42"), ("The answer is 42.", "42"), ("Answer: $x = 3$", "x = 3"), ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    (" The answer is $\\boxed{B}$. ", "B"), ("$$\\boxed{7}$$", "7"),
])
def test_supplement_normalises_the_wrapper_only(answer, final):
    think = "\n  Reasoning with  odd   spacing.\n"
    out = supplement(f"Preamble <think>{think}</think>  <answer>{answer}</answer> trailing")
    assert out == f"<think>{think}</think>\n<answer> The answer is $\\boxed{{{final}}}$ </answer>"
    assert check(out).style_ok


def test_supplement_with_prefilled_think():
    out = supplement("reasoning</think><answer>5</answer>", think_prefilled=True)
    assert out == "reasoning</think>\n<answer> The answer is $\\boxed{5}$ </answer>"
    assert check(out, think_prefilled=True).style_ok


@pytest.mark.parametrize("text, reason", [
    ("<think>a</think>", "fails format_ok"),
    ("<think>a</think><answer>\\boxed{1} or \\boxed{2}</answer>", "several"),
    ("<think>a</think><answer>\\boxed{1</answer>", "never closed"),
    ("<think>a</think><answer> . </answer>", "empty"),
    ("<think>a</think><answer>$1$ and $2$</answer>", "cannot be boxed"),
    ("<think>a < /think> b</think><answer>1</answer>", "near_miss_tag"),
])
def test_supplement_refuses_what_it_cannot_fix(text, reason):
    with pytest.raises(ValueError, match=reason):
        supplement(text)
