"""Symbolic grading in a reused pool of worker processes, so that a stalled grader can be killed.

Why processes: a sympy integer power (`10^{10^{10}}`) is one C call that holds the GIL; no thread, signal or
watchdog in the same process can stop it, and through verl's thread pool it freezes the whole reward worker.
A worker process can always be killed.

How it behaves:
- Lazy: no process until the first symbolic grade (or `warm_up()`); at most `max_workers` of them
  (`SPECS_GRADE_WORKERS`, default min(4, CPUs)); each is reused for many grades (a round trip costs about
  0.1 ms; starting one costs the sympy import, about a second).
- Bounded: `grade()` gives up at `deadline` + `KILL_GRACE`; a worker that has not answered by then is killed
  (SIGKILL) and reaped at once, and a replacement is started in the background. Waiting for a free worker counts
  against the same deadline, so no call overruns however many threads wait.
- Safe to use from any thread, in Ray actors and after `fork` (a forked child starts its own workers; it never
  touches its parent's). Workers are started with `subprocess` (`python -m specs_verl.grading.worker`, a fresh
  interpreter: no fork of a threaded process, no re-import of the caller's `__main__`), in their own session
  (a Ctrl-C is the parent's to handle), and are closed at exit; an orphan exits when it next reads its pipe, and
  its per-request CPU limit bounds it until then (see `worker.py`).
- Memory: each worker's address space is capped (`SPECS_GRADE_WORKER_MEMORY_MB`, default 2048).
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import select
import subprocess
import sys
import threading
import time
from typing import Any

from .framing import HEADER, write_frame

logger = logging.getLogger(__name__)

KILL_GRACE = 0.3  # seconds past the deadline before a silent worker is killed
START_TIMEOUT = 120.0  # seconds a new worker may take to import sympy and say it is ready


class NoWorker(Exception):
    """No worker answered in time (all busy, still starting, or killed for overrunning)."""


class PoolUnavailable(Exception):
    """Worker processes cannot be started here at all (the caller grades in-process instead)."""


class _Worker:
    def __init__(self, memory_mb: int):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "specs_verl.grading.worker", str(to_child_r), str(from_child_w),
                 str(memory_mb)],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True, close_fds=True)
        except BaseException:
            for fd in (self.to_child, self.from_child):
                os.close(fd)
            raise
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._buffer = b""

    def send(self, obj: Any) -> None:
        write_frame(self.to_child, obj)

    def recv(self, deadline: float) -> Any:
        """The next reply, or NoWorker once `deadline` (monotonic) passes; EOFError if the worker died."""
        need = HEADER.size
        while True:
            if len(self._buffer) >= need:
                if need == HEADER.size:
                    need += HEADER.unpack(self._buffer[:HEADER.size])[0]
                    continue
                body, self._buffer = self._buffer[HEADER.size:need], self._buffer[need:]
                return pickle.loads(body)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoWorker("the grading worker did not answer in time")
            poller = select.poll()  # not select(): Ray processes can hold fds past FD_SETSIZE
            poller.register(self.from_child, select.POLLIN | select.POLLHUP | select.POLLERR)
            if poller.poll(max(1, int(remaining * 1000) + 1)):
                chunk = os.read(self.from_child, 1 << 16)
                if not chunk:
                    raise EOFError("the grading worker exited")
                self._buffer += chunk

    def kill(self) -> None:
        try:
            self.proc.kill()
        except OSError:
            pass
        self.proc.wait()  # reap now: no zombie
        self._close_fds()

    def close(self, timeout: float = 1.0) -> None:
        """Ask the worker to exit (EOF on its pipe); kill it if it does not within `timeout`."""
        self._close_fds()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def _close_fds(self) -> None:
        for name in ("to_child", "from_child"):
            fd = getattr(self, name)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, None)


class WorkerPool:
    def __init__(self, max_workers: int | None = None, memory_mb: int | None = None):
        env_workers = os.environ.get("SPECS_GRADE_WORKERS")
        env_memory = os.environ.get("SPECS_GRADE_WORKER_MEMORY_MB")
        self.max_workers = max(1, int(max_workers or env_workers or min(4, os.cpu_count() or 1)))
        self.memory_mb = int(memory_mb if memory_mb is not None else env_memory or 2048)
        self.stats = {"started": 0, "killed": 0, "start_failures": 0}
        self._reset()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        for w in self._all:  # our copies of the parent's pipe ends: close them so its workers still see EOF
            for fd in (w.to_child, w.from_child):
                if fd is not None:
                    try:
                        os.close(fd)
                    except OSError:
                        pass
        self._reset()

    def _reset(self) -> None:
        """Fresh state (also in a forked child: the parent's workers and locks are not ours)."""
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._starting = 0
        self._closed = False
        self._broken: str | None = None
        self._pid = os.getpid()

    # ------------------------------------------------------------------------------------------ lifecycle
    def warm_up(self, n: int = 1) -> None:
        """Start up to `n` workers in the background (no wait)."""
        with self._cond:
            for _ in range(max(0, min(n, self.max_workers) - len(self._all) - self._starting)):
                self._start_locked()

    def _start_locked(self) -> None:
        self._starting += 1
        threading.Thread(target=self._start_one, name="specs-grade-worker-start", daemon=True).start()

    def _start_one(self) -> None:
        worker = None
        try:
            worker = _Worker(self.memory_mb)
            hello = worker.recv(time.monotonic() + START_TIMEOUT)
            if not (isinstance(hello, tuple) and hello[0] == "ready"):
                raise RuntimeError(f"unexpected first message {hello!r}")
        except BaseException as e:
            if worker is not None:
                worker.kill()
            with self._cond:
                self._starting -= 1
                self.stats["start_failures"] += 1
                if not self._all and self.stats["start_failures"] >= 3:
                    self._broken = f"{type(e).__name__}: {e}"
                self._cond.notify_all()
            logger.warning("specs grading: could not start a grading worker process (%s: %s)", type(e).__name__, e)
            return
        with self._cond:
            self._starting -= 1
            closed = self._closed
            if not closed:
                self.stats["started"] += 1
                self._all.add(worker)
                self._idle.append(worker)
            self._cond.notify_all()
        if closed:  # the pool was closed (interpreter exit) while this one started
            worker.close()

    def _acquire(self, deadline: float) -> _Worker:
        with self._cond:
            while True:
                if self._broken is not None:
                    raise PoolUnavailable(self._broken)
                if self._idle:
                    return self._idle.pop()
                if len(self._all) + self._starting < self.max_workers:
                    self._start_locked()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise NoWorker("no grading worker was free in time")
                self._cond.wait(remaining)

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            self._idle.append(worker)
            self._cond.notify()

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._cond:
            self._all.discard(worker)
            self.stats["killed"] += 1
            if not self._all and not self._starting:
                self._start_locked()  # keep one warm for the next call
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            workers, self._all, self._idle = list(self._all), set(), []
        for w in workers:
            w.close()

    # ------------------------------------------------------------------------------------------------ work
    def call(self, op: str, args: tuple, deadline: float) -> Any:
        """Run one request on a worker; NoWorker when it cannot finish by `deadline` + KILL_GRACE."""
        worker = self._acquire(deadline)
        try:
            worker.send((op, args))
            status, value = worker.recv(deadline + KILL_GRACE)
        except BaseException:  # overran, died, or the caller was interrupted: the worker's state is unknown
            self._discard(worker)
            raise
        self._release(worker)
        if status != "ok":
            raise RuntimeError(value)
        return value

    def broadcast(self, op: str, timeout: float = 30.0) -> None:
        """Send `op` to every idle worker (e.g. "clear" for cold-cache benchmarks)."""
        with self._cond:
            idle, self._idle = self._idle, []
        for w in idle:
            try:
                w.send((op, ()))
                w.recv(time.monotonic() + timeout)
            except BaseException:
                self._discard(w)
                continue
            self._release(w)


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> WorkerPool:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = WorkerPool()
    return _pool


@atexit.register
def _close_at_exit() -> None:
    if _pool is not None and _pool._pid == os.getpid():
        _pool.close()
