"""The free-form answer judge of the GRPO reward: "does this short answer mean the same as the reference?"

SPECS scores short free-form answers (names, words; not options, numbers or formulas) with an LLM judge; the
reward uses this one when `reward.reward_kwargs.judge_url` and `judge_model` are set, only for answers the
deterministic graders found wrong. It reuses the self-distillation client (`openai_http.py`: timeouts,
retries, 4xx per item, the circuit breaker) and verdict cache (`cache.py`, on disk when `cache_path` is given,
else in memory). It never raises: `same()` returns None when no verdict could be had (the reward then keeps
string equality), and after the breaker trips it stops asking for `cooldown` seconds, then tries again.

Time: one call takes at most `timeout` x (`retries` + 1) plus the backoff (about 0.5 s per retry), on top of the
grading time limit; the defaults (10 s, 1 retry) bound it at about 21 s.
"""

from __future__ import annotations

import threading
import time

from .cache import VerdictCache, cache_key
from .openai_http import JudgeRequestError, OpenAIChatTransport, TruncatedReply
from .verdict import CONSISTENT, INCONSISTENT, parse_verdict

ANSWER_TEMPLATE = """You are checking a short answer against the reference answer of a question.

Question: {question}
Reference answer: {reference}
Answer to check: {answer}

Does the answer to check mean the same as the reference answer? Differences of case, articles, spelling,
synonyms and word order do not matter; a different, vaguer or additional answer does.
Reply with one final line: "Verdict: yes" or "Verdict: no"."""


class AnswerJudge:
    def __init__(self, url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", timeout: float = 10.0,
                 retries: int = 1, max_tokens: int = 64, cache_path: str | None = None, cooldown: float = 300.0,
                 max_consecutive_failures: int = 8):
        self.transport = OpenAIChatTransport(url=url, model=model, api_key_env=api_key_env, concurrency=1,
                                             timeout=timeout, retries=retries, backoff=0.5, max_backoff=2.0,
                                             max_tokens=max_tokens, max_consecutive_failures=max_consecutive_failures)
        self.cache = VerdictCache(cache_path) if cache_path else None
        self._memory: dict[str, str] = {}
        self.cooldown = float(cooldown)
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.stats = {"asked": 0, "cache_hits": 0, "same": 0, "different": 0, "failed": 0, "skipped_down": 0}

    def same(self, question: str, reference: str, answer: str) -> bool | None:
        """True/False from the judge (or its cache); None when it could not say (failure, breaker open)."""
        prompt = (ANSWER_TEMPLATE.replace("{question}", question or "(not given)")
                  .replace("{reference}", reference).replace("{answer}", answer))
        key = cache_key(self.transport.judge_id, prompt)
        hit = self._memory.get(key)
        if hit is None and self.cache is not None:
            hit = (self.cache.get(key) or {}).get("label")
        if hit in (CONSISTENT, INCONSISTENT):
            self._count("cache_hits")
            return hit == CONSISTENT
        now = time.monotonic()
        with self._lock:
            if now < self._down_until:
                self.stats["skipped_down"] += 1
                return None
            if self._down_until:
                self._down_until = 0.0
                self.transport.reset()
        self._count("asked")
        try:
            reply = self.transport.complete([prompt])[0]
        except Exception:  # JudgeUnavailable (the breaker tripped) or anything unexpected: not our run to stop
            with self._lock:
                self._down_until = time.monotonic() + self.cooldown
            self._count("failed")
            return None
        if isinstance(reply, JudgeRequestError):
            self._count("failed")
            return None
        label = parse_verdict(reply)
        if label not in (CONSISTENT, INCONSISTENT):
            self._count("failed")
            return None
        if not isinstance(reply, TruncatedReply):
            self._memory[key] = label
            if self.cache is not None:
                self.cache.put(key, label, str(reply))
        self._count("same" if label == CONSISTENT else "different")
        return label == CONSISTENT

    def _count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1
