"""Sample files: JSONL shards written atomically by `sample`, read back (from any source) by `pair`.

One JSON object per line. `sample` writes
    {"qid", "sample_index", "text", "n_prompt_tokens", "n_tokens", "finish_reason", "data_source", "model",
     "settings": {...}}
and `pair` needs only `qid` (a question id of the RL data, see `generation.question_id`) and `text`;
`sample_index` defaults to the order of a question's lines, `model` to the file name. So samples generated
elsewhere only need those two keys.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from specs_verl.atomic import write_atomic  # noqa: F401  (sample and pair import it from here)

SHARD_PATTERN = re.compile(r"^shard-(\d{5,})\.jsonl$")
RUN_FILE = "run.json"


class SampleFileError(ValueError):
    """A malformed sample line (the message names the file and line)."""


@dataclass
class SampleRecord:
    qid: str
    index: int
    text: str
    model: str
    n_tokens: int | None
    where: str  # "file:line", for messages


def shard_paths(out: Path) -> list[Path]:
    return sorted(p for p in out.glob("shard-*.jsonl") if SHARD_PATTERN.match(p.name))


def next_shard_path(out: Path) -> Path:
    numbers = [int(SHARD_PATTERN.match(p.name).group(1)) for p in shard_paths(out)]
    return out / f"shard-{(max(numbers) + 1 if numbers else 0):05d}.jsonl"


def write_shard(out: Path, records: Iterable[dict[str, Any]]) -> Path:
    path = next_shard_path(out)
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    return path


def remove_stale_temp_files(out: Path) -> int:
    """Temp files left by a crash (a shard in flight): never read, removed on restart."""
    stale = list(out.glob(".shard-*.tmp"))
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


def done_question_ids(out: Path) -> dict[str, int]:
    """qid -> samples already written, over the complete shards of a `sample` output directory."""
    done: dict[str, int] = {}
    for path in shard_paths(out):
        for rec in _read_lines(path, strict=True, problems=None):
            done[rec["qid"]] = done.get(rec["qid"], 0) + 1
    return done


def _read_lines(path: Path, strict: bool, problems: list[str] | None):
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not a JSON object")
                if not isinstance(rec.get("qid"), (str, int)) or isinstance(rec.get("qid"), bool):
                    raise ValueError("missing or non-string 'qid'")
                if not isinstance(rec.get("text"), str):
                    raise ValueError("missing or non-string 'text'")
                idx = rec.get("sample_index")
                if idx is not None and (not isinstance(idx, int) or isinstance(idx, bool)):
                    raise ValueError("'sample_index' must be an integer")
            except ValueError as e:  # json.JSONDecodeError is a ValueError
                msg = f"{path}:{lineno}: {e}"
                if strict or problems is None:
                    raise SampleFileError(msg) from None
                problems.append(msg)
                continue
            rec["qid"] = str(rec["qid"])
            rec["_where"] = f"{path}:{lineno}"
            yield rec


def sample_files(source: str | os.PathLike) -> list[Path]:
    """A JSONL file, or every `*.jsonl` file directly inside a directory (sorted)."""
    source = Path(source)
    if source.is_dir():
        files = sorted(source.glob("*.jsonl"))
        if not files:
            raise FileNotFoundError(f"{source}: no *.jsonl sample files in this directory")
        return files
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file or directory")
    return [source]


def read_samples(sources: Iterable[str | os.PathLike], strict: bool = False,
                 problems: list[str] | None = None) -> dict[str, list[SampleRecord]]:
    """qid -> its samples, from every source. Malformed lines raise `SampleFileError` when `strict`, otherwise
    they are skipped and described in `problems` ("file:line: reason")."""
    by_qid: dict[str, list[SampleRecord]] = {}
    for source in sources:
        for path in sample_files(source):
            for rec in _read_lines(path, strict, problems if problems is not None else []):
                samples = by_qid.setdefault(rec["qid"], [])
                index = rec.get("sample_index")
                n_tokens = rec.get("n_tokens")
                # a sample without a model id is named after its directory (shards) or its file
                model = rec.get("model") or (path.parent.name if SHARD_PATTERN.match(path.name) else path.stem)
                samples.append(SampleRecord(
                    qid=rec["qid"], index=len(samples) if index is None else index, text=rec["text"],
                    model=str(model),
                    n_tokens=n_tokens if isinstance(n_tokens, int) and not isinstance(n_tokens, bool) else None,
                    where=rec["_where"]))
    return by_qid
