"""`python -m specs_verl.surface_form FILE`: the table it prints and the per-response file it writes."""

from __future__ import annotations

import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq

from specs_verl.surface_form.__main__ import main

GOOD = "<think>a</think>\n<answer>The answer is $\\boxed{1}$</answer>"
PLAIN = "<think>a</think>\n<answer>1</answer>"
BAD = "The answer is 1."


def test_jsonl_table_and_results(tmp_path, capsys):
    src = tmp_path / "rollouts.jsonl"
    src.write_text("\n".join(json.dumps({"response": r, "id": i}) for i, r in enumerate([GOOD, PLAIN, BAD, None])))
    assert main([str(src)]) == 0
    out = capsys.readouterr().out
    assert "responses=3" in out
    assert "format_ok" in out and "66.67%" in out  # 2 of 3 pass format
    assert "no_boxed_in_answer" in out and "missing_think_open" in out
    assert "skipped 1" in out
    rows = [json.loads(line) for line in (tmp_path / "rollouts.jsonl.surface_form.jsonl").read_text().splitlines()]
    assert [(r["row"], r["format_ok"], r["style_ok"]) for r in rows] == [(0, True, True), (1, True, False),
                                                                          (2, False, False)]
    assert rows[1]["violations"] == ["no_boxed_in_answer"]


def test_parquet_with_lists_of_samples_and_chat_messages(tmp_path, capsys):
    src = tmp_path / "gen.parquet"
    pq.write_table(pa.table({"responses": [[GOOD, BAD], [PLAIN]], "prompt": ["p0", "p1"]}), src)
    out_file = tmp_path / "res.jsonl"
    assert main([str(src), "--profile", "r1v", "--out", str(out_file)]) == 0
    assert "responses=3" in capsys.readouterr().out
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert [(r["row"], r["sample"]) for r in rows] == [(0, 0), (0, 1), (1, 0)]

    chat = tmp_path / "pairs.jsonl"
    chat.write_text(json.dumps({"chosen": [{"role": "assistant", "content": GOOD}]}) + "\n")
    assert main([str(chat), "--column", "chosen"]) == 0
    assert "100.00%" in capsys.readouterr().out


def test_runs_as_a_module_with_help(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "specs_verl.surface_form", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0
    for flag in ("--profile", "--column", "--think-prefilled", "--out", "--max-answer-chars"):
        assert flag in proc.stdout
