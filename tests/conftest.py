"""Session fixtures: the tiny Qwen2.5-VL and the tiny synthetic data, built once per test session, no download."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from specs_verl.platform import cpu_env
from specs_verl.tiny.data import make_tiny_data
from specs_verl.tiny.model import make_tiny_model

REPO = Path(__file__).resolve().parents[1]

# Keep every test process off the network and out of $HOME.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("WANDB_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny-qwen25vl", size="tiny", seed=0)


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    make_tiny_data(out, seed=0, n_train=32, n_val=8)
    return out


def cpu_subprocess_env(tmp_path: Path | None = None) -> dict[str, str]:
    """The environment for a verl command run on CPU from a test (HOME inside the test's temp dir)."""
    env = {**os.environ, **cpu_env(), "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
    if tmp_path is not None:
        env["HOME"] = str(tmp_path)
    return env


def run_cmd(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command, keep its combined output, and fail the test with the output's tail if it fails."""
    proc = subprocess.run(args, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"{' '.join(args[:4])} ... exited {proc.returncode}:\n{proc.stdout[-6000:]}")
    return proc


PYTHON = sys.executable


def pytest_sessionfinish(session, exitstatus):
    """Under CI (SPECS_FAIL_ON_SKIP=1) a skipped test fails the run: a missing dependency must not pass."""
    if not os.environ.get("SPECS_FAIL_ON_SKIP"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        print(f"\nSPECS_FAIL_ON_SKIP: {skipped} test(s) skipped; failing the run")
        session.exitstatus = 1
