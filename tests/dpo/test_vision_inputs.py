"""The images of a pair batch reach the model, in process: the tiny pairs file through the real dataset and
collation (`collate_pairs`), verl's own multi-modal input extraction (what its engine adds to the model's
inputs), and the real tiny Qwen2.5-VL. And `model.freeze_vision_tower=True` keeps the tower and its projector
fixed while the language model trains."""

from __future__ import annotations

import pandas as pd
import pytest
import torch
from verl.utils.model import extract_multi_modal_inputs

from specs_verl.dpo.data import PreferenceDataset, collate_pairs, pair_rows
from specs_verl.dpo.vision_freeze import freeze_vision_tower

PAIRS = 4


@pytest.fixture(scope="module")
def processor(tiny_model_dir):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model_dir)


def load_model(tiny_model_dir):
    from transformers import AutoModelForImageTextToText

    return AutoModelForImageTextToText.from_pretrained(tiny_model_dir, dtype=torch.float32)


def pair_items(pairs_file, processor) -> list[dict]:
    ds = PreferenceDataset(str(pairs_file), processor, 1024, show_progress=False)
    return [ds[i] for i in range(PAIRS)]


def row_logps(model, batch: dict) -> torch.Tensor:
    """Summed response log-probs per row, from the padded inputs verl's engine builds for a no-padding batch
    without remove-padding (input ids, (4, rows, length) position ids, attention mask) plus the multi-modal
    inputs it extracts."""
    ids, loss_mask = batch["input_ids"], batch["loss_mask"]
    lengths = ids.offsets().diff()
    width = int(lengths.max())
    rows = len(lengths)
    inputs = {
        "input_ids": torch.nested.to_padded_tensor(ids, padding=0, output_size=(rows, width)),
        "position_ids": torch.nested.to_padded_tensor(batch["position_ids"], padding=0,
                                                      output_size=(rows, 4, width)).transpose(0, 1),
        "attention_mask": (torch.arange(width)[None] < lengths[:, None]).long(),
        **extract_multi_modal_inputs(batch["multi_modal_inputs"]),
    }
    logp = torch.log_softmax(model(**inputs).logits[:, :-1].float(), -1)
    logp = logp.gather(-1, inputs["input_ids"][:, 1:, None])[..., 0]
    mask = torch.nested.to_padded_tensor(loss_mask, padding=0, output_size=(rows, width))[:, 1:]
    return (logp * mask).sum(-1)


def test_the_batch_images_reach_the_vision_tower_and_change_the_log_probs(tiny_model_dir, tiny_data_dir, processor,
                                                                           tmp_path):
    model = load_model(tiny_model_dir).eval()
    items = pair_items(tiny_data_dir / "pairs_train.parquet", processor)
    batch = collate_pairs(items)
    rows = [row["pixel_values"] for row in batch["multi_modal_inputs"].tolist()]
    seen = []
    model.model.visual.register_forward_pre_hook(lambda module, args, kwargs: seen.append(args[0] if args else
                                                                                          kwargs["hidden_states"]),
                                                 with_kwargs=True)
    with torch.no_grad():
        original = row_logps(model, batch)
    # one tower call with every row's pixels (chosen and rejected rows share their pair's), in row order
    assert len(seen) == 1 and torch.equal(seen[0], torch.cat(rows))

    # the shared layout (the default) hands the engine each pair's pixels once: the chosen rows' above
    shared = extract_multi_modal_inputs(collate_pairs(items, packing="shared")["multi_modal_inputs"])
    assert torch.equal(shared["pixel_values"], torch.cat(rows[pair_rows(batch)]))

    # the same pairs with the images rotated between rows: the log-probs follow the images
    frame = pd.read_parquet(tiny_data_dir / "pairs_train.parquet")
    frame["images"] = list(frame["images"].iloc[1:]) + [frame["images"].iloc[0]]
    frame.to_parquet(tmp_path / "rotated.parquet")
    with torch.no_grad():
        rotated = row_logps(model, collate_pairs(pair_items(tmp_path / "rotated.parquet", processor)))
    differ = int(((original - rotated).abs() > 1e-4).sum())
    assert differ > len(original) // 2, (original, rotated)


def test_a_frozen_vision_tower_stays_as_it_was_while_the_language_model_trains(tiny_model_dir, tiny_data_dir,
                                                                               processor):
    model = load_model(tiny_model_dir).train()
    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
    # as in the trainer: the optimizer holds every parameter, the freeze comes after the engine built it
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    frozen = freeze_vision_tower(model)
    vision = [k for k in initial if ".visual." in f".{k}"]
    assert vision and any("merger" in k for k in vision)
    assert len(frozen) == len(vision)

    # the tower runs without autograd (under FSDP2 on several ranks requires_grad alone does not hold)
    grad_modes = []
    model.model.visual.merger.register_forward_pre_hook(lambda module, args: grad_modes.append(torch.is_grad_enabled()))
    batch = collate_pairs(pair_items(tiny_data_dir / "pairs_train.parquet", processor))
    (-row_logps(model, batch).sum()).backward()
    optimizer.step()
    assert grad_modes == [False] and torch.is_grad_enabled()
    trained = model.state_dict()
    assert all(p.grad is None for p in frozen)
    assert all(torch.equal(trained[k], initial[k]) for k in vision)
    assert sum(not torch.equal(trained[k], initial[k]) for k in initial if k not in vision) > 10


def test_freezing_a_model_without_a_vision_tower_names_the_setting():
    with pytest.raises(ValueError, match="model.freeze_vision_tower=True but the model has no `visual` module"):
        freeze_vision_tower(torch.nn.Linear(2, 2))
