"""Convert one split of one dataset into a verl RL parquet and a report of what was skipped and why.

    result = prepare("mathvista", out_dir="data/", source="path/or/hub_id")
    result.out_path, result.written, result.skipped  # Counter: reason -> rows

Every record either becomes a row or is counted under a reason: `skipped` (unusable: no image, no answer,
an answer that is none of the options, ...; listed row by row in the report) or `excluded` (not in the
selection asked for, e.g. MathVerse versions other than vision-only; counted only). With `strict=True` the
first skipped record stops the run with its row, id and reason. Nothing is written when no row survives.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from specs_verl.atomic import write_atomic
from specs_verl.schema.rl_rows import open_writer

from .dataset_spec import ConvertContext
from .images import ImageArchive
from .loading import iter_records, load_source
from .problem import Excluded, LayoutError, Skip
from .registry import get_spec
from .rows import RowSettings, build_row

MAX_LISTED_SKIPS = 1000  # keeps the report small on a badly matched source


class DataPrepError(RuntimeError):
    """A run that cannot produce a usable file; the message names the dataset, row and reason."""


@dataclass
class Result:
    dataset: str
    split: str
    source: str
    out_path: Path | None
    report_path: Path
    read: int = 0
    written: int = 0
    skipped: Counter = field(default_factory=Counter)
    excluded: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        """The lines the CLI prints at the end."""
        lines = [f"{self.dataset} [{self.split}] from {self.source}",
                 f"  read {self.read}, written {self.written}, skipped {sum(self.skipped.values())}, "
                 f"excluded {sum(self.excluded.values())}  ({self.seconds:.1f} s)"]
        for title, counts in (("skipped", self.skipped), ("excluded", self.excluded)):
            for reason, n in counts.most_common():
                lines.append(f"  {title:8s} {n:6d}  {reason}")
        lines += [f"  note: {n}" for n in self.notes]
        lines.append(f"  output: {self.out_path if self.out_path else '(nothing written)'}")
        lines.append(f"  report: {self.report_path}")
        return "\n".join(lines)


def output_stem(name: str, split: str, variant: str, default_variant: str, config: str | None) -> str:
    """`mathvista_testmini`, `mathverse_testmini_all`, `mmmu_validation_Math`: one file per selection."""
    parts = [name, split]
    if variant and variant != default_variant:
        parts.append(variant)
    if config:
        parts.append(config)
    return "_".join(parts)


def prepare(name: str, out_dir: str | Path, *, source: str | None = None, split: str | None = None,
            config: str | None = None, variant: str | None = None, prompt_template: str | None = "specs",
            data_source: str | None = None, max_rows: int | None = None, image_root: str | None = None,
            out_name: str | None = None, strict: bool = False, holdout: int = 0, holdout_every: int = 10,
            images_only: bool = False, progress: Callable[[int], Any] | bool = True) -> Result:
    """Convert, write `<out_dir>/<stem>.parquet` and `<stem>.skipped.json`, return the counts.

    `prompt_template`: a packaged template name (`specs`, `choice`, `terse`), a file, or None/"none"; multiple-
    choice rows get its `_choice` variant when one is packaged (`specs_choice`: the same format, asking for the
    option letter). `images_only`: skip text-only records (counted as `text_only`) instead of writing them.
    `max_rows`: stop after this many rows written (quick runs). `progress`: True for a tqdm bar, False for none,
    or a callback taking the number of records just read. `holdout`: move this many rows, picked by a hash of
    their qid (one in `holdout_every`, spread over the set, the same on every run), to `<stem>_holdout.parquet`: the held-out
    in-distribution set GF needs when a dataset has no validation split (ViRL39K).
    """
    from specs_verl.generation.prompt import load_instruction

    started = time.perf_counter()
    spec = get_spec(name)
    split = split or spec.default_split
    variant = variant or spec.default_variant
    if variant and variant not in spec.variants:
        choices = ", ".join(spec.variants) or "none: it has no variants"
        raise ValueError(f"{spec.name} has no variant {variant!r}; choose one of {choices}")
    instruction = load_instruction(prompt_template)
    choice_instruction = load_instruction(prompt_template, choice=True)
    out_dir = Path(out_dir)
    stem = out_name or output_stem(spec.name, split, variant, spec.default_variant, config)
    result = Result(spec.name, split, source or spec.hub_id, None, out_dir / f"{stem}.skipped.json")

    src = load_source(spec, source, split, config=config, image_root=image_root)
    result.notes += src.notes
    settings = RowSettings(data_source=data_source or spec.data_source, ability=spec.ability, split=split,
                           instruction=instruction, image_roots=tuple(src.image_roots),
                           choice_instruction=choice_instruction, images_only=images_only)
    listed: list[dict[str, Any]] = []
    seen: set[str] = set()
    bar = None
    if progress is True:
        from tqdm import tqdm

        bar = tqdm(total=len(src), desc=f"{spec.name} {split}", unit="row")
        tick = bar.update
    else:
        tick = progress or (lambda n: None)

    writer = open_writer(out_dir / f"{stem}.parquet")
    held = open_writer(out_dir / f"{stem}_holdout.parquet") if holdout else None
    held_count = 0
    try:
        for part in src.parts:
            for row, record in enumerate(iter_records(part.dataset)):
                if max_rows is not None and result.written >= max_rows:
                    break
                result.read += 1
                tick(1)
                ctx = ConvertContext(split=split, variant=variant, config=part.config, row=row)
                try:
                    qid = spec.record_id(record, ctx)
                    if qid in seen:
                        raise Skip("duplicate_qid", f"qid {qid!r} already written")
                    problem = spec.convert(record, ctx)
                    if held is not None and held_count < holdout and _held_out(qid, holdout_every):
                        held.add(build_row(problem, settings, index=held_count, source_row=row))
                        held_count += 1
                        seen.add(qid)
                        continue
                    writer.add(build_row(problem, settings, index=result.written, source_row=row))
                    seen.add(qid)
                    result.written += 1
                except Excluded as e:
                    result.excluded[e.reason] += 1
                except Skip as e:
                    where = f"{spec.name} {part.config + ' ' if part.config else ''}row {row}"
                    if strict:
                        raise DataPrepError(f"{where} (qid {qid}): {e.reason}: {e.detail}") from None
                    result.skipped[e.reason] += 1
                    if len(listed) < MAX_LISTED_SKIPS:
                        listed.append({"config": part.config, "row": row, "qid": qid, "reason": e.reason,
                                       "detail": e.detail})
                except LayoutError as e:
                    raise DataPrepError(f"{spec.name}: {part.config + ' ' if part.config else ''}row {row}: {e}; "
                                        f"is {result.source!r} really {spec.name}?") from None
    except BaseException:
        writer.abort()
        if held is not None:
            held.abort()
        raise
    finally:
        if bar is not None:
            bar.close()
        for root in src.image_roots:
            if isinstance(root, ImageArchive):
                root.close()
    if result.written:
        result.out_path = writer.commit()
    else:
        writer.abort()
    if held is not None:
        result.notes.append(f"held out {held_count} rows in {held.commit() if held_count else 'nothing'}")
        if not held_count:
            held.abort()

    result.seconds = time.perf_counter() - started
    report = {
        "dataset": spec.name, "data_source": settings.data_source, "source": result.source, "split": split,
        "configs": [p.config for p in src.parts if p.config], "variant": variant,
        "prompt_template": prompt_template, "output": str(result.out_path) if result.out_path else None,
        "rows_read": result.read, "rows_written": result.written,
        "skipped": dict(result.skipped.most_common()), "excluded": dict(result.excluded.most_common()),
        "notes": result.notes, "skipped_rows": listed,
        "skipped_rows_not_listed": max(0, sum(result.skipped.values()) - len(listed)),
    }
    write_atomic(result.report_path, json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    if not result.written:
        reasons = ", ".join(f"{r} {n}" for r, n in (result.skipped + result.excluded).most_common()) or "no rows"
        raise DataPrepError(f"{spec.name} [{split}]: no row written ({reasons}); see {result.report_path}")
    return result


def _held_out(qid: str, every: int) -> bool:
    """One row in `every`, chosen by its id: the same rows on every run and machine."""
    import hashlib

    return int(hashlib.sha1(str(qid).encode()).hexdigest(), 16) % every == 0
