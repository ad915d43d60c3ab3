"""The `specs` reward manager, so that `reward.reward_manager.name=specs` works, in each of verl's two registries:

- `reward_loop.py`: verl's reward loop (`verl.experimental.reward_loop.reward_manager`), what
  `python -m verl.trainer.main_ppo` uses in verl 0.9+; options from `reward.reward_kwargs`, e.g.
  `+reward.reward_kwargs.format_weight=0.5 +reward.reward_kwargs.profile=specs` (the key verl's `dapo` manager reads);
- `legacy.py`: the legacy `verl.workers.reward_manager` (scripts that call `get_reward_manager_cls`); options as
  keyword arguments.

Both are verl's `naive` managers (decode the response, call `compute_score` per sample, log every dict key as a
metric) with the scorer fixed to `specs_verl.reward.compute_score` for every `data_source`. `specs_verl.plugin`
imports each module when verl imports the registry it goes into, not at `import verl`. This file imports nothing
from verl, so importing one module does not load the other registry.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

NAME = "specs"


def specs_scorer(options: dict[str, Any]) -> tuple[dict[str, Any], Callable]:
    """The resolved reward options and the `compute_score` that applies them. An unknown option fails here, when
    the manager is built, not per sample. Also starts a grading worker process in the background
    (`specs_verl.grading.worker_pool`), so the first symbolic grade does not wait for sympy to import."""
    from specs_verl.grading import warm_up
    from specs_verl.reward import compute_score, resolve_options

    resolved = resolve_options(options)
    scorer = functools.partial(compute_score, **resolved)
    warm_up()
    return resolved, scorer
