"""The `specs_sync` trainer: registered by `import verl`, built from verl's own config, and GF in validation.

Validation metrics go through verl's real `_val_metrics_update` / `process_validation_metrics`, fed the inputs
verl's `_validate` assembles (data_sources, uids, reward_extra_infos_dict with `reward`, `acc`, `format`, `pred`).
"""

import json

import numpy as np
import pytest
from hydra import compose, initialize_config_module
from hydra.core.global_hydra import GlobalHydra

from specs_verl.grpo import TRAINER_NAME, SpecsPPOTrainerSync
from specs_verl.metrics import generalization_factor
from tests.commands import PYTHON, REPO, cpu_subprocess_env, run_cmd

N = 4  # responses per prompt
SOURCES = {"tiny_count": 3, "tiny_choice": 2, "tiny_shapes": 2}  # prompts per source


def make_config(tmp_path, *overrides):
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        return compose(config_name="ppo_trainer", overrides=[
            f"trainer.v1.trainer_mode={TRAINER_NAME}",
            f"trainer.default_local_dir={tmp_path / 'ckpt'}",
            "+specs.gf.id_sources=[tiny_count]",
            "+specs.gf.ood_sources=[tiny_choice,tiny_shapes]",
            *overrides,
        ])


def validation_inputs(acc_rate: dict[str, float], fmt_rate: dict[str, float], seed=0):
    """What verl's `_validate` hands `_val_metrics_update`: one entry per response, N responses per prompt."""
    rng = np.random.default_rng(seed)
    data_sources, uids, infos = [], [], {"reward": [], "acc": [], "format": [], "pred": []}
    for source, n_prompts in SOURCES.items():
        for p in range(n_prompts):
            for _ in range(N):
                acc, fmt = float(rng.random() < acc_rate[source]), float(rng.random() < fmt_rate[source])
                data_sources.append(source)
                uids.append(f"{source}-{p}")
                infos["acc"].append(acc)
                infos["format"].append(fmt)
                infos["reward"].append(acc + 0.5 * fmt)
                infos["pred"].append(str(int(acc)))
    return data_sources, uids, infos, [1] * len(uids)


def expected_means(inputs, var):
    data_sources, uids, infos, _ = inputs
    return {s: float(np.mean([v for d, v in zip(data_sources, infos[var]) if d == s])) for s in SOURCES}


def make_trainer(config, step):
    trainer = SpecsPPOTrainerSync(config)
    trainer.global_steps = step
    return trainer


@pytest.mark.slow
def test_registered_by_import_verl(tmp_path):
    code = ("import verl; from verl.trainer.ppo.v1 import get_trainer_cls; "
            f"c = get_trainer_cls('{TRAINER_NAME}'); print('CLS', c.__module__, c.__name__)")
    out = run_cmd([PYTHON, "-c", code], cpu_subprocess_env(tmp_path), REPO, timeout=300).stdout
    assert "CLS specs_verl.grpo SpecsPPOTrainerSync" in out


def test_init_keeps_verl_in_sync_mode(tmp_path):
    config = make_config(tmp_path)
    trainer = SpecsPPOTrainerSync(config)
    from verl.trainer.ppo.v1.replay_buffer import ReplayBuffer

    assert trainer.trainer_mode == "sync" and config.trainer.v1.trainer_mode == "sync"
    assert type(trainer.replay_buffer) is ReplayBuffer  # not the async buffer an unknown mode would get
    assert trainer.specs_gf.spec.ood_sources == ("tiny_choice", "tiny_shapes")


def test_gf_from_the_validation_before_training(tmp_path):
    config = make_config(tmp_path)
    before = validation_inputs({"tiny_count": 0.2, "tiny_choice": 0.3, "tiny_shapes": 0.3},
                               {s: 0.5 for s in SOURCES}, seed=1)
    after = validation_inputs({"tiny_count": 0.9, "tiny_choice": 0.6, "tiny_shapes": 0.8},
                              {s: 1.0 for s in SOURCES}, seed=2)

    trainer = make_trainer(config, step=0)
    m0 = trainer._val_metrics_update(*before)
    assert f"val-core/tiny_count/acc/mean@{N}" in m0  # verl's own metrics are still there
    assert m0["val-core/specs/gf"] == 0.0 and m0["val-core/specs/g_id"] == 0.0
    saved = json.loads((tmp_path / "ckpt" / "specs_gf_baseline.json").read_text())
    assert saved["metric"] == "acc" and saved["scores"] == pytest.approx(expected_means(before, "acc"))

    trainer.global_steps = 5
    m5 = trainer._val_metrics_update(*after)
    b, a = expected_means(before, "acc"), expected_means(after, "acc")
    g_id = a["tiny_count"] - b["tiny_count"]
    g_ood = (a["tiny_choice"] + a["tiny_shapes"]) / 2 - (b["tiny_choice"] + b["tiny_shapes"]) / 2
    assert m5["val-core/specs/g_id"] == pytest.approx(g_id)
    assert m5["val-core/specs/g_ood"] == pytest.approx(g_ood)
    assert m5["val-core/specs/gf"] == pytest.approx(generalization_factor(g_id, g_ood))
    for s in SOURCES:
        assert m5[f"val-core/specs/score/{s}"] == pytest.approx(a[s])
        assert m5[f"val-aux/specs/base/{s}"] == pytest.approx(b[s])

    # a resumed run (first validation at step 10) reads the recorded baseline back
    resumed = make_trainer(make_config(tmp_path), step=10)
    assert resumed._val_metrics_update(*after)["val-core/specs/gf"] == pytest.approx(m5["val-core/specs/gf"])


def test_gf_on_format_with_weights_and_explicit_baseline(tmp_path):
    config = make_config(tmp_path, "+specs.gf.metric=format", "+specs.gf.ood_weights=[3,1]", "+specs.gf.beta=1",
                         "trainer.val_before_train=False",
                         "+specs.gf.baseline={tiny_count:0.5,tiny_choice:0.25,tiny_shapes:0.25}")
    inputs = validation_inputs({s: 0.5 for s in SOURCES}, {"tiny_count": 0.9, "tiny_choice": 0.7,
                                                           "tiny_shapes": 0.4}, seed=3)
    m = make_trainer(config, step=7)._val_metrics_update(*inputs)
    f = expected_means(inputs, "format")
    g_ood = (3 * f["tiny_choice"] + f["tiny_shapes"]) / 4 - 0.25
    assert m["val-core/specs/g_ood"] == pytest.approx(g_ood)
    assert m["val-core/specs/gf"] == pytest.approx(generalization_factor(f["tiny_count"] - 0.5, g_ood, beta=1))
    assert not (tmp_path / "ckpt" / "specs_gf_baseline.json").exists()  # an explicit baseline is not written


def test_errors_are_early_and_named(tmp_path):
    with pytest.raises(ValueError, match="specs.gf needs a baseline"):
        SpecsPPOTrainerSync(make_config(tmp_path, "trainer.val_before_train=False"))
    trainer = make_trainer(make_config(tmp_path, "+specs.gf.metric=accuracy"), step=0)
    inputs = validation_inputs({s: 0.5 for s in SOURCES}, {s: 0.5 for s in SOURCES})
    with pytest.raises(KeyError, match="no validation metric 'accuracy'.*tiny_count/acc"):
        trainer._val_metrics_update(*inputs)
    with pytest.raises(RuntimeError, match="validation at step 3 has no GF baseline"):
        make_trainer(make_config(tmp_path), step=3)._val_metrics_update(*inputs)


def test_without_specs_section_it_is_plain_sync(tmp_path):
    GlobalHydra.instance().clear()
    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        config = compose(config_name="ppo_trainer", overrides=[f"trainer.v1.trainer_mode={TRAINER_NAME}"])
    trainer = make_trainer(config, step=0)
    inputs = validation_inputs({s: 0.5 for s in SOURCES}, {s: 0.5 for s in SOURCES})
    m = trainer._val_metrics_update(*inputs)
    assert trainer.specs_gf is None and not any(k.startswith("val-core/specs/") for k in m)
