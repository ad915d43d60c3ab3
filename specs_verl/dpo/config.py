"""The typed `dpo:` and `data:` settings of the DPO trainer: one field per key, its help, its default, its checks.

`dpo:` is built through verl's `_target_` convention (`omega_conf_to_dataclass(config.dpo)`), so a typo in a
choice or a value out of range stops the run at start with the option's name, before any model is loaded.
`data:` shares its section with verl's SFT keys (messages_key, ...) that this trainer does not read: only the
fields below are taken from it. `python -m specs_verl.dpo --help` prints this file's help texts (`help_text`).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Optional, Union

from verl.base_config import BaseConfig

from .losses import LOSSES

def _help(text: str, **kw) -> Any:
    return field(metadata={"help": text}, **kw)


def check_choices(obj, section: str) -> None:
    """Every `Literal[...]` field of a dataclass holds one of its choices; the message names `section.field`."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        choices = typing.get_args(hints[f.name]) if typing.get_origin(hints[f.name]) is Literal else None
        if choices and getattr(obj, f.name) not in choices:
            raise ValueError(f"{section}.{f.name}={getattr(obj, f.name)!r} is not a valid choice; choose one of "
                             + ", ".join(map(str, choices)))


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


@dataclass
class PreferenceGFConfig(BaseConfig):
    """dpo.gf: the preference GF logged at validation (cheap, no generation)."""

    id_sources: list = _help("data_source values of the in-distribution validation pairs", default_factory=list)
    ood_sources: list = _help("data_source values of the out-of-distribution validation pairs",
                              default_factory=list)
    beta: float = _help("F-beta weight of the OOD gain over the ID gain (the paper: 2)", default=2.0)

    def __post_init__(self):
        object.__setattr__(self, "id_sources", list(self.id_sources or []))  # BaseConfig fields are frozen
        object.__setattr__(self, "ood_sources", list(self.ood_sources or []))
        _require(self.beta > 0, f"dpo.gf.beta={self.beta} must be > 0")


@dataclass
class DPOConfig(BaseConfig):
    """dpo: the preference loss and the reference model (defaults: SPECS stage 2, arXiv 2510.25801)."""

    loss: Union[str, list] = _help(
        "one loss name or a list of them: " + ", ".join(LOSSES) + " (TRL's definitions; sigmoid is DPO)",
        default="sigmoid")
    loss_weights: Optional[list] = _help(
        "weights for a list of losses, e.g. MPO: [sigmoid, bco_pair, sft] with [0.8, 0.2, 1.0]; null: all 1.0",
        default=None)
    beta: float = _help("DPO temperature beta (> 0); the paper does not report it, 0.1 is the common default",
                        default=0.1)
    label_smoothing: float = _help(
        "label-flip rate eps of conservative DPO (sigmoid) and robust DPO, in [0, 0.5]; robust needs eps < 0.5",
        default=0.0)
    sft_weight: float = _help(
        "lambda, the weight of the SFT term (token-mean NLL of the chosen response); the paper: 1.0; 0: plain DPO",
        default=1.0)
    reference: Literal["cached", "live"] = _help(
        "cached: one reference forward pass before step 1, kept on disk and reused by a rerun or a resume; "
        "live: a second, frozen model scores every batch", default="cached")
    ref_model_path: Optional[str] = _help("the reference model when it is not the initial policy (null: model.path)",
                                          default=None)
    ref_cache_dir: Optional[str] = _help("where the reference cache lives (null: <trainer.default_local_dir>/ref_logps)",
                                         default=None)
    pair_packing: Literal["auto", "shared", "separate"] = _help(
        "shared: each pair is one sequence [prompt | chosen | rejected] (rejected attends to the prompt and "
        "itself only), so the prompt and its image are computed once per pair; separate: two sequences per pair; "
        "auto: shared where supported (Qwen2-VL / Qwen2.5-VL with model.use_remove_padding=False and no sequence "
        "parallelism; the CPU settings), separate elsewhere; shared where unsupported stops with the reason",
        default="auto")
    forward_micro_batch_size_per_gpu: Optional[int] = _help(
        "pairs per micro-batch of the forward-only passes (reference log-probs, validation); null: 4 x "
        "data.micro_batch_size_per_gpu (no activations are kept for a backward)", default=None)
    on_bad_pair: Literal["error", "skip"] = _help(
        "error: stop at the first bad pair naming file, row and reason; skip: leave it out and count it in "
        "bad_pairs.json", default="error")
    gf: PreferenceGFConfig = _help("preference GF at validation (rewards/accuracies gains on ID vs OOD sets)",
                                   default_factory=PreferenceGFConfig)

    def __post_init__(self):
        check_choices(self, "dpo")
        names = [self.loss] if isinstance(self.loss, str) else list(self.loss)
        unknown = [n for n in names if n not in LOSSES]
        _require(names and not unknown, f"dpo.loss={self.loss!r}: unknown {unknown or 'empty list'}; "
                                        f"choose from {', '.join(LOSSES)}")
        _require(self.loss_weights is None or len(self.loss_weights) == len(names),
                 f"dpo.loss_weights has {len(self.loss_weights or [])} values for {len(names)} losses {names}")
        _require(self.beta > 0, f"dpo.beta={self.beta} must be > 0")
        _require(self.sft_weight >= 0, f"dpo.sft_weight={self.sft_weight} must be >= 0")
        _require(0 <= self.label_smoothing <= 0.5, f"dpo.label_smoothing={self.label_smoothing} must be in [0, 0.5]")
        _require(not ("robust" in names and self.label_smoothing >= 0.5),
                 f"dpo.label_smoothing={self.label_smoothing} with dpo.loss robust divides by 1 - 2 * eps = 0; "
                 "robust needs dpo.label_smoothing < 0.5")
        _require(self.forward_micro_batch_size_per_gpu is None or self.forward_micro_batch_size_per_gpu > 0,
                 f"dpo.forward_micro_batch_size_per_gpu={self.forward_micro_batch_size_per_gpu} must be > 0")
        if isinstance(self.gf, dict):
            object.__setattr__(self, "gf", PreferenceGFConfig(**{k: v for k, v in self.gf.items() if k != "_target_"}))


@dataclass
class DPODataConfig:
    """data: the keys of verl's data section this trainer reads (the others belong to verl's SFT dataset)."""

    train_files: Any = _help("preference parquet file(s): prompt, images, chosen, rejected [, data_source, "
                             "pair_id, extra_info]; required", default=None)
    val_files: Any = _help("held-out pairs; validation reports every metric overall and per data_source "
                           "(null: no validation)", default=None)
    train_batch_size: int = _help("global batch in PAIRS (each pair is two sequences); divisible by "
                                  "data-parallel size x micro_batch_size_per_gpu", default=64)
    micro_batch_size_per_gpu: int = _help("pairs per micro-batch per GPU, also in the reference pass and "
                                          "validation (a pair's two sequences always share one)", default=1)
    max_token_len_per_gpu: int = _help("token budget of a micro-batch when use_dynamic_bsz=True (must hold a "
                                       "whole pair)", default=32768)
    use_dynamic_bsz: bool = _help("pack training micro-batches by tokens instead of a fixed pair count",
                                  default=False)
    max_length: int = _help("prompt + response tokens per sequence, image tokens included; a longer pair is "
                            "refused (or skipped), never truncated", default=16384)
    num_workers: int = _help("dataloader worker processes", default=0)
    max_pixels: Optional[int] = _help("the image processor's max_pixels (images larger are resized down, so "
                                      "fewer image tokens); null: the processor's own setting", default=None)

    def __post_init__(self):
        _require(bool(self.train_files), "data.train_files is required: the preference parquet file(s)")
        for name in ("train_batch_size", "micro_batch_size_per_gpu", "max_token_len_per_gpu", "max_length"):
            _require(int(getattr(self, name)) > 0, f"data.{name}={getattr(self, name)} must be > 0")
        _require(int(self.num_workers) >= 0, f"data.num_workers={self.num_workers} must be >= 0")
        _require(self.max_pixels is None or int(self.max_pixels) > 0, f"data.max_pixels={self.max_pixels} must be > 0")

    @classmethod
    def from_section(cls, section) -> "DPODataConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: section[k] for k in names if k in section})


def load_settings(config) -> tuple[DPOConfig, DPODataConfig]:
    """The checked `dpo` and `data` settings of a composed config; a bad value raises ValueError naming it."""
    from hydra.errors import InstantiationException
    from verl.utils.config import omega_conf_to_dataclass

    try:
        dpo = omega_conf_to_dataclass(config.dpo)
    except InstantiationException as e:  # hydra wraps our ValueError: keep only its message
        cause = e.__cause__ or e
        raise ValueError(str(cause)) from None
    return dpo, DPODataConfig.from_section(config.data)


def _field_lines(cls, prefix: str, defaults) -> list[str]:
    import textwrap

    lines = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        key = f"{prefix}.{f.name}"
        if dataclasses.is_dataclass(hints[f.name]):
            lines += _field_lines(hints[f.name], key, defaults)
            continue
        default = defaults(key)
        choices = typing.get_args(hints[f.name]) if typing.get_origin(hints[f.name]) is Literal else ()
        shown = "null" if default is None else default
        extra = f"; one of {', '.join(choices)}" if choices else ""
        lines.append(f"  {key}  (default: {shown}{extra})")
        lines += textwrap.wrap(f.metadata["help"], width=110, initial_indent=" " * 6, subsequent_indent=" " * 6)
    return lines


def help_text(defaults) -> str:
    """Every dpo.* and data.* key this trainer reads, with its help and its default (`defaults(key)`: the
    value in the composed config)."""
    return "\n".join([
        "dpo.* (the preference loss and the reference):", *_field_lines(DPOConfig, "dpo", defaults), "",
        "data.* (the keys this trainer reads):", *_field_lines(DPODataConfig, "data", defaults), "",
        "model.*:",
        f"  model.path  (default: {defaults('model.path')})",
        "      the base model; also the reference unless dpo.ref_model_path is set",
        f"  model.freeze_vision_tower  (default: {defaults('model.freeze_vision_tower')})",
        "      train the language model only: the vision tower and its projector (merger) get no gradient and no",
        "      optimizer state (LLaMA-Factory's default, which the paper's authors used)",
    ])
