"""A stage's console view: every line in the log, a few progress lines, the chosen lines echoed."""

import io
import re
import subprocess
import sys

from specs_verl.pipeline.progress import follow, quarter_marks


def run(lines, **kw):
    log, out = io.StringIO(), io.StringIO()
    kw.setdefault("total", None)
    kw.setdefault("pattern", re.compile(r"\bstep:(\d+)\b"))
    kw.setdefault("show", None)
    step = follow(lines, log, out, label="step", tty=False, **kw)
    return step, log.getvalue(), out.getvalue().splitlines()


def test_quarter_marks():
    assert quarter_marks(80) == [20, 40, 60, 80]
    assert quarter_marks(1) == [1]
    assert quarter_marks(3) == [1, 2, 3]


def test_every_line_reaches_the_log_and_four_progress_lines_the_console():
    lines = [f"noise {i}\n" for i in range(500)] + [f"step:{s} - loss:0.1\n" for s in range(1, 81)]
    step, log, out = run(lines, total=80)
    assert step == 80 and log == "".join(lines)
    assert [o.split(" (")[0] for o in out] == ["    step 20/80", "    step 40/80", "    step 60/80", "    step 80/80"]


def test_the_total_is_read_from_the_trainer_and_shown_lines_are_echoed():
    lines = ["Total steps: 2, num_warmup_steps: 0\n", "step:1 - a\n", "[specs-dpo] reference pass: 3 pairs\n",
             "step:2 - b\n"]
    _, _, out = run(lines, show=re.compile(r"^\[specs-dpo\] reference"),
                    total_pattern=re.compile(r"Total steps: (\d+)"))
    assert out[0].startswith("    step 1/2") and out[1] == "    [specs-dpo] reference pass: 3 pairs"
    assert out[2].startswith("    step 2/2")


def test_the_filter_survives_an_interrupt_and_drains_the_stream(tmp_path):
    """SIGINT goes to the whole foreground group on Ctrl-C; the filter ignores it and keeps copying to the log."""
    log = tmp_path / "stage.log"
    proc = subprocess.Popen([sys.executable, "-m", "specs_verl.pipeline", "progress", "--log", str(log)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    proc.stdin.write("first\n")
    proc.stdin.flush()
    import signal
    import time

    deadline = time.monotonic() + 60
    while not (log.exists() and log.read_text()):  # the first line is copied: the handler is set
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.stdin.write("last words of the stage\n")
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    assert log.read_text() == "first\nlast words of the stage\n"
