"""Per-row seeded sampling for `transformers.generate`, with optional per-token log-probs and top-p set sizes.

`generate(do_sample=True)` draws every row of a batch from one global random stream, so a sample depends on
which other prompts share its batch. `SeededSampler` is a logits processor that instead draws each row from
its own `torch.Generator` and then masks every other token, so `generate` runs greedily (argmax) and simply
takes the drawn token. A sample then depends only on (seed, request id, sample index), never on batching or on
how a resumed run was cut. The same pass records what the generation metrics need at no extra forward cost.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor


from specs_verl.metrics.branching import nucleus_sizes


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
        logprobs: record the log-probability of each drawn token (model distribution, temperature 1).
        branching_top_p: record the smallest-set size reaching this mass (model distribution), or None.
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float, suppress_ids: list[int],
                 device: torch.device | str = "cpu", logprobs: bool = False, branching_top_p: float | None = None):
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        self.temperature = float(temperature)
        self.top_p = float(top_p)
        self.suppress = torch.tensor(sorted(set(suppress_ids)), dtype=torch.long, device=device)
        self.generators = []
        for s in seeds:
            g = torch.Generator(device=device)
            g.manual_seed(s)
            self.generators.append(g)
        self.record_logprobs = logprobs
        self.branching_top_p = branching_top_p
        self.logprobs: list[torch.Tensor] = []  # one [B] tensor per step
        self.set_sizes: list[torch.Tensor] = []

    @torch.no_grad()
    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        scores = scores.float()
        if self.suppress.numel():
            scores.index_fill_(1, self.suppress.to(scores.device), float("-inf"))
        if self.temperature == 0.0:
            tokens = scores.argmax(dim=-1)
        else:
            tokens = self._draw(scores)
        if self.record_logprobs or self.branching_top_p is not None:
            model_logp = torch.log_softmax(scores, dim=-1)
            if self.record_logprobs:
                self.logprobs.append(model_logp.gather(1, tokens[:, None]).squeeze(1).cpu())
            if self.branching_top_p is not None:
                sorted_p = model_logp.exp().sort(dim=-1, descending=True).values
                self.set_sizes.append(top_p_set_size(sorted_p, self.branching_top_p).cpu())
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, tokens[:, None], 0.0)
        return out

    def _draw(self, scores: torch.Tensor) -> torch.Tensor:
        probs = torch.softmax(scores / self.temperature, dim=-1)
        if self.top_p < 1.0:
            sorted_p, order = probs.sort(dim=-1, descending=True)
            keep = top_p_set_size(sorted_p, self.top_p)
            ranks = torch.arange(probs.shape[-1], device=probs.device)[None, :]
            sorted_p = sorted_p.masked_fill(ranks >= keep[:, None], 0.0)
            probs = torch.zeros_like(probs).scatter_(1, order, sorted_p)
        return torch.cat([torch.multinomial(probs[i], 1, generator=g) for i, g in enumerate(self.generators)])

    def per_row(self, row: int, n_tokens: int) -> tuple[list[float] | None, list[int] | None]:
        """The recorded lists for one row, cut to its `n_tokens` generated tokens."""
        lp = [float(step[row]) for step in self.logprobs[:n_tokens]] if self.record_logprobs else None
        bs = [int(step[row]) for step in self.set_sizes[:n_tokens]] if self.branching_top_p is not None else None
        return lp, bs
