"""Preference data: tokenization with the model's processor, and every bad-input class named by file, row, reason."""

import io

import pandas as pd
import pytest
import torch
from PIL import Image

from specs_verl.dpo.data import PreferenceDataset, collate_pairs
from specs_verl.dpo.loss_fn import DPOLossFn, sequence_logps
from specs_verl.dpo.losses import LossOptions
from specs_verl.schema.pairs import BadPairError


@pytest.fixture(scope="module")
def processor(tiny_model_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model_dir)


def png(colour=(200, 20, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (56, 56), colour).save(buf, format="PNG")
    return buf.getvalue()


def good_row(i=0) -> dict:
    return {
        "prompt": [{"role": "user", "content": f"<image>How many red shapes? ({i})"}],
        "images": [{"bytes": png(), "path": None}],
        "chosen": "<think>one</think><answer>The answer is \\boxed{1}</answer>",
        "rejected": "The answer is 1.",
        "data_source": "tiny_count",
        "pair_id": f"p{i}",
    }


def write(tmp_path, rows, name="pairs.parquet"):
    path = tmp_path / name
    pd.DataFrame(rows).to_parquet(path)
    return str(path)


def test_pair_tokenization_masks_only_the_response_and_shares_the_image(tmp_path, processor):
    ds = PreferenceDataset(write(tmp_path, [good_row()]), processor, max_length=1024, show_progress=False)
    item = ds[0]
    chosen, rejected = item["chosen"], item["rejected"]
    tok = processor.tokenizer
    assert tok.decode(chosen["input_ids"][chosen["loss_mask"].bool()]) == (
        "<think>one</think><answer>The answer is \\boxed{1}</answer><|im_end|>")
    assert tok.decode(rejected["input_ids"][rejected["loss_mask"].bool()]) == "The answer is 1.<|im_end|>"
    n_prompt = int((chosen["loss_mask"] == 0).sum())
    assert torch.equal(chosen["input_ids"][:n_prompt], rejected["input_ids"][:n_prompt])
    image_token = tok.convert_tokens_to_ids("<|image_pad|>")
    grid = chosen["multi_modal_inputs"]["image_grid_thw"]
    assert int((chosen["input_ids"] == image_token).sum()) == int(grid.prod()) // 4  # merge 2x2
    assert chosen["position_ids"].shape == (4, chosen["input_ids"].shape[0])  # text + 3-D mRoPE ids
    assert chosen["multi_modal_inputs"]["pixel_values"] is rejected["multi_modal_inputs"]["pixel_values"]

    batch = collate_pairs([ds[0], ds[0]])
    assert batch["pair_index"].tolist() == [0, 0, 0, 0] and batch["input_ids"].shape[0] == 4


BAD = {
    "bad_image": (lambda r: r.update(images=[{"bytes": None, "path": "missing.png"}]), "image 0 cannot be read"),
    "image_count_mismatch": (lambda r: r.update(images=[]), "1 <image> placeholder(s) but 0 image(s)"),
    "empty_response": (lambda r: r.update(chosen="   "), "chosen is empty"),
    "identical_pair": (lambda r: r.update(rejected=r["chosen"]), "chosen and rejected are identical"),
    "too_long": (lambda r: r.update(rejected="word " * 2000), "over max_length 512"),
    "bad_response": (lambda r: r.update(chosen={"role": "user", "content": "hi"}), "role 'user'"),
}


@pytest.mark.parametrize("code", sorted(BAD))
def test_bad_pair_stops_with_file_row_and_reason(code, tmp_path, processor):
    mutate, reason = BAD[code]
    bad = good_row(1)
    mutate(bad)
    good = good_row(0)
    if code == "bad_response":  # a parquet column holds one type: the good row uses the message form too
        good["chosen"] = {"role": "assistant", "content": good["chosen"]}
    path = write(tmp_path, [good, bad])
    with pytest.raises(BadPairError) as err:
        PreferenceDataset(path, processor, max_length=512, show_progress=False)
    assert str(err.value).startswith(f"{path}: row 1: ")
    assert reason in str(err.value)
    assert err.value.code == code


def test_non_string_response_column_is_refused(tmp_path, processor):
    path = write(tmp_path, [{**good_row(), "chosen": 42}])
    with pytest.raises(BadPairError, match="row 0: chosen must be a string or an assistant message, got int"):
        PreferenceDataset(path, processor, max_length=512, show_progress=False)


def test_skip_mode_counts_every_bad_pair_by_reason(tmp_path, processor):
    rows = [good_row(0)]
    for code in ("bad_image", "identical_pair", "too_long"):
        row = good_row(len(rows))
        BAD[code][0](row)
        rows.append(row)
    ds = PreferenceDataset(write(tmp_path, rows), processor, max_length=512, on_bad_pair="skip",
                           show_progress=False)
    assert len(ds) == 1
    report = ds.report.as_dict()
    assert report["total"] == 4 and report["kept"] == 1
    assert report["skipped"] == {"bad_image": 1, "identical_pair": 1, "too_long": 1}
    assert all("pairs.parquet: row" in e for e in report["examples"])


def test_missing_column_names_the_file(tmp_path, processor):
    path = write(tmp_path, [{"prompt": "q", "chosen": "a"}])
    with pytest.raises(ValueError, match=r"pairs.parquet: missing column 'rejected'"):
        PreferenceDataset(path, processor, max_length=512, show_progress=False)


def test_a_response_without_tokens_never_makes_a_nan_loss():
    log_probs = torch.nested.nested_tensor([torch.tensor([-1.0, -2.0, -3.0]), torch.tensor([-1.0, -2.0])],
                                           layout=torch.jagged)
    mask = torch.nested.nested_tensor([torch.tensor([0, 0, 0]), torch.tensor([0, 1])], layout=torch.jagged)
    sums, counts = sequence_logps(log_probs, mask)
    # log_probs[t] scores token t + 1: the response token at index 1 is scored by log_probs[0]
    assert counts.tolist() == [0.0, 1.0] and sums.tolist() == [0.0, -1.0]
    fn = DPOLossFn([("sigmoid", 1.0), ("sft", 1.0)], LossOptions())
    loss, metrics = fn({"log_probs": log_probs}, {"loss_mask": mask, "ref_logps": torch.zeros(2)})
    assert torch.isfinite(loss) and all(map(lambda v: v == v, metrics.values()))


def test_template_and_processor_failures_are_bad_pairs_counted_under_skip(tmp_path, processor):
    """Before: they escaped on_bad_pair=skip and stopped the run with a bare traceback."""
    template = processor.chat_template
    processor.chat_template = ("{% for m in messages %}{% if m['role'] == 'system' %}"
                               "{{ raise_exception('system messages are not supported') }}{% endif %}{% endfor %}"
                               + template)
    system = good_row(1)
    system["prompt"] = [{"role": "system", "content": "Be brief."}, *system["prompt"]]
    buf = io.BytesIO()
    Image.new("RGB", (2, 500)).save(buf, format="PNG")  # aspect ratio 250: the image processor refuses it
    thin = {**good_row(2), "images": [{"bytes": buf.getvalue(), "path": None}]}
    path = write(tmp_path, [good_row(0), system, thin])
    try:
        with pytest.raises(BadPairError, match=r"row 1: the chat template failed .*system messages are not supported"):
            PreferenceDataset(path, processor, max_length=1024, show_progress=False)
        ds = PreferenceDataset(path, processor, max_length=1024, on_bad_pair="skip", show_progress=False)
    finally:
        processor.chat_template = template
    assert len(ds) == 1
    assert ds.report.as_dict()["skipped"] == {"template_error": 1, "processor_error": 1}
    assert any("row 2: the processor failed (ValueError: absolute aspect ratio" in e for e in ds.report.examples)


def test_a_text_only_and_an_image_pair_share_a_micro_batch(tmp_path, processor):
    """Before: KeyError 'multi_modal_inputs' when the first pair of a batch had no image (verl's collator takes
    the first row's keys). Now the text-only rows carry None, which verl's engine skips."""
    from verl.utils import tensordict_utils as tu
    from verl.utils.model import extract_multi_modal_inputs

    text = {**good_row(0), "prompt": [{"role": "user", "content": "How many sides has a triangle?"}], "images": []}
    ds = PreferenceDataset(write(tmp_path, [text, good_row(1)]), processor, max_length=1024, show_progress=False)
    batch = collate_pairs([ds[0], ds[1]])
    td = tu.get_tensordict(tensor_dict=batch, non_tensor_dict={})
    rows = tu.get(td, "multi_modal_inputs")
    assert rows[0] is None and rows[1] is None and rows[2] is not None
    inputs = extract_multi_modal_inputs(rows)
    image_token = processor.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    assert inputs["image_grid_thw"].shape[0] == 2  # the image pair's chosen and rejected rows
    assert int((batch["input_ids"].values() == image_token).sum()) == int(inputs["image_grid_thw"].prod(-1).sum()) // 4
