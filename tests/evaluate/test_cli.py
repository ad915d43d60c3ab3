"""`python -m specs_verl.evaluate` end to end on CPU: tiny Qwen2.5-VL checkpoints, tiny ID/OOD sets, hf backend."""

import csv
import json
import subprocess

import pytest

from specs_verl.reward import compute_score
from specs_verl.tiny.model import make_tiny_model
from tests.commands import PYTHON, REPO, cpu_subprocess_env, run_cmd
from tests.evaluate.png_checks import assert_three_panel_figure

SETS = ("tiny_count", "tiny_choice", "tiny_shapes")


def test_help():
    out = run_cmd([PYTHON, "-m", "specs_verl.evaluate", "--help"], cpu_subprocess_env(), REPO, timeout=120).stdout
    for flag in ("--base", "--checkpoints", "--id", "--ood", "--backend", "--rbf", "--jsonl", "--out"):
        assert flag in out


@pytest.mark.slow
def test_end_to_end_on_cpu(tmp_path, tiny_model_dir, tiny_data_dir):
    run_a = tmp_path / "runA"
    for step in (1, 2):
        make_tiny_model(run_a / f"global_step_{step}" / "huggingface", size="tiny", seed=step)
    out = tmp_path / "gf"
    cmd = [PYTHON, "-m", "specs_verl.evaluate", "--base", str(tiny_model_dir),
           "--checkpoints", str(run_a), f"B={run_a / 'global_step_2' / 'huggingface'}",
           "--id", str(tiny_data_dir / "rl_val_id.parquet"),
           "--ood", str(tiny_data_dir / "rl_val_ood_choice.parquet"), str(tiny_data_dir / "rl_val_ood_shapes.parquet"),
           "--backend", "hf", "--device", "cpu", "--threads", "1", "--limit", "3", "--max-new-tokens", "12",
           "--n", "2", "--temperature", "1.0", "--rbf", "--out", str(out)]
    env = cpu_subprocess_env(tmp_path)
    log = run_cmd(cmd, env, REPO, timeout=600).stdout
    assert "[3/3]" in log and "wrote" in log  # base + two checkpoints; run B's checkpoint is run A's step 2

    rows = list(csv.DictReader((out / "gf.csv").open()))
    assert [(r["run"], int(r["step"])) for r in rows] == [("runA", 0), ("runA", 1), ("runA", 2), ("B", 0), ("B", 2)]
    assert all(r["metric"] == "format" for r in rows)
    assert rows[0]["gf"] == "0.0" and rows[4]["gf"] == rows[2]["gf"]
    for s in SETS:
        assert f"score/{s}" in rows[0] and 1 <= float(rows[1][f"rbf/{s}"]) <= 512

    payload = json.loads((out / "gf.json").read_text())
    assert [s["name"] for s in payload["evaluation"]["sets"]] == list(SETS)
    base = payload["models"]["base"]["sets"]["tiny_count"]
    assert base["n_prompts"] == 3 and base["n_samples"] == 6 and set(base["pass_at_k"]) == {"1", "2"}

    # every response was scored by the GRPO reward itself
    samples_files = sorted((out / "evals").glob("*/samples.jsonl"))
    assert len(samples_files) == 3
    records = [json.loads(line) for line in samples_files[0].read_text().splitlines()]
    assert len(records) == 2 * 3 * len(SETS)
    for r in records:
        scored = compute_score(r["set"], r["text"], r["ground_truth"], {})
        assert (r["format"], r["acc"], r["score"]) == (scored["format"], scored["acc"], scored["score"])
        assert len(r["top_p_set_sizes"]) == r["n_tokens"]

    assert_three_panel_figure(out / "gf.png")

    # a second call reuses every model's scores (no generation) and gives the same table
    again = run_cmd(cmd, env, REPO, timeout=300).stdout
    assert again.count("(reused)") == 3 and "generate base" not in again
    assert list(csv.DictReader((out / "gf.csv").open())) == rows


def test_user_errors_are_one_line(tmp_path, tiny_model_dir, tiny_data_dir):
    base = [PYTHON, "-m", "specs_verl.evaluate", "--base", str(tiny_model_dir), "--checkpoints", str(tiny_model_dir),
            "--id", str(tiny_data_dir / "rl_val_id.parquet"), "--out", str(tmp_path / "o")]
    cases = [
        (["--ood", str(tmp_path / "missing.parquet")], "missing.parquet: no such file"),
        (["--ood", str(tiny_data_dir / "rl_val_ood_choice.parquet"), "--backend", "vllm", "--limit", "1"],
         "needs vLLM"),
    ]
    for extra, message in cases:
        proc = subprocess.run(base + extra, env=cpu_subprocess_env(tmp_path), cwd=REPO, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 1 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
