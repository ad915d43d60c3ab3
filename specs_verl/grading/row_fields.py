"""The grading fields of a verl row's `extra_info`, as `grade()` keywords (the row contract:
`specs_verl/schema/rl_rows.py`).

Rows from `specs_verl.data_prep` carry `options` (option texts, letter order), `answer_type`, `answers` (more
acceptable answers) and `precision` (decimals); parquet hands lists over as numpy arrays and a missing
precision as None or NaN. Empty or absent values are left out, so older rows grade as a bare ground truth.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def row_fields(extra_info: Any) -> dict[str, Any]:
    """The grading contract's keys of `extra_info` (options, answer_type, answers, precision), cleaned."""
    if not isinstance(extra_info, dict):
        return {}
    out: dict[str, Any] = {}
    for key in ("options", "answers"):
        value = extra_info.get(key)
        if hasattr(value, "tolist"):
            value = value.tolist()
        if isinstance(value, (list, tuple)) and len(value):
            out[key] = [str(v) for v in value if v is not None]
    answer_type = extra_info.get("answer_type")
    if isinstance(answer_type, str) and answer_type:
        out["answer_type"] = answer_type
    precision = extra_info.get("precision")
    if isinstance(precision, numbers.Real) and not isinstance(precision, bool) and math.isfinite(precision):
        out["precision"] = int(precision)
    return out
