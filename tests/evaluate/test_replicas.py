"""`python -m specs_verl.evaluate --replicas 2`: generation over two `hf` rollout replicas on a local Ray cluster
(started and stopped by the command) gives the GF table of the single-process run."""

import pytest

from specs_verl.evaluate.__main__ import main
from specs_verl.tiny.model import make_tiny_model

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


def test_two_replicas_give_the_gf_table_of_one_process(tmp_path, tiny_model_dir, tiny_data_dir, capsys):
    import ray

    run = tmp_path / "run"
    make_tiny_model(run / "global_step_1" / "huggingface", size="tiny", seed=1)
    args = ["--base", str(tiny_model_dir), "--checkpoints", str(run),
            "--id", str(tiny_data_dir / "rl_val_id.parquet"), "--ood", str(tiny_data_dir / "rl_val_ood_choice.parquet"),
            "--backend", "hf", "--device", "cpu", "--threads", "1", "--limit", "3", "--max-new-tokens", "8",
            "--n", "2", "--temperature", "1.0", "--rbf", "--batch-size", "2"]
    assert main([*args, "--out", str(tmp_path / "one")]) == 0
    assert main([*args, "--out", str(tmp_path / "two"), "--replicas", "2"]) == 0
    log = capsys.readouterr().out
    assert "generation: 2 hf replicas per model" in log and "[2/2]" in log and "(reused)" not in log
    assert not ray.is_initialized()  # the command stopped the cluster it started

    one, two = ((tmp_path / d / "gf.csv").read_text() for d in ("one", "two"))
    assert one == two
    assert len(one.splitlines()) == 3 and "rbf/" in one.splitlines()[0]  # header, base, step 1
