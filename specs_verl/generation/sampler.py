"""The sampling step of the HF model core: per-row seeded draws inside `transformers.generate`.

`generate(do_sample=True)` draws every row of a batch from one global random stream, so a sample depends on
which other prompts share its batch. `SeededSampler` is a logits processor that instead draws each row from
its own `torch.Generator` and then masks every other token, so `generate` runs greedily (argmax) and simply
takes the drawn token. A sample then depends only on its seed, never on batching, on how a resumed run was
cut or on how many replicas share the work. The same pass records what callers need at no extra forward cost.

Two kinds of log-probs, named by the temperature they are at (`logprobs=`):
- `TEMPERATURE_1`: log-softmax of the logits the sampler may draw from (banned ids removed), at temperature 1:
  the model's own distribution, vLLM's "raw" log-probs. The offline `hf` backend's `Sample.logprobs`.
- `SAMPLING_TEMPERATURE`: log-softmax of the raw logits over the whole vocabulary divided by the sampling
  temperature (1 for greedy): what verl's actor recomputes. The `hf` rollout's `TokenOutput.log_probs`.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from specs_verl.metrics.branching import nucleus_sizes
from specs_verl.rollout.sampling import LOGPROB_KINDS, SAMPLING_TEMPERATURE, TEMPERATURE_1

__all__ = ["LOGPROB_KINDS", "SAMPLING_TEMPERATURE", "TEMPERATURE_1", "SeededSampler", "top_p_set_size"]


def top_p_set_size(sorted_probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """Size of the smallest set of most likely tokens whose mass reaches `top_p` ([B, V] sorted desc -> [B]);
    the metric's rule (`metrics.branching.nucleus_sizes`), at least 1."""
    return nucleus_sizes(sorted_probs, top_p).clamp(min=1)


class SeededSampler(LogitsProcessor):
    """Draws one token per row from its own generator; returns scores that make argmax pick it.

    Args:
        seeds: one seed per batch row.
        temperature: 0 means greedy.
        top_p: nucleus truncation of the temperature-scaled distribution (1.0 = none).
        suppress_ids: token ids never sampled (vision placeholders, ids past the tokenizer's vocabulary).
        top_k: keep only the k most likely tokens before top-p (0 = no filter).
        repetition_penalty: transformers' repetition penalty (1.0 = none), applied before the bans.
        logprobs: record the log-prob of each drawn token: None, `TEMPERATURE_1` or `SAMPLING_TEMPERATURE`.
        branching_top_p: record the smallest-set size reaching this mass (temperature 1, bans applied), or None.
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float, suppress_ids: list[int],
                 device: torch.device | str = "cpu", *, top_k: int = 0, repetition_penalty: float = 1.0,
                 logprobs: str | None = None, branching_top_p: float | None = None):
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if logprobs not in (None, *LOGPROB_KINDS):
            raise ValueError(f"logprobs={logprobs!r}: use None or one of {', '.join(LOGPROB_KINDS)}")
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.top_k = int(top_k)
        self.penalty = None
        if repetition_penalty != 1.0:
            from transformers import RepetitionPenaltyLogitsProcessor

            self.penalty = RepetitionPenaltyLogitsProcessor(repetition_penalty)
        self.suppress = torch.tensor(sorted(set(suppress_ids)), dtype=torch.long, device=device)
        self.generators = []
        for s in seeds:
            g = torch.Generator(device=device)
            g.manual_seed(s)
            self.generators.append(g)
        self.logprob_kind = logprobs
        # the temperature the recorded log-probs are at
        self.logprob_temperature = 1.0 if logprobs == TEMPERATURE_1 or self.temperature == 0 else self.temperature
        self.branching_top_p = branching_top_p
        self.logprobs: list[torch.Tensor] = []  # one [B] tensor per step
        self.set_sizes: list[torch.Tensor] = []

    @torch.no_grad()
    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        raw = scores.float()
        scores = raw if self.penalty is None else self.penalty(input_ids, raw.clone())
        if self.suppress.numel():
            scores = scores.index_fill(1, self.suppress.to(scores.device), float("-inf"))
        tokens = scores.argmax(dim=-1) if self.temperature == 0.0 else self._draw(scores)
        if self.logprob_kind == SAMPLING_TEMPERATURE:
            logp = torch.log_softmax(raw / self.logprob_temperature, dim=-1)
            self.logprobs.append(logp.gather(1, tokens[:, None]).squeeze(1).cpu())
        if self.logprob_kind == TEMPERATURE_1 or self.branching_top_p is not None:
            model_logp = torch.log_softmax(scores, dim=-1)
            if self.logprob_kind == TEMPERATURE_1:
                self.logprobs.append(model_logp.gather(1, tokens[:, None]).squeeze(1).cpu())
            if self.branching_top_p is not None:
                sorted_p = model_logp.exp().sort(dim=-1, descending=True).values
                self.set_sizes.append(top_p_set_size(sorted_p, self.branching_top_p).cpu())
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, tokens[:, None], 0.0)
        return out

    def _draw(self, scores: torch.Tensor) -> torch.Tensor:
        logits = scores / self.temperature
        if 0 < self.top_k < logits.shape[-1]:  # transformers' order: temperature, top-k, top-p
            kth = logits.topk(self.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        if self.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            keep = top_p_set_size(sorted_p, self.top_p)
            ranks = torch.arange(probs.shape[-1], device=probs.device)[None, :]
            sorted_p = sorted_p.masked_fill(ranks >= keep[:, None], 0.0)
            probs = torch.zeros_like(probs).scatter_(1, order, sorted_p)
        return torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(self.generators)])

    def per_row(self, row: int, n_tokens: int) -> tuple[list[float] | None, list[int] | None]:
        """The recorded lists for one row, cut to its `n_tokens` generated tokens."""
        lp = [float(step[row]) for step in self.logprobs[:n_tokens]] if self.logprob_kind else None
        bs = [int(step[row]) for step in self.set_sizes[:n_tokens]] if self.branching_top_p is not None else None
        return lp, bs
