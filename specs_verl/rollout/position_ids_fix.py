"""Guard for verl issue 7899: Qwen-VL position ids broken when every sequence of a batch has the same length.

verl keeps Qwen-VL's position ids as a jagged nested tensor of per-sequence (4, length) tensors, ragged along
the last dimension. They are rebuilt with `torch.nested.as_nested_tensor(list)` in several places (the legacy
trainer's `left_right_2_no_padding`, `DataProto` deserialisation, TransferQueue batch reads). When all the
lengths are equal, torch makes the tensor ragged along the *first* dimension instead: values (batch*4, length),
offsets 0, 4, 8, ... `verl.utils.tensordict_utils.maybe_fix_3d_position_ids` (which every training worker calls
before a forward) then forces `_ragged_idx = 2` on it, which is right for the case it was written for (the
attribute lost in a pickle round trip: values (4, total)) and wrong here: the old log-probs are computed with
scrambled positions and the actor update dies in `split_with_sizes` ("expects split_sizes to sum exactly to
<length>"). Upstream fix: verl PR 7901 (open when this was written, against verl 0.9.1).

`install()` looks at `maybe_fix_3d_position_ids` the moment verl imports `verl.utils.tensordict_utils` (before the
workers bind the name) and first asks it to fix a two-sequence equal-length batch (`has_the_bug`, ~15 ms). Only
if verl's own function gets that wrong is it wrapped: a tensor in the equal-length layout is rebuilt per
sequence, ragged along the length; every other input goes to verl's function unchanged. A verl with the fix
keeps its function untouched. If verl renames the function, `specs_verl.verl_touchpoints` logs a WARNING saying
the guard is off. The wrapper logs once per process when it acts.
"""

from __future__ import annotations

import functools
import logging
import sys

logger = logging.getLogger(__name__)

MODULE = "verl.utils.tensordict_utils"
_warned = False


def is_equal_length_layout(position_ids) -> bool:
    """True for a (batch, 4, length) jagged tensor laid out ragged along dim 1 (the torch equal-length choice)."""
    if not getattr(position_ids, "is_nested", False) or position_ids.dim() != 3:
        return False
    if getattr(position_ids, "_ragged_idx", None) != 1:
        return False
    values, offsets = position_ids.values(), position_ids.offsets()
    total = int(offsets[-1])
    # ragged along the length: values (4, total). Ragged along dim 1: values (batch*4, length).
    return values.dim() == 2 and values.shape[0] == total and values.shape[1] != total


def rebuild_ragged_on_length(position_ids):
    """The same per-sequence (4, length) tensors, as a nested tensor ragged along the length (what verl expects)."""
    from verl.utils.tensordict_utils import nested_tensor_from_tensor_list

    return nested_tensor_from_tensor_list(list(position_ids.unbind(0)), ragged_idx=2)


def repair(data) -> bool:
    """Fix `data["position_ids"]` in place if it has the equal-length layout. Returns whether it did."""
    global _warned
    if "position_ids" not in data.keys() or not is_equal_length_layout(data["position_ids"]):
        return False
    data["position_ids"] = rebuild_ragged_on_length(data["position_ids"])
    if not _warned:
        _warned = True
        logger.warning("specs_verl: repaired Qwen-VL position ids of a batch whose sequences all have the same "
                       "length (verl issue 7899)")
    return True


def has_the_bug(fix) -> bool:
    """Whether `fix` (verl's `maybe_fix_3d_position_ids`) breaks a batch of two equal-length sequences."""
    import torch
    from tensordict import TensorDict

    rows = [torch.arange(8).view(4, 2) + 100 * i for i in range(2)]
    data = TensorDict({"position_ids": torch.nested.as_nested_tensor(rows, layout=torch.jagged)}, batch_size=[2])
    try:
        fix(data)
        out = list(data["position_ids"].unbind(0))
    except Exception:  # verl 0.9.1: "Expected cond to be True" from the forced ragged index
        return True
    return len(out) != 2 or not all(a.shape == b.shape and torch.equal(a, b) for a, b in zip(out, rows))


def _wrap(original):
    @functools.wraps(original)
    def maybe_fix_3d_position_ids(data):
        repair(data)
        return original(data)

    maybe_fix_3d_position_ids._specs_fix_7899 = True
    return maybe_fix_3d_position_ids


def patch_module(module) -> None:
    """Wrap the function in `verl.utils.tensordict_utils`, and rebind it in the verl modules that already hold
    it by name (`from verl.utils.tensordict_utils import maybe_fix_3d_position_ids`: the training workers)."""
    original = getattr(module, "maybe_fix_3d_position_ids", None)
    if original is None:  # renamed: the touchpoint check (specs_verl.verl_touchpoints) warns that the guard is off
        return
    if getattr(original, "_specs_fix_7899", False):
        return
    if not has_the_bug(original):
        logger.debug("specs_verl: verl's maybe_fix_3d_position_ids handles equal-length batches; no 7899 guard")
        return
    wrapped = module.maybe_fix_3d_position_ids = _wrap(original)
    for name, other in list(sys.modules.items()):
        if name.startswith("verl.") and getattr(other, "maybe_fix_3d_position_ids", None) is original:
            other.maybe_fix_3d_position_ids = wrapped


def install() -> None:
    from specs_verl.import_hooks import hooks

    hooks.add(MODULE, patch_module)
