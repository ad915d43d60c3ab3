"""The DPO loop's bookkeeping in process: which steps validate, save and end the run, the logged metrics, the
preference GF's baseline, and what a resumed run keeps. The trainer runs themselves (tests/dpo/test_trainer_cpu.py,
test_distributed_cpu.py) check the same through real launches."""

import json
import math

import pytest

from specs_verl.dpo.bookkeeping import RunRecord, Schedule, merge_ranks, step_metrics, validation_means


def test_total_training_steps_wins_over_epochs_and_the_last_step_always_validates_and_saves():
    by_epochs = Schedule.from_trainer_config(None, total_epochs=3, steps_per_epoch=4, test_freq=-1, save_freq=5)
    assert by_epochs.total_steps == 12
    assert [s for s in range(1, 13) if by_epochs.saves(s)] == [5, 10, 12]
    assert [s for s in range(1, 13) if by_epochs.validates(s)] == [12]  # test_freq off: the last step only

    by_steps = Schedule.from_trainer_config(6, total_epochs=1, steps_per_epoch=4, test_freq=2, save_freq=-1)
    assert by_steps.total_steps == 6  # more than one epoch: the data is cycled
    assert [s for s in range(1, 7) if by_steps.validates(s)] == [2, 4, 6]
    assert [s for s in range(1, 7) if by_steps.saves(s)] == [6]
    assert [s for s in range(7) if by_steps.finished(s)] == [6]


def test_a_resumed_run_continues_in_the_epoch_it_stopped_in():
    schedule = Schedule(total_steps=12, steps_per_epoch=4)
    assert [schedule.epoch_of_next_step(s) for s in (0, 3, 4, 7, 8)] == [0, 0, 1, 1, 2]


def test_step_metrics_are_per_pair_means_with_global_throughput():
    stats = {"pairs": 6.0, "tokens": 120.0, "loss": 0.5, "rewards/chosen": 0.1}
    metrics = step_metrics(stats, {"grad_norm": 2.0, "lr": 1e-6}, batch_tokens=3000, elapsed=2.0,
                           peak_memory_gb=1.5)
    assert metrics["train/loss"] == 0.5 and metrics["train/rewards/chosen"] == 0.1
    assert "train/tokens" not in metrics and "train/pairs" not in metrics
    assert metrics["perf/pairs_per_s"] * metrics["perf/step_time_s"] == 6.0  # every rank's pairs, once
    assert metrics["perf/tokens_per_s"] == 1500.0 and metrics["perf/tokens"] == 3000.0
    assert metrics["train/grad_norm"] == 2.0 and metrics["train/lr"] == 1e-6 and metrics["perf/peak_memory_gb"] == 1.5
    assert "perf/mfu" not in metrics
    missing = step_metrics(stats, {"lr": None, "mfu": 0.25}, batch_tokens=10, elapsed=1.0, peak_memory_gb=0.0)
    assert math.isnan(missing["train/grad_norm"]) and math.isnan(missing["train/lr"]) and missing["perf/mfu"] == 0.25


def pair(accuracy: float, margin: float) -> dict:
    return {"rewards/accuracies": accuracy, "rewards/margins": margin}


def test_validation_means_over_every_rank_and_per_source():
    rank0 = {"id": [pair(1.0, 2.0), pair(0.0, -1.0)], "ood": [pair(1.0, 1.0)]}
    rank1 = {"id": [pair(1.0, 3.0)]}
    metrics = validation_means(merge_ranks([rank0, rank1]))
    assert metrics["val/rewards/accuracies"] == 0.75  # 4 pairs, not the mean of the rank means
    assert metrics["val/id/rewards/accuracies"] == pytest.approx(2 / 3)
    assert metrics["val/id/rewards/margins"] == pytest.approx(4 / 3)
    assert metrics["val/ood/rewards/margins"] == 1.0
    assert validation_means({}) == {}


def test_the_validation_before_training_is_the_gf_baseline():
    record = RunRecord()
    before = {"id": [pair(0.5, 0.0)], "ood": [pair(0.5, 0.0)]}
    at_start = record.validation_metrics(before, ["id"], ["ood"], beta=2.0, before_training=True)
    assert record.gf_baseline == {"id": 0.5, "ood": 0.5}
    assert at_start["val/gf/gf"] == pytest.approx(0.0, abs=1e-9)  # no gain over itself
    later = {"id": [pair(1.0, 1.0)], "ood": [pair(0.5, 0.0)]}
    gained = record.validation_metrics(later, ["id"], ["ood"], beta=2.0)
    assert record.gf_baseline == {"id": 0.5, "ood": 0.5}  # a later validation leaves the baseline alone
    assert gained["val/id/rewards/accuracies"] == 1.0 and "val/gf/gf" in gained
    # without the validation before training the baseline is 0 for every set: the same accuracies score higher
    fresh = RunRecord().validation_metrics(later, ["id"], ["ood"], beta=2.0)
    assert fresh["val/gf/gf"] != gained["val/gf/gf"]
    # no GF configured: no GF metric and no baseline recorded
    plain = RunRecord()
    assert not any(k.startswith("val/gf/") for k in plain.validation_metrics(before, [], ["ood"], 2.0, True))
    assert plain.gf_baseline is None


def test_resume_keeps_the_baseline_and_the_history_up_to_the_checkpoint():
    record = RunRecord(gf_baseline={"id": 0.5})
    for step in range(5):
        record.log(step, {"train/loss": 1.0 / (step + 1)})
    state = json.loads(json.dumps(record.state(2, losses={"sigmoid": 1.0})))  # as dpo_state.json holds it
    assert state["step"] == 2 and state["losses"] == {"sigmoid": 1.0}
    # the run was killed after logging steps 3 and 4, past the step-2 checkpoint: they are trained again
    resumed = RunRecord.resumed(state, start_step=2)
    assert [h["step"] for h in resumed.history] == [0, 1, 2]
    assert resumed.gf_baseline == {"id": 0.5}
    resumed.log(3, {"train/loss": 0.25, "train/rewards/chosen": 0.123456, "perf/tokens": 100.0})
    summary = resumed.summary(3, "/run/global_step_3/huggingface")
    assert summary["final_step"] == 3 and summary["huggingface"] == "/run/global_step_3/huggingface"
    assert [h["step"] for h in summary["history"]] == [0, 1, 2, 3] and summary["gf_baseline"] == {"id": 0.5}
    assert resumed.final_metrics() == {"train/loss": 0.25, "train/rewards/chosen": 0.1235}
    assert RunRecord().final_metrics() == {}
