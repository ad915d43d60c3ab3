"""verl's FSDP language-model engine, computing log-probs only where the DPO loss reads them.

The DPO loss sums the log-probs of response tokens (`loss_mask`); verl's engine computes the LM head and a
log-softmax over the vocabulary at every position, prompt included, and on a machine without flash-attn's
cross-entropy it takes the log-softmax one token at a time (`logprobs_from_logits_v2`: a Python loop and an
autograd node per token). With image prompts most positions are prompt (about 70 % of a shared pair row here,
more at real image sizes), so most of that work, and most of the (tokens, vocab) logits tensor, is thrown away.

`ResponseLogProbEngine` keeps verl's engine as it is and changes two steps: a forward pre-hook on the LM head hands
it the hidden states of the scored positions only (a position t is scored when token t + 1 is in `loss_mask`),
and the log-probs of those positions are taken in one vectorised pass. `log_probs` keeps verl's jagged layout
(position t scores token t + 1), with 0 at the positions nobody reads, so the loss code does not change. Anything
this does not cover (fused kernels, entropy, distillation, temperature, sequence parallelism, a packed-length pad)
runs verl's own path unchanged. On one process the optimizer step also clips the gradients on their local tensors
(`clip_local_grads`). It is registered in verl's EngineRegistry as `MODEL_TYPE`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MODEL_TYPE = "dpo_language_model"
LOGSUMEXP_ROWS = 2048  # rows per log-sum-exp call: bounds the (rows, vocab) temporary on big vocabularies


@dataclass(frozen=True)
class ScoredRows:
    """The positions whose log-probs the loss reads: `flat` in the jagged (all rows concatenated) layout, `hidden`
    in the flattened layout of the model's hidden states, and the token each one scores."""

    flat: torch.Tensor
    hidden: torch.Tensor
    labels: torch.Tensor
    total: int


def scored_rows(loss_mask: torch.Tensor, rolled_ids: torch.Tensor, padded_width: int | None) -> ScoredRows:
    """`loss_mask` jagged (rows, j); `rolled_ids` the next token at every jagged position; `padded_width`: the
    model ran on (rows, padded_width) padded rows, or None for one packed row of all tokens (no padding)."""
    offsets = loss_mask.offsets().to(rolled_ids.device)
    values = loss_mask.values().to(rolled_ids.device).bool()
    nxt = torch.zeros_like(values)
    nxt[:-1] = values[1:]  # position t is scored when token t + 1 is a response token ...
    nxt[offsets[1:] - 1] = False  # ... of the same row: a row's last position scores nothing
    flat = torch.nonzero(nxt, as_tuple=False).squeeze(1)
    if padded_width is None:
        hidden = flat
    else:
        row = torch.searchsorted(offsets, flat, right=True) - 1
        hidden = row * padded_width + (flat - offsets[row])
    return ScoredRows(flat=flat, hidden=hidden, labels=rolled_ids[flat], total=int(values.numel()))


def token_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(K, V) logits, (K,) labels -> (K,) log-probs of the labels, vectorised (a few calls, not one per token)."""
    from verl.utils.torch_functional import FLAH_ATTN_CROSS_ENTROPY_LOSS_AVAILABLE, logprobs_from_logits

    if FLAH_ATTN_CROSS_ENTROPY_LOSS_AVAILABLE:  # flash-attn's fused cross-entropy, as verl uses it
        return logprobs_from_logits(logits, labels)
    logits = logits.float()
    picked = logits.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
    norm = torch.cat([torch.logsumexp(chunk, dim=-1) for chunk in logits.split(LOGSUMEXP_ROWS)]) if len(logits) \
        else logits.new_zeros(0)
    return picked - norm


class LMHeadRows:
    """A forward pre-hook for the LM head: while `index` is set, the head sees only those rows of the flattened
    hidden states, so the logits are (len(index), vocab)."""

    def __init__(self):
        self.index: torch.Tensor | None = None

    def __call__(self, module, args):
        if self.index is None:
            return None
        hidden = args[0]
        return (hidden.reshape(-1, hidden.shape[-1]).index_select(0, self.index.to(hidden.device)), *args[1:])


def plan_rows(micro_batch, model_inputs: dict, output_args: dict, sequence_parallel: bool) -> ScoredRows | None:
    """The scored rows of a micro-batch after verl's `prepare_model_inputs`, or None where verl's own path must
    run (fused kernels, entropy, distillation, a temperature, sequence parallelism, a packed-length pad)."""
    from verl.utils import tensordict_utils as tu

    def flag(key, default=False):
        return tu.get_non_tensor_data(data=micro_batch, key=key, default=default)

    if ("loss_mask" not in micro_batch.keys() or not output_args.get("temperature_is_one", False)
            or sequence_parallel or output_args.get("pad_size", 0)
            or any(flag(k) for k in ("use_fused_kernels", "calculate_entropy", "calculate_sum_pi_squared",
                                     "distillation_use_topk", "distillation_only"))):
        return None
    packed = flag("use_remove_padding", True)  # one row of all tokens; else (rows, width) padded rows
    return scored_rows(micro_batch["loss_mask"], output_args["input_ids_rmpad_rolled"],
                       None if packed else int(model_inputs["input_ids"].shape[1]))


def response_log_probs(logits: torch.Tensor, rows: ScoredRows, offsets: torch.Tensor) -> torch.Tensor:
    """The scored rows' logits -> jagged log-probs in verl's layout, 0 where nothing is scored."""
    from torch.distributed.tensor import DTensor

    if isinstance(logits, DTensor):
        logits = logits.full_tensor()
    values = token_log_probs(logits.reshape(-1, logits.shape[-1]), rows.labels)
    full = values.new_zeros(rows.total).index_copy(0, rows.flat, values)
    return torch.nested.nested_tensor_from_jagged(full, offsets)


def clip_local_grads(parameters, max_norm: float) -> torch.Tensor:
    """torch's clip_grad_norm_ on the local tensors of (DTensor) gradients; the total norm before clipping."""
    from torch.distributed.tensor import DTensor
    from torch.nn.utils import get_total_norm

    local = [p.grad._local_tensor if isinstance(p.grad, DTensor) else p.grad for p in parameters
             if p.grad is not None]
    total = get_total_norm(local)
    torch._foreach_mul_(local, torch.clamp(max_norm / (total + 1e-6), max=1.0))  # torch's clip_grad_norm_ rule
    return total


def engine_class():
    """The engine class, registered in verl's EngineRegistry as MODEL_TYPE on first use (importing verl then)."""
    from verl.workers.engine import EngineRegistry
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    if MODEL_TYPE in EngineRegistry._engines:
        return EngineRegistry.get_engine_cls(MODEL_TYPE, "fsdp2")

    @EngineRegistry.register(model_type=MODEL_TYPE, backend=["fsdp", "fsdp2"], device=["cuda", "npu"])
    class ResponseLogProbEngine(FSDPEngineWithLMHead):
        """verl's FSDPEngineWithLMHead with the LM head and the log-softmax on the scored positions only."""

        def _build_module(self):
            self.model_config.model_type = "language_model"  # verl picks the causal-LM auto class by this name
            return super()._build_module()

        def initialize(self):
            super().initialize()
            self.lm_head_rows = LMHeadRows()
            self.module.get_output_embeddings().register_forward_pre_hook(self.lm_head_rows)

        def prepare_model_inputs(self, micro_batch):
            model_inputs, output_args = super().prepare_model_inputs(micro_batch)
            rows = plan_rows(micro_batch, model_inputs, output_args, self.use_ulysses_sp)
            if rows is not None:
                output_args["scored_rows"] = rows
                self.lm_head_rows.index = rows.hidden  # read by the LM head's hook in the forward that follows
            return model_inputs, output_args

        def prepare_model_outputs(self, output, output_args, micro_batch, logits_processor_func):
            self.lm_head_rows.index = None
            rows = output_args.get("scored_rows")
            if rows is None:
                return super().prepare_model_outputs(output, output_args, micro_batch, logits_processor_func)
            return {"log_probs": response_log_probs(output.logits, rows, micro_batch["input_ids"].offsets())}

        def optimizer_step(self):
            """On one process every gradient DTensor holds its whole tensor: clip on the local tensors (the same
            norm, without DTensor's dispatch, whose first foreach call spends ~0.15 s on sharding propagation)."""
            if (torch.distributed.get_world_size() > 1 or getattr(self, "scaler", None) is not None
                    or self._qat_enabled):
                return super().optimizer_step()
            grad_norm = clip_local_grads(self.module.parameters(), self.optimizer_config.clip_grad)
            if not torch.isfinite(grad_norm):
                print(f"WARN: grad_norm is not finite: {grad_norm}")
                self.optimizer.zero_grad()
            else:
                self.optimizer.step()
            return grad_norm.item()

        def forward_step(self, micro_batch, loss_function, forward_only):
            try:
                return super().forward_step(micro_batch, loss_function, forward_only)
            finally:  # a forward that raised must not leave the selection on the LM head
                self.lm_head_rows.index = None

    return ResponseLogProbEngine
