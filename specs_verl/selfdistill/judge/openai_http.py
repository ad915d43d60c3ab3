"""An OpenAI-compatible chat-completions client (vLLM, SGLang, TGI, OpenAI, ...) with nothing but the stdlib.

Concurrent requests (a thread pool), a timeout per request, retries with exponential backoff and jitter on
connection errors, timeouts, HTTP 408/409/425/429/5xx and malformed bodies (honouring `Retry-After`), and a
circuit breaker: an endpoint that fails `max_consecutive_failures` requests in a row (after their retries),
that cannot be connected to for any request of a batch, or that answers 401/403/404, stops the run with
`JudgeUnavailable` instead of failing every remaining item slowly. Other 4xx replies (400, 413, 422: this one
prompt is refused) fail that item only and never count toward the breaker. A reply cut off by `max_tokens`
(`finish_reason: length`) is asked again with twice the tokens (up to 4x); one still cut off is returned as a
`TruncatedReply`, which the judge does not cache.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
FATAL_STATUS = frozenset({401, 403, 404})


class JudgeUnavailable(RuntimeError):
    """The endpoint cannot serve the run (unreachable, or a configuration error such as a wrong model)."""


class JudgeRequestError(RuntimeError):
    """One request failed after all its retries (the item is counted as a judge error, the run goes on)."""


class TruncatedReply(str):
    """A reply that stopped at `max_tokens` even at the largest budget (not cached: a rerun may do better)."""


class _Truncated(Exception):
    """args: (the cut-off reply,)"""


class _Retryable(Exception):
    """args: (message, Retry-After header or None, whether the endpoint could not be reached at all)."""


def chat_url(url: str) -> str:
    """Accept a base URL (`http://host:8000/v1`) or the full chat-completions URL."""
    url = url.rstrip("/")
    return url if url.endswith("/chat/completions") else f"{url}/chat/completions"


class OpenAIChatTransport:
    """Send prompts to `{url}/chat/completions` as single user messages; return the replies' text.

    Args:
        url: base URL of the endpoint (`.../v1`) or the full `/chat/completions` URL.
        model: the `model` field of each request.
        api_key_env: environment variable holding the key (sent as a Bearer token when set).
        concurrency: requests in flight at once.
        timeout: seconds per request (connect + read).
        retries: extra attempts per request after the first.
        backoff: first retry delay in seconds, doubled each retry (with jitter), capped at `max_backoff`.
        max_tokens, temperature: sampling settings of the judge.
        max_consecutive_failures: requests failing in a row (after retries) before the run is stopped.
    """

    def __init__(self, url: str, model: str, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8,
                 timeout: float = 60.0, retries: int = 4, backoff: float = 1.0, max_backoff: float = 30.0,
                 max_tokens: int = 256, temperature: float = 0.0, max_consecutive_failures: int = 20):
        if not url or not model:
            raise ValueError("the openai judge needs --judge-url and --judge-model")
        self.url = chat_url(url)
        self.model = model
        # the cache key: the same model answers the same prompt alike wherever it is served
        self.judge_id = f"openai:{model}:t={temperature}:max={max_tokens}"
        self.api_key = os.environ.get(api_key_env) if api_key_env else None
        self.concurrency = max(1, int(concurrency))
        self.timeout = float(timeout)
        self.retries = max(0, int(retries))
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_tokens = int(max_tokens)
        self.temperature = float(temperature)
        self.max_consecutive_failures = max(1, int(max_consecutive_failures))
        self.max_tokens_cap = 4 * self.max_tokens
        self.stats = {"requests": 0, "attempts": 0, "retries": 0, "failed": 0, "client_errors": 0, "truncated": 0}
        self._lock = threading.Lock()
        self._consecutive = 0
        self._unreachable = 0  # requests in a row that never reached the endpoint
        self._batch_size = 0
        self._abort: str | None = None

    # -------------------------------------------------------------------------------------------- one call
    def reset(self) -> None:
        """Close the breaker (after a cool-down: a long GRPO run outlives a restart of the judge server)."""
        with self._lock:
            self._abort = None
            self._consecutive = self._unreachable = 0

    def _post(self, prompt: str, max_tokens: int) -> str:
        body = json.dumps({"model": self.model, "messages": [{"role": "user", "content": prompt}],
                           "temperature": self.temperature, "max_tokens": max_tokens}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read()[:300].decode("utf-8", "replace")
            if e.code in FATAL_STATUS:
                raise JudgeUnavailable(f"judge endpoint {self.url} answered HTTP {e.code} for model "
                                       f"{self.model!r}: {detail}") from None
            if e.code in RETRY_STATUS:
                raise _Retryable(f"HTTP {e.code}", e.headers.get("Retry-After"), False) from None
            raise JudgeRequestError(f"HTTP {e.code}: {detail}") from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:  # refused, reset, timed out
            reason = getattr(e, "reason", e)
            raise _Retryable(f"{type(reason).__name__}: {reason}", None, isinstance(e, urllib.error.URLError)) from None
        try:
            choice = json.loads(raw)["choices"][0]
            content = choice["message"]["content"]
            if not isinstance(content, str):
                raise TypeError("content is not a string")
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise _Retryable(f"malformed response body ({type(e).__name__}): {raw[:120]!r}", None, False) from None
        if choice.get("finish_reason") == "length":
            raise _Truncated(content)
        return content

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(self.max_backoff, max(0.0, float(retry_after)))
            except ValueError:
                pass
        base = min(self.max_backoff, self.backoff * (2 ** attempt))
        return base * (0.5 + random.random() / 2)

    def _one(self, prompt: str) -> str | JudgeRequestError:
        last, unreachable = "no attempt", False
        max_tokens = self.max_tokens
        with self._lock:
            self.stats["requests"] += 1
        attempt = 0  # failed attempts so far (a truncated reply asked again with more tokens is not one)
        while attempt <= self.retries:
            if self._abort is not None:
                return JudgeRequestError(f"not sent: {self._abort}")
            with self._lock:
                self.stats["attempts"] += 1
                if attempt:
                    self.stats["retries"] += 1
            try:
                text = self._post(prompt, max_tokens)
            except _Truncated as e:
                with self._lock:
                    self.stats["truncated"] += 1
                    self._consecutive = self._unreachable = 0  # the endpoint works
                if max_tokens >= self.max_tokens_cap:
                    return TruncatedReply(e.args[0])
                max_tokens = min(self.max_tokens_cap, 2 * max_tokens)
                continue
            except _Retryable as e:
                last, unreachable = e.args[0], e.args[2]
                if attempt < self.retries:
                    time.sleep(self._delay(attempt, e.args[1]))
                attempt += 1
                continue
            except JudgeRequestError as e:  # a 4xx for this prompt only: the endpoint is fine
                with self._lock:
                    self.stats["failed"] += 1
                    self.stats["client_errors"] += 1
                    self._consecutive = self._unreachable = 0
                return e
            except JudgeUnavailable as e:
                self._abort = str(e)
                return JudgeRequestError(str(e))
            with self._lock:
                self._consecutive = self._unreachable = 0
            return text
        msg = f"{last} (after {self.retries + 1} attempts)"
        self._failed(msg, unreachable)
        return JudgeRequestError(msg)

    def _failed(self, msg: str, unreachable: bool = False) -> None:
        with self._lock:
            self.stats["failed"] += 1
            self._consecutive += 1
            self._unreachable = self._unreachable + 1 if unreachable else 0
            if self._abort is not None:
                return
            if self._unreachable >= min(self.max_consecutive_failures, self._batch_size):
                self._abort = (f"cannot reach the judge endpoint {self.url} ({self._unreachable} requests in a "
                               f"row); last error: {msg}")
            elif self._consecutive >= self.max_consecutive_failures:
                self._abort = (f"judge endpoint {self.url} failed {self._consecutive} requests in a row; "
                               f"last error: {msg}")

    # ------------------------------------------------------------------------------------------- the batch
    def complete(self, prompts: Sequence[str],
                 on_result: Callable[[int, str | JudgeRequestError], None] | None = None) -> list:
        """One reply (str) or JudgeRequestError per prompt; `on_result(i, reply)` runs as each one arrives.
        Raises JudgeUnavailable when the endpoint is unusable (replies received before that were reported)."""
        results: list = [None] * len(prompts)
        self._batch_size = max(1, len(prompts))

        def work(i: int) -> None:
            results[i] = self._one(prompts[i])
            if on_result is not None:
                on_result(i, results[i])

        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="judge") as pool:
            for f in [pool.submit(work, i) for i in range(len(prompts))]:
                f.result()
        if self._abort is not None:
            raise JudgeUnavailable(self._abort)
        return results
