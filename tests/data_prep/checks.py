"""What every prepared file must satisfy, whatever the dataset: verl's RL schema, one placeholder per image,
decodable PNG/JPEG bytes, the instruction, a non-empty ground truth, the same extra_info keys everywhere."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
from PIL import Image

from specs_verl.data_prep.rows import EXTRA_INFO_KEYS
from specs_verl.tiny.data import template

COLUMNS = {"data_source", "prompt", "images", "ability", "reward_model", "extra_info"}


def read_rows(path: Path) -> list[dict]:
    df = pd.read_parquet(path)
    assert set(df.columns) == COLUMNS
    return df.to_dict("records")


def check_rows(path: Path, data_source: str, split: str, instruction: str | None = None) -> list[dict]:
    """All the schema checks; returns the rows (prompt text under row["text"]) for dataset-specific checks."""
    instruction = template("specs") if instruction is None else instruction
    rows = read_rows(path)
    for i, row in enumerate(rows):
        assert row["data_source"] == data_source
        assert len(row["prompt"]) == 1 and row["prompt"][0]["role"] == "user"
        content = row["prompt"][0]["content"]
        images = list(row["images"])
        assert content.count("<image>") == len(images) >= 1, (i, content)
        assert "<video>" not in content and "<audio>" not in content
        for img in images:
            assert img["path"] is None
            assert Image.open(io.BytesIO(img["bytes"])).format in ("PNG", "JPEG")
        if instruction:
            assert content.endswith("\n" + instruction)
        assert row["reward_model"]["style"] == "rule"
        truth = row["reward_model"]["ground_truth"]
        assert isinstance(truth, str) and truth.strip() == truth and truth
        extra = row["extra_info"]
        assert tuple(extra) == EXTRA_INFO_KEYS
        assert extra["index"] == i and extra["split"] == split
        if extra["answer_type"] == "choice":
            assert len(truth) == 1 and truth.isupper()
            if len(extra["options"]):
                assert "\nOptions:\nA" in content
                assert ord(truth) - 65 < len(extra["options"])
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
