"""verl's checkpoint layout, read one way everywhere: steps, where the weights of each are, the latest finished save."""

from specs_verl.checkpoint_layout import hf_dir, hf_weights, latest_hf_dir, step_dirs, step_of


def model(path, weights=True):
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    if weights:
        (path / "model.safetensors").write_bytes(b"x")
    return path


def test_latest_finished_save_of_each_layout(tmp_path):
    sft = tmp_path / "sft"
    model(hf_dir(sft, 2))
    model(hf_dir(sft, 10))
    model(hf_dir(sft, 12), weights=False)  # a save cut off before its weights: not handed on
    assert latest_hf_dir(sft) == hf_dir(sft, 10)
    grpo = tmp_path / "grpo"
    model(grpo / "global_step_3" / "actor" / "huggingface")
    assert latest_hf_dir(grpo) == grpo / "global_step_3" / "actor" / "huggingface"
    assert latest_hf_dir(model(tmp_path / "plain")) == tmp_path / "plain"
    assert latest_hf_dir(tmp_path / "missing") is None


def test_steps_sort_numerically_and_weights_are_found_where_each_trainer_puts_them(tmp_path):
    for step in (10, 9, 100):
        model(hf_dir(tmp_path, step), weights=False)
    (tmp_path / "global_step_x").mkdir()
    assert [step_of(d) for d in step_dirs(tmp_path)] == [9, 10, 100]
    assert hf_weights(tmp_path / "global_step_9") == hf_dir(tmp_path, 9)
    assert step_of(tmp_path / "global_step_3" / "actor" / "huggingface") == 3 and step_of(tmp_path) is None
