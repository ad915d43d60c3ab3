"""`specs_verl.evaluate` reuses a model's scores only for the same content: model files, settings and set rows.

Before: the key was the model's path and the set files' size and mtime, so a cold start retrained into the same
folder reported the old scores.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from specs_verl.evaluate.scoring import EvalSet, GenSettings, cache_dir
from specs_verl.generation.request import Request


def png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return buf.getvalue()


def model(folder: Path, weights: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"model_type": "qwen2_5_vl"}')
    (folder / "model.safetensors").write_bytes(weights)
    return folder


def sets(tmp_path: Path, question="How many?", image=None) -> list[EvalSet]:
    images = [image] if image is not None else [{"bytes": png((200, 0, 0)), "path": None}]
    request = Request(id="id/0", messages=[{"role": "user", "content": f"<image>{question}"}], images=images,
                      data_source="tiny_count", ground_truth="2")
    return [EvalSet("tiny_count", "id", tmp_path / "val.parquet", [request])]


def test_scores_are_reused_only_for_the_same_content(tmp_path):
    out, settings = tmp_path / "out", GenSettings()
    path = model(tmp_path / "ckpt", b"\0" * 4096)
    base = cache_dir(out, "dpo", path, settings, sets(tmp_path), "hf")
    assert cache_dir(out, "dpo", path, settings, sets(tmp_path), "hf") == base  # the rerun reuses

    model(tmp_path / "ckpt", b"\0" * 4095 + b"\1")  # retrained into the same folder, same size
    assert cache_dir(out, "dpo", path, settings, sets(tmp_path), "hf") != base
    model(tmp_path / "ckpt", b"\0" * 4096)
    assert cache_dir(out, "dpo", path, settings, sets(tmp_path), "hf") == base

    assert cache_dir(out, "dpo", path, settings, sets(tmp_path, question="How many red?"), "hf") != base
    assert cache_dir(out, "dpo", path, settings, sets(tmp_path, image={"bytes": png((0, 200, 0)), "path": None}),
                     "hf") != base
    assert cache_dir(out, "dpo", path, GenSettings(max_new_tokens=64), sets(tmp_path), "hf") != base


def test_an_image_given_by_path_is_keyed_by_its_bytes(tmp_path):
    path = model(tmp_path / "ckpt", b"\0" * 16)
    image = tmp_path / "a.png"
    image.write_bytes(png((200, 0, 0)))
    before = cache_dir(tmp_path / "out", "m", path, GenSettings(), sets(tmp_path, image=str(image)), "hf")
    image.write_bytes(png((0, 0, 200)))
    assert cache_dir(tmp_path / "out", "m", path, GenSettings(), sets(tmp_path, image=str(image)), "hf") != before
