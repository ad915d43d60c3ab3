"""The preference parquet the DPO trainer reads (`specs_verl/dpo/data.py`), written atomically.

One row per pair: `prompt` (chat messages, `<image>` placeholders, one per entry of `images`), `images`
(list of {"bytes", "path"}), `chosen`, `rejected` (strings), `data_source`, `pair_id`, and `extra_info` with
the same keys on every row (verl and the DPO dataset assemble batches from them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

from specs_verl.atomic import atomic_path

from .pair_builder import Pair

EXTRA_INFO_KEYS = ("qid", "ground_truth", "mode", "pollution_rule", "judge", "chosen_model", "rejected_model",
                   "chosen_sample_index", "rejected_sample_index")


def _schema():
    import pyarrow as pa

    extra = [(k, pa.int64() if k.endswith("_index") else pa.string()) for k in EXTRA_INFO_KEYS]
    return pa.schema([
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        ("chosen", pa.string()),
        ("rejected", pa.string()),
        ("data_source", pa.string()),
        ("pair_id", pa.string()),
        ("extra_info", pa.struct(extra)),
    ])


def _image(ref: Any) -> dict[str, Any]:
    if isinstance(ref, dict):
        return {"bytes": ref.get("bytes"), "path": ref.get("path")}
    return {"bytes": None, "path": str(ref)}


def _ground_truth(gt: Any) -> str:
    if hasattr(gt, "tolist"):
        gt = gt.tolist()
    return gt if isinstance(gt, str) else json.dumps(gt, ensure_ascii=False, default=str)


def pair_record(p: Pair, mode: str) -> dict[str, Any]:
    q = p.question
    return {
        "prompt": [{"role": m["role"], "content": m["content"]} for m in q.messages],
        "images": [_image(ref) for ref in q.images],
        "chosen": p.chosen,
        "rejected": p.rejected,
        "data_source": q.data_source,
        "pair_id": f"{q.id}-{p.index}",
        "extra_info": {
            "qid": q.id, "ground_truth": _ground_truth(q.ground_truth), "mode": mode, "pollution_rule": p.rule,
            "judge": p.judge, "chosen_model": p.chosen_sample.model, "rejected_model": p.rejected_sample.model,
            "chosen_sample_index": p.chosen_sample.index, "rejected_sample_index": p.rejected_sample.index,
        },
    }


def write_pairs(path: str | os.PathLike, pairs: Sequence[Pair], mode: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    table = pa.Table.from_pylist([pair_record(p, mode) for p in pairs], schema=_schema())
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
