"""The DPO trainer end to end on CPU: verl's FSDP2 engine with gloo, the tiny Qwen2.5-VL and tiny image pairs.

Runs are shared between tests (module fixtures) because each is a real launch (one process, no torchrun). That
the images reach the model and that a frozen vision tower stays fixed is checked in process
(`tests/dpo/test_vision_inputs.py`).
"""

from __future__ import annotations

import json
import math
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from tests.commands import PYTHON, cpu_subprocess_env, run_cmd

pytestmark = pytest.mark.slow  # whole runs of the trainer

STEPS = 6


def dpo_args(model_dir, data_dir, out, nproc=1, *overrides, val=True):
    """One process starts without torchrun (no launcher process); the pair packing is the default (shared)."""
    launch = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"] if nproc > 1 else []
    return [
        PYTHON, *launch, "-m", "specs_verl.dpo",
        f"data.train_files={data_dir / 'pairs_train.parquet'}",
        f"data.val_files={data_dir / 'pairs_val.parquet'}" if val else "data.val_files=null",
        f"model.path={model_dir}", "data.train_batch_size=8", "data.micro_batch_size_per_gpu=2",
        "data.max_length=1024", "optim.lr=1e-3", f"trainer.total_training_steps={STEPS}",
        f"trainer.default_local_dir={out}", "trainer.save_freq=2",
        "dpo.gf.id_sources=[tiny_count]", "dpo.gf.ood_sources=[tiny_choice,tiny_shapes]",
        "trainer.val_before_train=True", *overrides,
    ]


def history(out: Path) -> dict[int, dict]:
    summary = json.loads((out / "dpo_summary.json").read_text())
    return {h["step"]: h for h in summary["history"]}


def ref_cache(out: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """split -> pair_id -> (chosen, rejected) reference log-probs (the cache keys rows by pair_id + content)."""
    (path,) = (out / "ref_logps").glob("ref_logps_*.pt")
    payload = torch.load(path, weights_only=True)
    return {split: {key.split("#")[0]: tuple(v) for key, v in zip(part["keys"], part["logps"].tolist())}
            for split, part in payload["splits"].items()}


def weights(path: Path) -> dict[str, torch.Tensor]:
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32).state_dict()


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tiny_data_dir, tmp_path_factory):
    """Run A: the paper's loss (DPO + SFT, lambda 1), cached reference. Run B: lambda 0."""
    root = tmp_path_factory.mktemp("dpo")
    env = cpu_subprocess_env(root)
    out = {}
    for name, extra in (("A", ["dpo.sft_weight=1.0"]), ("B", ["dpo.sft_weight=0.0"])):
        out[name] = root / name
        out[name + "_log"] = run_cmd(dpo_args(tiny_model_dir, tiny_data_dir, out[name], 1, *extra), env, cwd=root,
                                     timeout=600).stdout
    return out


def test_loss_falls_and_pairs_are_learned(runs):
    h = history(runs["A"])
    assert sorted(h) == list(range(STEPS + 1))  # step 0: the validation before training
    losses = [h[s]["train/loss"] for s in range(1, STEPS + 1)]
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
    # step 1: the policy is the reference, so every implicit reward is 0 up to float rounding between the
    # reference pass and the training forward (a wrong or shifted reference log-prob gives |reward| >> 1e-4)
    for key in ("train/rewards/chosen", "train/rewards/rejected", "train/rewards/margins"):
        assert abs(h[1][key]) < 1e-4, (key, h[1][key])
    assert h[1]["train/loss/sigmoid"] == pytest.approx(math.log(2), abs=1e-4)
    assert h[STEPS]["train/rewards/accuracies"] > 0.9
    assert h[STEPS]["val/rewards/accuracies"] > 0.9
    for key in ("train/rewards/margins", "train/logps/chosen", "train/nll_loss", "train/grad_norm", "train/lr",
                "perf/tokens_per_s", "perf/pairs_per_s", "perf/peak_memory_gb"):
        assert math.isfinite(h[STEPS][key]), key


def test_step1_scores_its_own_reference_and_the_cache_holds_every_pair(runs, tiny_data_dir):
    """The reference pass leaves step 1's 8 pairs to step 1's own forward (the policy is still the reference);
    the cache written after step 1 still holds every training pair. A model with dropout would turn this off, so
    this also shows the tiny model under FSDP counts as deterministic."""
    import pandas as pd

    log = runs["A_log"]
    assert "the 8 pairs of step 1 from its own forward" in log, log[-2000:]
    n_train = len(pd.read_parquet(tiny_data_dir / "pairs_train.parquet"))
    n_val = len(pd.read_parquet(tiny_data_dir / "pairs_val.parquet"))
    assert f"reference pass: {n_train - 8 + n_val} pairs" in log  # validation pairs: all in the pass
    assert len(ref_cache(runs["A"])["train"]) == n_train


def test_validation_reports_each_data_source_and_a_preference_gf(runs):
    last = history(runs["A"])[STEPS]
    for source in ("tiny_count", "tiny_choice", "tiny_shapes"):
        assert 0.0 <= last[f"val/{source}/rewards/accuracies"] <= 1.0
        assert math.isfinite(last[f"val/{source}/rewards/margins"])
    assert 0.0 <= last["val/gf/gf"] <= 1.0 and last["val/gf/g_id"] > 0


def test_sft_term_keeps_the_chosen_reward_up(runs):
    """The likelihood-displacement effect the paper reports: without the SFT term chosen falls behind."""
    with_sft = history(runs["A"])[STEPS]["train/rewards/chosen"]
    without = history(runs["B"])[STEPS]["train/rewards/chosen"]
    assert with_sft > without


def test_checkpoint_layout_and_final_weights_load_and_generate(runs, tiny_model_dir):
    from transformers import AutoModelForImageTextToText, AutoProcessor

    out = runs["A"]
    final = out / f"global_step_{STEPS}" / "huggingface"
    assert (out / "latest_checkpointed_iteration.txt").read_text().strip() == str(STEPS)
    assert (out / f"global_step_{STEPS}" / "data_0.pt").exists()
    # the run trained with the shared pair attention; the checkpoint names plain SDPA, so it loads anywhere
    assert json.loads((final / "config.json").read_text())["attn_implementation"] == "sdpa"
    model = AutoModelForImageTextToText.from_pretrained(final, dtype=torch.float32)
    processor = AutoProcessor.from_pretrained(final)
    initial = weights(tiny_model_dir)
    changed = sum(not torch.equal(v, initial[k]) for k, v in model.state_dict().items())
    assert changed > len(initial) // 2
    ids = processor.tokenizer("How many", return_tensors="pt")
    generated = model.generate(**ids, max_new_tokens=4, do_sample=False)
    assert generated.shape[1] == ids["input_ids"].shape[1] + 4 or generated.shape[1] > ids["input_ids"].shape[1]


def test_engine_log_probs_match_transformers(runs, tiny_model_dir, tiny_data_dir):
    """The cached reference log-probs (verl engine, before step 1) equal a plain transformers forward."""
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from specs_verl.dpo.data import PreferenceDataset

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    ds = PreferenceDataset(str(tiny_data_dir / "pairs_train.parquet"), processor, 1024, show_progress=False)
    cached = ref_cache(runs["A"])["train"]
    for index in (0, 5):
        item = ds[index]
        pair_id = ds.rows[index]["pair_id"]
        for k, side in enumerate(("chosen", "rejected")):
            seq = item[side]
            with torch.no_grad():
                logits = model(input_ids=seq["input_ids"][None], **seq["multi_modal_inputs"]).logits[0].float()
            logp = torch.log_softmax(logits[:-1], -1).gather(-1, seq["input_ids"][1:, None])[:, 0]
            expected = float((logp * seq["loss_mask"][1:]).sum())
            assert cached[pair_id][k] == pytest.approx(expected, rel=2e-2), (index, side)


def test_live_reference_gives_the_same_losses_as_the_cache(runs, tiny_model_dir, tiny_data_dir, tmp_path):
    """Also micro-batches packed by tokens (shared rows of ~500 tokens, 1500 a micro-batch): the same losses."""
    out = tmp_path / "live"
    run_cmd(dpo_args(tiny_model_dir, tiny_data_dir, out, 1, "dpo.reference=live", "trainer.total_training_steps=2",
                     "data.use_dynamic_bsz=True", "data.max_token_len_per_gpu=1500", val=False),
            cpu_subprocess_env(tmp_path), cwd=tmp_path, timeout=600)
    live, cached = history(out), history(runs["A"])
    assert not (out / "ref_logps").exists()
    for step in (1, 2):  # step 2 runs after an update: the reference must still be the initial model
        assert live[step]["train/loss"] == pytest.approx(cached[step]["train/loss"], rel=1e-3, abs=1e-4)
        assert live[step]["train/rewards/margins"] == pytest.approx(cached[step]["train/rewards/margins"], abs=2e-3)


def test_resume_after_sigkill_continues_the_same_run(runs, tiny_model_dir, tiny_data_dir, tmp_path):
    out = tmp_path / "resumed"
    env = cpu_subprocess_env(tmp_path)
    args = dpo_args(tiny_model_dir, tiny_data_dir, out, 1, "dpo.sft_weight=1.0")
    log = open(tmp_path / "killed.log", "w")
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    marker = out / "global_step_2" / "dpo_state.json"  # written right after the step-2 checkpoint
    deadline = time.monotonic() + 600
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    # torchrun starts its workers in sessions of their own: kill the whole tree, workers included
    import psutil

    tree = psutil.Process(proc.pid)
    workers = tree.children(recursive=True)
    for p in [tree] + workers:
        p.kill()
    proc.wait(timeout=60)
    psutil.wait_procs(workers, timeout=60)
    log.close()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-3000:]
    # killed between two checkpoints: step 2 is the latest, the run never finished
    assert (out / "latest_checkpointed_iteration.txt").read_text().strip() == "2"
    assert not (out / "dpo_summary.json").exists()

    resumed = run_cmd(args, env, cwd=tmp_path, timeout=600).stdout
    assert "reference log-probs read from" in resumed  # the cache survives the kill; the reference is not redone
    summary, full_summary = (json.loads((d / "dpo_summary.json").read_text()) for d in (out, runs["A"]))
    h, full = history(out), history(runs["A"])
    # the history before the kill and the GF baseline (validation before training) survive the resume
    assert sorted(h) == list(range(STEPS + 1))
    assert summary["gf_baseline"] == full_summary["gf_baseline"] and set(summary["gf_baseline"]) == {
        "tiny_count", "tiny_choice", "tiny_shapes"}
    for step in range(1, STEPS + 1):
        assert h[step]["train/loss"] == pytest.approx(full[step]["train/loss"], rel=1e-4, abs=1e-5)
    assert h[STEPS]["val/gf/gf"] == pytest.approx(full[STEPS]["val/gf/gf"], abs=1e-6)
    a = weights(out / f"global_step_{STEPS}" / "huggingface")
    b = weights(runs["A"] / f"global_step_{STEPS}" / "huggingface")
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 1e-5


def test_default_packing_is_shared(runs):
    assert "[specs-dpo] pair packing: shared (supported)" in runs["A_log"]
