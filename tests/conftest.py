"""Session fixtures: the tiny Qwen2.5-VL and the tiny synthetic data, built once per test session, no download.
Helpers that tests import live in modules of their own (`tests/commands.py`); this file holds fixtures and hooks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from specs_verl.tiny.data import make_tiny_data
from specs_verl.tiny.model import make_tiny_model

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


def pytest_sessionfinish(session, exitstatus):
    """Under CI (SPECS_FAIL_ON_SKIP=1) a skipped test fails the run: a missing dependency must not pass."""
    if not os.environ.get("SPECS_FAIL_ON_SKIP"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped and session.exitstatus == 0:
        print(f"\nSPECS_FAIL_ON_SKIP: {skipped} test(s) skipped; failing the run")
        session.exitstatus = 1
