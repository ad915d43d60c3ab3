"""No answer stalls grading: the real graders on the inputs that used to hang them, called from a thread pool as
verl's reward loop calls them, each scenario in a subprocess with a hard timeout (a regression would hang the
interpreter in a C call that no in-process timeout can stop)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

STALLS = ["10^{10^{10}}", "9^{9^{9^{9}}}", "2^{2^{40}}", "99999999999999999999^{99999999}"]

SCRIPT = textwrap.dedent(r"""
    import json, os, sys, time
    from concurrent.futures import ThreadPoolExecutor
    from specs_verl.grading import grade
    from specs_verl.reward import compute_score

    LIMIT = float(sys.argv[1]); REFUSE = sys.argv[2] == "1"; STALLS = json.loads(sys.argv[3])

    def timed(answer):
        t = time.monotonic()
        if REFUSE:
            r = compute_score("x", f"<think>a</think><answer>\\boxed{{{answer}}}</answer>", "1", time_limit=LIMIT)
            out = {"acc": r["acc"], "refused": r["grade_refused"], "timed_out": r["grade_timeout"]}
        else:
            g = grade(f"<answer>\\boxed{{{answer}}}</answer>", "1", time_limit=LIMIT, refuse_costly=False)
            out = {"acc": float(g.correct), "refused": float(g.refused), "timed_out": float(g.timed_out)}
        out["seconds"] = time.monotonic() - t
        return out

    with ThreadPoolExecutor(4) as pool:  # how verl's reward loop calls compute_score
        results = list(pool.map(timed, STALLS))
        after = list(pool.map(lambda _: grade("<answer>\\boxed{\\frac{2}{4}}</answer>", "0.5").correct, range(4)))

    def peak_rss_mb():
        # VmHWM: this process's own peak. (ru_maxrss is not: Linux carries the pre-exec high-water mark over
        # exec, so a child of a 1 GB pytest process reports 1 GB before doing anything.)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024

    def children():
        pids = []
        for task in os.listdir(f"/proc/{os.getpid()}/task"):
            try:
                with open(f"/proc/{os.getpid()}/task/{task}/children") as f:
                    pids += [int(p) for p in f.read().split()]
            except FileNotFoundError:  # a thread that ended meanwhile (a worker-start thread)
                pass
        return pids

    def state(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return "gone"

    print(json.dumps({"results": results, "after": after,
                      "zombies": [p for p in children() if state(p) == "Z"],
                      "max_rss_mb": peak_rss_mb()}))
""")


def _run(limit: float, refuse: bool) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(limit), "1" if refuse else "0", json.dumps(STALLS)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_stall_inputs_are_refused_at_once_and_counted():
    out = _run(limit=5.0, refuse=True)
    for answer, r in zip(STALLS, out["results"]):
        assert r == {"acc": 0.0, "refused": 1.0, "timed_out": 0.0, "seconds": pytest.approx(0, abs=0.5)}, answer
    assert out["after"] == [True] * 4 and out["zombies"] == []


@pytest.mark.parametrize("limit", [1.5])
def test_unrefused_stalls_are_killed_within_the_time_limit(limit):
    """The backstop: with the refusal switched off, the real graders stall on every input; each call still
    returns by its time limit + 1 s, from 4 threads at once, the workers are replaced, none is left a zombie,
    and the caller's memory stays flat (the 2^{2^40} integer grows in the killed worker)."""
    out = _run(limit=limit, refuse=False)
    for answer, r in zip(STALLS, out["results"]):
        assert r["acc"] == 0.0 and r["timed_out"] == 1.0, (answer, r)
        assert r["seconds"] < limit + 1.0, (answer, r)
    assert out["after"] == [True] * 4  # fresh workers grade normally
    assert out["zombies"] == []
    assert out["max_rss_mb"] < 600, out["max_rss_mb"]


FORK_SCRIPT = textwrap.dedent(r"""
    import json, os
    from specs_verl.grading import grade, worker_pool

    ok = lambda: grade("<answer>\\boxed{\\frac{2}{4}}</answer>", "0.5").correct
    first = ok()
    parent_workers = {w.proc.pid for w in worker_pool.get_pool()._all}
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child starts its own workers and never touches its parent's
        mine = ok()
        child_workers = {x.proc.pid for x in worker_pool.get_pool()._all}
        os.write(w, json.dumps([mine, sorted(child_workers & parent_workers)]).encode())
        worker_pool.get_pool().close()
        os._exit(0)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    child = json.loads(os.read(r, 1000))
    print(json.dumps({"first": first, "child": child, "status": status, "parent_after": ok(),
                      "parent_same_workers": {x.proc.pid for x in worker_pool.get_pool()._all} == parent_workers}))
""")


def test_a_forked_child_grades_with_its_own_workers():
    proc = subprocess.run([sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out == {"first": True, "child": [True, []], "status": 0, "parent_after": True,
                   "parent_same_workers": True}
