"""The `specs_sync` GRPO trainer: verl's synchronous V1 trainer with the Generalization Factor in validation.

Select it with `trainer.v1.trainer_mode=specs_sync` (verl's V1 trainer, the default `trainer.use_v1=true`) and
name the validation sets by their `data_source`:

    python -m verl.trainer.main_ppo --config-path=pkg://specs_verl.config --config-name=grpo_specs ... \\
        trainer.v1.trainer_mode=specs_sync trainer.val_before_train=True \\
        data.val_files="[id_val.parquet,ood_a.parquet,ood_b.parquet]" \\
        specs.gf.id_sources="[geo3k]" specs.gf.ood_sources="[chartqa,docvqa]"

Config (section `specs.gf`, declared with these defaults in specs_verl/config/paper_grpo.yaml, so the presets
take it without `+`; on verl's own ppo_trainer.yaml write `+specs.gf.id_sources=...`). GF is off while
id_sources and ood_sources are both null:
    id_sources:   data_source names of the in-distribution validation sets (equal weights).      required
    ood_sources:  data_source names of the out-of-distribution validation sets.                  required
    ood_weights:  one weight per OOD source (a list aligned with ood_sources, or source: weight). equal
    metric:       the reward variable that scores a response: acc, format, reward (the total reward), or any
                  key the reward's dict returns.                                                  acc
    beta:         F-beta weight of OOD over ID.                                                   2.0
    baseline:     source: score of the starting model; when null, the validation before training
                  (trainer.val_before_train=True) is the baseline.                                null
    baseline_file: where the recorded baseline is kept so that a resumed run keeps it.
                  null = ${trainer.default_local_dir}/specs_gf_baseline.json                      null

Every validation then also logs (see `specs_verl.metrics.validation`): val-core/specs/gf, val-core/specs/g_id,
val-core/specs/g_ood, val-core/specs/id_score, val-core/specs/ood_score, val-core/specs/score/<source>, and the
baseline as val-aux/specs/base/<source>. Scores are verl's per-source means (fractions for acc), so GF is a
fraction too.

The plugin imports this module when verl loads its trainer registry (`verl.trainer.ppo.v1`), which registers the
trainer by name; a verl process that never builds a trainer does not import it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict
from verl.trainer.ppo.v1.trainer_base import register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

from specs_verl.atomic import write_atomic
from specs_verl.metrics.validation import GFSpec

logger = logging.getLogger(__name__)

TRAINER_NAME = "specs_sync"
BASELINE_FILE = "specs_gf_baseline.json"


class GFTracker:
    """Holds the GF settings and the baseline scores; turns each validation's metrics into GF metrics."""

    def __init__(self, spec: GFSpec, baseline: Mapping[str, float] | None, baseline_file: str | None):
        self.spec = spec
        self.baseline = None if baseline is None else {str(k): float(v) for k, v in baseline.items()}
        self.baseline_file = baseline_file
        if self.baseline is not None:
            missing = [s for s in spec.sources if s not in self.baseline]
            if missing:
                raise ValueError(f"specs.gf.baseline has no score for {missing}; it has {sorted(self.baseline)}")

    @classmethod
    def from_config(cls, config: DictConfig) -> GFTracker | None:
        """None when the config has no `specs.gf` section, or one with neither id_sources nor ood_sources (the
        presets' declared default). Fails early when only one is given or no baseline can exist."""
        section = OmegaConf.select(config, "specs.gf", default=None)
        if section is None or (section.get("id_sources") is None and section.get("ood_sources") is None):
            return None
        cfg = OmegaConf.to_container(section, resolve=True)
        spec = GFSpec.from_mapping(cfg)
        baseline_file = cfg.get("baseline_file") or os.path.join(
            str(OmegaConf.select(config, "trainer.default_local_dir", default=".")), BASELINE_FILE)
        tracker = cls(spec, cfg.get("baseline"), baseline_file)
        val_before_train = bool(OmegaConf.select(config, "trainer.val_before_train", default=True))
        if tracker.baseline is None and not val_before_train and not os.path.exists(baseline_file):
            raise ValueError(
                "specs.gf needs a baseline: set trainer.val_before_train=True (the validation before training is "
                f"the baseline), or give specs.gf.baseline (source: score), or resume with {baseline_file}")
        return tracker

    def update(self, val_metrics: Mapping[str, float], step: int) -> dict[str, float]:
        """GF metrics for one validation (at global step `step`; 0 = before training)."""
        scores = self.spec.scores(val_metrics)
        if self.baseline is None:
            if step == 0:
                self.baseline = scores
                self._save_baseline(step)
            else:
                self.baseline = self._load_baseline(step)
        return self.spec.metrics(scores, self.baseline)

    def _save_baseline(self, step: int) -> None:
        record = {"metric": self.spec.metric, "step": step, "scores": self.baseline}
        path = Path(self.baseline_file)
        write_atomic(path, json.dumps(record, indent=2))
        logger.info("specs_sync: GF baseline (%s) recorded in %s: %s", self.spec.metric, path, self.baseline)

    def _load_baseline(self, step: int) -> dict[str, float]:
        path = Path(self.baseline_file)
        if not path.exists():
            raise RuntimeError(
                f"specs_sync: validation at step {step} has no GF baseline: no specs.gf.baseline, no validation "
                f"at step 0, and no {path} from an earlier run. Give specs.gf.baseline (source: score).")
        record = json.loads(path.read_text())
        if record.get("metric") != self.spec.metric:
            raise RuntimeError(f"{path} holds a baseline of metric {record.get('metric')!r}, but specs.gf.metric "
                               f"is {self.spec.metric!r}; give specs.gf.baseline or remove the file")
        baseline = {str(k): float(v) for k, v in record["scores"].items()}
        missing = [s for s in self.spec.sources if s not in baseline]
        if missing:
            raise RuntimeError(f"{path} has no baseline score for {missing}; give specs.gf.baseline")
        logger.info("specs_sync: GF baseline loaded from %s", path)
        return baseline


@register_trainer(TRAINER_NAME)
class SpecsPPOTrainerSync(PPOTrainerSync):
    """`PPOTrainerSync` whose validation metrics add the Generalization Factor over ID and OOD data sources."""

    def __init__(self, config: DictConfig):
        # verl's internals branch on the exact string "sync" (replay buffer, refill, weight sync), so the
        # registry name must not leak into trainer_mode.
        with open_dict(config):
            config.trainer.v1.trainer_mode = "sync"
        super().__init__(config)
        self.specs_gf = GFTracker.from_config(config)
        if self.specs_gf is None:
            logger.warning("specs_sync: specs.gf.id_sources and ood_sources are not set; validation runs without GF")

    def _val_metrics_update(self, *args, **kwargs) -> dict[str, float]:
        metrics = super()._val_metrics_update(*args, **kwargs)
        if self.specs_gf is not None:
            metrics.update(self.specs_gf.update(metrics, step=self.global_steps))
        return metrics
