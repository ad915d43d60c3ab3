"""The shared pair layout against the separate one, in process, through verl's own input and output preparation
(`FSDPEngineWithLMHead.prepare_model_inputs` / `prepare_model_outputs`, the padded no-rmpad path of CPU runs) and
verl's patched Qwen2.5-VL forward on the tiny model; the FSDP wrapper is left out (one process adds nothing).

Tolerance: float32 throughout; per-token log-probs within 2e-5 absolute, losses within 1e-5 relative, every
gradient within 1e-4 of the largest gradient entry (the two layouts add the same terms in another order).
"""

from __future__ import annotations

import types

import pandas as pd
import pytest
import torch

from specs_verl.dpo.attention import register_pair_attention
from specs_verl.dpo.data import PreferenceDataset, collate_pairs, set_max_pixels
from specs_verl.dpo.loss_fn import DPOLossFn, pair_sums
from specs_verl.dpo.losses import LossOptions, resolve_losses
from specs_verl.dpo.packing import CHOSEN, REJECTED, branch_visibility

TOKEN_ATOL, LOSS_RTOL, GRAD_RTOL = 2e-5, 1e-5, 1e-4


def _patched_namespaces():
    """What verl's `apply_monkey_patch` and our vision fix rebind: Qwen2.5-VL's classes and verl's qwen2_vl module."""
    import verl.models.transformers.qwen2_vl as verl_qwen2_vl
    from transformers.models.qwen2_5_vl import modeling_qwen2_5_vl as hf

    classes = [v for v in vars(hf).values() if isinstance(v, type) and v.__module__ == hf.__name__]
    return [*classes, verl_qwen2_vl]


@pytest.fixture(scope="module")
def models(tiny_model_dir):
    """The same weights twice: plain SDPA (separate layout) and the pair attention (shared), verl-patched.

    The patches rebind class and module attributes for the whole interpreter; they are undone at the end of this
    module, so the in-process generation tests that run later in the suite see stock transformers."""
    from transformers import AutoModelForImageTextToText
    from verl.models.transformers.monkey_patch import apply_monkey_patch

    from specs_verl.text_only_vision import patch_text_only_vision_dummy

    saved = [(ns, dict(vars(ns))) for ns in _patched_namespaces()]
    patch_text_only_vision_dummy()
    out = {}
    for name, attn in (("separate", "sdpa"), ("shared", register_pair_attention())):
        model = AutoModelForImageTextToText.from_pretrained(tiny_model_dir, dtype=torch.float32,
                                                            attn_implementation=attn)
        apply_monkey_patch(model, use_remove_padding=False)
        out[name] = model.eval()
    yield out
    for ns, before in saved:
        for key in set(vars(ns)) - set(before):
            delattr(ns, key)
        for key, value in before.items():
            if vars(ns).get(key) is not value:
                setattr(ns, key, value)


@pytest.fixture(scope="module")
def dataset(tiny_model_dir, tiny_data_dir, tmp_path_factory):
    """Image pairs of three sources (prompts of different lengths) and one text-only pair (the last row)."""
    from transformers import AutoProcessor

    frame = pd.read_parquet(tiny_data_dir / "pairs_train.parquet").iloc[[0, 9, 18, 27]].reset_index(drop=True)
    frame.at[3, "prompt"] = [{"role": "user", "content": "How many sides has a triangle?"}]
    frame.at[3, "images"] = []
    path = tmp_path_factory.mktemp("pairs") / "pairs.parquet"
    frame.to_parquet(path)
    return PreferenceDataset(str(path), AutoProcessor.from_pretrained(tiny_model_dir), 1024, show_progress=False)


def engine_inputs(batch):
    """verl's FSDP engine input preparation for one micro-batch (no FSDP wrapper): the micro-batch, the model's
    inputs and verl's output arguments."""
    from verl.utils import tensordict_utils as tu
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    td = tu.get_tensordict(tensor_dict=dict(batch), non_tensor_dict={
        "use_remove_padding": False, "pad_mode": "no_padding", "temperature": 1.0, "pad_token_id": 0,
        "micro_batch_size_per_gpu": batch["input_ids"].shape[0]})
    stub = types.SimpleNamespace(pad_to_length=None, engine_config=None)
    return (td, *FSDPEngineWithLMHead.prepare_model_inputs(stub, td))


def engine_forward(model, batch):
    """verl's FSDP engine forward for one micro-batch, without the FSDP wrapper: jagged log-probs."""
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    td, inputs, output_args = engine_inputs(batch)
    output = model(**inputs, use_cache=False)
    stub = types.SimpleNamespace(pad_to_length=None, engine_config=None)
    return FSDPEngineWithLMHead.prepare_model_outputs(stub, output, output_args, td, None)["log_probs"]


def scored_forward(model, batch):
    """The same micro-batch the way `engine.ResponseLogProbEngine` runs it: the LM head on the scored rows only.
    Returns the jagged log-probs and how many rows the LM head computed."""
    from specs_verl.dpo.engine import LMHeadRows, plan_rows, response_log_probs

    td, inputs, output_args = engine_inputs(batch)
    rows = plan_rows(td, inputs, output_args, sequence_parallel=False)
    hook = LMHeadRows()
    handle = model.get_output_embeddings().register_forward_pre_hook(hook)
    hook.index = rows.hidden
    try:
        logits = model(**inputs, use_cache=False).logits
    finally:
        handle.remove()
    return response_log_probs(logits, rows, td["input_ids"].offsets()), logits.shape[0]


def token_logps(model, pairs, packing) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per pair: the response tokens' log-probs (chosen, rejected)."""
    batch = collate_pairs(pairs, packing)
    with torch.no_grad():
        log_probs = engine_forward(model, batch)
    out = []
    if packing == "shared":
        for lp, branch in zip(log_probs.unbind(), batch["branch"].unbind()):
            scored = torch.roll(branch, -1)
            out.append((lp[scored == CHOSEN], lp[scored == REJECTED]))
    else:
        rows = [lp[torch.roll(mask, -1).bool()] for lp, mask in zip(log_probs.unbind(), batch["loss_mask"].unbind())]
        out = list(zip(rows[0::2], rows[1::2]))
    return out


def loss_and_grads(model, pairs, packing, ref, zero_grad=True, global_pairs=None):
    from verl.utils import tensordict_utils as tu

    loss_fn = DPOLossFn(resolve_losses("sigmoid", None, 1.0), LossOptions(beta=0.1))
    batch = collate_pairs(pairs, packing)
    batch["ref_logps"] = ref if packing == "shared" else ref.reshape(-1)
    if zero_grad:
        model.zero_grad()
    log_probs = engine_forward(model, batch)
    td = tu.get_tensordict(tensor_dict=dict(batch), non_tensor_dict={"global_pairs": global_pairs or len(pairs),
                                                                     "dp_size": 1})
    loss, metrics = loss_fn({"log_probs": log_probs}, td)
    loss.backward()
    return loss.item(), metrics, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def test_auto_packing_is_shared_only_where_supported():
    from specs_verl.dpo.trainer import resolve_packing

    cpu = {"use_remove_padding": False, "ulysses_sequence_parallel_size": 1}
    assert resolve_packing("auto", "qwen2_5_vl", cpu)[0] == "shared"
    assert resolve_packing("auto", "qwen2_5_vl", {**cpu, "use_remove_padding": True})[0] == "separate"
    assert resolve_packing("auto", "llama", cpu)[0] == "separate"
    assert resolve_packing("separate", "qwen2_5_vl", cpu)[0] == "separate"
    with pytest.raises(ValueError, match="use_remove_padding=True"):
        resolve_packing("shared", "qwen2_5_vl", {**cpu, "use_remove_padding": True})


def test_block_mask_rule():
    # prompt 3 tokens, chosen 2, the copy of the last prompt token, rejected 2, then 2 padding tokens
    mask = branch_visibility(torch.tensor([[0, 1, 2, 3, 4, 2, 3, 4, 0, 0]]))[0, 0]
    assert mask[4].tolist() == [True] * 5 + [False] * 5  # chosen: prompt + chosen, causal
    assert mask[7].tolist() == [True, True, False, False, False, True, True, True, False, False]  # rejected
    assert mask[8].tolist() == [False] * 8 + [True, False]  # padding sees itself only


def test_blockwise_attention_equals_the_dense_mask():
    """What the model computes (blocks per row) is the rule (dense mask): two pairs packed in one row, padding,
    grouped-query heads."""
    from specs_verl.dpo.attention import blockwise_sdpa

    positions = torch.tensor([[0, 1, 2, 3, 4, 2, 3, 4, 0, 0, 0], [0, 1, 2, 3, 1, 2, 0, 1, 2, 1, 0]])
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, h, 11, 8, generator=g) for h in (4, 2, 2))
    dense = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=branch_visibility(positions),
                                                             enable_gqa=True).transpose(1, 2)
    assert torch.allclose(blockwise_sdpa(q, k, v, positions), dense, atol=1e-6, rtol=0)


def test_shared_equals_separate_per_token(models, dataset):
    pairs = [dataset[i] for i in range(len(dataset))]  # 4 pairs in one micro-batch, one of them text only
    assert len({p["chosen"]["loss_mask"].tolist().index(1) for p in pairs}) == 4  # four prompt lengths
    separate = token_logps(models["separate"], pairs, "separate")
    shared = token_logps(models["shared"], pairs, "shared")
    for (c1, r1), (c2, r2) in zip(separate, shared):
        assert c1.shape == c2.shape and r1.shape == r2.shape
        assert torch.allclose(c1, c2, atol=TOKEN_ATOL, rtol=0) and torch.allclose(r1, r2, atol=TOKEN_ATOL, rtol=0)
    # the check can fail: without the block mask the rejected branch reads the chosen tokens
    leaky = token_logps(models["separate"], pairs, "shared")
    assert max(float((r1 - r2).abs().max()) for (_, r1), (_, r2) in zip(separate, leaky)) > 1e-3


def test_shared_equals_separate_loss_metrics_and_gradients(models, dataset):
    pairs = [dataset[i] for i in range(len(dataset))]
    with torch.no_grad():
        batch = collate_pairs(pairs, "shared")
        logps, _ = pair_sums(engine_forward(models["shared"], batch), batch)
    ref = logps - torch.tensor([[0.5, -0.3]])  # a reference the policy is ahead of, so every loss term moves
    loss_a, metrics_a, grads_a = loss_and_grads(models["separate"], pairs, "separate", ref)
    loss_b, metrics_b, grads_b = loss_and_grads(models["shared"], pairs, "shared", ref)
    assert loss_b == pytest.approx(loss_a, rel=LOSS_RTOL)
    assert set(metrics_a) == set(metrics_b)
    for key, value in metrics_a.items():
        assert metrics_b[key] == pytest.approx(value, rel=LOSS_RTOL, abs=1e-5), key
    assert set(grads_a) == set(grads_b) and any(".visual." in f".{n}" for n in grads_a)
    scale = max(float(g.abs().max()) for g in grads_a.values())
    worst = max(float((grads_a[n] - grads_b[n]).abs().max()) for n in grads_a)
    assert worst <= GRAD_RTOL * scale, (worst, scale)


@pytest.mark.parametrize("changed", ["chosen", "rejected"])
def test_no_leakage_between_branches(models, dataset, changed):
    """Another chosen text leaves every rejected log-prob as it was, and the other way round."""
    other = {"chosen": "rejected", "rejected": "chosen"}[changed]
    row = dict(dataset.rows[0])
    base = dataset.encode(row)
    row[changed] = row[changed] + " Something else entirely, and longer."
    edited = dataset.encode(row)
    pairs = [{"index": 0, **base}, {"index": 0, **edited}]
    (c1, r1), (c2, r2) = token_logps(models["shared"], pairs, "shared")
    kept, moved = {"chosen": (r1, r2), "rejected": (c1, c2)}[changed], {"chosen": (c1, c2), "rejected": (r1, r2)}
    assert torch.allclose(*kept, atol=1e-6, rtol=0), other
    first, second = moved[changed]
    assert first.shape != second.shape  # the edited branch did change


def test_vision_tower_encodes_each_pair_image_once(models, dataset):
    images_per_call = []
    model = models["shared"]
    hook = model.model.visual.register_forward_hook(
        lambda module, args, kwargs, out: images_per_call.append(int(kwargs["grid_thw"].shape[0])), with_kwargs=True)
    try:
        pairs = [dataset[i] for i in range(3)]  # three image pairs in one micro-batch
        token_logps(model, pairs, "shared")
        shared = list(images_per_call)
        images_per_call.clear()
        token_logps(model, pairs, "separate")
        separate = list(images_per_call)
    finally:
        hook.remove()
    assert shared == [3]  # one call per micro-batch, one image per pair
    assert separate == [6]  # the separate layout encodes every image twice


def test_max_pixels_gives_fewer_image_tokens(tiny_model_dir, tiny_data_dir):
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(tiny_model_dir)
    file = str(tiny_data_dir / "pairs_train.parquet")
    full = PreferenceDataset(file, processor, 1024, show_progress=False).rows[0]["lengths"][0]
    set_max_pixels(processor, 28 * 28 * 4)
    small = PreferenceDataset(file, processor, 1024, show_progress=False).rows[0]["lengths"][0]
    assert small < full


@pytest.mark.parametrize("packing", ["shared", "separate"])
def test_lm_head_on_scored_rows_equals_verl(models, dataset, packing):
    """engine.py: the LM head and the log-softmax on the scored positions only give verl's log-probs there, the
    same loss and the same gradients; the head computes one row per response token (verl's: every position)."""
    from verl.utils import tensordict_utils as tu

    model = models[packing]
    pairs = [dataset[i] for i in range(len(dataset))]
    batch = collate_pairs(pairs, packing)
    batch["ref_logps"] = torch.zeros(len(pairs), 2) if packing == "shared" else torch.zeros(2 * len(pairs))
    loss_fn = DPOLossFn(resolve_losses("sigmoid", None, 1.0), LossOptions(beta=0.1))
    td = tu.get_tensordict(tensor_dict=dict(batch), non_tensor_dict={"global_pairs": len(pairs), "dp_size": 1})
    results = []
    for forward in (lambda: (engine_forward(model, batch), None), lambda: scored_forward(model, batch)):
        model.zero_grad()
        log_probs, head_rows = forward()
        loss, _ = loss_fn({"log_probs": log_probs}, td)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((log_probs.detach(), head_rows, loss.item(), grads))
    (verl, _, verl_loss, verl_grads), (ours, head_rows, our_loss, our_grads) = results
    scored = torch.roll(batch["loss_mask"].values(), -1).bool()
    assert head_rows == int(scored.sum()) < batch["input_ids"].values().numel() // 2
    assert torch.allclose(ours.values()[scored], verl.values()[scored], atol=1e-6, rtol=0)
    assert our_loss == pytest.approx(verl_loss, rel=1e-6)
    scale = max(float(g.abs().max()) for g in verl_grads.values())
    assert max(float((verl_grads[n] - our_grads[n]).abs().max()) for n in verl_grads) <= 1e-5 * scale


def test_pairs_ordered_by_row_length_pad_less_and_train_the_same(models, dataset):
    """The trainer orders a batch by row length before verl cuts it into micro-batches: less padding, the same
    summed loss and gradients (nothing attends across pairs)."""
    from specs_verl.dpo.packing import by_row_length, row_length

    model = models["shared"]
    pairs = [dataset[i] for i in range(len(dataset))]
    lengths = [row_length(p, "shared") for p in pairs]
    order = sorted(range(len(pairs)), key=lengths.__getitem__)
    worst = [order[0], order[-1], order[1], order[-2]]  # shortest with longest: the most padding in pairs of two
    results = []
    for batch_pairs in ([pairs[i] for i in worst], by_row_length([pairs[i] for i in worst], "shared")):
        model.zero_grad()
        total, padded = 0.0, 0
        for micro in (batch_pairs[:2], batch_pairs[2:]):
            loss, _, _ = loss_and_grads(model, micro, "shared", torch.zeros(2, 2), zero_grad=False, global_pairs=4)
            total += loss
            padded += 2 * max(row_length(p, "shared") for p in micro)
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        results.append((total, padded, grads))
    (loss_a, padded_a, grads_a), (loss_b, padded_b, grads_b) = results
    assert [row_length(p, "shared") for p in by_row_length(pairs, "shared")] == sorted(lengths)
    assert padded_b < padded_a
    assert loss_b == pytest.approx(loss_a, rel=LOSS_RTOL)
    scale = max(float(g.abs().max()) for g in grads_a.values())
    assert max(float((grads_a[n] - grads_b[n]).abs().max()) for n in grads_a) <= GRAD_RTOL * scale
