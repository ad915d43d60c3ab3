"""verl's own SFT trainer (FSDP2 engine, gloo) runs on CPU with our platform, with 1 and 2 processes."""

import math
import re

import pytest
import torch

from specs_verl.platform import SFT_CPU
from tests.commands import PYTHON, cpu_subprocess_env, run_cmd

pytestmark = pytest.mark.slow  # torchrun runs of verl's SFT trainer


LOSS = re.compile(r"step:(\d+) - .*?train/loss:([-\d.e+naif]+)")


def _state_dict(path):
    from transformers import AutoModelForImageTextToText

    model = AutoModelForImageTextToText.from_pretrained(path, dtype=torch.float32)
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("nproc", [1, 2])
def test_verl_sft_trainer_two_steps_on_cpu(nproc, tiny_model_dir, tiny_data_dir, tmp_path):
    ckpt = tmp_path / "ckpt"
    args = [
        PYTHON, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
        "-m", "verl.trainer.sft_trainer",
        f"data.train_files={tiny_data_dir / 'sft_train.parquet'}", "data.val_files=null",
        "data.train_batch_size=4", "data.micro_batch_size_per_gpu=2", "data.max_length=512",
        "data.use_dynamic_bsz=False", f"model.path={tiny_model_dir}", "optim.lr=1e-2",
        "trainer.total_training_steps=2", f"trainer.default_local_dir={ckpt}", "trainer.resume_mode=disable",
        f"trainer.n_gpus_per_node={nproc}", "checkpoint.save_contents=[model,optimizer,extra,hf_model]",
        *SFT_CPU,
    ]
    out = run_cmd(args, cpu_subprocess_env(tmp_path), cwd=tmp_path, timeout=300).stdout
    losses = {int(s): float(v) for s, v in LOSS.findall(out)}
    assert sorted(losses) == [1, 2], out[-3000:]
    assert all(math.isfinite(v) for v in losses.values())
    assert losses[1] != losses[2]

    hf_dir = ckpt / "global_step_2" / "huggingface"
    assert (hf_dir / "config.json").exists() and list(hf_dir.glob("*.safetensors"))
    trained, initial = _state_dict(hf_dir), _state_dict(tiny_model_dir)
    assert trained.keys() == initial.keys()
    changed = [k for k in trained if not torch.equal(trained[k], initial[k])]
    assert len(changed) > len(trained) // 2, f"only {len(changed)} of {len(trained)} tensors changed"
