"""`Problem` -> one row of verl's RL parquet schema (what RLHFDataset and the specs reward read).

    data_source   str                       one per set (GF splits validation metrics by it)
    prompt        [{"role": "user", "content": "<image>...question...\\n" + instruction}]; multiple-choice rows
                  get the template's `_choice` variant, which asks for the option letter
    images        [{"bytes": PNG/JPEG, "path": None}], one per `<image>` placeholder, in order ([] for a
                  text-only row)
    ability       str
    reward_model  {"style": "rule", "ground_truth": str}   an option letter for multiple choice, sorted letters
                  joined by commas for multi-select ("C,D"), else the normalised gold answer (`gold_answers`)
    extra_info    the same keys on every row (verl fails to batch rows whose extra_info keys differ), as the
                  grader reads them (`specs_verl.grading.grade`):
                  index, split, qid, question, answer (as the dataset spells it), answer_type (choice |
                  multi_select | number | text), options (option texts, A first; [] when not multiple choice or
                  unknown), category, source_row, answers (every acceptable answer when there are several, else
                  []), precision (decimals numbers are compared to, else null)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .gold_answers import normalise_free_form
from .images import image_entry
from .placeholders import place_images, without_references
from .problem import Problem, Skip, answer_type, options_block, text

EXTRA_INFO_KEYS = ("index", "split", "qid", "question", "answer", "answer_type", "options", "category",
                   "source_row", "answers", "precision")


def arrow_schema():
    """The parquet schema, fixed so that every chunk a streaming writer appends has the same types."""
    import pyarrow as pa

    return pa.schema([
        ("data_source", pa.string()),
        ("prompt", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
        ("images", pa.list_(pa.struct([("bytes", pa.binary()), ("path", pa.string())]))),
        ("ability", pa.string()),
        ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
        ("extra_info", pa.struct([
            ("index", pa.int64()), ("split", pa.string()), ("qid", pa.string()), ("question", pa.string()),
            ("answer", pa.string()), ("answer_type", pa.string()), ("options", pa.list_(pa.string())),
            ("category", pa.string()), ("source_row", pa.int64()), ("answers", pa.list_(pa.string())),
            ("precision", pa.int64()),
        ])),
    ])


@dataclass(frozen=True)
class RowSettings:
    data_source: str
    ability: str
    split: str
    instruction: str | None  # the format instruction text (None: none)
    image_roots: Sequence[Any] = ()  # folders and `ImageArchive`s relative image paths are looked up in
    choice_instruction: str | None = None  # for multiple-choice rows (None: `instruction`)
    images_only: bool = False  # skip text-only records instead of writing them as text-only rows


def compose_prompt(body: str, instruction: str | None) -> str:
    """The user text: a template holding `{question}` wraps the body, any other is appended on a new line
    (the same rule as `specs_verl.generation.prompt.apply_instruction`, so tools never add it twice)."""
    from specs_verl.generation.prompt import apply_instruction

    messages, _ = apply_instruction([{"role": "user", "content": body}], instruction)
    return messages[0]["content"]


def build_row(problem: Problem, settings: RowSettings, index: int, source_row: int) -> dict[str, Any]:
    """The verl row; Skip when the problem has no question, no answer or no usable image."""
    answer = text(problem.answer)
    if not answer:
        raise Skip("missing_answer", "empty answer")
    if not problem.choice:
        answer = normalise_free_form(answer)
    if not without_references(text(problem.question)) and not problem.options and not problem.lead:
        raise Skip("missing_question", "empty question")
    parts = [text(problem.lead), text(problem.question)]
    if problem.options and problem.options_shown:
        parts.append(options_block(problem.options))
    if problem.hint:
        parts.append(problem.hint)
    body = "\n".join(p for p in parts if p)
    if problem.images:
        body, order = place_images(body, len(problem.images))
        images = [image_entry(problem.images[i], settings.image_roots) for i in order]
    elif not problem.text_only:
        raise Skip("missing_image", "the record has no image")
    elif settings.images_only:
        raise Skip("text_only", "a text-only record (--images-only)")
    else:
        body, images = place_images(body, 0)[0], []
    instruction = settings.choice_instruction if problem.choice and settings.choice_instruction else \
        settings.instruction
    return {
        "data_source": settings.data_source,
        "prompt": [{"role": "user", "content": compose_prompt(body, instruction)}],
        "images": images,
        "ability": settings.ability,
        "reward_model": {"style": "rule", "ground_truth": answer},
        "extra_info": {
            "index": index, "split": settings.split, "qid": problem.qid, "question": text(problem.question),
            "answer": text(problem.raw_answer) or answer, "answer_type": answer_type(problem, answer),
            "options": [text(o) for o in problem.options], "category": text(problem.category),
            "source_row": source_row, "answers": [text(a) for a in problem.answers if text(a)],
            "precision": problem.precision,
        },
    }
