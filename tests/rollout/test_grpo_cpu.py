"""verl's real GRPO (`python -m verl.trainer.main_ppo`, V1 trainer) on CPU with the `hf` rollout, in a subprocess.

One run shared by every test (a run costs one to three minutes on a small shared CPU machine): the tiny base
model, the CPU preset, a shaped reward file (a random model needs the diversity term for GRPO to see reward
differences), 2 steps. Every training prompt has the same length and every response runs to the length limit, so
all sequences of the batch have equal length: the case verl issue 7899 breaks, which the plugin guards. Checks:
loss, advantages, checkpoint, rollout-vs-actor log-probs, weight sync, batching. The run starts and stops its own
Ray cluster with its files in a temporary directory, HOME in the test's directory, and must leave no process
behind.

GRPO from the checkpoint our DPO trainer wrote, with the `specs` reward manager and the `specs_sync` trainer (GF in
validation), is stage 3 of the tiny pipeline: `tests/pipeline/test_tiny_pipeline.py` checks it there.
"""

from __future__ import annotations

import ast
import json
import math
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import torch

from specs_verl.rollout.engine import weight_fingerprint
from tests.commands import PYTHON, REPO, cpu_subprocess_env, run_cmd

pytestmark = pytest.mark.slow  # verl GRPO runs with Ray and torchrun


STEPS = 2
RESPONSE_LENGTH = 8
# rollout vs actor, both float32 on CPU: |p_rollout - p_actor| per token and |mean log p| per sequence
PROB_TOLERANCE = 1e-5
LOG_PPL_TOLERANCE = 1e-4


@dataclass
class Run:
    root: Path
    output: str
    steps: dict[int, dict[str, float]]

    @property
    def final(self) -> dict[str, float]:
        return self.steps[max(self.steps)]

    @property
    def training_steps(self) -> list[int]:
        """Steps that trained (step 0 is the validation before training, when there is one)."""
        return sorted(step for step, metrics in self.steps.items() if "actor/pg_loss" in metrics)


def _number(text: str) -> float:
    match = re.fullmatch(r"np\.\w+\((.*)\)", text)
    return float(match.group(1) if match else text)


def parse_steps(output: str) -> dict[int, dict[str, float]]:
    """verl's console logger: `step:N - key:value - key:value ...` lines."""
    steps = {}
    for line in output.splitlines():
        at = line.find("step:")
        if at < 0 or " - " not in line[at:]:
            continue
        metrics = {}
        for part in line[at:].strip().split(" - "):
            key, _, value = part.rpartition(":")
            try:
                metrics[key] = _number(value)
            except ValueError:
                continue
        if "step" in metrics:  # a step may be logged in more than one line (e.g. its validation apart)
            steps.setdefault(int(metrics.pop("step")), {}).update(metrics)
    return steps


def grpo_command(model: Path, train: Path, vals: list[Path], out: Path, ray_dir: str, *overrides: str) -> list[str]:
    return [
        PYTHON, "-m", "verl.trainer.main_ppo", "--config-path=pkg://specs_verl.config", "--config-name=grpo_cpu",
        f"data.train_files={train}", f"data.val_files=[{','.join(map(str, vals))}]",
        "data.train_batch_size=4", "data.val_batch_size=8", "data.max_prompt_length=256",
        f"data.max_response_length={RESPONSE_LENGTH}", "data.filter_overlong_prompts=False",
        f"actor_rollout_ref.model.path={model}",
        "actor_rollout_ref.rollout.n=2", "actor_rollout_ref.actor.ppo_mini_batch_size=4",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4", "actor_rollout_ref.actor.optim.lr=1e-3",
        "actor_rollout_ref.actor.use_kl_loss=True", "actor_rollout_ref.actor.kl_loss_coef=0.01",
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=4",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4",
        "trainer.total_epochs=1", "trainer.project_name=specs_test", "trainer.experiment_name=grpo_cpu",
        f"trainer.default_local_dir={out / 'ckpt'}",
        f"+actor_rollout_ref.rollout.engine_kwargs.hf.weights_report_dir={out / 'rollout_weights'}",
        f"+ray_kwargs.ray_init._temp_dir={ray_dir}",
        *overrides,
    ]


def leftover_processes(marker: str) -> list[str]:
    ps = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    return [line for line in ps.splitlines() if marker in line and "ps -eo" not in line]


def run_grpo(root: Path, command: list[str], ray_dir: str) -> Run:
    try:
        proc = run_cmd(command, cpu_subprocess_env(root), cwd=root, timeout=900)
        (root / "main_ppo.log").write_text(proc.stdout)
        assert leftover_processes(ray_dir) == [], "Ray processes outlived the run"
    finally:
        shutil.rmtree(ray_dir, ignore_errors=True)
    steps = parse_steps(proc.stdout)
    assert steps, f"no step metrics in the output:\n{proc.stdout[-3000:]}"
    return Run(root, proc.stdout, steps)


def short_ray_dir() -> str:
    # Ray's socket paths must stay under ~107 characters: a short directory of our own, removed after the run
    return tempfile.mkdtemp(prefix="specs_ray_", dir="/tmp")


@pytest.fixture(scope="module")
def grpo(tiny_model_dir, tiny_data_dir, tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("grpo")
    rows = pd.read_parquet(tiny_data_dir / "rl_train.parquet")
    train = root / "train_equal_length.parquet"
    pd.concat([rows.iloc[[0]]] * 8, ignore_index=True).to_parquet(train)  # one prompt: equal lengths
    ray_dir = short_ray_dir()
    command = grpo_command(
        tiny_model_dir, train, [tiny_data_dir / "rl_val_id.parquet", tiny_data_dir / "rl_val_ood_choice.parquet"],
        root, ray_dir,
        # verl's naive manager with a shaped reward (the preset's `specs` reward would score these all alike)
        "reward.reward_manager.name=naive",
        f"reward.custom_reward_function.path={REPO / 'tests' / 'rollout' / 'shaped_reward.py'}",
        "actor_rollout_ref.rollout.ignore_eos=True",  # every response runs to the length limit
        f"trainer.total_training_steps={STEPS}", "trainer.val_before_train=False",
        f"trainer.test_freq={STEPS}", f"trainer.save_freq={STEPS}",
    )
    return run_grpo(root, command, ray_dir)


def test_two_grpo_steps_finish_with_a_finite_loss_and_nonzero_advantages(grpo):
    assert grpo.training_steps == list(range(1, STEPS + 1))
    for step in grpo.training_steps:
        metrics = grpo.steps[step]
        assert math.isfinite(metrics["actor/pg_loss"]), step
        assert math.isfinite(metrics["actor/grad_norm"]) and metrics["actor/grad_norm"] > 0, step
        assert metrics["critic/advantages/max"] > 0 > metrics["critic/advantages/min"], step
        assert metrics["response_length/mean"] == RESPONSE_LENGTH
    assert "val-core/tiny_count/acc/mean@1" in grpo.final


def test_a_checkpoint_is_written(grpo):
    step = grpo.root / "ckpt" / f"global_step_{STEPS}" / "actor"
    assert (step / "model_world_size_1_rank_0.pt").is_file()
    assert (step / "huggingface" / "config.json").is_file()


def test_equal_length_batches_train_thanks_to_the_issue_7899_guard(grpo):
    for step in grpo.training_steps:  # one prompt, responses at the length limit: equal lengths, as intended
        metrics = grpo.steps[step]
        assert metrics["prompt_length/min"] == metrics["prompt_length/max"]
        assert metrics["response_length/min"] == metrics["response_length/max"] == RESPONSE_LENGTH
    assert "repaired Qwen-VL position ids" in grpo.output


def test_rollout_log_probs_agree_with_the_actors_recomputed_ones(grpo):
    for step in grpo.training_steps:
        metrics = grpo.steps[step]
        assert metrics["training/rollout_probs_diff_valid"] == 1, step
        assert metrics["training/rollout_probs_diff_max"] < PROB_TOLERANCE, step
        assert abs(metrics["rollout_corr/log_ppl_diff_max"]) < LOG_PPL_TOLERANCE, step
        assert abs(metrics["rollout_corr/log_ppl_diff_min"]) < LOG_PPL_TOLERANCE, step


def _report(run: Run, step: int) -> dict[str, dict]:
    return json.loads((run.root / "rollout_weights" / f"weights_step_{step}_replica_0.json").read_text())["weights"]


def test_weight_sync_puts_the_trained_weights_into_the_rollout(grpo, tiny_model_dir):
    """The rollout starts from the model on disk, then holds the actor's weights after every step. Step 2's
    agreement above is the behavioural half: the rollout sampled with step-1 weights the actor held then."""
    from transformers import AutoModelForImageTextToText

    base = AutoModelForImageTextToText.from_pretrained(tiny_model_dir, dtype=torch.float32).state_dict()
    reports = {step: _report(grpo, step) for step in range(STEPS + 1)}
    assert {n: w["sha256"] for n, w in reports[0].items()} == {n: weight_fingerprint(t)["sha256"]
                                                               for n, t in base.items()}
    for step in range(1, STEPS + 1):
        changed = [n for n in base if reports[step][n]["sha256"] != reports[step - 1][n]["sha256"]]
        assert len(changed) == len(base), f"step {step}: only {len(changed)} of {len(base)} tensors changed"
    # the actor's own float32 shard at the last step (world size 1: the full tensors)
    shard = torch.load(grpo.root / "ckpt" / f"global_step_{STEPS}" / "actor" / "model_world_size_1_rank_0.pt",
                       map_location="cpu", weights_only=False)
    actor = {n: (t.to_local() if hasattr(t, "to_local") else t) for n, t in shard.items()}
    assert {n: weight_fingerprint(t)["sha256"] for n, t in actor.items()} == {
        n: w["sha256"] for n, w in reports[STEPS].items()}


def test_requests_that_arrive_together_are_generated_as_one_batch(grpo):
    logged = re.findall(r"generation batches since the last weight sync \(size: count\) (\{[^}]*\})", grpo.output)
    assert logged, "the server logged no batches"
    sizes = {size for text in logged for size in ast.literal_eval(text)}
    assert max(sizes) == 8  # 4 prompts x rollout.n=2, all in one generate call
