"""`specs_verl.reward.compute_score`: the paper's reward, its options, and bad input that never raises."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specs_verl.reward import REWARD_KEYS, compute_score

GOOD = "<think>6 * 7 = 42</think>\n<answer>The answer is $\\boxed{42}$</answer>"


ZERO_COUNTS = dict(grade_timeout=0.0, grade_refused=0.0, judged=0.0, judge_failed=0.0)


def score(solution, gold="42", **kwargs):
    return compute_score("geometry3k", solution, gold, {"index": 3}, **kwargs)


def base(result):
    """The reward without the counters (all zero here)."""
    assert {k: result[k] for k in ZERO_COUNTS} == ZERO_COUNTS, result
    return {k: v for k, v in result.items() if k not in ZERO_COUNTS}


@pytest.mark.parametrize("solution, expected", [
    (GOOD, dict(score=1.5, acc=1.0, format=1.0, structure=1.0, style=1.0, pred="42")),
    ("<think>6 * 7 = 42</think><answer>42</answer>", dict(score=1.5, acc=1.0, format=1.0, structure=0.0,
                                                           style=0.0, pred="42")),
    ("6 * 7 = 42, so \\boxed{42}", dict(score=1.0, acc=1.0, format=0.0, structure=0.0, style=0.0, pred="42")),
    ("<think>6 * 7 = 41</think><answer>\\boxed{41}</answer>", dict(score=0.5, acc=0.0, format=1.0, structure=1.0,
                                                                    style=0.0, pred="41")),
    ("no idea", dict(score=0.0, acc=0.0, format=0.0, structure=0.0, style=0.0, pred="")),
])
def test_paper_reward(solution, expected):
    assert base(score(solution)) == expected


def test_weights_profile_and_prefill_are_options():
    assert score(GOOD, format_weight=0.1, accuracy_weight=0.9)["score"] == pytest.approx(1.0)
    geo = "<think>6 * 7</think> so \\boxed{42}"
    assert score(geo)["format"] == 0.0 and score(geo, profile="geo3k")["format"] == 1.0
    prefilled = GOOD[len("<think>"):]
    assert score(prefilled)["format"] == 0.0 and score(prefilled, think_prefilled=True)["format"] == 1.0
    assert score(GOOD, max_answer_chars=5)["style"] == 0.0
    # what verl's reward loop may pass along is accepted and ignored
    assert score(GOOD, reward_router_address=None, reward_model_tokenizer=None)["score"] == 1.5


def test_unknown_option_is_a_configuration_error():
    with pytest.raises(TypeError, match="format_wieght"):
        score(GOOD, format_wieght=1.0)
    with pytest.raises(ValueError, match="profile='deepseek'"):
        score(GOOD, profile="deepseek")


@pytest.mark.parametrize("option, value, message", [
    ("format_weight", "0.5", "format_weight='0.5' \\(str\\) must be a number \\(on the command line write it unquoted"),
    ("think_prefilled", "false", "think_prefilled='false' \\(str\\) must be true or false"),
    ("time_limit", 0, "time_limit=0 \\(int\\) must be a positive number"),
    ("max_think_chars", 2.5, "max_think_chars=2.5"),
    ("accuracy_weight", True, "accuracy_weight=True"),
])
def test_option_types_are_checked_once_with_a_clear_error(option, value, message):
    with pytest.raises(TypeError, match=message):
        score(GOOD, **{option: value})


def test_judge_needs_url_and_model():
    with pytest.raises(ValueError, match="judge_url and judge_model"):
        score(GOOD, judge_url="http://localhost:1/v1")


def test_blank_answer_block_does_not_borrow_the_box_in_think():
    # MM-EUREKA scores this 0.5 (format only); it used to score 1.5
    text = "<think>6 * 7 = \\boxed{42}</think>\n<answer>   </answer>"
    result = score(text)
    assert result["acc"] == 0.0 and result["score"] == pytest.approx(0.5 * result["format"])


def test_contract_fields_from_extra_info():
    opts = ["15^\\circ", "30^\\circ", "45^\\circ"]
    mc = {"index": 1, "options": np.array(opts, dtype=object), "answer_type": "choice", "answers": [], "precision": None}
    text = "<think>a</think><answer>The answer is $\\boxed{30^\\circ}$</answer>"
    assert compute_score("mathvision", text, "B", mc)["acc"] == 1.0
    assert compute_score("mathvision", text.replace("30", "45"), "B", mc)["acc"] == 0.0
    multi = {**mc, "answer_type": "multi_select"}
    assert compute_score("mathverse", "<answer>\\boxed{A, C}</answer>", "A,C", multi)["acc"] == 1.0
    lst = {"index": 2, "options": [], "answer_type": "text", "answers": ["Tampa", "Florida"], "precision": None}
    assert compute_score("mmmu", "<answer>\\boxed{Florida}</answer>", "Tampa", lst)["acc"] == 1.0
    prec = {"index": 3, "options": [], "answer_type": "number", "answers": [], "precision": 1.0}
    assert compute_score("mathvista", "<answer>\\boxed{2.04}</answer>", "2.0", prec)["acc"] == 1.0


def test_bad_ground_truth_gives_zero_accuracy_and_names_the_sample(caplog):
    with caplog.at_level(logging.WARNING, logger="specs_verl.reward"):
        result = compute_score("mathvista", GOOD, None, {"index": 17})
    assert base(result) == dict(score=0.5, acc=0.0, format=1.0, structure=1.0, style=1.0, pred="")
    assert "mathvista[index=17]" in caplog.text and "bad ground truth" in caplog.text


def test_every_data_source_and_ground_truth_shape():
    for source in ["geometry3k", "hiyouga/geometry3k", "openai/gsm8k", "totally_unknown", None, 7]:
        assert score(GOOD) == compute_score(source, GOOD, "42")
    assert score(GOOD, gold=["41", "42"])["acc"] == 1.0
    assert score(GOOD, gold=np.array(["42"]))["acc"] == 1.0
    assert score(GOOD, gold=42.0)["acc"] == 1.0
    assert score("<answer>\\boxed{C}</answer>", gold="C")["acc"] == 1.0


ANYTHING = st.one_of(st.none(), st.text(max_size=200), st.binary(max_size=50), st.integers(), st.floats(),
                     st.booleans(), st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
                     st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ANYTHING, ANYTHING, ANYTHING, ANYTHING)
def test_never_raises_and_always_same_keys(data_source, solution, gold, extra_info):
    logging.disable(logging.WARNING)
    try:
        result = compute_score(data_source, solution, gold, extra_info)
    finally:
        logging.disable(logging.NOTSET)
    assert tuple(result) == REWARD_KEYS
    assert all(isinstance(result[k], float) for k in REWARD_KEYS[:-1]) and isinstance(result["pred"], str)
    assert 0.0 <= result["score"] <= 1.5


ADVERSARIAL = {
    "thousands_of_tags": "<think>" * 5000 + "</answer>" * 5000,
    "unclosed_boxes": "\\boxed{" * 20000,
    "open_braces": "<think>" + "{" * 100_000 + "</think><answer>\\boxed{42}</answer>",
    "nested_boxes": "<think>x</think><answer>" + "\\boxed{\\boxed{" * 1000 + "42" + "}}" * 1000 + "</answer>",
    "lookalikes": "\uff1cthink\uff1e" * 3000 + "<th\u0456nk>\u2003</think>",
    "one_megabyte": "<think>" + "a" * 1_000_000 + "</think><answer>The answer is $\\boxed{42}$</answer>",
    "one_megabyte_answer": "<answer>" + "x" * 1_000_000,
    "one_megabyte_hedging_prose": "<answer>" + "B or C, 2 and 3 (or maybe 10^{10^{10}}) " * 25_000 + "</answer>",
}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
@pytest.mark.parametrize("gold", ["42", "B", "Tampa"])
def test_adversarial_responses_are_scored_quickly(name, gold):
    start = time.perf_counter()
    result = score(ADVERSARIAL[name], gold)
    assert tuple(result) == REWARD_KEYS
    assert time.perf_counter() - start < 5.0
    assert len(result["pred"]) <= 1000
