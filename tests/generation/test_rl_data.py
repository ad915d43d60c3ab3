"""verl RL parquet -> Requests: ids, instructions, and errors that name the file and the row."""

import pandas as pd
import pytest

from specs_verl.generation import RLDataError, load_instruction, load_rl_requests
from specs_verl.generation.prompt import apply_instruction
from specs_verl.schema.images import as_pil, to_chat_parts


def _rows(tiny_data_dir, name="rl_train.parquet"):
    return pd.read_parquet(tiny_data_dir / name).to_dict("records")


def _write(tmp_path, rows, name="bad.parquet"):
    path = tmp_path / name
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_tiny_rows_become_requests(tiny_data_dir):
    reqs = load_rl_requests(tiny_data_dir / "rl_train.parquet")
    assert len(reqs) == 32
    assert reqs[0].id == "tiny_count-train-0" and reqs[0].data_source == "tiny_count"
    assert reqs[0].ground_truth.isdigit()
    assert reqs[0].n_placeholders() == len(reqs[0].images) == 1
    assert as_pil(reqs[0].images[0]).mode == "RGB"


def test_instruction_already_in_prompt_is_not_doubled(tiny_data_dir):
    plain = load_rl_requests(tiny_data_dir / "rl_train.parquet")
    with_specs = load_rl_requests(tiny_data_dir / "rl_train.parquet", load_instruction("specs"))
    assert [r.messages for r in plain] == [r.messages for r in with_specs]
    # another instruction is appended on its own line
    terse = load_rl_requests(tiny_data_dir / "rl_train.parquet", load_instruction("terse"))
    assert terse[0].messages[0]["content"].endswith("\n" + load_instruction("terse"))


def test_full_template_with_question_slot(tmp_path):
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "<image>How many?"}]
    out, changed = apply_instruction(msgs, "Q: {question}\nThink first.")
    assert changed and out[1]["content"] == "Q: <image>How many?\nThink first."
    assert msgs[1]["content"] == "<image>How many?"  # the input is not modified
    template_file = tmp_path / "mine.txt"
    template_file.write_text("Answer in one word.\n")
    assert load_instruction(str(template_file)) == "Answer in one word."
    assert load_instruction("none") is None


def test_chat_parts_split_placeholders():
    parts = to_chat_parts([{"role": "user", "content": "<image>a<image>b"}])[0]["content"]
    assert parts == [{"type": "image"}, {"type": "text", "text": "a"}, {"type": "image"}, {"type": "text", "text": "b"}]


def test_placeholder_mismatch_names_file_and_row(tiny_data_dir, tmp_path):
    rows = _rows(tiny_data_dir)[:4]
    rows[2] = {**rows[2], "images": []}
    path = _write(tmp_path, rows)
    with pytest.raises(RLDataError, match=r"bad\.parquet: row 2: 1 <image> placeholder\(s\) in the prompt but 0 image"):
        load_rl_requests(path)
    skipped = []
    reqs = load_rl_requests(path, skipped=skipped)
    assert len(reqs) == 3 and len(skipped) == 1 and "row 2" in skipped[0]


def test_unreadable_image_and_duplicate_ids(tiny_data_dir, tmp_path):
    rows = _rows(tiny_data_dir)[:3]
    rows[1] = {**rows[1], "images": [{"bytes": b"not a png", "path": None}]}
    with pytest.raises(RLDataError, match=r"row 1: image 0 cannot be opened"):
        load_rl_requests(_write(tmp_path, rows))
    rows = _rows(tiny_data_dir)[:3]
    rows[2] = {**rows[2], "extra_info": {**rows[2]["extra_info"], "qid": rows[0]["extra_info"]["qid"]}}
    with pytest.raises(RLDataError, match=r"row 2: question id 'tiny_count-train-0' already used by row 0"):
        load_rl_requests(_write(tmp_path, rows, "dup.parquet"))


def test_missing_file_and_wrong_schema(tmp_path):
    with pytest.raises(RLDataError, match="no such file"):
        load_rl_requests(tmp_path / "nope.parquet")
    path = _write(tmp_path, [{"question": "x"}])
    with pytest.raises(RLDataError, match="no 'prompt' column"):
        load_rl_requests(path)
