"""`import verl` in a fresh interpreter loads our entry point and makes the registrations visible."""

import json
import subprocess
import sys

import pytest

PROBE = """
import json, os, verl
from verl.plugin.platform.platform_manager import PlatformRegistry, get_platform
import verl.utils.distributed as vd
import verl.utils.fsdp_utils as fu
import specs_verl.plugin as plugin
print(json.dumps({
    "platforms": list(PlatformRegistry.registered_names()),
    "platform": get_platform().device_name if os.environ.get("VERL_PLATFORM") else None,
    "gloo_patch": getattr(vd.initialize_global_process_group, "_specs_cpu", False),
    "unpinned": getattr(fu.CPUOffloadPolicy, "_specs_cpu", False),
    "pin_memory": fu.CPUOffloadPolicy(pin_memory=True).pin_memory,
    "engine_device": os.environ.get("VERL_ENGINE_DEVICE"),
    "loaded": plugin.loaded,
}))
"""


def _probe(env_extra: dict) -> dict:
    env = {k: v for k, v in __import__("os").environ.items()
           if k not in ("VERL_PLATFORM", "VERL_ENGINE_DEVICE", "VERL_ENGINE_VENDOR")}
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow  # a fresh interpreter imports verl
def test_import_verl_registers_cpu_platform_but_leaves_verl_alone_by_default():
    probe = _probe({})
    assert "cpu" in probe["platforms"]
    assert probe["loaded"]["specs_verl.platform.register"] is True
    # Not selected: verl's own functions and policies are untouched.
    assert probe["gloo_patch"] is False
    assert probe["unpinned"] is False
    assert probe["pin_memory"] is True
    assert probe["engine_device"] is None


@pytest.mark.slow
def test_cpu_platform_selected_applies_its_scoped_patches():
    probe = _probe({"VERL_PLATFORM": "cpu"})
    assert probe["platform"] == "cpu"
    assert probe["gloo_patch"] is True
    assert probe["unpinned"] is True
    assert probe["pin_memory"] is False
    assert probe["engine_device"] == "cuda"


def test_cpu_platform_is_never_auto_detected():
    import verl  # noqa: F401  (verl first: its import loads the plugin that registers the platform)
    from specs_verl.platform.cpu import PlatformCPU

    assert PlatformCPU().is_platform_available(use_smi_check=True) is False


def test_user_overrides_win_over_cpu_defaults(monkeypatch):
    from specs_verl.platform import sft_overrides

    monkeypatch.setenv("VERL_PLATFORM", "cpu")
    merged = sft_overrides(["engine.strategy=fsdp", "data.max_length=64"])
    assert "engine.strategy=fsdp" in merged and "engine.strategy=fsdp2" not in merged
    assert "trainer.device=cpu" in merged
    monkeypatch.delenv("VERL_PLATFORM")
    assert sft_overrides(["data.max_length=64"]) == ["data.max_length=64"]


TEXT_ONLY_PROBE = """
import torch, verl
from transformers import AutoModelForImageTextToText
import verl.models.transformers.qwen2_vl as qwen2_vl
model = AutoModelForImageTextToText.from_pretrained({model!r}, dtype=torch.float32)
ids = torch.tensor([[1, 2, 3, 4]])
embeds, _ = qwen2_vl._get_input_embeds(model.model, ids, torch.ones_like(ids))
print(getattr(qwen2_vl._get_input_embeds, "_specs_text_only", False), tuple(embeds.shape))
"""


@pytest.mark.slow  # a fresh interpreter imports verl
def test_text_only_micro_batches_work_in_every_verl_process(tiny_model_dir):
    """verl 0.9.1 + transformers 5 fail on a Qwen2-VL micro-batch without images (GRPO's actor meets them with
    text-only rows); the plugin fixes verl's function as verl imports it, with no call of ours."""
    out = subprocess.run([sys.executable, "-c", TEXT_ONLY_PROBE.format(model=str(tiny_model_dir))],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0] == "True" and "(1, 4, " in out.stdout
