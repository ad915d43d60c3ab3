"""The `specs` manager in verl's legacy registry (`verl.workers.reward_manager`, `get_reward_manager_cls`)."""

from __future__ import annotations

from verl.workers.reward_manager import register
from verl.workers.reward_manager.naive import NaiveRewardManager

from specs_verl.reward_managers import NAME, specs_scorer


@register(NAME)
class SpecsLegacyRewardManager(NaiveRewardManager):
    """verl's legacy `naive` manager scoring with the SPECS reward; options come as keyword arguments."""

    def __init__(self, tokenizer, num_examine=0, compute_score=None, reward_fn_key="data_source",
                 compute_score_timeout=None, **reward_kwargs):
        timeout = {} if compute_score_timeout is None else {"compute_score_timeout": compute_score_timeout}
        super().__init__(tokenizer=tokenizer, num_examine=num_examine, compute_score=None,
                         reward_fn_key=reward_fn_key, **timeout)
        self.options, self.compute_score = specs_scorer(reward_kwargs)
