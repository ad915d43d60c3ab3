"""The datasets `prepare_data.py` knows, by CLI name. Add one: write a module with a `convert` and a `SPEC`."""

from __future__ import annotations

from . import geometry3k, mathverse, mathvision, mathvista, mmmu, virl39k
from .dataset_spec import DatasetSpec

DATASETS: dict[str, DatasetSpec] = {
    m.SPEC.name: m.SPEC for m in (virl39k, geometry3k, mathvista, mathverse, mathvision, mmmu)
}


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None
