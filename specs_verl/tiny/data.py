"""Synthetic visual questions rendered with PIL, written in verl's parquet schemas. Deterministic for a seed.

Four tasks, each its own `data_source`:
- `tiny_count` (in-distribution): "How many <colour> shapes are there?", integer answers, the paper's instruction;
- `tiny_choice` (OOD): "Which colour appears most often?", options A-D, letter answers, another instruction;
- `tiny_shapes` (OOD): "How many circles are there?", integer answers, a terse instruction;
- `tiny_total` (hard OOD): "How many shapes are there altogether?" in question and instruction wordings that
  no training file contains (the `novel` template), reported on its own.
The base model is taught every task but the hard one (`sft_train.parquet`, a minority of the answers in the
think/answer format, as the paper's base model follows the format 41.6 % of the time), so each evaluated task
starts with some format following that a cold start on the ID task alone may or may not transfer; the RL and pair
files hold the ID task only, as in the paper.
Prompt lengths vary on purpose: verl 0.9 corrupts M-RoPE position ids when every sequence of a multimodal
batch has the same length (upstream issue 7899).
"""

from __future__ import annotations

import io
import os
import random
from dataclasses import dataclass
from pathlib import Path

from specs_verl.templates import template

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 30), "blue": (30, 60, 220), "yellow": (230, 210, 20)}
SHAPES = ("circle", "square", "triangle")
ID_SOURCE = "tiny_count"
OOD_SOURCES = ("tiny_choice", "tiny_shapes")
HARD_OOD_SOURCE = "tiny_total"
LETTERS = "ABCD"


@dataclass
class Scene:
    size: tuple[int, int]
    items: list[tuple[str, str]]  # (colour, shape)

    def png(self, rng: random.Random) -> bytes:
        from PIL import Image, ImageDraw

        w, h = self.size
        img = Image.new("RGB", (w, h), (245, 245, 245))
        draw = ImageDraw.Draw(img)
        cols = 4
        cell_w, cell_h = w // cols, h // cols
        cells = rng.sample(range(cols * cols), len(self.items))
        for (colour, shape), cell in zip(self.items, cells):
            x0, y0 = (cell % cols) * cell_w + 1, (cell // cols) * cell_h + 1
            x1, y1 = x0 + cell_w - 3, y0 + cell_h - 3
            fill = COLOURS[colour]
            if shape == "circle":
                draw.ellipse((x0, y0, x1, y1), fill=fill)
            elif shape == "square":
                draw.rectangle((x0, y0, x1, y1), fill=fill)
            else:
                draw.polygon([((x0 + x1) // 2, y0), (x0, y1), (x1, y1)], fill=fill)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        return buf.getvalue()


def _scene(rng: random.Random) -> Scene:
    side = rng.choice((56, 84, 112))
    n = rng.randint(2, 9)
    return Scene((side, side), [(rng.choice(list(COLOURS)), rng.choice(SHAPES)) for _ in range(n)])


_COUNT_PHRASES = (
    "How many {c} shapes are there?",
    "How many {c} shapes are in the image?",
    "Count the {c} shapes in this picture. How many are there?",
    "Look at the image carefully. What is the total number of {c} shapes?",
)
_SHAPE_PHRASES = ("How many {s}s are there?", "Count every {s} in the image, whatever its colour.")
_TOTAL_PHRASES = ("Altogether, how many shapes can you see?", "What is the number of figures drawn, of any kind?")


def _question(task: str, scene: Scene, rng: random.Random) -> tuple[str, str, str, str]:
    """(question text, instruction template name, ground truth, a short reasoning that reaches it)."""
    if task == ID_SOURCE:
        colour = rng.choice([c for c, _ in scene.items] + [rng.choice(list(COLOURS))])
        n = sum(c == colour for c, _ in scene.items)
        return rng.choice(_COUNT_PHRASES).format(c=colour), "specs", str(n), \
            f"I count the {colour} shapes one by one. There are {n}."
    if task == "tiny_choice":
        counts = {c: sum(c == x for x, _ in scene.items) for c in COLOURS}
        best = max(counts.values())
        winners = [c for c, k in counts.items() if k == best]
        answer_colour = rng.choice(winners)
        options = list(COLOURS)
        rng.shuffle(options)
        # a unique answer: drop the other tied colours from the options
        options = [o for o in options if o == answer_colour or o not in winners]
        letter = LETTERS[options.index(answer_colour)]
        lines = "\n".join(f"{LETTERS[i]}. {o}" for i, o in enumerate(options))
        return f"Which colour appears most often in the image?\nOptions:\n{lines}", "choice", letter, \
            f"The most frequent colour is {answer_colour}, which is option {letter}."
    if task == "tiny_shapes":
        shape = rng.choice(SHAPES)
        n = sum(s == shape for _, s in scene.items)
        return rng.choice(_SHAPE_PHRASES).format(s=shape), "terse", str(n), \
            f"I count the {shape}s. There are {n}."
    if task == HARD_OOD_SOURCE:
        n = len(scene.items)
        return rng.choice(_TOTAL_PHRASES), "novel", str(n), f"I count every shape. There are {n}."
    raise ValueError(f"unknown task {task!r}")


def formatted_answer(reasoning: str, answer: str) -> str:
    """A response in the SPECS format (what the zero model's good answers look like)."""
    return f"<think>\n{reasoning}\n</think>\n<answer> The answer is $\\boxed{{{answer}}}$ </answer>"


_PLAIN_STYLES = (
    "{r} The answer is {a}.",
    "{r}\nAnswer: {a}",
    "{r} So the final answer is $\\boxed{{{a}}}$.",
    "Let me think. {r}\nThe answer is \\boxed{{{a}}}",
)


def plain_answer(reasoning: str, answer: str, rng: random.Random) -> str:
    """A correct response without the think/answer format (what the base model's answers look like)."""
    return rng.choice(_PLAIN_STYLES).format(r=reasoning, a=answer)


def make_rows(task: str, n: int, seed: int, split: str) -> list[dict]:
    """`n` rows of one task in verl's RL schema, each with a reference reasoning for SFT/pair data."""
    rng = random.Random(f"{seed}-{task}-{split}")
    rows = []
    for i in range(n):
        scene = _scene(rng)
        question, instruction, truth, reasoning = _question(task, scene, rng)
        rows.append({
            "data_source": task,
            "prompt": [{"role": "user", "content": f"<image>{question}\n{template(instruction)}"}],
            "images": [{"bytes": scene.png(rng), "path": None}],
            "ability": "visual_counting",
            "reward_model": {"style": "rule", "ground_truth": truth},
            "extra_info": {"index": i, "split": split, "qid": f"{task}-{split}-{i}", "reasoning": reasoning},
        })
    return rows


def pair_rows(rows: list[dict], seed: int) -> list[dict]:
    """Preference pairs that differ in surface form only: both sides carry the right answer."""
    rng = random.Random(f"{seed}-pairs")
    out = []
    for row in rows:
        truth = row["reward_model"]["ground_truth"]
        reasoning = row["extra_info"]["reasoning"]
        out.append({
            "prompt": row["prompt"],
            "images": row["images"],
            "chosen": formatted_answer(reasoning, truth),
            "rejected": plain_answer(reasoning, truth, rng),
            "data_source": row["data_source"],
            "pair_id": row["extra_info"]["qid"],
            "extra_info": {"ground_truth": truth, "split": row["extra_info"]["split"]},
        })
    return out


def sft_rows(rows: list[dict], seed: int, formatted_share: float = 0.25) -> list[dict]:
    """SFT chats with mixed-format answers (a minority in the SPECS format), in verl's `messages` schema."""
    rng = random.Random(f"{seed}-sft")
    out = []
    for row in rows:
        truth = row["reward_model"]["ground_truth"]
        reasoning = row["extra_info"]["reasoning"]
        formatted = rng.random() < formatted_share
        reply = formatted_answer(reasoning, truth) if formatted else plain_answer(reasoning, truth, rng)
        out.append({
            "messages": row["prompt"] + [{"role": "assistant", "content": reply}],
            "images": row["images"],
            "data_source": row["data_source"],
        })
    return out


def _extra_info_types():
    """The `extra_info` structs of the tiny RL and pair rows (their own keys: the reasoning feeds SFT and pairs)."""
    import pyarrow as pa

    rl = pa.struct([("index", pa.int64()), ("split", pa.string()), ("qid", pa.string()), ("reasoning", pa.string())])
    return rl, pa.struct([("ground_truth", pa.string()), ("split", pa.string())])


def make_tiny_data(out: str | os.PathLike, seed: int = 0, n_train: int = 64, n_val: int = 16,
                   formatted_share: float = 0.25, n_teach_ood: int | None = None) -> dict[str, int]:
    """Write the RL, preference and SFT parquet files; return {file name: rows}. `formatted_share` of the SFT
    answers use the think/answer format, the rest plain styles. The SFT (teaching) file holds the ID training
    questions plus `n_teach_ood` questions of each OOD task (default n_train // 2), drawn apart from the
    validation questions; the hard OOD task is in no training file."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    train = make_rows(ID_SOURCE, n_train, seed, "train")
    teach_ood = [r for src in OOD_SOURCES
                 for r in make_rows(src, n_train // 2 if n_teach_ood is None else n_teach_ood, seed, "teach")]
    val_id = make_rows(ID_SOURCE, n_val, seed, "val")
    val_ood = {src: make_rows(src, n_val, seed, "val") for src in (*OOD_SOURCES, HARD_OOD_SOURCE)}
    from specs_verl.schema.pairs import write_pair_rows
    from specs_verl.schema.rl_rows import write_rl_rows
    from specs_verl.schema.sft_chats import write_sft_chats

    rl_extra, pair_extra = _extra_info_types()
    rl_files = {
        "rl_train.parquet": train,
        "rl_val_id.parquet": val_id,
        **{f"rl_val_ood_{src.removeprefix('tiny_')}.parquet": rows for src, rows in val_ood.items()},
    }
    pair_files = {
        "pairs_train.parquet": pair_rows(train, seed),
        "pairs_val.parquet": pair_rows(val_id + [r for src in OOD_SOURCES for r in val_ood[src]], seed + 1),
    }
    sft = sft_rows(train + teach_ood, seed, formatted_share)
    for name, rows in rl_files.items():
        write_rl_rows(out / name, rows, rl_extra)
    for name, rows in pair_files.items():
        write_pair_rows(out / name, rows, pair_extra)
    write_sft_chats(out / "sft_train.parquet", sft)
    return {**{name: len(rows) for name, rows in {**rl_files, **pair_files}.items()}, "sft_train.parquet": len(sft)}
