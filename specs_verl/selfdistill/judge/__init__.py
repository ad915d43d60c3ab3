"""The consistency judge: "does the reasoning support the final answer?", behind one interface.

    judge = load_judge("openai", url="http://localhost:8000/v1", model="Qwen2.5-72B-Instruct",
                       cache_path="out/judge_cache.jsonl")
    verdicts = judge.judge([JudgeItem(question, response, answer), ...])   # -> [Verdict(label, raw, cached)]

Transports: `openai` (any OpenAI-compatible chat endpoint; `openai_http.py`) and `hf` (a local transformers
model; `hf_local.py`). The prompt is a swappable template (`verdict.py`). Verdicts are cached on disk
(`cache.py`). A reply without a readable verdict is UNPARSEABLE and a request that failed after its retries is
ERROR: both count as "not consistent", are reported, and never stop the run; an endpoint that cannot serve
the run at all raises `JudgeUnavailable`.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Sequence

from .cache import VerdictCache, cache_key
from .openai_http import JudgeRequestError, JudgeUnavailable, TruncatedReply
from .verdict import (CONSISTENT, DEFAULT_TEMPLATE, ERROR, INCONSISTENT, LABELS, UNPARSEABLE, JudgeItem, Verdict,
                      load_template, parse_verdict, render)

JUDGES = ("none", "openai", "hf")


class Judge:
    """Template + transport + cache. `judge(items)` returns one Verdict per item, in order."""

    def __init__(self, transport: Any, template: str, cache: VerdictCache | None = None):
        self.transport = transport
        self.template = template
        self.cache = cache
        self.stats = {label: 0 for label in LABELS} | {"cache_hits": 0, "requests": 0}

    def judge(self, items: Sequence[JudgeItem], progress: Callable[[int], None] | None = None) -> list[Verdict]:
        prompts = [render(self.template, it) for it in items]
        keys = [cache_key(self.transport.judge_id, p) for p in prompts]
        verdicts: list[Verdict | None] = [None] * len(items)
        todo = []
        for i, key in enumerate(keys):
            hit = self.cache.get(key) if self.cache is not None else None
            if hit is not None:
                verdicts[i] = Verdict(hit["label"], hit["raw"], cached=True)
                self.stats["cache_hits"] += 1
            else:
                todo.append(i)
        if progress is not None and len(items) - len(todo):
            progress(len(items) - len(todo))

        def on_result(j: int, reply: Any) -> None:
            i = todo[j]
            if isinstance(reply, Exception):
                verdicts[i] = Verdict(ERROR, str(reply))  # not cached: a rerun tries again
            else:
                verdicts[i] = Verdict(parse_verdict(reply), str(reply))
                if self.cache is not None and not isinstance(reply, TruncatedReply):
                    self.cache.put(keys[i], verdicts[i].label, str(reply))
            if progress is not None:
                progress(1)

        if todo:
            self.stats["requests"] += len(todo)
            self.transport.complete([prompts[i] for i in todo], on_result=on_result)
        for v in verdicts:
            self.stats[v.label] += 1
        return verdicts  # type: ignore[return-value]

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()


def load_judge(name: str, *, template: str = DEFAULT_TEMPLATE, cache_path: str | os.PathLike | None = None,
               **opts: Any) -> Judge | None:
    """`none` -> None; `openai` -> opts of `OpenAIChatTransport`; `hf` -> opts of `HFJudgeTransport`."""
    if name == "none":
        return None
    if name == "openai":
        from .openai_http import OpenAIChatTransport

        transport = OpenAIChatTransport(**opts)
    elif name == "hf":
        from .hf_local import HFJudgeTransport

        transport = HFJudgeTransport(**opts)
    else:
        raise ValueError(f"unknown judge {name!r}; choose one of {', '.join(JUDGES)}")
    return Judge(transport, load_template(template), VerdictCache(cache_path) if cache_path else None)


__all__ = ["CONSISTENT", "ERROR", "INCONSISTENT", "JUDGES", "LABELS", "UNPARSEABLE", "Judge", "JudgeItem",
           "JudgeRequestError", "JudgeUnavailable", "TruncatedReply", "Verdict", "VerdictCache", "load_judge", "load_template",
           "parse_verdict", "render"]
