"""What the CLI needs to know about one dataset: where it lives, its splits/configs, and its converter."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .problem import Problem


@dataclass(frozen=True)
class ConvertContext:
    split: str
    variant: str  # a dataset-specific selection (MathVerse problem version, geometry3k answer style)
    config: str  # the hub config the record came from ('' when none; the subject for MMMU)
    row: int  # the record's position in its config/split


@dataclass(frozen=True)
class DatasetSpec:
    name: str  # the CLI name
    hub_id: str  # the default --source
    data_source: str  # the data_source written on every row
    default_split: str
    ability: str
    convert: Callable[[dict[str, Any], ConvertContext], Problem]
    record_id: Callable[[dict[str, Any], ConvertContext], str]  # the qid, also for records that are skipped
    role: str  # "train" or "eval" (what the paper uses it for)
    summary: str  # one line for --help
    configs: tuple[str, ...] = ()  # hub configs loaded one by one and concatenated (MMMU's subjects)
    default_config: str | None = None  # the hub config to load when the dataset has several (MathVerse)
    variants: dict[str, str] = field(default_factory=dict)  # name -> description; first is the default
    archives: tuple[str, ...] = ()  # files beside the data holding its images (a hub id is fetched whole)

    @property
    def default_variant(self) -> str:
        return next(iter(self.variants), "")
