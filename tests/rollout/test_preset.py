"""The GRPO presets: grpo_specs.yaml carries the paper's settings, grpo_cpu.yaml is it plus the CPU keys, and the
override list `GRPO_CPU` is read from grpo_cpu.yaml (no second copy)."""

from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from specs_verl.platform.overrides import GRPO_CPU
from tests.commands import REPO


def _compose(config_module: str, name: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=config_module, version_base=None):
            config = OmegaConf.to_container(compose(config_name=name, overrides=overrides), resolve=False)
    finally:
        GlobalHydra.instance().clear()
    config.pop("hydra", None)
    return config


def test_cpu_preset_is_the_paper_preset_plus_the_cpu_overrides():
    assert _compose("specs_verl.config", "grpo_cpu", []) == _compose("specs_verl.config", "grpo_specs", list(GRPO_CPU))


def test_the_cpu_overrides_apply_to_verls_own_ppo_trainer():
    cfg = _compose("verl.trainer.config", "ppo_trainer", list(GRPO_CPU))
    assert cfg["trainer"]["device"] == "cpu" and cfg["actor_rollout_ref"]["rollout"]["name"] == "hf"
    assert cfg["actor_rollout_ref"]["model"]["override_config"]["attn_implementation"] == "sdpa"


def test_paper_preset_holds_the_papers_grpo_settings_and_declares_gf():
    cfg = _compose("specs_verl.config", "grpo_specs", ["specs.gf.id_sources=[geo]", "specs.gf.ood_sources=[chart]"])
    actor = cfg["actor_rollout_ref"]["actor"]
    assert cfg["algorithm"]["adv_estimator"] == "grpo"
    assert cfg["algorithm"]["use_kl_in_reward"] is False and actor["use_kl_loss"] is False
    assert (actor["clip_ratio_low"], actor["clip_ratio_high"]) == (0.2, 0.28)
    assert actor["optim"]["lr"] == 1e-6 and cfg["actor_rollout_ref"]["rollout"]["n"] == 8
    assert cfg["data"]["max_response_length"] == 10240 and cfg["data"]["train_batch_size"] == 128
    assert actor["checkpoint"]["save_contents"] == ["model", "optimizer", "extra", "hf_model"]
    assert cfg["reward"]["reward_manager"]["name"] == "specs"
    # the GF section is declared: no `+` needed, and its defaults are the trainer's
    assert cfg["specs"]["gf"]["id_sources"] == ["geo"] and cfg["specs"]["gf"]["ood_sources"] == ["chart"]
    assert cfg["specs"]["gf"]["metric"] == "acc" and cfg["specs"]["gf"]["beta"] == 2.0


def test_cpu_preset_selects_grpo_the_hf_rollout_and_float32():
    cfg = _compose("specs_verl.config", "grpo_cpu", [])
    assert cfg["algorithm"]["adv_estimator"] == "grpo"
    assert cfg["actor_rollout_ref"]["rollout"]["name"] == "hf"
    assert cfg["actor_rollout_ref"]["rollout"]["dtype"] == "float32"
    assert cfg["actor_rollout_ref"]["actor"]["fsdp_config"]["mixed_precision"] == {"param_dtype": "fp32"}
    assert cfg["trainer"]["device"] == "cpu"


def test_sft_coldstart_preset_holds_the_cold_start_budget():
    cfg = _compose("specs_verl.config", "sft_coldstart", [])
    assert cfg["optim"]["lr"] == 1e-5 and cfg["trainer"]["total_epochs"] == 1
    assert (cfg["data"]["train_batch_size"], cfg["data"]["max_length"]) == (64, 16384)
    assert cfg["checkpoint"]["save_contents"] == ["model", "optimizer", "extra", "hf_model"]


def test_presets_are_packaged():
    for name in ("grpo_specs", "paper_grpo", "grpo_cpu", "sft_coldstart"):
        assert (REPO / "specs_verl" / "config" / f"{name}.yaml").is_file()
    # setuptools ships config/*.yaml (pyproject package-data)
    assert 'config/*.yaml' in (REPO / "pyproject.toml").read_text()


def test_the_declared_gf_section_is_off_until_sources_are_named(tmp_path):
    import pytest
    from omegaconf import OmegaConf

    from specs_verl.grpo import GFTracker

    def tracker(*overrides):
        return GFTracker.from_config(OmegaConf.create(_compose("specs_verl.config", "grpo_specs", [
            f"trainer.default_local_dir={tmp_path}", *overrides])))

    assert tracker() is None
    on = tracker("specs.gf.id_sources=[geo]", "specs.gf.ood_sources=[chart,doc]", "specs.gf.metric=format")
    assert on.spec.id_sources == ("geo",) and on.spec.ood_sources == ("chart", "doc")
    assert on.spec.metric == "format" and on.baseline_file == str(tmp_path / "specs_gf_baseline.json")
    with pytest.raises(ValueError, match="specs.gf.ood_sources is not set"):
        tracker("specs.gf.id_sources=[geo]")
