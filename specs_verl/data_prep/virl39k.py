"""ViRL39K (VL-Rethinker's 38,870 verifiable visual QAs; with Orsta-Data-47k, SPECS's RL training set).

Layouts:
- parquet with the images embedded (the hub card of the `Kun-Xiang/ViRL39K` mirror): `problem` str, `answer` str,
  `images` list[Image], `category` str, `qid` str, `id` int64; one split, `train` (38,870 rows).
- the original `TIGER-Lab/ViRL39K` release (`39Krelease.parquet` + `images.zip`), as a public loader of it reads
  it: `question`, `answer`, `image` = list of paths relative to the repo root, `category`, `qid`. Unzip the
  images next to the parquet (or pass --image-root) and point --source at the folder or at the parquet file.
Quirks (handled by that same public loader):
- some answers are wrapped as `\\boxed{...}`: unwrapped here;
- multiple-choice answers are a single capital letter with the options already in the question text: the letter
  is the ground truth and the text is kept as is;
- the number of `<image>` tokens in the question does not always match the images: `placeholders` fixes it.
"""

from __future__ import annotations

from typing import Any

from .dataset_spec import ConvertContext, DatasetSpec
from .problem import Problem, as_list, column, option_letter, strip_boxed, text


def record_id(record: dict[str, Any], ctx: ConvertContext) -> str:
    return text(record.get("qid")) or text(record.get("id")) or f"virl39k-{ctx.row}"


def convert(record: dict[str, Any], ctx: ConvertContext) -> Problem:
    question = text(column(record, "problem", "question"))
    images = as_list(column(record, "images", "image"))
    raw = text(column(record, "answer"))
    answer = strip_boxed(raw)
    letter = option_letter(answer) if len(answer.strip()) == 1 else None
    return Problem(qid=record_id(record, ctx), question=question, images=images, answer=letter or answer,
                   choice=letter is not None, category=text(record.get("category")), raw_answer=raw)


SPEC = DatasetSpec(
    name="virl39k", hub_id="TIGER-Lab/ViRL39K", data_source="virl39k", default_split="train",
    ability="visual_reasoning", convert=convert, record_id=record_id, role="train",
    summary="ViRL39K RL training set (problem/question, answer, images/image, category, qid)",
)
