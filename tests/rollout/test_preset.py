"""The CPU GRPO preset (`specs_verl/config/grpo_cpu.yaml`) and the override list (`GRPO_CPU`) say the same thing."""

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from specs_verl.platform.overrides import GRPO_CPU
from tests.conftest import REPO


def _compose(config_module: str, name: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=config_module, version_base=None):
            return OmegaConf.to_container(compose(config_name=name, overrides=overrides), resolve=False)
    finally:
        GlobalHydra.instance().clear()


def test_preset_equals_verl_defaults_plus_the_cpu_overrides():
    preset = _compose("specs_verl.config", "grpo_cpu", [])
    listed = _compose("verl.trainer.config", "ppo_trainer", [*GRPO_CPU, "algorithm.adv_estimator=grpo"])
    preset.pop("hydra", None)
    listed.pop("hydra", None)
    assert preset == listed


def test_preset_selects_grpo_the_hf_rollout_and_float32():
    cfg = _compose("specs_verl.config", "grpo_cpu", [])
    assert cfg["algorithm"]["adv_estimator"] == "grpo"
    assert cfg["actor_rollout_ref"]["rollout"]["name"] == "hf"
    assert cfg["actor_rollout_ref"]["rollout"]["dtype"] == "float32"
    assert cfg["actor_rollout_ref"]["actor"]["fsdp_config"]["mixed_precision"] == {"param_dtype": "fp32"}
    assert cfg["trainer"]["device"] == "cpu"


def test_preset_is_packaged():
    assert (REPO / "specs_verl" / "config" / "grpo_cpu.yaml").is_file()
    # setuptools ships config/*.yaml (pyproject package-data)
    assert 'config/*.yaml' in (REPO / "pyproject.toml").read_text()
