"""Gather generate requests that arrive together into one batch. Pure asyncio, no torch.

verl's agent loop sends one request per sample, all at once (`asyncio.gather` over the batch), to a server that
is expected to batch them itself, as vLLM does. `MicroBatcher` gives a transformers model the same shape of
work: the first request of a batch waits until no new request has arrived for `wait_s` (at most `max_wait_s`),
then up to `max_batch_size` queued requests run in one call; requests that arrive meanwhile form the next
batch. `pause()` lets the batch in flight finish and holds new ones back (for a weight update); `resume()`
releases them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Awaitable, Callable, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    def __init__(self, run_batch: Callable[[list[T]], Awaitable[list[R]]], max_batch_size: int = 256,
                 wait_s: float = 0.02, max_wait_s: float | None = None):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size={max_batch_size} must be at least 1")
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.wait_s = wait_s
        self.max_wait_s = max_wait_s if max_wait_s is not None else max(10 * wait_s, wait_s)
        self._queue: list[tuple[T, asyncio.Future]] = []
        self._last_arrival = 0.0
        self._worker: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._arrived: asyncio.Event | None = None
        self._open: asyncio.Event | None = None
        self._idle: asyncio.Event | None = None
        self.batch_sizes: Counter[int] = Counter()  # batch size -> how many batches had it

    def _events(self) -> None:
        # Created lazily, and again if the running loop changes (a Ray actor keeps one loop; a script calling
        # asyncio.run twice does not): events and the worker task belong to one loop.
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._worker = loop, None
            self._arrived, self._open, self._idle = asyncio.Event(), asyncio.Event(), asyncio.Event()
            self._open.set()
            self._idle.set()

    async def submit(self, item: T) -> R:
        """Queue one request and wait for its result (or its batch's exception)."""
        self._events()
        future = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        self._last_arrival = time.monotonic()
        self._arrived.set()
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        return await future

    async def pause(self) -> None:
        """Hold new batches back and wait for the one in flight to finish."""
        self._events()
        self._open.clear()
        await self._idle.wait()

    def resume(self) -> None:
        if self._open is not None:
            self._open.set()

    @property
    def pending(self) -> int:
        return sum(1 for _, f in self._queue if not f.done())

    async def _gather_window(self) -> None:
        start = time.monotonic()
        while len(self._queue) < self.max_batch_size:
            now = time.monotonic()
            delay = min(self.wait_s - (now - self._last_arrival), self.max_wait_s - (now - start))
            if delay <= 0:
                return
            await asyncio.sleep(delay)

    async def _work(self) -> None:
        while True:
            await self._arrived.wait()
            await self._open.wait()
            await self._gather_window()
            if not self._open.is_set():  # paused while gathering
                continue
            batch = [(item, f) for item, f in self._queue[: self.max_batch_size] if not f.done()]
            del self._queue[: self.max_batch_size]
            if not self._queue:
                self._arrived.clear()
            if not batch:
                continue
            self._idle.clear()
            try:
                results = await self._run_batch([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"batch of {len(batch)} requests returned {len(results)} results")
            except Exception as error:  # every request of the batch sees the failure
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for (_, future), result in zip(batch, results):
                    if not future.done():
                        future.set_result(result)
            finally:
                self.batch_sizes[len(batch)] += 1
                self._idle.set()
