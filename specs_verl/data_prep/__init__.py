"""Benchmark and training datasets -> verl RL parquet (the `prepare_data.py` CLI's pure core).

    from specs_verl.data_prep import DATASETS, prepare
    result = prepare("mmmu", "data/", split="validation")   # -> data/mmmu_validation.parquet + .skipped.json

Modules: one per dataset family (`virl39k`, `geometry3k`, `mathvista`, `mathverse`, `mathvision`, `mmmu`) holding
its `convert(record, ctx) -> Problem` and its `SPEC`; `registry` (names -> specs); `problem` (the neutral form and
answer/choice helpers); `placeholders` (image references -> `<image>`); `images` (any image -> PNG/JPEG bytes);
`rows` (a `Problem` -> the verl row of `specs_verl.schema.rl_rows`, which holds its Arrow schema and writer);
`loading` (`datasets.load_dataset`); `prepare` (the loop, counts and report). No torch, verl or Ray imports.
"""

from .prepare import DataPrepError, Result, prepare
from .registry import DATASETS, get_spec

__all__ = ["DATASETS", "DataPrepError", "Result", "get_spec", "prepare"]
