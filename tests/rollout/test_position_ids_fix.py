"""The guard for verl issue 7899: equal-length Qwen-VL batches keep correct position ids."""

import pickle
import sys

import pytest
import torch
from tensordict import TensorDict

import verl  # noqa: F401  (loads the plugin, which installs the guard)
from verl.utils import tensordict_utils as tu
from verl.workers import engine_workers
from verl.workers.engine import base as engine_base

from specs_verl.rollout.position_ids_fix import has_the_bug, is_equal_length_layout, patch_module


def position_ids(lengths):
    """Per-sequence (4, length) position ids, as verl's agent loop computes them (values differ per row)."""
    return [torch.arange(4 * n).view(4, n) + 1000 * i for i, n in enumerate(lengths)]


def as_verl_builds_them(tensors):
    return torch.nested.as_nested_tensor(tensors, layout=torch.jagged)


def fixed(nested):
    data = TensorDict({"position_ids": nested}, batch_size=[nested.shape[0]])
    tu.maybe_fix_3d_position_ids(data)
    return data["position_ids"]


def test_the_torch_behaviour_behind_the_bug():
    assert as_verl_builds_them(position_ids([5, 7]))._ragged_idx == 2
    equal = as_verl_builds_them(position_ids([6, 6, 6]))
    assert equal._ragged_idx == 1 and tuple(equal.values().shape) == (12, 6)
    assert is_equal_length_layout(equal)


@pytest.mark.parametrize("lengths", [[6, 6, 6], [9], [4, 4]])
def test_equal_lengths_come_out_ragged_along_the_length_with_every_row_intact(lengths):
    rows = position_ids(lengths)
    out = fixed(as_verl_builds_them(rows))
    assert out._ragged_idx == 2
    assert [tuple(t.shape) for t in out.unbind(0)] == [(4, n) for n in lengths]
    for got, want in zip(out.unbind(0), rows):
        assert torch.equal(got, want)
    # what the actor update does with it: select a mini-batch (this is where verl 0.9.1 raised)
    picked = tu.index_select_tensor_dict(TensorDict({"position_ids": out}, batch_size=[len(lengths)]),
                                         torch.tensor([len(lengths) - 1]))
    assert torch.equal(picked["position_ids"].unbind(0)[0], rows[-1])


def test_unequal_lengths_and_the_pickle_case_go_to_verls_own_fix_unchanged():
    rows = position_ids([5, 7])
    assert all(torch.equal(a, b) for a, b in zip(fixed(as_verl_builds_them(rows)).unbind(0), rows))
    # the case verl's function exists for: the ragged index lost in a pickle round trip
    good = tu.nested_tensor_from_tensor_list(rows, ragged_idx=2)
    td = pickle.loads(pickle.dumps(TensorDict({"position_ids": good}, batch_size=[2]).consolidate()))
    assert td["position_ids"]._ragged_idx == 1 and not is_equal_length_layout(td["position_ids"])
    assert all(torch.equal(a, b) for a, b in zip(fixed(td["position_ids"]).unbind(0), rows))


def test_the_workers_call_the_guarded_function():
    for module in (tu, engine_workers, engine_base):
        assert getattr(module.maybe_fix_3d_position_ids, "_specs_fix_7899", False), module.__name__


def _fake_tensordict_utils(fix):
    module = type(sys)("fake_tensordict_utils")
    module.maybe_fix_3d_position_ids = fix
    module.nested_tensor_from_tensor_list = tu.nested_tensor_from_tensor_list
    return module


def test_the_guard_is_installed_only_where_verls_function_has_the_bug():
    original = tu.maybe_fix_3d_position_ids.__wrapped__  # verl 0.9.1's own function
    assert has_the_bug(original)
    buggy = _fake_tensordict_utils(original)
    patch_module(buggy)
    assert getattr(buggy.maybe_fix_3d_position_ids, "_specs_fix_7899", False)

    def fixed_upstream(data):  # a verl that leaves an equal-length layout alone (PR 7901)
        pass

    assert not has_the_bug(fixed_upstream)
    fixed = _fake_tensordict_utils(fixed_upstream)
    patch_module(fixed)
    assert fixed.maybe_fix_3d_position_ids is fixed_upstream
