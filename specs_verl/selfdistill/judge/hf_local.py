"""A local judge: any transformers chat model through the `hf` generation backend, greedy decoding."""

from __future__ import annotations

from typing import Callable, Sequence

from specs_verl.generation import Request, load_backend


class HFJudgeTransport:
    """Replies of a local model to text-only prompts (images are not shown to the judge).

    Args:
        model_path: checkpoint directory of the judge model.
        batch_size, device, threads: passed to the `hf` backend.
        max_tokens: longest reply.
    """

    def __init__(self, model_path: str, batch_size: int = 8, device: str = "auto", threads: int | None = None,
                 max_tokens: int = 256):
        self.backend = load_backend("hf", model_path, batch_size=batch_size, device=device, threads=threads)
        self.max_tokens = int(max_tokens)
        self.judge_id = f"hf:{model_path}:greedy:max={self.max_tokens}"
        self.stats = {"requests": 0}

    def complete(self, prompts: Sequence[str], on_result: Callable[[int, str], None] | None = None) -> list[str]:
        requests = [Request(id=f"judge-{i}", messages=[{"role": "user", "content": p}]) for i, p in enumerate(prompts)]
        out = []
        step = self.backend.batch_size
        for start in range(0, len(requests), step):  # one batch at a time, so each reply is cached as it comes
            batch = requests[start:start + step]
            replies = self.backend.generate(batch, n=1, temperature=0.0, max_new_tokens=self.max_tokens, seed=0)
            for j, samples in enumerate(replies):
                out.append(samples[0].text)
                if on_result is not None:
                    on_result(start + j, samples[0].text)
        self.stats["requests"] += len(prompts)
        return out
