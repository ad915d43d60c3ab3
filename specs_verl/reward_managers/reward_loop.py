"""The `specs` manager in verl's reward loop registry (`verl.experimental.reward_loop.reward_manager`)."""

from __future__ import annotations

import logging
from typing import Any

from verl.experimental.reward_loop.reward_manager import register
from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager

from specs_verl.reward_managers import NAME, specs_scorer

logger = logging.getLogger(__name__)


def _config_options(config: Any) -> dict[str, Any]:
    """`reward.reward_kwargs` of verl's config, as a plain dict ({} when absent)."""
    from omegaconf import OmegaConf

    reward_cfg = config.get("reward") if hasattr(config, "get") else None
    options = reward_cfg.get("reward_kwargs") if reward_cfg is not None else None
    if options is None:
        return {}
    if OmegaConf.is_config(options):
        return dict(OmegaConf.to_container(options, resolve=True))
    return dict(options)


@register(NAME)
class SpecsRewardManager(NaiveRewardManager):
    """verl's reward-loop `naive` manager scoring with the SPECS reward; options from `reward.reward_kwargs`, then
    keyword arguments."""

    def __init__(self, config, tokenizer, compute_score=None, reward_router_address=None,
                 reward_model_tokenizer=None, **reward_kwargs):
        super().__init__(config=config, tokenizer=tokenizer, compute_score=compute_score,
                         reward_router_address=reward_router_address, reward_model_tokenizer=reward_model_tokenizer)
        custom = (config.get("reward") or {}).get("custom_reward_function") or {}
        if custom.get("path"):
            logger.warning("specs reward manager: reward.custom_reward_function.path=%s is ignored; the specs "
                           "manager always scores with specs_verl.reward.compute_score", custom.get("path"))
        self.options, self.compute_score = specs_scorer({**_config_options(config), **reward_kwargs})
        self.is_async_reward_score = False
