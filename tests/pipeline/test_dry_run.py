"""Every recipe's --dry-run: real configs composed against verl's tree, the hand-off paths line up, nothing runs."""

import re
import shutil
import subprocess

import pytest

from tests.commands import REPO

pytestmark = pytest.mark.slow  # every test runs a whole recipe in bash (20-40 s each)


def composed(text: str, kind: str) -> list[dict[str, str]]:
    """The settings each `config ok: KIND (...): k=v ...` line of a dry run reports, in order."""
    return [dict(item.split("=", 1) for item in m.group(1).split())
            for m in re.finditer(rf"config ok: {kind} \(\d+ overrides\): (.*)", text)]


def dry_run(script, env_extra, tmp_path, *args):
    env = {**__import__("os").environ, **env_extra, "HOME": str(tmp_path)}
    return subprocess.run(["bash", str(REPO / "recipes" / script), *args, "--dry-run"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def gpu_data(tiny_data_dir, tmp_path_factory):
    """A DATA_DIR laid out as data_tools/prepare_data.py writes it."""
    d = tmp_path_factory.mktemp("gpu_data")
    shutil.copy(tiny_data_dir / "rl_train.parquet", d / "train.parquet")
    shutil.copy(tiny_data_dir / "rl_val_id.parquet", d / "val_id.parquet")
    shutil.copy(tiny_data_dir / "rl_val_ood_choice.parquet", d / "val_ood_choice.parquet")
    shutil.copy(tiny_data_dir / "rl_val_ood_shapes.parquet", d / "val_ood_shapes.parquet")
    return d


@pytest.mark.parametrize("cold_start", ["dpo", "sft", "none"])
def test_gpu_recipe_dry_run_composes_every_stage_and_chains_paths(cold_start, gpu_data, tmp_path):
    out = tmp_path / "out"
    proc = dry_run("specs_qwen2.5vl.sh", {"DATA_DIR": str(gpu_data), "OUT_DIR": str(out), "COLD_START": cold_start},
                   tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = proc.stdout
    assert text.count("config ok: grpo") == 2  # stage 1a and stage 3
    if cold_start == "dpo":
        assert "config ok: dpo" in text and "-m specs_verl.dpo" in text
    if cold_start == "sft":
        assert "config ok: sft" in text and "verl.trainer.sft_trainer" in text and "pairs-to-sft" in text
    # each stage reads what the one before writes
    assert f"--model {out}/zero/global_step_N/actor/huggingface --out {out}/samples/zero" in text
    assert f"--out {out}/pairs/pairs.parquet" in text
    assert f"{cold_start}.sh Qwen/Qwen2.5-VL-7B-Instruct {out}/pairs/pairs.parquet {out}/coldstart/{cold_start}" in text
    start = "Qwen/Qwen2.5-VL-7B-Instruct" if cold_start == "none" else f"{out}/coldstart/{cold_start}/global_step_N/huggingface"
    assert f"actor_rollout_ref.model.path={start}" in text
    # a GRPO command reads like verl's own examples: the preset, then the data, the model and the machine
    assert text.count("-m verl.trainer.main_ppo --config-path=pkg://specs_verl.config --config-name=grpo_specs ") == 2
    assert "+specs." not in text and "clip_ratio" not in text  # GF's section is declared; the paper's is the preset's
    # the paper's settings reach the composed config of both GRPO stages, GF on the validation files' sources
    zero, rl = composed(text, "grpo_specs")
    paper = {"n": "8", "lr": "1e-06", "kl_loss": "False", "kl_reward": "False", "clip": "0.2/0.28",
             "max_response": "10240", "reward": "specs", "save": "[model,optimizer,extra,hf_model]"}
    assert paper.items() <= zero.items() and paper.items() <= rl.items()
    assert zero["trainer"] == "sync" and "gf_id" not in zero
    assert (rl["trainer"], rl["gf_id"], rl["gf_ood"]) == ("specs_sync", "[tiny_count]", "[tiny_choice,tiny_shapes]")
    if cold_start == "sft":
        [sft] = composed(text, "sft_coldstart")
        assert sft == {"lr": "1e-05", "batch": "64", "max_length": "16384", "epochs": "1",
                       "save": "[model,optimizer,extra,hf_model]"}
        assert "--config-path=pkg://specs_verl.config --config-name=sft_coldstart" in text
    assert not out.exists() or not any(out.rglob("*.safetensors"))  # nothing ran


def test_dry_run_refuses_a_stage_whose_input_nobody_writes(gpu_data, tmp_path):
    proc = dry_run("specs_qwen2.5vl.sh", {"DATA_DIR": str(gpu_data), "OUT_DIR": str(tmp_path / "o"),
                                           "STAGES": "coldstart rl"}, tmp_path)
    assert proc.returncode != 0
    assert "pairs/DONE, which no earlier stage writes" in proc.stderr


def test_gf_sources_that_cannot_be_read_stop_the_recipe(gpu_data, tmp_path):
    broken = tmp_path / "data"
    shutil.copytree(gpu_data, broken)
    (broken / "val_id.parquet").write_text("not parquet")
    proc = dry_run("specs_qwen2.5vl.sh", {"DATA_DIR": str(broken), "OUT_DIR": str(tmp_path / "o")}, tmp_path)
    assert proc.returncode != 0
    assert f"{broken}/val_id.parquet: not a readable parquet file" in proc.stderr
    assert "cannot name GF's ID sources" in proc.stderr and "config ok" not in proc.stdout


def test_dry_run_reports_a_config_that_does_not_compose(gpu_data, tmp_path):
    proc = dry_run("specs_qwen2.5vl.sh", {"DATA_DIR": str(gpu_data), "OUT_DIR": str(tmp_path / "o"),
                                           "STAGES": "zero", "MICRO_BATCH": "null"}, tmp_path)
    assert proc.returncode != 0
    assert "the grpo_specs config of this stage does not compose" in proc.stderr


def test_tiny_cpu_recipe_dry_run(tmp_path):
    proc = dry_run("specs_tiny_cpu.sh", {"OUT_DIR": str(tmp_path / "tiny")}, tmp_path, "--quick")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    zero, rl = composed(proc.stdout, "grpo_cpu")
    # the toy sizes over the paper's settings
    assert (zero["n"], zero["lr"], zero["clip"], zero["kl_loss"], zero["reward"]) == ("2", "1e-05", "0.2/0.28", "False",
                                                                                       "specs")
    assert (rl["gf_id"], rl["gf_ood"], rl["gf_metric"]) == ("[tiny_count]", "[tiny_choice,tiny_shapes]", "format")
    assert "config ok: sft" in proc.stdout and "config ok: dpo" in proc.stdout
    assert "--config-name=grpo_cpu" in proc.stdout and "-m specs_verl.evaluate" in proc.stdout


def test_compare_recipe_runs_every_cold_start_on_the_same_pairs(gpu_data, tiny_data_dir, tmp_path):
    out = tmp_path / "out"
    (out / "pairs").mkdir(parents=True)
    (out / "pairs" / "DONE").write_text(f"{tiny_data_dir / 'pairs_train.parquet'}\n")  # stage 1b finished
    proc = dry_run("compare_coldstarts.sh", {"DATA_DIR": str(gpu_data), "OUT_DIR": str(out)}, tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "config ok: dpo" in proc.stdout and "config ok: sft" in proc.stdout
    pairs = tiny_data_dir / "pairs_train.parquet"
    for kind in ("dpo", "sft", "none"):
        assert f"{kind}.sh Qwen/Qwen2.5-VL-7B-Instruct {pairs} {out}/coldstart/{kind}" in proc.stdout
    assert (f"--checkpoints dpo={out}/coldstart/dpo/global_step_N/huggingface "
            f"sft={out}/coldstart/sft/global_step_N/huggingface") in proc.stdout
    assert f"--out {out}/gf_compare" in proc.stdout
