"""`Problem` -> one row of verl's RL parquet, the contract in `specs_verl.schema.rl_rows` (its columns, the
`extra_info` keys the grader reads, its Arrow schema and writer). Multiple-choice rows get the template's
`_choice` variant, which asks for the option letter; images are `{"bytes", "path": None}`, one per `<image>`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from .gold_answers import normalise_free_form
from .images import image_entry
from .placeholders import place_images, without_references
from .problem import Problem, Skip, answer_type, options_block, text


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
