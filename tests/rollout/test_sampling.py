"""verl's sampling dict -> SamplingSpec: vLLM's meaning for every knob, and errors that name the bad key."""

import pytest

from specs_verl.rollout.sampling import SamplingSpec, max_new_tokens, parse_sampling_params

LIMITS = dict(prompt_tokens=100, prompt_length=128, response_length=16)


def parse(params, **limits):
    spec, ignored = parse_sampling_params(params, **{**LIMITS, **limits})
    return spec, ignored


def test_what_verl_sends_for_training():
    spec, ignored = parse({"temperature": 1.0, "top_p": 1.0, "top_k": -1, "repetition_penalty": 1.0,
                           "logprobs": True})
    assert spec == SamplingSpec(max_tokens=16, temperature=1.0, top_p=1.0, top_k=0, logprobs=True)
    assert not spec.greedy and spec.logprob_temperature == 1.0
    assert ignored == []


def test_validation_greedy_and_log_probs_at_temperature_one():
    spec, _ = parse({"temperature": 0, "top_p": 1.0, "top_k": -1, "logprobs": False})
    assert spec.greedy and spec.logprob_temperature == 1.0 and not spec.logprobs


def test_log_probs_are_at_the_sampling_temperature():
    spec, _ = parse({"temperature": 0.7})
    assert spec.logprob_temperature == 0.7


@pytest.mark.parametrize("value, wanted", [(True, True), (False, False), (None, False), (0, True), (1, True)])
def test_logprobs_flag_reads_like_vllm(value, wanted):
    assert parse({"logprobs": value})[0].logprobs is wanted


def test_max_tokens_is_capped_by_the_response_length_and_the_room_left():
    assert max_new_tokens({}, 100, 128, 16) == 16
    assert max_new_tokens({}, 120, 128, 16) == 16  # 128 + 16 - 120 = 24 of room
    assert max_new_tokens({}, 140, 128, 16) == 4
    assert max_new_tokens({"max_tokens": 5}, 100, 128, 16) == 5
    assert max_new_tokens({"max_new_tokens": 7}, 100, 128, 16) == 7
    assert max_new_tokens({"max_tokens": 500}, 100, 128, 16) == 16
    assert max_new_tokens({"max_tokens": 0}, 100, 128, 16) == 1
    assert max_new_tokens({}, 100, 128, 16, max_model_len=103) == 3


def test_a_prompt_that_fills_the_context_is_refused():
    with pytest.raises(ValueError, match="leaves no room"):
        max_new_tokens({}, 144, 128, 16)


@pytest.mark.parametrize("params, message", [
    ({"temperature": -1}, "temperature=-1.0 is negative"),
    ({"top_p": 0}, "top_p=0.0 is not in"),
    ({"top_p": 1.5}, "top_p=1.5 is not in"),
    ({"repetition_penalty": 0}, "repetition_penalty"),
    ({"n": 0}, "n=0"),
    ({"temperature": "hot"}, "temperature='hot' is not a number"),
    ({"top_p": float("nan")}, "not finite"),
])
def test_bad_values_name_the_key(params, message):
    with pytest.raises(ValueError, match=message):
        parse(params)


def test_n_seed_ignore_eos_and_unknown_keys():
    spec, ignored = parse({"n": 3, "seed": 11, "ignore_eos": True, "min_p": 0.1, "skip_special_tokens": True})
    assert (spec.n, spec.seed, spec.ignore_eos) == (3, 11, True)
    assert ignored == ["min_p"]  # skip_special_tokens means nothing here and is not worth a warning
    assert parse({}, default_ignore_eos=True)[0].ignore_eos


def test_batch_key_groups_requests_that_can_share_a_forward():
    a, _ = parse({"temperature": 1.0, "max_tokens": 4})
    b, _ = parse({"temperature": 1.0, "max_tokens": 9, "n": 2, "logprobs": True})
    c, _ = parse({"temperature": 0.5})
    d, _ = parse({"temperature": 1.0, "seed": 3})
    assert a.batch_key() == b.batch_key()
    assert len({a.batch_key(), c.batch_key(), d.batch_key()}) == 3
