"""verl's per-request sampling parameters, read once into a checked, immutable spec. Pure Python.

verl's agent loop sends every request a dict such as `{"temperature": 1.0, "top_p": 1.0, "top_k": -1,
"repetition_penalty": 1.0, "logprobs": True}` (vLLM's names and conventions). This module turns it into a
`SamplingSpec` with the same meaning it has for vLLM:
- `temperature == 0` means greedy decoding;
- `top_k <= 0` (verl sends -1) and `top_p == 1` switch those filters off;
- `max_tokens` (or sglang's `max_new_tokens`) is capped by the room left in `prompt_length + response_length`
  and by `response_length`, exactly as verl's vLLM server does, and is at least 1;
- `n` samples per request (verl itself always sends one request per sample and `n` absent);
- `logprobs` truthy: return the log-probability of every generated token;
- `ignore_eos`: keep generating after an end-of-sequence token, up to `max_tokens`;
- `seed`: make this request's samples reproducible (each sample draws from its own generator seeded from it);
- `branching_top_p` (this project's key, not vLLM's): also return, per generated token, the size of the smallest
  token set holding that mass of the model's distribution (the rollout branching factor).
Keys that have no meaning here are collected in `ignored` so the caller can say so once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

# Keys a vLLM/sglang request may carry that change nothing for a transformers sampler run on one process.
# The temperature returned log-probs are at (`SamplingSpec.logprobs_at`; computed in `generation.sampler`).
SAMPLING_TEMPERATURE = "sampling_temperature"  # log_softmax(raw logits / T): what verl's actor recomputes
TEMPERATURE_1 = "temperature_1"  # the model's own distribution, banned ids removed: vLLM's raw log-probs
LOGPROB_KINDS = (TEMPERATURE_1, SAMPLING_TEMPERATURE)

_NO_EFFECT = frozenset({"detokenize", "skip_special_tokens", "spaces_between_special_tokens", "priority",
                        "extra_args", "output_kind", "prompt_logprobs"})


@dataclass(frozen=True)
class SamplingSpec:
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0: no top-k filter
    repetition_penalty: float = 1.0
    n: int = 1
    logprobs: bool = False
    ignore_eos: bool = False
    seed: int | None = None
    logprobs_at: str = SAMPLING_TEMPERATURE
    branching_top_p: float | None = None

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0

    @property
    def logprob_temperature(self) -> float:
        """The temperature the returned log-probs are computed at: with `logprobs_at=SAMPLING_TEMPERATURE` (verl's
        default) the sampling one, or 1 for greedy decoding: verl's actor recomputes `log_softmax(logits / T)`
        with the rollout temperature, so this is the quantity its rollout-vs-actor comparison expects."""
        return 1.0 if self.greedy or self.logprobs_at == TEMPERATURE_1 else self.temperature

    def batch_key(self) -> tuple:
        """Requests with equal keys can share one `generate` call (the per-request length cap, `n`, `logprobs` and
        the seed can differ: rows are cut to their own `max_tokens` afterwards, each row has its own generator)."""
        return (self.temperature, self.top_p, self.top_k, self.repetition_penalty, self.ignore_eos,
                self.seed is not None, self.logprobs_at, self.branching_top_p)


def _number(params: Mapping[str, Any], key: str, default: float) -> float:
    value = params.get(key, default)
    if value is None:
        return float(default)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"sampling parameter {key}={params[key]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"sampling parameter {key}={value} is not finite")
    return value


def _wants_logprobs(value: Any) -> bool:
    """verl sends a bool; vLLM's own convention is an int count, where 0 already means "the sampled token's"."""
    if isinstance(value, bool) or value is None:
        return bool(value)
    return int(value) >= 0


def max_new_tokens(params: Mapping[str, Any], prompt_tokens: int, prompt_length: int, response_length: int,
                   max_model_len: int | None = None) -> int:
    """How many tokens a request may generate, as verl's vLLM server decides it."""
    room = (max_model_len if max_model_len else prompt_length + response_length) - prompt_tokens
    if room < 1:
        raise ValueError(f"a prompt of {prompt_tokens} tokens leaves no room to generate "
                         f"(limit {max_model_len or prompt_length + response_length} tokens)")
    if params.get("max_tokens") is not None:
        wanted = int(params["max_tokens"])
    elif params.get("max_new_tokens") is not None:
        wanted = int(params["max_new_tokens"])
    else:
        wanted = min(response_length, prompt_length + response_length - prompt_tokens)
    return max(1, min(wanted, room, response_length))


def parse_sampling_params(params: Mapping[str, Any] | None, *, prompt_tokens: int, prompt_length: int,
                          response_length: int, max_model_len: int | None = None,
                          default_ignore_eos: bool = False) -> tuple[SamplingSpec, list[str]]:
    """Check verl's sampling dict and return `(spec, ignored_keys)`. Raises ValueError naming the bad key."""
    params = dict(params or {})
    temperature = _number(params, "temperature", 1.0)
    if temperature < 0:
        raise ValueError(f"sampling parameter temperature={temperature} is negative")
    top_p = _number(params, "top_p", 1.0)
    if not 0.0 < top_p <= 1.0:
        raise ValueError(f"sampling parameter top_p={top_p} is not in (0, 1]")
    top_k = int(_number(params, "top_k", -1))
    repetition_penalty = _number(params, "repetition_penalty", 1.0)
    if repetition_penalty <= 0:
        raise ValueError(f"sampling parameter repetition_penalty={repetition_penalty} must be positive")
    n = int(_number(params, "n", 1))
    if n < 1:
        raise ValueError(f"sampling parameter n={n} must be at least 1")
    seed = params.get("seed")
    branching = params.get("branching_top_p")
    if branching is not None and not 0.0 < float(branching) <= 1.0:
        raise ValueError(f"sampling parameter branching_top_p={branching} is not in (0, 1]")
    spec = SamplingSpec(
        max_tokens=max_new_tokens(params, prompt_tokens, prompt_length, response_length, max_model_len),
        temperature=temperature,
        top_p=top_p,
        top_k=max(0, top_k),
        repetition_penalty=repetition_penalty,
        n=n,
        logprobs=_wants_logprobs(params.get("logprobs")),
        ignore_eos=bool(params.get("ignore_eos", default_ignore_eos)),
        seed=int(seed) if seed is not None else None,
        branching_top_p=float(branching) if branching is not None else None,
    )
    known = {"temperature", "top_p", "top_k", "repetition_penalty", "n", "logprobs", "ignore_eos", "seed",
             "max_tokens", "max_new_tokens", "branching_top_p"}
    ignored = sorted(k for k in params if k not in known and k not in _NO_EFFECT)
    return spec, ignored
