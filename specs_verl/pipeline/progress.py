"""A stage's console view: its whole output goes to a log file, the console gets progress and a few chosen lines.

    CMD 2>&1 | python -m specs_verl.pipeline progress --log LOG [--total N] [--pattern REGEX] [--show REGEX]

verl and Ray print thousands of lines per stage (config dumps, per-worker warnings, per-step metric lines);
a person wants to know that the stage is moving and what it wrote. Every input line is written to LOG as it
arrives (so `tail -f LOG` works and the log survives a crash); `--pattern` (a regex with one group, the step
number) drives a progress bar on a terminal, or a line at each quarter of the total elsewhere (CI logs, pipes);
the total is `--total`, or else read from the first line matching `--total-pattern` (verl's trainers print
"Total steps: N");
lines matching `--show` are echoed as they are. SIGINT is ignored here so that on Ctrl-C the stage's own
process decides how to stop and this filter still drains its last lines into the log.
"""

from __future__ import annotations

import re
import signal
import sys
import time
from typing import IO, Iterable


def quarter_marks(total: int) -> list[int]:
    """The steps at which a non-terminal console gets a progress line: 25, 50, 75 and 100 % of `total`."""
    return sorted({max(1, round(total * q / 4)) for q in (1, 2, 3, 4)})


def follow(lines: Iterable[str], log: IO[str], out: IO[str], total: int | None, pattern: re.Pattern | None,
           show: re.Pattern | None, label: str, tty: bool, total_pattern: re.Pattern | None = None) -> int:
    """Copy `lines` to `log`; report progress and the `show` lines on `out`. Returns the last step seen."""
    bar, step, start, marks = None, 0, time.monotonic(), []

    def set_total(n: int):
        nonlocal bar, marks, total
        total, marks = n, quarter_marks(n)
        if tty and pattern is not None:
            from tqdm import tqdm

            bar = tqdm(total=n, initial=step, desc=f"    {label}", file=out, leave=True, dynamic_ncols=True)

    if total:
        set_total(total)
    for line in lines:
        log.write(line)
        log.flush()
        if not marks and total_pattern is not None and (t := total_pattern.search(line)):
            set_total(int(t.group(1)))
        if show is not None and show.search(line):
            if bar is not None:
                bar.write(f"    {line.rstrip()}", file=out)
            else:
                out.write(f"    {line.rstrip()}\n")
        m = pattern.search(line) if pattern is not None else None
        if m is None:
            continue
        new = int(m.group(1))
        if new <= step:
            continue
        if bar is not None:
            bar.update(new - step)
        else:
            for mark in marks:
                if step < mark <= new:
                    out.write(f"    {label} {new}/{total} ({time.monotonic() - start:.0f}s)\n")
                    break
        step = new
        out.flush()
    if bar is not None:
        bar.close()
    out.flush()
    return step


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="python -m specs_verl.pipeline progress", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--log", required=True, help="file that receives every input line")
    p.add_argument("--total", type=int, default=None, help="the step count at which the stage is done")
    p.add_argument("--pattern", default=r"\bstep:(\d+)\b",
                   help="regex whose first group is the current step (default: verl's 'step:N' metric lines)")
    p.add_argument("--total-pattern", default=r"Total steps: (\d+)",
                   help="regex whose first group is the total, read when --total is not given")
    p.add_argument("--show", default=None, help="regex of lines to echo to the console")
    p.add_argument("--label", default="step", help="word before the progress figures (default: step)")
    args = p.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with open(args.log, "a", encoding="utf-8", errors="replace") as log:
        follow(sys.stdin, log, sys.stdout, args.total, re.compile(args.pattern) if args.pattern else None,
               re.compile(args.show) if args.show else None, args.label, sys.stdout.isatty(),
               re.compile(args.total_pattern) if args.total_pattern and not args.total else None)
    return 0
