"""`pair`: read the data and both sample pools, filter, judge, supplement, pollute; write pairs and a report.

Nothing is written until everything is computed, and then each file atomically (temp file, then rename):
a failed run leaves no half file behind.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from specs_verl.generation import load_instruction, load_rl_requests

from .judge import JudgeItem, JudgeUnavailable, load_judge
from .pair_builder import PairConfig, PairStats, build_pairs, question_text
from .pairs_file import write_pairs
from .report import build_report, format_table
from .samples_io import RUN_FILE, SampleFileError, read_samples, write_atomic

logger = logging.getLogger(__name__)


@dataclass
class PairOptions:
    chosen: list[str]
    rejected: list[str]
    data: str
    out: str
    report: str | None = None  # default: report.json next to `out`
    prompt_template: str = "specs"
    judge: str = "none"
    judge_opts: dict[str, Any] | None = None  # transport options (url, model, ... / model_path, ...)
    judge_template: str = "judge_consistency"
    judge_cache: str | None = None  # default: judge_cache.jsonl next to `out`
    strict: bool = False
    progress: bool = True


NO_JUDGE_WARNING = ("no consistency judge (--judge none): chosen responses are not checked for reasoning that "
                    "supports their answer; this is the paper's no-judge ablation (48.13 vs 50.02 with the judge). "
                    "Pass --judge openai --judge-url URL --judge-model NAME (or --judge hf) to judge them")


class PairInputError(ValueError):
    """Bad input in strict mode (the message names the file and the line or row)."""


def template_warnings(sources: list[str], template: str, instruction: str | None) -> list[str]:
    """Sample directories written by `sample` record their instruction; the pairs' prompts must carry the same."""
    warnings = []
    for src in sources:
        run = Path(src) / RUN_FILE
        if not run.is_file():
            continue
        settings = json.loads(run.read_text()).get("settings", {})
        if settings.get("instruction") != instruction:
            warnings.append(f"{src} was sampled with --prompt-template {settings.get('prompt_template')!r} but pair "
                            f"uses {template!r}: the pairs' prompts would differ from the prompts the samples "
                            f"answered (pass the same --prompt-template)")
    return warnings


def run_pair(cfg: PairConfig, opts: PairOptions) -> dict[str, Any]:
    """Build and write the pairs; return the report (also written as JSON)."""
    from tqdm import tqdm

    t_start = time.perf_counter()
    out = Path(opts.out)
    report_path = Path(opts.report) if opts.report else out.with_name("report.json")
    bad_rows: list[str] | None = None if opts.strict else []
    instruction = load_instruction(opts.prompt_template)
    warnings = template_warnings(list(opts.chosen) + list(opts.rejected), opts.prompt_template, instruction)
    if opts.judge == "none":
        warnings.append(NO_JUDGE_WARNING)
    for w in warnings:
        logger.warning(w)
    questions = load_rl_requests(opts.data, instruction, skipped=bad_rows)
    problems: dict[str, list[str]] = {"chosen": [], "rejected": []}
    try:
        chosen = read_samples(opts.chosen, strict=opts.strict, problems=problems["chosen"])
        rejected = read_samples(opts.rejected, strict=opts.strict, problems=problems["rejected"])
    except SampleFileError as e:
        raise PairInputError(str(e)) from None
    known = {q.id for q in questions}
    unknown = {side: [f"{s.where}: question id {qid!r} is not in the data" for qid, ss in pool.items()
                      if qid not in known for s in ss]
               for side, pool in (("chosen", chosen), ("rejected", rejected))}
    if opts.strict and (unknown["chosen"] or unknown["rejected"]):
        first = (unknown["chosen"] or unknown["rejected"])[0]
        raise PairInputError(f"{first} ({opts.data})")
    t_read = time.perf_counter()

    judge = None
    if opts.judge != "none":
        cache = opts.judge_cache or str(out.with_name("judge_cache.jsonl"))
        judge = load_judge(opts.judge, template=opts.judge_template, cache_path=cache, **(opts.judge_opts or {}))

    judge_seconds = 0.0

    def judge_fn(items):
        nonlocal judge_seconds
        t0 = time.perf_counter()
        with tqdm(total=len(items), unit="verdict", desc="judging", disable=not opts.progress) as bar:
            verdicts = judge.judge([JudgeItem(question_text(q), s.text, answer) for q, s, answer in items],
                                   progress=bar.update)
        judge_seconds += time.perf_counter() - t0
        return [v.label for v in verdicts]

    stats = PairStats()
    pairs: list = []
    stopped: JudgeUnavailable | None = None
    try:
        with tqdm(total=len(questions), unit="question", desc="grading", disable=not opts.progress) as bar:
            pairs, stats = build_pairs(questions, chosen, rejected, cfg, judge_fn if judge else None,
                                       progress=bar.update, stats=stats)
    except JudgeUnavailable as e:  # the counts so far still go into the report; no pairs file is written
        stopped = e
    finally:
        if judge is not None:
            judge.close()
    t_pairs = time.perf_counter()
    if stopped is None:
        write_pairs(out, pairs, cfg.mode)
    t_write = time.perf_counter()
    report = build_report(
        stats, pairs,
        stopped_early=None if stopped is None else f"judge unavailable: {stopped}",
        warnings=warnings,
        settings={**asdict(cfg), "prompt_template": opts.prompt_template, "judge": opts.judge,
                  "judge_template": opts.judge_template if judge else None},
        inputs={"data": str(opts.data), "chosen": [str(c) for c in opts.chosen],
                "rejected": [str(r) for r in opts.rejected], "out": None if stopped else str(out)},
        problems={
            "rows_skipped": len(bad_rows or []), "row_examples": (bad_rows or [])[:10],
            "malformed_lines": {k: len(v) for k, v in problems.items()},
            "malformed_examples": (problems["chosen"] + problems["rejected"])[:10],
            "samples_unknown_question": {k: len(v) for k, v in unknown.items()},
            "unknown_question_examples": (unknown["chosen"] + unknown["rejected"])[:10],
        },
        judge=({**judge.stats, **{f"transport_{k}": v for k, v in judge.transport.stats.items()}}
               if judge else None),
        seconds={"read": round(t_read - t_start, 3), "judge": round(judge_seconds, 3),
                 "grade_and_pair": round(t_pairs - t_read - judge_seconds, 3),
                 "write": round(t_write - t_pairs, 3), "total": round(t_write - t_start, 3)},
    )
    write_atomic(report_path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if stopped is not None:
        raise JudgeUnavailable(f"{stopped} (no pairs written; the counts so far are in {report_path})") from None
    report["report_path"] = str(report_path)
    return report


def format_pair_summary(report: dict[str, Any]) -> str:
    p = report["problems"]
    lines = [format_table(report), ""] + [f"warning: {w}" for w in report["warnings"]]
    st = report["stages"]["all"]
    lines.append(f"rejected responses really changed by their pollution rule: {st['rejected_changed']} of "
                 f"{st['rejected_polluted']} ({st['rejected_already_unformatted']} were unformatted already and "
                 f"are used as they are)")
    for what, n in (("data rows skipped", p["rows_skipped"]),
                    ("malformed sample lines skipped", sum(p["malformed_lines"].values())),
                    ("samples whose question is not in the data", sum(p["samples_unknown_question"].values()))):
        if n:
            lines.append(f"{what}: {n}")
    for ex in p["row_examples"] + p["malformed_examples"] + p["unknown_question_examples"]:
        lines.append(f"  {ex}")
    if report["judge"]:
        j = report["judge"]
        lines.append(f"judge: {j['requests']} requests, {j['cache_hits']} cache hits, {j['unparseable']} unparseable, "
                     f"{j['error']} failed ({j.get('transport_client_errors', 0)} refused by the endpoint as bad "
                     f"requests, {j.get('transport_truncated', 0)} replies cut off at max tokens)")
    s = report["seconds"]
    lines.append(f"wrote {report['pairs']} pairs to {report['inputs']['out']} and the report to "
                 f"{report['report_path']} in {s['total']:.1f} s (grading and pairing {s['grade_and_pair']:.1f} s, "
                 f"judge {s['judge']:.1f} s)")
    return "\n".join(lines)
