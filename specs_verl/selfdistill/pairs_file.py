"""Pairs -> rows of the preference parquet (`specs_verl.schema.pairs`), with the pairing's provenance in
`extra_info`: the same keys on every row (verl and the DPO dataset assemble batches from them)."""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

from specs_verl.schema.pairs import write_pair_rows

from .pair_builder import Pair

EXTRA_INFO_KEYS = ("qid", "ground_truth", "mode", "pollution_rule", "judge", "chosen_model", "rejected_model",
                   "chosen_sample_index", "rejected_sample_index")


def extra_info_type():
    import pyarrow as pa

    return pa.struct([(k, pa.int64() if k.endswith("_index") else pa.string()) for k in EXTRA_INFO_KEYS])


def _image(ref: Any) -> dict[str, Any]:
    """A question's image as an entry. A path without bytes is written absolute (the RL reader resolved it against
    the RL file's folder already), so the pairs file stays valid wherever it is written."""
    if isinstance(ref, dict) and ref.get("bytes") is not None:
        return {"bytes": ref["bytes"], "path": ref.get("path")}
    path = ref.get("path") if isinstance(ref, dict) else ref
    return {"bytes": None, "path": os.path.abspath(path) if path else path}


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
    write_pair_rows(path, [pair_record(p, mode) for p in pairs], extra_info_type())
