"""Every verl/torch internal this package relies on exists on the installed verl, and a missing one is loud."""

import logging
import types

import verl  # noqa: F401  (loads the plugin)

from specs_verl import verl_touchpoints
from specs_verl.verl_touchpoints import TOUCHPOINTS, Touchpoint, check_module, problem


def test_every_touchpoint_exists_on_the_installed_verl():
    assert verl_touchpoints.check_all() == []


def test_every_module_that_patches_or_subclasses_verl_is_listed():
    listed = {t.where for t in TOUCHPOINTS}
    for ours in ("platform/patches.py", "rollout/registration.py", "rollout/position_ids_fix.py", "grpo.py",
                 "reward_managers/reward_loop.py", "reward_managers/legacy.py", "text_only_vision.py",
                 "dpo/trainer.py", "dpo/attention.py"):
        assert ours in listed, ours


def test_a_renamed_function_logs_one_warning_naming_what_stops_working(monkeypatch, caplog):
    monkeypatch.setattr(verl_touchpoints, "_checked", set())
    renamed = types.ModuleType("verl.utils.tensordict_utils")  # verl without maybe_fix_3d_position_ids
    renamed.nested_tensor_from_tensor_list = lambda tensors, ragged_idx=None: None
    renamed.get_tensordict = lambda tensor_dict, non_tensor_dict=None: None
    renamed.assign_non_tensor = lambda tensor_dict, **kw: None
    renamed.get_non_tensor_data = lambda data, key, default: None
    with caplog.at_level(logging.WARNING, logger="specs_verl"):
        assert check_module(renamed) == 1
        assert check_module(renamed) == 0  # once per process
    [record] = caplog.records
    assert "verl.utils.tensordict_utils.maybe_fix_3d_position_ids is missing" in record.getMessage()
    assert "the 7899 guard is off" in record.getMessage()


def test_a_changed_signature_is_reported():
    module = types.ModuleType("verl.utils.distributed")
    module.initialize_global_process_group_ray = lambda backend=None, timeout_second=None: None
    touchpoint = Touchpoint("verl.utils.distributed", "initialize_global_process_group_ray",
                            ("timeout_second", "backend"), "test", "test")
    assert problem(touchpoint, module) == ("verl.utils.distributed.initialize_global_process_group_ray takes "
                                           "(backend, timeout_second), expected (timeout_second, backend, ...)")
