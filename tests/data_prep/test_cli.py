"""data_tools/prepare_data.py: --help, a run with its progress bar and summary, one-line errors."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.commands import REPO

from . import fixtures as fx

SCRIPT = REPO / "data_tools" / "prepare_data.py"


@pytest.fixture(scope="module")
def cli():
    spec = importlib.util.spec_from_file_location("prepare_data_cli", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_help_lists_every_dataset_and_flag(cli, capsys):
    with pytest.raises(SystemExit) as e:
        cli(["--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    for word in ("virl39k", "geometry3k", "mathvista", "mathverse", "mathvision", "mmmu", "--source", "--split",
                 "--max-rows", "--prompt-template", "--variant", "--strict", "--images-only", "AI4Math/MathVista",
                 "vision_only"):
        assert word in out


def test_script_run_prints_a_summary_and_writes_the_report(tmp_path):
    src = fx.make_mathvista(tmp_path / "src")
    env = {**os.environ, "HF_DATASETS_CACHE": str(tmp_path / "hf_cache"), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, str(SCRIPT), "mathvista", "--out", "out", "--source", str(src),
                           "--max-rows", "2"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "mathvista testmini" in proc.stderr  # the tqdm bar
    assert "written 2" in proc.stdout and "out/mathvista_testmini.parquet" in proc.stdout
    report = json.loads((tmp_path / "out" / "mathvista_testmini.skipped.json").read_text())
    assert report["rows_written"] == 2 and report["prompt_template"] == "specs"
    # every record read before the second row was written is accounted for
    assert report["rows_read"] == 2 + sum(report["skipped"].values())


@pytest.mark.parametrize("args, message", [
    (["mathvista", "--source", "{tmp}/nowhere.parquet"], "no such file or folder"),
    (["mathvista", "--source", "No/SuchDataset"], "No/SuchDataset"),  # offline in tests: unreachable hub
    (["mmmu", "--source", "{geo}"], "none of the configs Accounting"),
    (["mathvista", "--source", "{geo}", "--split", "train"], "missing column 'pid'"),
    (["geometry3k", "--source", "{geo}", "--variant", "vision_only"], "no variant 'vision_only'"),
])
def test_errors_are_one_line(cli, capsys, tmp_path, args, message):
    geo = fx.make_geometry3k(tmp_path / "geo")
    args = [a.format(tmp=tmp_path, geo=geo) for a in args]
    capsys.readouterr()
    assert cli(args + ["--out", str(tmp_path / "out"), "--no-progress"]) == 1
    err = capsys.readouterr().err  # `datasets` may print its own progress lines first
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("prepare_data: error: ") and message in err
