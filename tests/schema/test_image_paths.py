"""The one image-path rule: a relative path in a parquet file is relative to that file's folder, whatever the
working directory, in each reader (RL rows, pairs, pairs -> SFT chats); a missing image names file, row, reason."""

import io
import re

import pandas as pd
import pytest
from PIL import Image

from specs_verl.generation import RLDataError, load_rl_requests
from specs_verl.pipeline.sft_data import pairs_to_sft
from specs_verl.schema.images import as_pil
from specs_verl.schema.pairs import BadPairError, check_pair, read_pair_records


@pytest.fixture
def layout(tmp_path, monkeypatch):
    """data/img/red.png beside data/*.parquet, and the working directory somewhere else."""
    (tmp_path / "data" / "img").mkdir(parents=True)
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 20, 20)).save(buf, format="PNG")
    (tmp_path / "data" / "img" / "red.png").write_bytes(buf.getvalue())
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return tmp_path / "data", buf.getvalue()


def _prompt(i):
    return [{"role": "user", "content": f"<image>How many red shapes? ({i})"}]


def _rl_file(data, image_paths):
    rows = [{"prompt": _prompt(i), "images": [{"bytes": None, "path": p}], "data_source": "t",
             "reward_model": {"style": "rule", "ground_truth": "1"}, "extra_info": {"qid": f"q{i}"}}
            for i, p in enumerate(image_paths)]
    pd.DataFrame(rows).to_parquet(data / "rl.parquet")
    return data / "rl.parquet"


def _pairs_file(data, image_paths):
    rows = [{"prompt": _prompt(i), "images": [{"bytes": None, "path": p}], "chosen": "<answer>1</answer>",
             "rejected": "1", "data_source": "t", "pair_id": f"p{i}"} for i, p in enumerate(image_paths)]
    pd.DataFrame(rows).to_parquet(data / "pairs.parquet")
    return str(data / "pairs.parquet")


def test_rl_rows_resolve_against_the_parquet_folder(layout):
    data, png = layout
    (request,) = load_rl_requests(_rl_file(data, ["img/red.png"]))
    assert request.images[0]["path"] == str(data / "img" / "red.png")
    assert as_pil(request.images[0]).getpixel((0, 0)) == (200, 20, 20)
    path = _rl_file(data, ["img/red.png", "img/missing.png"])
    with pytest.raises(RLDataError, match=rf"{re.escape(str(path))}: row 1: image 0 cannot be opened: .*img/missing.png' does not "
                                          "exist"):
        load_rl_requests(path)


def test_pairs_resolve_against_the_parquet_folder(layout):
    data, png = layout
    file = _pairs_file(data, ["img/red.png", str(data / "img" / "red.png"), "img/missing.png"])
    records = list(read_pair_records(file))
    for i, record in records[:2]:  # relative and absolute
        row, images, _ = check_pair(file, i, record)
        assert row["images"][0]["path"] == str(data / "img" / "red.png")
        assert images[0].getpixel((0, 0)) == (200, 20, 20)
    with pytest.raises(BadPairError, match=rf"{re.escape(file)}: row 2: image 0 cannot be read .*missing.png") as err:
        check_pair(file, *records[2])
    assert err.value.code == "bad_image"


def test_sft_chats_carry_the_bytes_of_the_pairs_relative_images(layout):
    data, png = layout
    out = data.parent / "sft" / "sft.parquet"
    assert pairs_to_sft(_pairs_file(data, ["img/red.png"]), out) == 1
    (row,) = pd.read_parquet(out).to_dict("records")
    assert row["images"][0]["bytes"] == png and row["messages"][-1]["role"] == "assistant"
    file = _pairs_file(data, ["img/red.png", "img/missing.png"])
    with pytest.raises(ValueError, match=rf"{re.escape(file)}: row 1: image 0 cannot be read .*missing.png' does not exist"):
        pairs_to_sft(file, out)
