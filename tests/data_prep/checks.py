"""What every prepared file must satisfy, whatever the dataset: verl's RL schema, one placeholder per image,
decodable PNG/JPEG bytes, the instruction (its `_choice` variant on multiple-choice rows), a non-empty ground
truth, the same extra_info keys everywhere, no control characters, the grading contract's value shapes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from PIL import Image

from specs_verl.data_prep.latex_escapes import has_control
from specs_verl.schema.rl_rows import EXTRA_INFO_KEYS
from specs_verl.generation.prompt import load_instruction

COLUMNS = {"data_source", "prompt", "images", "ability", "reward_model", "extra_info"}


def read_rows(path: Path) -> list[dict]:
    df = pd.read_parquet(path)
    assert set(df.columns) == COLUMNS
    return df.to_dict("records")


def strings_in(value):
    """Every string inside a row (dicts, lists and numpy arrays, as parquet hands them back)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings_in(v)
    elif isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        for v in (value.tolist() if hasattr(value, "tolist") else value):
            yield from strings_in(v)


def check_rows(path: Path, data_source: str, split: str, instruction: str | None = None,
               choice_instruction: str | None = None, text_only: bool = False) -> list[dict]:
    """All the schema checks; returns the rows (prompt text under row["text"]) for dataset-specific checks.
    `text_only`: rows without images are allowed."""
    if instruction is None:
        instruction, choice_instruction = load_instruction("specs"), load_instruction("specs", choice=True)
    rows = read_rows(path)
    for i, row in enumerate(rows):
        assert row["data_source"] == data_source
        assert len(row["prompt"]) == 1 and row["prompt"][0]["role"] == "user"
        content = row["prompt"][0]["content"]
        images = list(row["images"])
        assert content.count("<image>") == len(images) >= (0 if text_only else 1), (i, content)
        assert not any(has_control(s) for s in strings_in(row)), (i, row)
        assert "<video>" not in content and "<audio>" not in content
        for img in images:
            assert img["path"] is None
            assert Image.open(io.BytesIO(img["bytes"])).format in ("PNG", "JPEG")
        extra = row["extra_info"]
        want = choice_instruction if extra["answer_type"] in ("choice", "multi_select") and choice_instruction \
            else instruction
        if want:
            assert content.endswith("\n" + want), (i, content[-300:])
        assert row["reward_model"]["style"] == "rule"
        truth = row["reward_model"]["ground_truth"]
        assert isinstance(truth, str) and truth.strip() == truth and truth
        assert tuple(extra) == EXTRA_INFO_KEYS
        assert extra["index"] == i and extra["split"] == split
        assert all(isinstance(a, str) and a for a in extra["answers"])
        assert extra["precision"] is None or extra["precision"] >= 0
        if extra["answer_type"] == "choice":
            assert len(truth) == 1 and truth.isupper()
            assert not len(extra["options"]) or ord(truth) - 65 < len(extra["options"])
        elif extra["answer_type"] == "multi_select":
            letters = truth.split(",")
            assert len(letters) > 1 and letters == sorted(set(letters)) and all(len(x) == 1 for x in letters)
        else:
            assert not len(extra["options"])
        row["text"] = content
    assert len({r["extra_info"]["qid"] for r in rows}) == len(rows)
    return rows


def report(result) -> dict:
    payload = json.loads(Path(result.report_path).read_text())
    assert payload["rows_written"] == result.written and payload["rows_read"] == result.read
    assert sum(payload["skipped"].values()) == len(payload["skipped_rows"])
    return payload


def by_qid(rows: list[dict]) -> dict[str, dict]:
    return {r["extra_info"]["qid"]: r for r in rows}
