"""`call_with_time_limit`: a hard wall-clock limit in any thread, that code catching Exception cannot stop."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from specs_verl.time_limit import TimeLimitExceeded, call_with_time_limit


def test_time_limit_swallowing_code_cannot_catch_it():
    def stubborn():
        while True:
            try:
                time.sleep(0.001)
            except Exception:  # sympy and math-verify catch Exception in places
                pass

    start = time.monotonic()
    with pytest.raises(TimeLimitExceeded):
        call_with_time_limit(0.2, stubborn)
    assert time.monotonic() - start < 2.0


def test_time_limit_leaves_no_stray_interrupt():
    for _ in range(500):
        assert call_with_time_limit(0.001, lambda: 7) == 7
    time.sleep(0.05)  # a late interrupt would be raised here
    assert call_with_time_limit(5, lambda: threading.current_thread().name) == threading.current_thread().name


def test_limits_in_several_threads_at_once():
    def spin():
        while True:
            pass

    def limited(seconds):
        start = time.monotonic()
        with pytest.raises(TimeLimitExceeded):
            call_with_time_limit(seconds, spin)
        return time.monotonic() - start

    with ThreadPoolExecutor(3) as pool:
        elapsed = list(pool.map(limited, [0.2, 0.4, 0.6]))
    assert all(e < s + 1.5 for e, s in zip(elapsed, [0.2, 0.4, 0.6]))


def test_exceptions_and_nesting_pass_through():
    with pytest.raises(KeyError):
        call_with_time_limit(5, lambda: {}["missing"])
    assert call_with_time_limit(5, call_with_time_limit, 5, lambda: "inner") == "inner"
    with pytest.raises(TimeLimitExceeded):
        call_with_time_limit(0, lambda: None)
