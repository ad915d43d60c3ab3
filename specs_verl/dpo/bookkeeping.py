"""The DPO loop's bookkeeping, pure (no torch, no torch.distributed, no verl): which steps validate, save and end
the run; the metrics of a step and of a validation from the numbers the ranks hand back; the preference GF with
its baseline; and what a run keeps beside verl's checkpoint (the GF baseline and the history of logged steps),
written into `dpo_state.json` at every checkpoint, restored on resume and summed up in `dpo_summary.json`.

`trainer.py` does the collectives and the file writes and asks this module what to do and what to log.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

# data_source -> the per-pair metrics of its validation pairs (pair_statistics, one dict per pair)
PairItems = dict[str, list[dict[str, float]]]


@dataclass(frozen=True)
class Schedule:
    """Steps count from 1; step 0 is the validation before training. `trainer.total_training_steps`, when set,
    wins over `trainer.total_epochs` (the data is cycled as needed). A frequency <= 0 turns that event off; the
    last step always validates (when there is validation data) and saves."""

    total_steps: int
    steps_per_epoch: int
    test_freq: int = -1
    save_freq: int = -1

    @classmethod
    def from_trainer_config(cls, total_training_steps: int | None, total_epochs: int, steps_per_epoch: int,
                            test_freq: int, save_freq: int) -> "Schedule":
        total = total_training_steps or steps_per_epoch * total_epochs
        return cls(total_steps=int(total), steps_per_epoch=steps_per_epoch, test_freq=int(test_freq),
                   save_freq=int(save_freq))

    def finished(self, step: int) -> bool:
        """True once `step` (the last one done, e.g. the resume point) reaches the total: nothing left to train."""
        return step >= self.total_steps

    def epoch_of_next_step(self, step: int) -> int:
        """The epoch the step after `step` falls in (a resumed run continues in the epoch it stopped in)."""
        return step // self.steps_per_epoch

    def validates(self, step: int) -> bool:
        return self.finished(step) or (self.test_freq > 0 and step % self.test_freq == 0)

    def saves(self, step: int) -> bool:
        return self.finished(step) or (self.save_freq > 0 and step % self.save_freq == 0)


def step_metrics(stats: Mapping[str, float], raw: Mapping[str, Any], batch_tokens: int, elapsed: float,
                 peak_memory_gb: float) -> dict[str, float]:
    """A training step's metrics: the per-pair means over the global batch (`stats`, `loss_fn.reduce_metric_sums`
    of what verl gathered from every rank, with `pairs` and `tokens`), verl's grad norm, lr and MFU (`raw`), and
    true global throughput: the pairs and tokens of all ranks over the step time."""
    stats = dict(stats)
    stats.pop("tokens")  # response tokens; throughput counts every processed token
    pairs = stats.pop("pairs")
    metrics = {f"train/{k}": v for k, v in stats.items()}
    metrics.update({
        "train/grad_norm": float(raw.get("grad_norm", math.nan)),
        "train/lr": float(raw["lr"]) if raw.get("lr") is not None else math.nan,
        "perf/pairs": pairs, "perf/tokens": float(batch_tokens),
        "perf/tokens_per_s": batch_tokens / elapsed, "perf/pairs_per_s": pairs / elapsed,
        "perf/step_time_s": elapsed, "perf/peak_memory_gb": peak_memory_gb,
    })
    if raw.get("mfu") is not None:
        metrics["perf/mfu"] = float(raw["mfu"])
    return metrics


def merge_ranks(per_rank: Sequence[PairItems]) -> PairItems:
    """Every rank's validation pairs, by data_source (each pair is on exactly one rank; padding already dropped)."""
    merged: PairItems = defaultdict(list)
    for part in per_rank:
        for source, items in part.items():
            merged[source].extend(items)
    return dict(merged)


def validation_means(merged: PairItems) -> dict[str, float]:
    """Per-pair means, over every validation pair (`val/<name>`) and per data_source (`val/<source>/<name>`)."""
    everything = [item for items in merged.values() for item in items]
    if not everything:
        return {}
    metrics = {}
    for scope, items in [("val", everything)] + [(f"val/{s}", merged[s]) for s in sorted(merged)]:
        for name in everything[0]:
            metrics[f"{scope}/{name}"] = sum(i[name] for i in items) / len(items)
    return metrics


def source_accuracies(merged: PairItems) -> dict[str, float]:
    """data_source -> pair accuracy (the fraction of its pairs whose chosen implicit reward wins)."""
    return {s: sum(i["rewards/accuracies"] for i in items) / len(items) for s, items in merged.items()}


def preference_gf_metrics(accuracies: Mapping[str, float], id_sources: Sequence[str], ood_sources: Sequence[str],
                          baseline: Mapping[str, float] | None, beta: float) -> dict[str, float]:
    """`val/gf/*`: GF from the pair accuracy of each set (cheap, no generation), configured by `dpo.gf.*`; {}
    when either source list is empty. The baseline is the validation before training, or 0 for every set (the
    policy starts as the reference: no pair is won)."""
    if not id_sources or not ood_sources:
        return {}
    from specs_verl.metrics import preference_gf

    result = preference_gf(accuracies, id_sources, ood_sources, baseline=baseline or 0.0, beta=float(beta))
    return result.to_metrics("val/gf")


@dataclass
class RunRecord:
    """What a run keeps beside verl's checkpoint: the GF baseline (per-source pair accuracy of the validation
    before training) and every logged step's metrics."""

    gf_baseline: dict[str, float] | None = None
    history: list[dict] = field(default_factory=list)

    def log(self, step: int, metrics: Mapping[str, float]) -> None:
        self.history.append({"step": step, **metrics})

    def validation_metrics(self, merged: PairItems, id_sources: Sequence[str], ood_sources: Sequence[str],
                           beta: float, before_training: bool = False) -> dict[str, float]:
        """A validation's metrics: the per-pair means and, when `dpo.gf.*` names both sets, the preference GF.
        The validation before training records its per-source accuracies as GF's baseline."""
        metrics = validation_means(merged)
        if not id_sources or not ood_sources:
            return metrics
        accuracies = source_accuracies(merged)
        if before_training:
            self.gf_baseline = accuracies
        return {**metrics, **preference_gf_metrics(accuracies, id_sources, ood_sources, self.gf_baseline, beta)}

    def state(self, step: int, losses: Any) -> dict:
        """The `dpo_state.json` payload saved beside the checkpoint of `step`."""
        return {"step": step, "losses": losses, "gf_baseline": self.gf_baseline, "history": self.history}

    @classmethod
    def resumed(cls, state: Mapping[str, Any], start_step: int) -> "RunRecord":
        """The record of a run resumed at `start_step` from that checkpoint's `dpo_state.json`: steps logged
        after it (a run killed between checkpoints) are dropped, they will be trained and logged again."""
        return cls(gf_baseline=state.get("gf_baseline"),
                   history=[h for h in state.get("history", []) if h["step"] <= start_step])

    def summary(self, final_step: int, huggingface: str) -> dict:
        """The `dpo_summary.json` payload."""
        return {"final_step": final_step, "huggingface": huggingface, "gf_baseline": self.gf_baseline,
                "history": self.history}

    def final_metrics(self) -> dict[str, float]:
        """The last logged step's rewards, losses and validation metrics, rounded for the closing line."""
        last = self.history[-1] if self.history else {}
        return {k: round(v, 4) for k, v in last.items() if k.startswith(("train/rewards", "train/loss", "val/"))}
