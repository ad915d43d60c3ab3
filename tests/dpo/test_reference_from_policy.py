"""Step 1 as its own reference pass: before the first update the policy is the reference, so the trainer leaves
step 1's pairs out of the reference pass and the loss takes their reference log-probs from the same forward
(`loss_fn.reference_or_policy`). The result must be the loss and gradient of the explicit reference."""

from __future__ import annotations

import math

import pytest
import torch
from verl.utils import tensordict_utils as tu

from specs_verl.dpo.loss_fn import REF_FROM_POLICY, DPOLossFn
from specs_verl.dpo.losses import LossOptions, resolve_losses


def _step(ref_logps, from_policy=None):
    """Two separate-layout pairs (rows chosen, rejected, chosen, rejected) through the loss: loss, grad, metrics."""
    g = torch.Generator().manual_seed(0)
    lengths = [5, 4, 6, 3]
    values = torch.randn(sum(lengths), generator=g).requires_grad_()
    offsets = torch.tensor([0, *torch.tensor(lengths).cumsum(0).tolist()])
    log_probs = torch.nested.nested_tensor_from_jagged(values, offsets)
    mask = torch.cat([torch.tensor([0] * (n - 2) + [1, 1]) for n in lengths])
    batch = {"loss_mask": torch.nested.nested_tensor_from_jagged(mask, offsets), "ref_logps": ref_logps,
             "pair_index": torch.tensor([7, 7, 3, 3])}
    if from_policy is not None:
        batch["ref_from_policy"] = from_policy
    data = tu.get_tensordict(tensor_dict=batch, non_tensor_dict={"global_pairs": 2, "dp_size": 1})
    loss, metrics = DPOLossFn(resolve_losses("sigmoid", None, 0.0), LossOptions(beta=0.1))({"log_probs": log_probs},
                                                                                         data)
    loss.backward()
    # the policy's summed response log-probs per row (log_probs[t] scores token t + 1)
    policy = torch.stack([(values.detach()[o:o + n] * torch.roll(mask[o:o + n], -1)).sum()
                          for o, n in zip(offsets[:-1].tolist(), lengths)])
    return loss.item(), values.grad.clone(), metrics, policy


def test_step1_pairs_score_their_own_reference():
    _, _, _, policy = _step(torch.zeros(4))
    explicit = _step(policy.clone())
    own = _step(torch.zeros(4), from_policy=torch.tensor([1, 1, 1, 1]))
    assert own[0] == pytest.approx(math.log(2), abs=1e-7) and explicit[0] == pytest.approx(own[0], abs=1e-7)
    assert torch.allclose(own[1], explicit[1], atol=1e-7, rtol=0)
    assert own[2][REF_FROM_POLICY] == [[7.0, *policy[:2].tolist()], [3.0, *policy[2:].tolist()]]
    assert REF_FROM_POLICY not in explicit[2]


def test_only_the_marked_pairs_take_the_policy():
    _, _, _, policy = _step(torch.zeros(4))
    given = torch.tensor([0.0, 0.0, -1.0, 2.0])
    mixed = _step(given, from_policy=torch.tensor([1, 1, 0, 0]))
    explicit = _step(torch.cat([policy[:2], given[2:]]))
    assert mixed[0] == pytest.approx(explicit[0], abs=1e-7) and mixed[0] != pytest.approx(math.log(2), abs=1e-3)
    assert torch.allclose(mixed[1], explicit[1], atol=1e-7, rtol=0)
    assert [row[0] for row in mixed[2][REF_FROM_POLICY]] == [7.0]


def test_dropout_turns_the_step1_reference_off():
    """Step 1's training forward stands in for the reference pass only when it is deterministic: the trainer asks
    `has_dropout` (a config setting, in a sub-config too, or a dropout module)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from specs_verl.dpo.trainer import has_dropout

    def model(**kw):
        return Qwen2ForCausalLM(Qwen2Config(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                            num_attention_heads=2, num_key_value_heads=1, **kw))

    assert not has_dropout(model())
    assert has_dropout(model(attention_dropout=0.1))
    plain = model()
    plain.model.layers[0].mlp.act_fn = torch.nn.Sequential(torch.nn.Dropout(0.2), plain.model.layers[0].mlp.act_fn)
    assert has_dropout(plain)
