"""How a test runs a command in a child process: the repository root, the interpreter, the CPU environment for
verl, and a run that fails the test with the tail of the command's output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from specs_verl.platform import cpu_env

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


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
