"""`sample` with the hf backend on the tiny model and tiny image data: counts, images, resume, bad rows."""

import json
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from specs_verl.selfdistill.__main__ import main
from specs_verl.selfdistill.samples_io import read_samples, shard_paths

from tests.commands import REPO, cpu_subprocess_env


def _parquet(tiny_data_dir, tmp_path, n=6, name="rl.parquet", edit=None):
    rows = pd.read_parquet(tiny_data_dir / "rl_train.parquet").head(n).to_dict("records")
    if edit:
        rows = edit(rows)
    path = tmp_path / name
    pd.DataFrame(rows).to_parquet(path)
    return path


def _sample_args(model, data, out, *extra):
    return ["sample", "--model", str(model), "--data", str(data), "--out", str(out), "--backend", "hf",
            "--threads", "1", "--no-progress", *extra]


def _records(out):
    return [json.loads(line) for p in shard_paths(out) for line in p.read_text().splitlines()]


def test_n_samples_per_question(tiny_model_dir, tiny_data_dir, tmp_path, capsys):
    data = _parquet(tiny_data_dir, tmp_path)
    out = tmp_path / "samples"
    assert main(_sample_args(tiny_model_dir, data, out, "--n", "3", "--max-new-tokens", "8", "--shard-size", "4")) == 0
    printed = capsys.readouterr().out
    assert "sampled now            6 questions, 18 samples in 2 shard(s)" in printed and "samples/s" in printed
    recs = _records(out)
    assert len(shard_paths(out)) == 2 and len(recs) == 18
    by_q = {}
    for r in recs:
        by_q.setdefault(r["qid"], []).append(r["sample_index"])
        assert 1 <= r["n_tokens"] <= 8 and r["n_prompt_tokens"] > 20 and r["finish_reason"] in ("stop", "length")
        assert r["model"] == str(tiny_model_dir) and r["data_source"] == "tiny_count"
        assert r["settings"] == {"backend": "hf", "n": 3, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 8,
                                 "seed": 0, "prompt_template": "specs"}
    assert {q: sorted(v) for q, v in by_q.items()} == {f"tiny_count-train-{i}": [0, 1, 2] for i in range(6)}
    run = json.loads((out / "run.json").read_text())["settings"]
    assert run["n"] == 3 and run["instruction"].startswith("You FIRST think")
    # `pair` reads the same files
    assert sorted(read_samples([out])) == sorted(by_q)

    # other settings in the same directory are refused; the same settings resume (nothing left to do)
    assert main(_sample_args(tiny_model_dir, data, out, "--n", "2", "--max-new-tokens", "8")) == 2
    assert "n: 3 there, 2 now" in capsys.readouterr().err
    assert main(_sample_args(tiny_model_dir, data, out, "--n", "3", "--max-new-tokens", "8")) == 0
    assert "already sampled        6" in capsys.readouterr().out and len(_records(out)) == 18


def test_images_reach_the_model(tiny_model_dir, tiny_data_dir, tmp_path):
    def same_question(rows):
        out = []
        for i, r in enumerate(rows + rows[:1]):  # the first image twice
            out.append({**r, "prompt": [{"role": "user", "content": "<image>How many red shapes are there?"}],
                        "extra_info": {**r["extra_info"], "qid": f"img-{i}"}})
        return out

    data = _parquet(tiny_data_dir, tmp_path, n=5, edit=same_question)
    out = tmp_path / "greedy"
    assert main(_sample_args(tiny_model_dir, data, out, "--n", "1", "--temperature", "0", "--max-new-tokens", "24",
                             "--prompt-template", "none")) == 0
    texts = {r["qid"]: r["text"] for r in _records(out)}
    assert texts["img-5"] == texts["img-0"]  # same image, same greedy answer
    assert len({texts[f"img-{i}"] for i in range(5)}) > 1  # same question, different images: different answers


def test_bad_rows_are_skipped_and_counted_or_stop_the_run(tiny_model_dir, tiny_data_dir, tmp_path, capsys):
    def drop_image(rows):
        rows[1] = {**rows[1], "images": []}
        return rows

    data = _parquet(tiny_data_dir, tmp_path, n=3, edit=drop_image, name="holes.parquet")
    assert main(_sample_args(tiny_model_dir, data, tmp_path / "strict", "--strict", "--max-new-tokens", "4")) == 2
    assert "holes.parquet: row 1: 1 <image> placeholder(s) in the prompt but 0 image(s)" in capsys.readouterr().err
    assert not (tmp_path / "strict" / "run.json").exists()
    assert main(_sample_args(tiny_model_dir, data, tmp_path / "lenient", "--n", "1", "--max-new-tokens", "4")) == 0
    printed = capsys.readouterr().out
    assert "questions in data      2  (rows skipped: 1)" in printed and "skipped: " in printed
    assert sorted({r["qid"] for r in _records(tmp_path / "lenient")}) == ["tiny_count-train-0", "tiny_count-train-2"]


@pytest.mark.slow
def test_resume_after_a_killed_run_loses_and_duplicates_nothing(tiny_model_dir, tiny_data_dir, tmp_path):
    data = _parquet(tiny_data_dir, tmp_path, n=8)
    args = ["--n", "2", "--max-new-tokens", "48", "--shard-size", "2", "--batch-size", "1", "--seed", "3"]
    out = tmp_path / "killed"
    env = cpu_subprocess_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "specs_verl.selfdistill", *_sample_args(tiny_model_dir, data, out,
                                                                                           *args)],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 240
        while not list(out.glob("shard-*.jsonl")) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    written_before = len(_records(out))
    assert 0 < written_before < 16, "the run was not cut in the middle"
    (out / ".shard-00042.jsonl.crash.tmp").write_text('{"qid": "tiny_count-train-7", "te')  # a shard in flight

    assert main(_sample_args(tiny_model_dir, data, out, *args)) == 0
    resumed = _records(out)
    assert not list(out.glob(".*.tmp"))
    keys = [(r["qid"], r["sample_index"]) for r in resumed]
    assert len(keys) == len(set(keys)) == 16

    # the interrupted-and-resumed samples are the samples of an uninterrupted run
    assert main(_sample_args(tiny_model_dir, data, tmp_path / "straight", *args)) == 0
    straight = {(r["qid"], r["sample_index"]): r["text"] for r in _records(tmp_path / "straight")}
    assert {(r["qid"], r["sample_index"]): r["text"] for r in resumed} == straight


@pytest.mark.parametrize("command,flags", [
    ("sample", ["--n", "--temperature", "--max-new-tokens", "--backend", "--prompt-template", "--tp", "--shard-size",
                "--replicas", "--ray-address", "--gpus-per-node", "--nnodes"]),
    ("pair", ["--mode", "--judge", "--judge-url", "--judge-model", "--pairs-per-question", "--seed", "--strict"]),
    ("show", ["--n"]),
])
def test_help(command, flags, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert all(f in text for f in flags)


def test_dry_run_says_where_it_would_generate(capsys, tmp_path):
    """8 vLLM replicas of tp 2 on 2 nodes of 8 GPUs, verl's rollout config composed; reads no model, no data."""
    args = ["sample", "--model", "Qwen/Qwen2.5-VL-7B-Instruct", "--data", str(tmp_path / "absent.parquet"),
            "--out", str(tmp_path / "o"), "--dry-run", "--backend", "vllm"]
    assert main([*args, "--replicas", "0", "--gpus-per-node", "8", "--nnodes", "2", "--tp", "2",
                 "--max-new-tokens", "10240"]) == 0
    out = capsys.readouterr().out
    assert "generation: 8 vllm replicas (gpus_per_node=8, nnodes=2, tp=2)" in out
    assert "name=vllm dtype=bfloat16 response_length=10240 load_format=auto" in out
    assert main(args) == 0 and "generation: this process, vllm backend" in capsys.readouterr().out
    assert not (tmp_path / "o").exists()
