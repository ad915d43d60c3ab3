"""The main job end to end: `bash recipes/specs_tiny_cpu.sh --quick` on CPU, every stage for real.

Asserts that each stage wrote its artifact, that every per-seed number of the closing summary is the one in the
file its stage wrote, that the console output is short and names each stage's log, and that a failing stage
shows the tail of its log.
"""

import csv
import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import torch

from tests.commands import REPO

pytestmark = pytest.mark.slow  # the whole tiny CPU pipeline


SEEDS = ("0", "1")  # --quick
RUNS = ("dpo", "dpo_nosft", "sft")


def recipe(out: Path, home: Path, *args: str, timeout: int = 1500, **env) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(REPO / "recipes" / "specs_tiny_cpu.sh"), *args],
                          env={**os.environ, "OUT_DIR": str(out), "HOME": str(home), **env}, cwd=home,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_pipeline")
    out = root / "run"
    proc = recipe(out, root, "--quick")
    (root / "pipeline.log").write_text(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-5000:]
    return out, proc.stdout


def gf_rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def test_every_stage_wrote_its_artifact(pipeline):
    out, _ = pipeline
    for f in ("rl_train.parquet", "rl_val_id.parquet", "rl_val_ood_choice.parquet", "rl_val_ood_total.parquet",
              "sft_train.parquet"):
        assert (out / "data" / f).is_file(), f
    for stage in ("teach", "zero", "coldstart/dpo", "rl"):
        weights = (out / stage / "DONE").read_text().strip()
        assert list(Path(weights).glob("*.safetensors")), stage
    for run in RUNS:
        for seed in SEEDS:
            steps = sorted(int(p.parent.name.removeprefix("global_step_"))
                           for p in (out / "coldstart" / run / f"seed{seed}").glob("global_step_*/huggingface"))
            assert steps == [2, 4, 6, 8], (run, seed)  # a checkpoint every quarter of the 8 steps
    assert (out / "coldstart" / "dpo" / "DONE").read_text() == (out / "coldstart" / "dpo" / "seed0" / "DONE").read_text()
    assert (out / "coldstart" / "none" / "DONE").read_text().strip() == (out / "teach" / "DONE").read_text().strip()
    assert list((out / "samples" / "zero").glob("shard-*.jsonl")) and list((out / "samples" / "base").glob("shard-*.jsonl"))
    for f in ("gf.csv", "gf_mean.csv", "gf.json", "gf.png"):
        assert (out / "gf" / f).is_file(), f
    metrics = [json.loads(line) for line in (out / "rl" / "metrics.jsonl").read_text().splitlines()]
    assert any("val-core/specs/gf" in m["data"] for m in metrics)  # stage 3 reported GF in validation


def test_grpo_starts_from_the_dpo_checkpoint_scores_with_specs_and_reports_gf(pipeline):
    """Stage 3: verl's GRPO from the checkpoint the DPO trainer wrote and named, the `specs` reward manager (the
    preset's), the `specs_sync` trainer (GF in every validation, `specs.gf.*` declared by the preset)."""
    from safetensors.torch import load_file

    out, _ = pipeline
    start = (out / "coldstart" / "dpo" / "DONE").read_text().strip()
    dpo_log = (out / "coldstart" / "dpo" / "seed0" / "train.log").read_text()
    assert f"actor_rollout_ref.model.path={start}" in dpo_log  # what the DPO trainer tells the user
    assert f"hf rollout server 0: {start} on cpu" in (out / "rl" / "grpo.log").read_text()  # the rollout loaded it
    trained = load_file(Path(start) / "model.safetensors")
    base = load_file(Path((out / "teach" / "DONE").read_text().strip()) / "model.safetensors")
    assert any(not torch.equal(trained[k], base[k]) for k in base)  # the DPO weights, not the base model's
    metrics = {m["step"]: m["data"] for m in map(json.loads, (out / "rl" / "metrics.jsonl").read_text().splitlines())}
    assert math.isfinite(metrics[0]["val-core/specs/gf"])  # the validation before training
    final = metrics[max(metrics)]
    for key in ("actor/pg_loss", "critic/score/mean", "critic/advantages/max", "critic/advantages/min",
                "val-core/specs/gf"):
        assert math.isfinite(final[key]), key
    # the specs reward's own keys, per data source, from validation
    assert any(re.fullmatch(r"val-aux/tiny_count/format/mean@\d+", key) for key in final), sorted(final)
    assert "val-core/tiny_count/acc/mean@1" in final


def test_the_teaching_data_covers_every_evaluated_task_but_the_hard_one(pipeline):
    out, _ = pipeline
    taught = set(pd.read_parquet(out / "data" / "sft_train.parquet").data_source)
    assert taught == {"tiny_count", "tiny_choice", "tiny_shapes"}
    assert set(pd.read_parquet(out / "data" / "rl_train.parquet").data_source) == {"tiny_count"}  # pairs: ID only
    hard = pd.read_parquet(out / "data" / "rl_val_ood_total.parquet")
    taught_text = " ".join(m[0]["content"] for m in pd.read_parquet(out / "data" / "sft_train.parquet").messages)
    assert hard.prompt[0][0]["content"].split("\n")[-1] not in taught_text  # its instruction wording is new


def test_gf_is_a_curve_per_seed_with_a_seed_column(pipeline):
    out, _ = pipeline
    rows = gf_rows(out / "gf" / "gf.csv")
    assert {r["seed"] for r in rows} == set(SEEDS)
    for run in RUNS:
        for seed in SEEDS:
            steps = sorted(int(r["step"]) for r in rows if r["run"] == run and r["seed"] == seed)
            assert steps == [0, 2, 4, 6, 8], (run, seed)
            assert any(k == "score/tiny_total" for k in rows[0])  # the hard OOD split, scored at every point
    mean = gf_rows(out / "gf" / "gf_mean.csv")
    point = next(r for r in mean if r["run"] == "dpo" and r["step"] == "8")
    per_seed = [float(r["gf"]) for r in rows if r["run"] == "dpo" and r["step"] == "8"]
    assert float(point["gf"]) == pytest.approx(sum(per_seed) / len(per_seed), abs=1e-4)


def test_summary_numbers_come_from_the_artifacts(pipeline):
    out, log = pipeline
    summary = json.loads((out / "summary.json").read_text())
    report = json.loads((out / "pairs" / "report.json").read_text())
    pairs = pd.read_parquet(out / "pairs" / "pairs.parquet")
    assert summary["pairs"]["written"] == report["pairs"] == len(pairs) >= 4
    assert f"pairs built: {len(pairs)}" in log

    history = json.loads((out / "coldstart" / "dpo" / "seed0" / "dpo_summary.json").read_text())["history"]
    curve = summary["dpo"]["curve"]
    assert [c["step"] for c in curve] == [h["step"] for h in history]
    assert curve[-1]["train/rewards/chosen"] == round(history[-1]["train/rewards/chosen"], 4)
    for run in ("dpo", "dpo_nosft"):
        for seed in SEEDS:
            last = json.loads((out / "coldstart" / run / f"seed{seed}" / "dpo_summary.json").read_text())["history"][-1]
            assert summary["coldstarts"][run][seed]["train/rewards/chosen"] == round(last["train/rewards/chosen"], 4)

    runs = summary["gf"]["runs"]
    assert set(runs) == set(RUNS)
    for run in RUNS:
        finals = []
        for seed in SEEDS:  # each seed's final GF is the last row of the gf.csv its own evaluation wrote
            rows = [r for r in gf_rows(out / "gf" / f"seed{seed}" / "gf.csv") if r["run"] == run]
            last = max(rows, key=lambda r: int(r["step"]))
            assert runs[run]["seeds"][seed] == float(last["gf"])
            assert runs[run]["extra"]["tiny_total"][seed] == float(last["score/tiny_total"])
            finals.append(float(last["gf"]))
        assert runs[run]["mean"] == pytest.approx(sum(finals) / len(finals), abs=1e-4)
        assert runs[run]["points"] == 5
    claims = {c["claim"]: c for c in summary["paper_checks"]}
    assert set(claims) == {"SFT below DPO in GF", "DPO + SFT at least DPO in GF",
                           "the chosen reward falls below zero with lambda 0"}
    assert claims["SFT below DPO in GF"]["holds"] == (runs["sft"]["mean"] < runs["dpo_nosft"]["mean"])
    assert "the paper's cold-start claims on this toy:" in log and "GF at the last cold-start step" in log


def test_the_console_output_is_short_and_names_each_stage_log(pipeline):
    out, log = pipeline
    lines = log.splitlines()
    assert len(lines) <= 150, len(lines)
    named = set(re.findall(r"log:? (\S+\.log)\)?$", log, flags=re.M))
    for stage_log in ("teach/train.log", "zero/grpo.log", "samples/zero.log", "samples/base.log", "pairs/pair.log",
                      "coldstart/dpo/seed0/train.log", "coldstart/sft/seed1/train.log", "rl/grpo.log",
                      "gf/seed0/evaluate.log"):
        assert str(out / stage_log) in named, stage_log
        assert (out / stage_log).stat().st_size > 0, stage_log
    assert "engine is not available" not in log and "Kwargs passed to `processor" not in log
    # the silenced warnings are gone from the logs too, where the other lines of the stage still are
    teach_log = (out / "teach" / "train.log").read_text()
    assert "step:80" in teach_log and "engine is not available" not in teach_log


def test_rerun_resumes_and_skips_every_stage(pipeline):
    out, _ = pipeline
    proc = recipe(out, out.parent, "--quick", timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    for line in ("0 model and data: complete", "1a zero model: complete", "1b pairs: complete",
                 "dpo        seed 0: complete", "sft        seed 1: complete", "3 GRPO: complete",
                 "4 GF over the cold-start steps: complete"):
        assert line in proc.stdout, line


def test_a_failing_stage_shows_the_tail_of_its_log(pipeline, tmp_path):
    """The teaching SFT on a model folder whose weights are unreadable: the stage fails inside verl, and the
    console shows the log's last lines (the error) and the log's path."""
    out, _ = pipeline
    broken = tmp_path / "run"
    shutil.copytree(out / "data", broken / "data")
    shutil.copytree(Path((out / "teach" / "DONE").read_text().strip()), broken / "base_init")
    for f in (broken / "base_init").glob("*.safetensors"):
        f.write_bytes(b"not a safetensors file")
    proc = recipe(broken, tmp_path, "--quick", timeout=600, STAGES="teach")
    assert proc.returncode != 0
    log = broken / "teach" / "train.log"
    assert f"the last lines of {log}:" in proc.stdout
    tail = [line.removeprefix("    | ") for line in proc.stdout.splitlines() if line.startswith("    | ")]
    assert tail and tail[-1] in log.read_text().splitlines()[-1]
    assert "teaching SFT failed; log: " + str(log) in proc.stdout
