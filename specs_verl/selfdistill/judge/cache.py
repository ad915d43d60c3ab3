"""Verdicts cached on disk (append-only JSONL), so a rerun never pays for the same judgement twice.

The key is a hash of the judge's identity (endpoint model or local model) and the full prompt, so a new
template or a new judge model never reuses old verdicts. Each verdict is appended and flushed as it arrives:
a crash keeps everything already paid for; a torn last line is ignored on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path


def cache_key(judge_id: str, prompt: str) -> str:
    return hashlib.sha256(f"{judge_id}\x00{prompt}".encode()).hexdigest()


class VerdictCache:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries: dict[str, dict] = {}
        self.torn_lines = 0
        if self.path.exists():
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        rec = json.loads(line)
                        self._entries[rec["key"]] = rec
                    except (ValueError, KeyError, TypeError):
                        self.torn_lines += 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a", encoding="utf-8")
        if self.path.stat().st_size:
            with open(self.path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    self._file.write("\n")  # end a torn line so the next record starts on its own

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> dict | None:
        return self._entries.get(key)

    def put(self, key: str, label: str, raw: str) -> None:
        rec = {"key": key, "label": label, "raw": raw}
        with self._lock:
            self._entries[key] = rec
            self._file.write(json.dumps(rec, ensure_ascii=False) + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()
