"""Registers the `specs` reward manager with verl, so `reward.reward_manager.name=specs` works.

Imported by `specs_verl.plugin` whenever `import verl` runs (driver, TaskRunner, reward-loop Ray workers).
Both registries get it: the reward loop's (what `python -m verl.trainer.main_ppo` uses in verl 0.9+) and the
legacy `verl.workers.reward_manager` one (older entry points and scripts that call `get_reward_manager_cls`).

The managers are verl's `naive` managers (decode the response, call `compute_score` per sample, log every
dict key as a metric) with the scorer fixed to `specs_verl.reward.compute_score` for every `data_source`, and
its options read from `reward.reward_kwargs` (the key verl's own `dapo` manager reads), e.g.
`+reward.reward_kwargs.format_weight=0.5 +reward.reward_kwargs.profile=specs`. An unknown option fails here,
when the manager is built, not per sample. Building a manager also starts a grading worker process in the
background (`specs_verl.grading.worker_pool`), so the first symbolic grade does not wait for sympy to import.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
from verl.workers.reward_manager import register as register_legacy
from verl.workers.reward_manager.naive import NaiveRewardManager as LegacyNaiveRewardManager

from specs_verl.grading import warm_up
from specs_verl.reward import compute_score as specs_compute_score
from specs_verl.reward import resolve_options

logger = logging.getLogger(__name__)

NAME = "specs"


def _config_options(config: Any) -> dict[str, Any]:
    reward_cfg = config.get("reward") if hasattr(config, "get") else None
    options = reward_cfg.get("reward_kwargs") if reward_cfg is not None else None
    if options is None:
        return {}
    try:
        from omegaconf import OmegaConf

        if OmegaConf.is_config(options):
            return dict(OmegaConf.to_container(options, resolve=True))
    except ImportError:  # pragma: no cover - omegaconf ships with verl
        pass
    return dict(options)


@register(NAME)
class SpecsRewardManager(NaiveRewardManager):
    """verl's reward-loop `naive` manager scoring with the SPECS reward (see the module docstring)."""

    def __init__(self, config, tokenizer, compute_score=None, reward_router_address=None,
                 reward_model_tokenizer=None, **reward_kwargs):
        super().__init__(config, tokenizer, compute_score, reward_router_address, reward_model_tokenizer)
        self.options = resolve_options({**_config_options(config), **reward_kwargs})
        custom = (config.get("reward") or {}).get("custom_reward_function") or {}
        if custom.get("path"):
            logger.warning("specs reward manager: reward.custom_reward_function.path=%s is ignored; the specs "
                           "manager always scores with specs_verl.reward.compute_score", custom.get("path"))
        self.compute_score = functools.partial(specs_compute_score, **self.options)
        self.is_async_reward_score = False
        warm_up()


@register_legacy(NAME)
class SpecsLegacyRewardManager(LegacyNaiveRewardManager):
    """verl's legacy `naive` manager scoring with the SPECS reward; options come as keyword arguments."""

    def __init__(self, tokenizer, num_examine=0, compute_score=None, reward_fn_key="data_source",
                 compute_score_timeout=None, **reward_kwargs):
        timeout = {} if compute_score_timeout is None else {"compute_score_timeout": compute_score_timeout}
        super().__init__(tokenizer=tokenizer, num_examine=num_examine, compute_score=None,
                         reward_fn_key=reward_fn_key, **timeout)
        self.options = resolve_options(reward_kwargs)
        self.compute_score = functools.partial(specs_compute_score, **self.options)
        warm_up()

