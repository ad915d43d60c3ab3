"""A hard wall-clock limit for a Python call, in any thread, without a process.

Why not what math-verify ships: its timeout is `signal.alarm`, which raises "signal only works in main thread"
in a thread, and verl's reward loop calls `compute_score` from a thread pool (`loop.run_in_executor`) inside a
Ray actor. A process per call (the other usual answer) costs milliseconds and pickling per sample.

How: one daemon watchdog thread per process keeps the deadlines. When a call overruns, the watchdog raises an
exception *in the calling thread* with `PyThreadState_SetAsyncExc` (the mechanism behind `KeyboardInterrupt`
delivery); the thread sees it at its next bytecode, like a signal handler's exception. The injected exception
derives from BaseException, so the `except Exception:` blocks in sympy and math-verify cannot swallow it; the
caller gets `TimeLimitExceeded`.

Limits (the same as any signal-based timeout): a single C call that never returns to the interpreter (a huge
integer power) cannot be interrupted, and it holds the GIL, so the watchdog itself stops. Grading therefore
refuses such inputs up front (`grading/refusal.py`) and runs the symbolic graders in worker processes that can be
killed (`grading/worker_pool.py`); inside a worker this limit still stops ordinary slow Python without losing
the worker. Nested limits in one thread run under the outermost limit.
"""

from __future__ import annotations

import ctypes
import heapq
import itertools
import threading
import time
from typing import Any, Callable, TypeVar

T = TypeVar("T")


class TimeLimitExceeded(Exception):
    """The call ran past its limit and was interrupted."""


class _Interrupt(BaseException):
    """Injected into the overrunning thread; never escapes `call_with_time_limit`."""


class _Deadline:
    __slots__ = ("thread_id", "active", "fired")

    def __init__(self, thread_id: int):
        self.thread_id = thread_id
        self.active = True
        self.fired = False


class _Watchdog:
    def __init__(self) -> None:
        self._cond = threading.Condition()  # guards the heap; only the watchdog waits on it
        # Guards "is it still armed? then fire" against "disarm". A C lock on purpose: `with` on it cannot be
        # split by an exception injected between acquiring and entering the block (a Python-level __enter__,
        # like Condition's, could leak the lock that way).
        self._fire_lock = threading.Lock()
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, seconds: float) -> _Deadline:
        deadline = _Deadline(threading.get_ident())
        with self._cond:
            if self._thread is None or not self._thread.is_alive():  # first use, or after a fork
                self._thread = threading.Thread(target=self._run, name="specs-time-limit", daemon=True)
                self._thread.start()
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._seq), deadline))
            self._cond.notify()
        return deadline

    def disarm(self, deadline: _Deadline) -> None:
        with self._fire_lock:
            deadline.active = False
            if deadline.fired:  # fired as the call returned: drop the exception if it is still pending
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(deadline.thread_id), None)

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and not self._heap[0][2].active:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                when, _, deadline = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
                with self._fire_lock:
                    if deadline.active:
                        deadline.active = False
                        deadline.fired = True
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(deadline.thread_id), ctypes.py_object(_Interrupt)
                        )


_watchdog = _Watchdog()
_local = threading.local()


def call_with_time_limit(seconds: float, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return `fn(*args, **kwargs)`, or raise TimeLimitExceeded once `seconds` of wall clock have passed."""
    if getattr(_local, "armed", False):  # nested: the outer limit governs
        return fn(*args, **kwargs)
    if seconds <= 0:
        raise TimeLimitExceeded("no time left")
    _local.armed = True
    try:
        deadline = _watchdog.arm(seconds)
        try:
            return fn(*args, **kwargs)
        finally:
            _watchdog.disarm(deadline)
    except _Interrupt:
        raise TimeLimitExceeded(f"interrupted after {seconds:g}s") from None
    finally:
        _local.armed = False
