"""Preference pairs from two pools of samples: the core of `pair`, with every filter stage counted.

For each question of the RL data:
- chosen candidates (the "zero" model's samples): the answer grades correct, the form passes the scorer at the
  requested level (`format_ok` by default), the judge finds the reasoning consistent (when a judge is
  configured), and `supplement` rewrites the answer wrapper to the canonical one (the result is re-graded);
- rejected candidates (the base model's samples): the answer grades correct (`decoupled`, the paper's default)
  or incorrect (`coupled`, the ablation), then `pollute` with a rule drawn at random; the polluted text must
  fail `format_ok` and still grade as before (a rule that removes the only answer tags can lose an unboxed
  answer; such a candidate is dropped and counted). A rule that changes nothing (a tag-less base response:
  it fails the format already) keeps the response as it is, labelled `already_unformatted` and counted apart
  (`rejected_already_unformatted`), never as that rule; `rejected_changed` counts the really polluted ones;
- identical sample texts of one question are used once (duplicate lines never give duplicate pairs);
- up to K pairs: the shuffled chosen and rejected candidates zipped, so no response is used twice.
The judge sees only chosen candidates of questions that have a rejected candidate (it is the costly step).
Randomness (rules, shuffles) comes from one generator per question seeded with (seed, question id): a
question's pairs do not depend on the rest of the data.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Sequence

from specs_verl.generation import Request
from specs_verl.grading import InvalidGroundTruth, grade, ground_truths, row_fields
from specs_verl.surface_form import POLLUTION_RULES, check, pollute, supplement

from .samples_io import SampleRecord

MODES = ("decoupled", "coupled")
UNCHANGED_RULE = "already_unformatted"  # the label of a rejected response its pollution rule did not change
FORM_LEVELS = ("format", "structure", "style")

# Filter stages in pipeline order (the rows of the report's table).
STAGES = (
    "questions",
    "chosen_samples", "chosen_correct", "chosen_form_ok", "chosen_judged", "chosen_consistent",
    "chosen_supplemented",
    "rejected_samples", "rejected_selected", "rejected_polluted", "rejected_changed",
    "questions_with_pair", "pairs",
)
# Where the candidates that did not pass went (also per data source).
DROPS = (
    "chosen_duplicates", "rejected_duplicates", "rejected_already_unformatted",
    "chosen_judge_skipped", "chosen_inconsistent", "chosen_unparseable", "chosen_judge_error",
    "chosen_supplement_failed", "chosen_supplement_changed_grade",
    "rejected_pollution_kept_format", "rejected_pollution_changed_grade",
)
# Why a question produced no pair: the first reason that applies, in this order.
NO_PAIR_REASONS = (
    "no_ground_truth", "no_chosen_samples", "no_rejected_samples", "no_correct_chosen", "no_chosen_form_ok",
    "no_selected_rejected", "no_polluted_rejected", "no_consistent_chosen", "no_supplemented_chosen",
)


@dataclass
class PairConfig:
    mode: str = "decoupled"
    pairs_per_question: int = 1
    seed: int = 0
    chosen_form: str = "format"  # format | structure | style: the level a chosen sample must reach
    time_limit: float = 5.0  # seconds per grading call
    pollution_rules: tuple[str, ...] = POLLUTION_RULES  # drawn from uniformly (the paper: all five)
    think_prefilled: bool = False  # the prompts end in `<think>`: responses start inside the reasoning

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.chosen_form not in FORM_LEVELS:
            raise ValueError(f"chosen_form must be one of {FORM_LEVELS}, got {self.chosen_form!r}")
        if self.pairs_per_question < 1:
            raise ValueError("pairs_per_question must be >= 1")
        self.pollution_rules = tuple(self.pollution_rules)
        unknown = sorted(set(self.pollution_rules) - set(POLLUTION_RULES))
        if unknown or not self.pollution_rules:
            raise ValueError(f"pollution rules must be a non-empty subset of {POLLUTION_RULES}, got {unknown or '()'}")


@dataclass
class Pair:
    question: Request
    chosen: str
    rejected: str
    rule: str
    chosen_sample: SampleRecord
    rejected_sample: SampleRecord
    judge: str  # the chosen sample's verdict, or "not_judged"
    index: int  # the pair's number within its question


@dataclass
class PairStats:
    stages: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # data_source -> counts
    no_pair: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))
    rules: Counter = field(default_factory=Counter)
    pairs_per_question: Counter = field(default_factory=Counter)

    def add(self, source: str, key: str, n: int = 1) -> None:
        if n:
            self.stages[source][key] += n


@dataclass
class _Work:
    """One question in flight between the pure stages and the judge."""

    question: Request
    rng: random.Random
    chosen: list[tuple[SampleRecord, str]] = field(default_factory=list)  # (sample, extracted answer)
    rejected: list[tuple[SampleRecord, str, str]] = field(default_factory=list)  # (sample, polluted, rule)
    verdicts: list[str] = field(default_factory=list)
    reason: str | None = None


def source_of(q: Request) -> str:
    return q.data_source or "(none)"


def question_text(q: Request) -> str:
    """The last user message: what the judge is shown as the question."""
    users = [m["content"] for m in q.messages if m.get("role") == "user"]
    return users[-1] if users else ""


def _grade(q: Request, text: str, cfg: PairConfig):
    """As the reward grades it: with the row's options, extra answers and precision."""
    return grade(text, q.ground_truth, time_limit=cfg.time_limit, **row_fields(q.extra_info))


def _form_ok(text: str, level: str, think_prefilled: bool = False) -> bool:
    report = check(text, think_prefilled=think_prefilled)
    return {"format": report.format_ok, "structure": report.structure_ok, "style": report.style_ok}[level]


def _unique(samples: Sequence[SampleRecord]) -> list[SampleRecord]:
    seen, out = set(), []
    for s in samples:
        if s.text not in seen:
            seen.add(s.text)
            out.append(s)
    return out


def _first_stage(work: _Work, chosen: Sequence[SampleRecord], rejected: Sequence[SampleRecord], cfg: PairConfig,
                 stats: PairStats) -> None:
    """Grade, check and pollute (everything but the judge and the supplement)."""
    q, src = work.question, source_of(work.question)
    want_correct = cfg.mode == "decoupled"
    stats.add(src, "chosen_samples", len(chosen))
    stats.add(src, "rejected_samples", len(rejected))
    unique_chosen, unique_rejected = _unique(chosen), _unique(rejected)
    stats.add(src, "chosen_duplicates", len(chosen) - len(unique_chosen))
    stats.add(src, "rejected_duplicates", len(rejected) - len(unique_rejected))
    try:
        ground_truths(q.ground_truth)
    except InvalidGroundTruth:
        work.reason = "no_ground_truth"
        return
    correct = form_ok = 0
    for s in unique_chosen:
        g = _grade(q, s.text, cfg)
        if not g.correct:
            continue
        correct += 1
        if _form_ok(s.text, cfg.chosen_form, cfg.think_prefilled):
            form_ok += 1
            work.chosen.append((s, g.extracted or ""))
    stats.add(src, "chosen_correct", correct)
    stats.add(src, "chosen_form_ok", form_ok)

    selected = changed = 0
    for s in unique_rejected:
        if _grade(q, s.text, cfg).correct != want_correct:
            continue
        selected += 1
        rule = work.rng.choice(cfg.pollution_rules)
        polluted = pollute(s.text, rule)
        if polluted == s.text:
            rule = UNCHANGED_RULE
        if check(polluted, think_prefilled=cfg.think_prefilled).format_ok:
            stats.add(src, "rejected_pollution_kept_format")
        elif rule != UNCHANGED_RULE and _grade(q, polluted, cfg).correct != want_correct:
            stats.add(src, "rejected_pollution_changed_grade")
        else:
            work.rejected.append((s, polluted, rule))
            if rule == UNCHANGED_RULE:
                stats.add(src, "rejected_already_unformatted")
            else:
                changed += 1
    stats.add(src, "rejected_selected", selected)
    stats.add(src, "rejected_polluted", len(work.rejected))
    stats.add(src, "rejected_changed", changed)

    for reason, failed in (("no_chosen_samples", not chosen), ("no_rejected_samples", not rejected),
                           ("no_correct_chosen", not correct), ("no_chosen_form_ok", not form_ok),
                           ("no_selected_rejected", not selected), ("no_polluted_rejected", not work.rejected)):
        if failed:
            work.reason = reason
            return


def build_pairs(questions: Sequence[Request], chosen: dict[str, list[SampleRecord]],
                rejected: dict[str, list[SampleRecord]], cfg: PairConfig,
                judge: Callable[[list[tuple[Request, SampleRecord, str]]], list[str]] | None = None,
                progress: Callable[[int], None] | None = None,
                stats: PairStats | None = None) -> tuple[list[Pair], PairStats]:
    """All pairs, in data order, and the counts of every stage.

    `judge(items)` receives (question, chosen sample, extracted answer) triples and returns one label per item
    (see `judge.LABELS`; only "consistent" passes). `progress(1)` is called per question graded. Pass `stats`
    to keep the counts of a run that stops early (the judge became unavailable).
    """
    stats = PairStats() if stats is None else stats
    works = []
    for q in questions:
        work = _Work(q, random.Random(f"{cfg.seed}\x00{q.id}"))
        stats.add(source_of(q), "questions")
        _first_stage(work, chosen.get(q.id, []), rejected.get(q.id, []), cfg, stats)
        works.append(work)
        if progress is not None:
            progress(1)

    # the judge, in one batch (it runs its requests concurrently); skipped where no pair can form anyway
    if judge is not None:
        to_judge = [(w, k) for w in works if w.reason is None for k in range(len(w.chosen))]
        for w in works:
            if w.reason is not None and w.chosen:
                stats.add(source_of(w.question), "chosen_judge_skipped", len(w.chosen))
        labels = judge([(w.question, w.chosen[k][0], w.chosen[k][1]) for w, k in to_judge]) if to_judge else []
        for (w, _), label in zip(to_judge, labels):
            w.verdicts.append(label)
            src = source_of(w.question)
            stats.add(src, "chosen_judged")
            key = {"consistent": "chosen_consistent", "inconsistent": "chosen_inconsistent",
                   "unparseable": "chosen_unparseable"}.get(label, "chosen_judge_error")
            stats.add(src, key)

    pairs: list[Pair] = []
    for w in works:
        q, src = w.question, source_of(w.question)
        supplemented: list[tuple[SampleRecord, str, str]] = []
        if w.reason is None:
            verdicts = w.verdicts if judge is not None else ["not_judged"] * len(w.chosen)
            passing = [(s, v) for (s, _), v in zip(w.chosen, verdicts) if v in ("consistent", "not_judged")]
            if not passing:
                w.reason = "no_consistent_chosen"
            for s, v in passing:
                try:
                    text = supplement(s.text, think_prefilled=cfg.think_prefilled)
                except ValueError:
                    stats.add(src, "chosen_supplement_failed")
                    continue
                if not _grade(q, text, cfg).correct:
                    stats.add(src, "chosen_supplement_changed_grade")
                    continue
                supplemented.append((s, text, v))
            stats.add(src, "chosen_supplemented", len(supplemented))
            if passing and not supplemented:
                w.reason = "no_supplemented_chosen"
        if w.reason is not None:
            stats.no_pair[src][w.reason] += 1
            stats.pairs_per_question[0] += 1
            continue
        w.rng.shuffle(supplemented)
        rejected_pool = list(w.rejected)
        w.rng.shuffle(rejected_pool)
        k = min(cfg.pairs_per_question, len(supplemented), len(rejected_pool))
        for j, ((cs, ctext, verdict), (rs, rtext, rule)) in enumerate(zip(supplemented[:k], rejected_pool[:k])):
            pairs.append(Pair(q, ctext, rtext, rule, cs, rs, verdict, j))
            stats.rules[rule] += 1
        stats.add(src, "questions_with_pair")
        stats.add(src, "pairs", k)
        stats.pairs_per_question[k] += 1
    return pairs, stats
