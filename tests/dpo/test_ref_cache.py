"""The reference log-prob cache can never hand back numbers computed for other inputs.

One test per cause that must invalidate it (a data row, image bytes, an image file given by path, the chat
template, the length limit, library versions, dtype, override_config, a LoRA adapter, processor settings, model
weights anywhere in a large file), the exact-match rule, and the file itself (weights_only, atomic, unique temp).
"""

from __future__ import annotations

import io

import pandas as pd
import pytest
import torch
from PIL import Image

from specs_verl.dpo.data import PreferenceDataset
from specs_verl.fingerprint import file_digest, model_digest
from specs_verl.dpo.ref_cache import RefLogpCache, matches, reference_settings

MODEL = {"override_config": {"attn_implementation": "sdpa"}, "use_remove_padding": False, "lora_rank": 0}
ENGINE = {"model_dtype": "fp32", "mixed_precision": {"param_dtype": "fp32"}}
VERSIONS = {"torch": "2.9.0", "transformers": "5.0.0", "verl": "0.9.1", "specs-verl": "0.1.0"}


@pytest.fixture
def processor(tiny_model_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model_dir)


def png(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (56, 56), colour).save(buf, format="PNG")
    return buf.getvalue()


def row(i, colour=(200, 20, 20), **changes) -> dict:
    base = {"prompt": [{"role": "user", "content": f"<image>How many red shapes? ({i})"}],
            "images": [{"bytes": png(colour), "path": None}], "chosen": "The answer is \\boxed{1}",
            "rejected": "The answer is 2.", "data_source": "tiny_count", "pair_id": f"p{i}"}
    return {**base, **changes}


def keys(tmp_path, processor, rows, name="pairs.parquet", **kw) -> list[str]:
    path = tmp_path / name
    pd.DataFrame(rows).to_parquet(path)
    return [r["ref_key"] for r in PreferenceDataset(str(path), processor, 1024, show_progress=False, **kw).rows]


def settings_key(tiny_model_dir, processor, model=MODEL, engine=ENGINE, versions=VERSIONS, max_length=1024):
    return reference_settings(model, engine, str(tiny_model_dir), processor, max_length, versions=versions).key()


# ---------------------------------------------------------------- per row: pair_id + content
def test_row_key_follows_the_rows_content(tmp_path, processor):
    (base,) = keys(tmp_path, processor, [row(0)])
    assert base.startswith("p0#")
    assert keys(tmp_path, processor, [row(0)], name="again.parquet") == [base]  # stable
    for change in ({"chosen": "The answer is \\boxed{3}"}, {"rejected": "No."},
                   {"prompt": [{"role": "user", "content": "<image>How many blue shapes? (0)"}]},
                   {"images": [{"bytes": png((20, 20, 200)), "path": None}]}, {"pair_id": "q0"}):
        assert keys(tmp_path, processor, [row(0, **change)]) != [base], change


def test_an_image_given_by_path_is_keyed_by_its_bytes(tmp_path, processor):
    (tmp_path / "a.png").write_bytes(png((200, 20, 20)))
    by_path = row(0, images=[{"bytes": None, "path": "a.png"}])
    before = keys(tmp_path, processor, [by_path])
    (tmp_path / "a.png").write_bytes(png((20, 200, 20)))  # same name, other picture
    assert keys(tmp_path, processor, [by_path]) != before


def test_a_skipped_pair_shifts_no_value_and_the_split_is_recomputed(tmp_path, processor):
    """Before: values by dataset index, and a superset was accepted, so a skipped unreadable image moved every
    later pair onto its neighbour's reference log-probs."""
    full = keys(tmp_path, processor, [row(0), row(1), row(2)])
    broken = row(1, images=[{"bytes": None, "path": "missing.png"}])
    skipped = keys(tmp_path, processor, [row(0), broken, row(2)], name="skip.parquet", on_bad_pair="skip")
    assert skipped == [full[0], full[2]]  # pair 2 keeps its own key at its new index
    cache = RefLogpCache(tmp_path / "cache", reference_settings(MODEL, ENGINE, str(tmp_path), None, 1024,
                                                                versions=VERSIONS))
    cache.replace("train", {k: (-1.0 * i, -2.0 * i) for i, k in enumerate(full)})
    assert not cache.usable("train", skipped)  # a superset is not a match
    assert cache.get("train", skipped).tolist() == [0.0, -0.0, -2.0, -4.0]


def test_exact_match_rule():
    assert matches(["a", "b"], ["b", "a"])
    assert not matches(["a", "b", "c"], ["a", "b"])  # superset: other data
    assert not matches(["a"], ["a", "b"])  # subset: values missing
    assert not matches(None, ["a"])  # split never computed


# ---------------------------------------------------------------- settings: everything that changes a log-prob
def test_settings_key_changes_with_each_cause(tmp_path, tiny_model_dir, processor):
    base = settings_key(tiny_model_dir, processor)
    assert settings_key(tiny_model_dir, processor) == base
    causes = {
        "max length": dict(max_length=2048),
        "versions": dict(versions={**VERSIONS, "transformers": "5.0.1"}),
        "dtype": dict(engine={**ENGINE, "mixed_precision": {"param_dtype": "bf16"}}),
        "model dtype": dict(engine={**ENGINE, "model_dtype": "bf16"}),
        "override_config": dict(model={**MODEL, "override_config": {"attn_implementation": "eager"}}),
        "adapter": dict(model={**MODEL, "lora_rank": 8}),
    }
    for cause, change in causes.items():
        assert settings_key(tiny_model_dir, processor, **change) != base, cause


def test_settings_key_changes_with_the_template_and_the_processor(tiny_model_dir, processor):
    base = settings_key(tiny_model_dir, processor)
    template = processor.chat_template
    processor.chat_template = template.replace("<|im_start|>", "<|im_start|> ")
    assert settings_key(tiny_model_dir, processor) != base, "template"
    processor.chat_template = template
    processor.image_processor.size = {"longest_edge": 6272, "shortest_edge": 3136}  # max pixels halved
    assert settings_key(tiny_model_dir, processor) != base, "processor settings"


def test_settings_key_changes_with_the_adapter_files(tmp_path, tiny_model_dir, processor):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 1000)
    model = {**MODEL, "lora_rank": 8, "lora_adapter_path": str(adapter)}
    before = settings_key(tiny_model_dir, processor, model=model)
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 999 + b"\1")
    assert settings_key(tiny_model_dir, processor, model=model) != before


def test_model_digest_reads_all_of_a_large_weight_file(tmp_path):
    """Before: files over 64 MiB by size, head and tail only, so a change in the middle went unseen."""
    (tmp_path / "config.json").write_text("{}")
    weights = tmp_path / "model.safetensors"
    data = bytearray(65 << 20)
    weights.write_bytes(data)
    before = model_digest(tmp_path)
    data[len(data) // 2] = 1
    weights.write_bytes(data)
    assert model_digest(tmp_path) != before
    assert file_digest(weights) != before


# ---------------------------------------------------------------- the file
def test_cache_file_round_trip_is_weights_only_and_leaves_no_temp_files(tmp_path):
    settings = reference_settings(MODEL, ENGINE, str(tmp_path), None, 1024, versions=VERSIONS)
    cache = RefLogpCache(tmp_path / "c", settings)
    cache.replace("train", {"p0#x": (-1.25, -2.5), "p1#y": (-3.0, -4.0)})
    cache.save()
    cache.save()
    assert [p.name for p in (tmp_path / "c").iterdir()] == [cache.path.name]
    torch.load(cache.path, weights_only=True)  # plain tensors and strings: no pickle of code
    again = RefLogpCache(tmp_path / "c", settings)
    again.load()
    assert again.usable("train", ["p1#y", "p0#x"]) and again.get("train", ["p1#y"]).tolist() == [-3.0, -4.0]
    other = reference_settings(MODEL, ENGINE, str(tmp_path), None, 2048, versions=VERSIONS)
    assert RefLogpCache(tmp_path / "c", other).path != cache.path
    cache.path.write_bytes(cache.path.read_bytes()[:50])  # truncated by a full disk: recomputed, not trusted
    broken = RefLogpCache(tmp_path / "c", settings)
    broken.load()
    assert not broken.usable("train", ["p1#y", "p0#x"])
