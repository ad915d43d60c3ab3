"""A grading worker process: `python -m specs_verl.grading.worker READ_FD WRITE_FD MEMORY_MB`.

Reads pickled requests from READ_FD and writes pickled replies to WRITE_FD (4-byte length prefix each), one at a
time, until the parent closes its end. Started by `worker_pool.py`, never by hand.

Two limits hold here even if the parent is gone: the address space is capped (`MEMORY_MB`, so a runaway sympy
integer fails with MemoryError instead of swapping the machine) and each request gets a CPU-time limit a little
past its wall-clock budget (`RLIMIT_CPU`: the kernel ends the process with SIGXCPU, which no C call can ignore).
The parent's kill is the main mechanism; these bound a worker orphaned in the middle of a stall.
"""

from __future__ import annotations

import math
import os
import pickle
import resource
import signal
import sys

from specs_verl.grading.framing import HEADER, read_exact, write_frame


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _limit_cpu(seconds: float) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = math.ceil(_cpu_seconds() + seconds + 2.0)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def main(argv: list[str]) -> int:
    read_fd, write_fd, memory_mb = int(argv[0]), int(argv[1]), int(argv[2])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it closes us
    if memory_mb > 0:
        limit = memory_mb * 1024 * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard), hard))
    from specs_verl.grading.symbolic import clear_caches, symbolic_grade

    write_frame(write_fd, ("ready", os.getpid()))
    while True:
        header = read_exact(read_fd, HEADER.size)
        if header is None:
            return 0  # the parent closed the pipe (or died)
        body = read_exact(read_fd, HEADER.unpack(header)[0])
        if body is None:
            return 0
        op, args = pickle.loads(body)
        if op == "grade":
            _limit_cpu(args[3])
            try:
                reply = ("ok", symbolic_grade(*args))
            except BaseException as e:  # MemoryError and friends: a wrong answer, and the worker lives on
                reply = ("error", f"{type(e).__name__}: {e}"[:300])
        elif op == "clear":
            clear_caches()
            reply = ("ok", None)
        else:
            reply = ("error", f"unknown request {op!r}")
        write_frame(write_fd, reply)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (BrokenPipeError, EOFError):  # the parent went away (it exited while we started): nothing to report
        sys.exit(0)
