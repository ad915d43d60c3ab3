"""The main job end to end: `bash recipes/specs_tiny_cpu.sh --quick` on CPU, every stage for real.

Asserts that each stage wrote its artifact and that the closing summary's numbers are the ones in those files.
"""

import csv
import json
import subprocess

import pandas as pd
import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_pipeline")
    out = root / "run"
    env = {**__import__("os").environ, "OUT_DIR": str(out), "HOME": str(root)}
    proc = subprocess.run(["bash", str(REPO / "recipes" / "specs_tiny_cpu.sh"), "--quick"], env=env, cwd=root,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1500)
    (root / "pipeline.log").write_text(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-5000:]
    return out, proc.stdout


def test_every_stage_wrote_its_artifact(pipeline):
    out, _ = pipeline
    for f in ("rl_train.parquet", "rl_val_id.parquet", "rl_val_ood_choice.parquet", "sft_train.parquet"):
        assert (out / "data" / f).is_file(), f
    for stage in ("teach", "zero", "coldstart/dpo", "rl"):
        weights = (out / stage / "DONE").read_text().strip()
        assert list(__import__("pathlib").Path(weights).glob("*.safetensors")), stage
    assert (out / "coldstart" / "none" / "DONE").read_text().strip() == (out / "teach" / "DONE").read_text().strip()
    assert list((out / "samples" / "zero").glob("shard-*.jsonl")) and list((out / "samples" / "base").glob("shard-*.jsonl"))
    for f in ("gf.csv", "gf.json", "gf.png"):
        assert (out / "gf" / f).is_file(), f
    metrics = [json.loads(line) for line in (out / "rl" / "metrics.jsonl").read_text().splitlines()]
    assert any("val-core/specs/gf" in m["data"] for m in metrics)  # stage 3 reported GF in validation


def test_summary_numbers_come_from_the_artifacts(pipeline):
    out, log = pipeline
    summary = json.loads((out / "summary.json").read_text())
    report = json.loads((out / "pairs" / "report.json").read_text())
    pairs = pd.read_parquet(out / "pairs" / "pairs.parquet")
    assert summary["pairs"]["written"] == report["pairs"] == len(pairs) >= 4
    assert f"pairs built: {len(pairs)}" in log

    history = json.loads((out / "coldstart" / "dpo" / "dpo_summary.json").read_text())["history"]
    curve = summary["dpo"]["curve"]
    assert [c["step"] for c in curve] == [h["step"] for h in history]
    assert curve[-1]["train/rewards/chosen"] == round(history[-1]["train/rewards/chosen"], 4)

    with open(out / "gf" / "gf.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["step"] != "0"]
    assert set(summary["gf"]["runs"]) == {r["run"] for r in rows} == {"dpo"}
    assert summary["gf"]["runs"]["dpo"]["gf"] == float(rows[0]["gf"])
    assert "GF of each cold start" in log and summary["artifacts"]["GRPO (stage 3)"].startswith(str(out / "rl"))


def test_rerun_resumes_and_skips_every_stage(pipeline):
    out, _ = pipeline
    env = {**__import__("os").environ, "OUT_DIR": str(out), "HOME": str(out.parent)}
    proc = subprocess.run(["bash", str(REPO / "recipes" / "specs_tiny_cpu.sh"), "--quick"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for line in ("0 model and data: complete", "1a zero model: complete", "1b pairs: complete",
                 "2 cold start (dpo): complete", "3 GRPO: complete", "4 GF of the cold starts: complete"):
        assert line in proc.stdout, line
