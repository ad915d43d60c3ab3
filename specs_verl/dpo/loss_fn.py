"""The adapter between verl's engine and the pure losses: per-micro-batch log-probs in, loss and sums out.

verl calls `loss_fn(model_output, data, dp_group)` once per micro-batch, with `model_output["log_probs"]` a
jagged tensor (one row per sequence; position t scores token t + 1). Separate layout: rows [chosen_0,
rejected_0, chosen_1, ...] with `force_group_size=2`, so every micro-batch holds whole pairs; shared layout: one
row per pair with a `branch` tensor (packing.py). `pair_sums` turns either into (pairs, 2) [chosen, rejected].
The returned loss is normalised by the number of pairs in the global batch (times the data-parallel size,
which FSDP's gradient averaging divides back out), so the gradient is the mean over all pairs whatever the
micro-batching. Metrics are returned as sums with a pair count, so the trainer can form exact per-pair means.
"""

from __future__ import annotations

import torch

from .losses import LossOptions, PairLogps, combined_loss


def sequence_logps(log_probs: torch.Tensor, loss_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed log-probs of the masked (response) tokens of each row of a jagged batch, and their counts."""
    values = log_probs.values().float()
    # log_probs[t] scores token t + 1, so the mask moves one step left to select the response tokens' scores.
    mask = torch.roll(loss_mask.values(), shifts=-1, dims=0).to(values.dtype)
    lengths = loss_mask.offsets().diff()
    rows = torch.repeat_interleave(torch.arange(len(lengths), device=values.device), lengths.to(values.device))
    sums = torch.zeros(len(lengths), dtype=values.dtype, device=values.device).index_add_(0, rows, values * mask)
    counts = torch.zeros(len(lengths), dtype=values.dtype, device=values.device).index_add_(0, rows, mask)
    return sums, counts


def branch_logps(log_probs: torch.Tensor, branch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shared layout: (rows, 2) summed log-probs of the chosen (branch 1) and rejected (branch 2) tokens of each
    row, and their counts. The copy of the last prompt token (branch 0) scores the first rejected token."""
    from .packing import CHOSEN, REJECTED

    values = log_probs.values().float()
    scored = torch.roll(branch.values(), shifts=-1, dims=0).to(values.device)  # log_probs[t] scores token t + 1
    lengths = branch.offsets().diff()
    rows = torch.repeat_interleave(torch.arange(len(lengths), device=values.device), lengths.to(values.device))
    sums, counts = [], []
    for side in (CHOSEN, REJECTED):
        mask = (scored == side).to(values.dtype)
        sums.append(torch.zeros(len(lengths), dtype=values.dtype, device=values.device).index_add_(
            0, rows, values * mask))
        counts.append(torch.zeros(len(lengths), dtype=values.dtype, device=values.device).index_add_(0, rows, mask))
    return torch.stack(sums, 1), torch.stack(counts, 1)


def pair_sums(log_probs: torch.Tensor, data) -> tuple[torch.Tensor, torch.Tensor]:
    """(pairs, 2) summed response log-probs [chosen, rejected] and token counts, in either layout."""
    if "branch" in data.keys():
        return branch_logps(log_probs, data["branch"])
    sums, counts = sequence_logps(log_probs, data["loss_mask"])
    return sums.view(-1, 2), counts.view(-1, 2)


def pair_logps(logps: torch.Tensor, tokens: torch.Tensor, ref_logps: torch.Tensor) -> PairLogps:
    """(pairs, 2) policy log-probs, token counts and reference log-probs (any shape holding [c, r] per pair)."""
    ref = ref_logps.reshape(-1, 2).to(logps)
    return PairLogps(
        policy_chosen=logps[:, 0], policy_rejected=logps[:, 1], ref_chosen=ref[:, 0], ref_rejected=ref[:, 1],
        chosen_tokens=tokens[:, 0], rejected_tokens=tokens[:, 1],
    )


def pair_statistics(p: PairLogps, beta: float) -> dict[str, torch.Tensor]:
    """Per-pair values of the metrics users know from TRL (rewards = beta * log-ratio, summed over tokens)."""
    chosen_reward = beta * p.chosen_logratio
    rejected_reward = beta * p.rejected_logratio
    return {
        "rewards/chosen": chosen_reward,
        "rewards/rejected": rejected_reward,
        "rewards/accuracies": (chosen_reward > rejected_reward).float(),
        "rewards/margins": chosen_reward - rejected_reward,
        "logps/chosen": p.policy_chosen,
        "logps/rejected": p.policy_rejected,
        "nll_loss": -p.policy_chosen / p.chosen_tokens.clamp(min=1),
    }


class DPOLossFn:
    """verl's loss function for preference pairs: stateless (every loss is a pure function of the batch)."""

    def __init__(self, terms: list[tuple[str, float]], options: LossOptions):
        self.terms = terms
        self.options = options

    def __call__(self, model_output, data, dp_group=None):
        from verl.utils import tensordict_utils as tu

        seq_logps, seq_tokens = pair_sums(model_output["log_probs"], data)
        ref, from_policy = reference_or_policy(seq_logps, data)
        pairs = pair_logps(seq_logps, seq_tokens, ref)
        total, parts = combined_loss(pairs, self.options, self.terms)
        global_pairs = tu.get_non_tensor_data(data=data, key="global_pairs", default=None)
        dp_size = tu.get_non_tensor_data(data=data, key="dp_size", default=1)
        if global_pairs is None:  # forward-only evaluation: a plain mean
            loss = total.mean()
        else:
            loss = total.sum() / global_pairs * dp_size

        with torch.no_grad():
            stats = pair_statistics(pairs, self.options.beta)
            metrics = {"dpo/pairs": float(len(total)), "dpo/sum/loss": total.sum().item(),
                       "dpo/sum/tokens": float(seq_tokens.sum().item())}
            for name, values in {**stats, **{f"loss/{k}": v for k, v in parts.items()}}.items():
                metrics[f"dpo/sum/{name}"] = values.sum().item()
            if from_policy is not None:
                metrics[REF_FROM_POLICY] = from_policy
        return loss, metrics


REF_FROM_POLICY = "dpo/ref_from_policy"  # [pair index, chosen, rejected] of the pairs scored as their own reference


def reference_or_policy(seq_logps: torch.Tensor, data) -> tuple[torch.Tensor, list | None]:
    """(pairs, 2) reference log-probs of a micro-batch. Pairs marked `ref_from_policy` (the first batch of a run
    whose reference is the initial policy, trained before any update) take the policy's own log-probs, detached:
    the same forward would be the reference pass's. Also returns [pair index, chosen, rejected] for those pairs,
    for the reference cache."""
    from .data import pair_rows

    ref = data["ref_logps"].reshape(-1, 2).to(seq_logps)
    if "ref_from_policy" not in data.keys():
        return ref, None
    rows = pair_rows(data)
    use = data["ref_from_policy"][rows].bool().to(seq_logps.device)
    ref = torch.where(use[:, None], seq_logps.detach(), ref)
    index = data["pair_index"][rows]
    return ref, [[float(index[k]), *map(float, seq_logps[k].detach().tolist())] for k in torch.nonzero(use)[:, 0]]


def reduce_metric_sums(metrics: dict) -> dict[str, float]:
    """verl hands back each metric as (nested) lists over micro-batches and ranks: add them up, then divide
    every `dpo/sum/<name>` by the pair count to get exact per-pair means named `<name>`."""

    def total(v) -> float:
        if isinstance(v, (list, tuple)):
            return sum(total(x) for x in v)
        return float(v.item() if hasattr(v, "item") else v)

    pairs = total(metrics.get("dpo/pairs", 0.0))
    out = {"pairs": pairs}
    for key, value in metrics.items():
        if key.startswith("dpo/sum/"):
            name = key[len("dpo/sum/"):]
            out[name] = total(value) if name == "tokens" else total(value) / max(pairs, 1.0)
    return out
