"""The DPO trainer on 1, 2 and 3 gloo processes with sizes that divide by nothing: 7 training pairs (8 rows, one
skipped), 5 validation pairs, micro-batches of 1 and 2, validation before training and after every step.

The first training row is a text-only pair and the others carry images, so the 3-process run (micro-batch 2)
puts a text-only and an image pair into one micro-batch of its reference pass. Every run must finish (before the
fix, uneven shards hung the reference pass), and the reference log-probs and validation metrics must equal the
1-process run's: the global batch of each step holds the same pairs whatever the process count.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
from PIL import Image

from tests.commands import PYTHON, cpu_subprocess_env, run_cmd

pytestmark = pytest.mark.slow  # torchrun runs of the trainer

STEPS = 2
# name -> (processes, micro-batch in pairs, pair packing): the one-process run is the separate layout started
# without torchrun, so every comparison below is also shared (2 and 3 processes) against separate (1 process)
RUNS = {"one": (1, 1, "separate"), "two": (2, 1, "shared"), "three": (3, 2, "shared")}


def uneven_data(tiny_data_dir: Path, out: Path) -> Path:
    out.mkdir()
    train = pd.read_parquet(tiny_data_dir / "pairs_train.parquet").iloc[:7].reset_index(drop=True)
    # row 0: a text-only pair (no image); row 1: its image given by path, not bytes
    train.at[0, "prompt"] = [{"role": "user", "content": "How many sides has a triangle?"}]
    train.at[0, "images"] = []
    image = Image.open(io.BytesIO(train.at[1, "images"][0]["bytes"]))
    image.save(out / "row1.png")
    train.at[1, "images"] = [{"bytes": None, "path": "row1.png"}]
    bad = train.iloc[2].copy()
    bad["rejected"] = bad["chosen"]
    bad["pair_id"] = "identical"
    train = pd.concat([train.iloc[:4], bad.to_frame().T, train.iloc[4:]], ignore_index=True)  # 8 rows, 7 good
    train.to_parquet(out / "pairs_train.parquet")
    val = pd.read_parquet(tiny_data_dir / "pairs_val.parquet")
    val.iloc[[0, 8, 16, 1, 9]].reset_index(drop=True).to_parquet(out / "pairs_val.parquet")
    return out


def args(model_dir, data_dir, out, nproc, micro, packing):
    launch = ["-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}"] if nproc > 1 else []
    return [
        PYTHON, *launch, "-m", "specs_verl.dpo", f"dpo.pair_packing={packing}",
        f"data.train_files={data_dir / 'pairs_train.parquet'}", f"data.val_files={data_dir / 'pairs_val.parquet'}",
        f"model.path={model_dir}", "data.train_batch_size=6", f"data.micro_batch_size_per_gpu={micro}",
        "data.max_length=1024", "optim.lr=1e-3", f"trainer.total_training_steps={STEPS}",
        f"trainer.default_local_dir={out}", "trainer.test_freq=1", "trainer.val_before_train=True",
        "dpo.on_bad_pair=skip", "dpo.gf.id_sources=[tiny_count]", "dpo.gf.ood_sources=[tiny_choice,tiny_shapes]",
        "checkpoint.save_contents=[model,optimizer,extra]",
    ]


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tiny_data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    data = uneven_data(tiny_data_dir, root / "data")
    env = cpu_subprocess_env(root)
    out = {}
    for name, (nproc, micro, packing) in RUNS.items():
        out[name] = root / name
        out[name + "_log"] = run_cmd(args(tiny_model_dir, data, out[name], nproc, micro, packing), env, cwd=root,
                                     timeout=300).stdout  # a hang (uneven shards) ends here
    return out


def history(out: Path) -> dict[int, dict]:
    return {h["step"]: h for h in json.loads((out / "dpo_summary.json").read_text())["history"]}


def ref_values(out: Path) -> dict[str, dict[str, tuple[float, float]]]:
    (path,) = (out / "ref_logps").glob("ref_logps_*.pt")
    payload = torch.load(path, weights_only=True)
    return {split: dict(zip(part["keys"], map(tuple, part["logps"].tolist())))
            for split, part in payload["splits"].items()}


def test_every_run_finishes_and_skips_the_bad_pair(runs):
    for name in RUNS:
        assert sorted(history(runs[name])) == list(range(STEPS + 1)), name  # step 0: validation before training
        assert json.loads((runs[name] / "bad_pairs.json").read_text())["train"]["skipped"] == {"identical_pair": 1}
        assert "skipped 1 of 8 pairs" in runs[name + "_log"]


@pytest.mark.parametrize("name", ["two", "three"])
def test_reference_log_probs_equal_one_process(runs, name):
    """Each pair's reference log-probs, found by pair_id + content: no pair lost, duplicated or shifted."""
    one, many = ref_values(runs["one"]), ref_values(runs[name])
    assert {s: len(v) for s, v in one.items()} == {"train": 7, "val": 5}
    for split in ("train", "val"):
        assert set(many[split]) == set(one[split])
        for key, (chosen, rejected) in one[split].items():
            assert many[split][key] == pytest.approx((chosen, rejected), abs=1e-4), (split, key)


@pytest.mark.parametrize("name", ["two", "three"])
def test_validation_and_training_metrics_equal_one_process(runs, name):
    one, many = history(runs["one"]), history(runs[name])
    # before training the policy is the reference: only the pass order differs
    for key, value in one[0].items():
        assert many[0][key] == pytest.approx(value, rel=1e-4, abs=1e-5), key
    assert one[0]["val/rewards/margins"] == pytest.approx(0.0, abs=1e-4)
    for step in range(1, STEPS + 1):  # the same pairs per global batch; gradients summed in another order
        for key in ("train/loss", "train/rewards/margins", "val/rewards/margins", "val/logps/chosen",
                    "val/tiny_count/rewards/margins", "val/gf/gf"):
            assert many[step][key] == pytest.approx(one[step][key], rel=1e-3, abs=1e-3), (step, key)
        assert many[step]["perf/pairs"] == one[step]["perf/pairs"] == 6
        # the shared layout computes each prompt once: fewer tokens for the same pairs
        assert many[step]["perf/tokens"] < 0.8 * one[step]["perf/tokens"]


def test_throughput_is_global(runs):
    """pairs/s x step time = the pairs of the global batch (was dp times too many), tokens likewise."""
    for name in ("two", "three"):
        for step, h in history(runs[name]).items():
            if step == 0:
                continue
            assert h["perf/pairs_per_s"] * h["perf/step_time_s"] == pytest.approx(6.0, rel=1e-6)
            assert h["perf/tokens_per_s"] * h["perf/step_time_s"] == pytest.approx(h["perf/tokens"], rel=1e-6)
            assert math.isfinite(h["perf/tokens"]) and h["perf/tokens"] > 6 * 100  # 6 pairs of > 100 tokens
