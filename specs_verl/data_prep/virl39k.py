"""ViRL39K (VL-Rethinker's 38,870 verifiable visual QAs; with Orsta-Data-47k, SPECS's RL training set).

Layouts:
- `TIGER-Lab/ViRL39K` on the hub (the default): `39Krelease.parquet` with `question` str, `answer` str (always
  `\\boxed{...}`), `category` str, `source` str, `qid` str, `image` list[str] (paths such as
  `images/Processed-...-0.jpg`, empty for the text-only DeepScaleR rows) and `PassRate_*` columns, plus
  `images.zip` holding those paths. `datasets` reads only the parquet, so the hub id is fetched with the hub
  client (`loading.hub_snapshot`) and the images are read from `images.zip` in place; a local folder laid out
  like the repo (parquet + `images.zip`, as `huggingface-cli download --repo-type dataset` leaves it, or the
  images unzipped) goes through the same code.
- parquet with the images embedded (the `Kun-Xiang/ViRL39K` mirror): `problem`, `answer`, `images` list[Image],
  `category`, `qid`, `id`.
Quirks:
- answers are wrapped as `\\boxed{...}`: unwrapped here;
- multiple-choice answers are a capital letter with the options already in the question text: the letter is the
  ground truth, the text is kept as is and the options it lists go to extra_info.options for the grader
  (letters such as `A, C` over those options are a multi-select answer);
- rows with no image and no image reference are text-only questions: written as text-only rows (verl and the
  DPO trainer take them), or skipped with `--images-only`;
- the number of `<image>` tokens in the question does not always match the images: `placeholders` fixes it.
"""

from __future__ import annotations

from typing import Any

from .dataset_spec import ConvertContext, DatasetSpec
from .placeholders import has_references
from .problem import (Problem, as_list, column, letter_set, option_letter, options_in_text, set_choice,
                      set_multi_select, strip_boxed, text)


def record_id(record: dict[str, Any], ctx: ConvertContext) -> str:
    return text(record.get("qid")) or text(record.get("id")) or f"virl39k-{ctx.row}"


def convert(record: dict[str, Any], ctx: ConvertContext) -> Problem:
    question = text(column(record, "problem", "question"))
    images = as_list(column(record, "images", "image"))
    raw = text(column(record, "answer"))
    answer = strip_boxed(raw)
    problem = Problem(qid=record_id(record, ctx), question=question, images=images, answer=answer,
                      category=text(record.get("category")), raw_answer=raw,
                      text_only=not images and not has_references(question))
    letter, letters, options = option_letter(answer), letter_set(answer), options_in_text(question)
    if letter is not None:
        set_choice(problem, options, letter, shown=False)
    elif letters is not None and options:  # "A, C" over lettered options in the text: a multi-select answer
        set_multi_select(problem, options, letters, shown=False)
    return problem


SPEC = DatasetSpec(
    name="virl39k", hub_id="TIGER-Lab/ViRL39K", data_source="virl39k", default_split="train",
    ability="visual_reasoning", convert=convert, record_id=record_id, role="train", archives=("images.zip",),
    summary="ViRL39K RL training set (39Krelease.parquet + images.zip, or images embedded)",
)
