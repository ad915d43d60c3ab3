"""Which checkpoints make up a run: verl's global_step_N layouts, model dirs, lists, names, and clear errors."""

from pathlib import Path

import pytest

from specs_verl.evaluate.checkpoints import resolve_run, resolve_runs


def model_dir(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    return path


def test_checkpoint_dir_layouts(tmp_path):
    root = tmp_path / "dpo_run"
    model_dir(root / "global_step_10" / "huggingface")        # SFT / DPO trainer
    model_dir(root / "global_step_2" / "actor" / "huggingface")  # GRPO actor
    model_dir(root / "global_step_30")                         # weights in the step folder itself
    (root / "latest_checkpointed_iteration.txt").write_text("30")
    run = resolve_run(str(root))
    assert run.name == "dpo_run"
    assert [s for s, _ in run.checkpoints] == [2, 10, 30]  # numeric order, not text order
    assert run.checkpoints[0][1] == root / "global_step_2" / "actor" / "huggingface"


def test_model_dirs_and_lists(tmp_path):
    a = model_dir(tmp_path / "exp" / "global_step_5" / "huggingface")
    b = model_dir(tmp_path / "exp" / "global_step_9" / "huggingface")
    run = resolve_run(f"{b},{a}")
    assert run.name == "exp" and [s for s, _ in run.checkpoints] == [5, 9]
    c, d = model_dir(tmp_path / "first"), model_dir(tmp_path / "second")
    assert [s for s, _ in resolve_run(f"mine={c},{d}").checkpoints] == [1, 2]
    assert resolve_run(f"mine={c},{d}").name == "mine"
    assert resolve_run(str(c)).checkpoints == ((1, c),)
    assert [r.name for r in resolve_runs([str(c), str(c)])] == ["first", "first-2"]


def test_errors(tmp_path):
    root = tmp_path / "run"
    (root / "global_step_4" / "actor").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match=r"global_step_4 holds no Hugging Face weights.*hf_model"):
        resolve_run(str(root))
    with pytest.raises(FileNotFoundError, match="do not exist"):
        resolve_run(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="neither a model directory"):
        resolve_run(str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match="not a Hugging Face model directory"):
        resolve_run(f"{model_dir(tmp_path / 'm')},{tmp_path / 'empty'}")
