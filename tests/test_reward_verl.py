"""The `specs` reward manager inside verl: loaded by name from a hydra-composed `ppo_trainer` config, scoring a
DataProto batch tokenized with the tiny model's tokenizer, in the driver and inside the Ray actors that verl's
reward loop starts (which proves the `verl.plugins` entry point registers it in every worker)."""

from __future__ import annotations

import copy
import shutil
import tempfile

import numpy as np
import pytest
import torch

pytest.importorskip("verl")

from hydra import compose, initialize_config_module  # noqa: E402
from omegaconf import open_dict  # noqa: E402
from verl import DataProto  # noqa: E402
from verl.experimental.reward_loop.reward_loop import migrate_legacy_reward_impl  # noqa: E402
from verl.trainer.ppo.reward import load_reward_manager  # noqa: E402
from verl.utils import hf_tokenizer  # noqa: E402

from specs_verl.reward_managers.legacy import SpecsLegacyRewardManager  # noqa: E402
from specs_verl.reward_managers.reward_loop import SpecsRewardManager  # noqa: E402

GOOD = "<think>6 * 7 = 42</think>\n<answer>The answer is $\\boxed{42}$</answer>"
# (data_source, response, ground truth, expected score with format_weight=0.25)
SAMPLES = [
    ("geometry3k", GOOD, "42", 1.25),
    ("mathvista", "6 * 7 = 42\nThe answer is $\\boxed{42}$", ["41", "42"], 1.0),  # polluted: all tags stripped
    ("an_unknown_source", "<think>6 * 7 = 41 I think</think><answer>\\boxed{41}</answer>", 42, 0.25),
    ("mmmu", "<think>The correct option is (B)</think>\n<answer>B</answer>", "B", 1.25),
    ("geometry3k", "", "42", 0.0),
    # an exponent tower (it used to freeze the reward worker in one sympy call): refused, counted, the batch goes on
    ("geometry3k", "<think>6 * 7 is huge</think>\n<answer>The answer is $\\boxed{10^{10^{10}}}$</answer>", "42", 0.25),
    ("geometry3k", "<think>6 * 7</think>\n<answer>\\boxed{\\frac{84}{2}}</answer>", "42", 1.25),  # symbolic: a worker
]
KEYS = {"score", "acc", "format", "structure", "style", "grade_timeout", "grade_refused", "judged", "judge_failed",
        "pred"}


@pytest.fixture(scope="module")
def config(tiny_model_dir):
    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=[
            "reward.reward_manager.name=specs",
            "reward.num_workers=1",
            "+reward.reward_kwargs.format_weight=0.25",
            f"actor_rollout_ref.model.path={tiny_model_dir}",
        ])
    return migrate_legacy_reward_impl(cfg)  # what main_ppo does before building the reward loop


@pytest.fixture(scope="module")
def batch(tiny_model_dir) -> DataProto:
    tok = hf_tokenizer(str(tiny_model_dir))
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is 6 * 7?"}], tokenize=False,
                                     add_generation_prompt=True)
    prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
    responses = [tok(s, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for _, s, _, _ in SAMPLES]
    for (_, text, _, _), ids in zip(SAMPLES, responses):
        assert tok.decode(ids, skip_special_tokens=True) == text  # the tokenizer round-trips the responses
    width = max(len(r) for r in responses)
    pad = tok.pad_token_id
    resp = torch.tensor([r + [pad] * (width - len(r)) for r in responses])
    resp_mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in responses])
    prompts = torch.tensor([prompt_ids] * len(SAMPLES))
    attention = torch.cat([torch.ones_like(prompts), resp_mask], dim=1)
    return DataProto.from_dict(
        tensors={"prompts": prompts, "responses": resp, "input_ids": torch.cat([prompts, resp], 1),
                 "attention_mask": attention},
        non_tensors={
            "data_source": np.array([s for s, _, _, _ in SAMPLES], dtype=object),
            "reward_model": np.array([{"ground_truth": g, "style": "rule"} for _, _, g, _ in SAMPLES], dtype=object),
            "extra_info": np.array([{"index": i} for i in range(len(SAMPLES))], dtype=object),
        },
    )


def test_load_reward_manager_by_name_and_score_a_batch(config, batch, tiny_model_dir):
    rm = load_reward_manager(config, hf_tokenizer(str(tiny_model_dir)))
    assert isinstance(rm, SpecsRewardManager)
    assert rm.options["format_weight"] == 0.25 and rm.options["profile"] == "specs"
    outs = [rm.loop.run_until_complete(rm.run_single(batch[i:i + 1])) for i in range(len(batch))]
    assert [o["reward_score"] for o in outs] == pytest.approx([s[3] for s in SAMPLES])
    assert all(set(o["reward_extra_info"]) == KEYS for o in outs)
    assert [o["reward_extra_info"]["pred"] for o in outs] == ["42", "42", "41", "B", "", "10^{10^{10}}",
                                                              "\\frac{84}{2}"]
    assert [o["reward_extra_info"]["grade_refused"] for o in outs] == [0, 0, 0, 0, 0, 1, 0]


def test_unknown_reward_kwarg_fails_when_the_manager_is_built(config, tiny_model_dir):
    bad = copy.deepcopy(config)
    with open_dict(bad):
        bad.reward.reward_kwargs.formatweight = 1.0
    with pytest.raises(TypeError, match="formatweight"):
        load_reward_manager(bad, hf_tokenizer(str(tiny_model_dir)))


def test_legacy_registry(batch, tiny_model_dir):
    from verl.workers.reward_manager import get_reward_manager_cls

    cls = get_reward_manager_cls("specs")
    assert cls is SpecsLegacyRewardManager
    out = cls(hf_tokenizer(str(tiny_model_dir)), num_examine=0, format_weight=0.25)(batch, return_dict=True)
    assert out["reward_tensor"].sum(dim=1).tolist() == pytest.approx([s[3] for s in SAMPLES])
    assert set(out["reward_extra_info"]) == KEYS


@pytest.mark.slow
def test_inside_ray_actors_started_by_the_reward_loop(config, batch, monkeypatch):
    ray = pytest.importorskip("ray")
    from verl.experimental.reward_loop.reward_loop import RewardLoopManager

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp_dir, logging_level="ERROR",
             runtime_env={"env_vars": {"TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}})
    try:
        manager = RewardLoopManager(config)  # starts `reward.num_workers` RewardLoopWorker actors
        out = manager.compute_rm_score(batch)
    finally:
        ray.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert out.batch["rm_scores"].sum(dim=1).tolist() == pytest.approx([s[3] for s in SAMPLES])
    assert set(out.meta_info["reward_extra_keys"]) == KEYS
    assert list(out.non_tensor_batch["grade_refused"]) == [0, 0, 0, 0, 0, 1.0, 0]
    assert list(out.non_tensor_batch["acc"]) == [1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]
