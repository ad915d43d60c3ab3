"""The typed `dpo:` config: a wrong value stops the run at start naming the option; --help documents every key."""

from __future__ import annotations

import subprocess

import pytest
from hydra import compose, initialize_config_module

from specs_verl.dpo.config import load_settings
from tests.commands import PYTHON, REPO, cpu_subprocess_env


def settings(*overrides):
    with initialize_config_module(config_module="specs_verl.config", version_base=None):
        return load_settings(compose(config_name="dpo_trainer", overrides=["data.train_files=p.parquet", *overrides]))


def test_defaults_are_the_papers_and_typed():
    dpo, data = settings()
    assert (dpo.loss, dpo.sft_weight, dpo.reference, dpo.on_bad_pair) == ("sigmoid", 1.0, "cached", "error")
    assert dpo.gf.beta == 2.0 and data.train_batch_size == 64 and data.train_files == "p.parquet"


@pytest.mark.parametrize("overrides,message", [
    (["dpo.label_smoothing=0.5", "dpo.loss=robust"], "dpo.label_smoothing=0.5 with dpo.loss robust"),
    (["dpo.label_smoothing=0.7"], "dpo.label_smoothing=0.7 must be in [0, 0.5]"),
    (["dpo.beta=0"], "dpo.beta=0 must be > 0"),
    (["dpo.loss=dpo"], "dpo.loss='dpo': unknown ['dpo']"),
    (["dpo.loss=[sigmoid,sft]", "dpo.loss_weights=[1.0]"], "dpo.loss_weights has 1 values for 2 losses"),
    (["dpo.on_bad_pair=ignore"], "dpo.on_bad_pair='ignore' is not a valid choice; choose one of error, skip"),
    (["data.micro_batch_size_per_gpu=0"], "data.micro_batch_size_per_gpu=0 must be > 0"),
])
def test_bad_values_are_refused_naming_the_option(overrides, message):
    with pytest.raises(ValueError) as err:
        settings(*overrides)
    assert message in str(err.value)


@pytest.mark.slow
def test_the_command_refuses_a_typo_at_start_and_help_documents_every_key(tmp_path):
    env = cpu_subprocess_env(tmp_path)
    proc = subprocess.run([PYTHON, "-m", "specs_verl.dpo", "dpo.reference=livee", "data.train_files=p.parquet"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "error: dpo.reference='livee' is not a valid choice; choose one of cached, live" in proc.stderr
    assert "Traceback" not in proc.stderr

    out = subprocess.run([PYTHON, "-m", "specs_verl.dpo", "--help"], env=env, cwd=REPO, capture_output=True,
                         text=True, timeout=300).stdout
    assert "dpo.sft_weight  (default: 1.0)" in out
    assert "lambda, the weight of the SFT term (token-mean NLL of the chosen response)" in out
    assert "dpo.reference  (default: cached; one of cached, live)" in out
    for key in ("dpo.loss", "dpo.beta", "dpo.label_smoothing", "dpo.gf.ood_sources", "data.train_files",
                "data.val_files", "data.train_batch_size", "data.micro_batch_size_per_gpu", "data.max_length"):
        assert f"  {key}  (default: " in out, key
    assert "model.path  (default: Qwen/Qwen2.5-VL-7B-Instruct)" in out and "gsm8k" not in out
