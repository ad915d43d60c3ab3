"""Preference pairs for a vision-language model: tokenize with the model's processor, collate.

The rows and their checks (file, row, reason) are the pairs contract, `specs_verl.schema.pairs`.
Each pair is encoded as two sequences, chosen then rejected, that share the prompt tokens and the image
features; `collate_pairs` lays them out as two rows (separate) or one prefix-shared row (shared, packing.py).
The loss mask covers response tokens only. A pair that does not fit `max_length` is refused (or skipped and
counted): the prompt and its image tokens are never truncated.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import dataclass, field

import torch
from torch.utils.data import Dataset

from specs_verl.fingerprint import json_digest
from specs_verl.schema import images as img
from specs_verl.schema.pairs import BadPairError, check_pair, read_pair_records
from specs_verl.schema.parquet import count_rows

from .ref_cache import row_key

logger = logging.getLogger(__name__)


class EncodeError(ValueError):
    """The chat template or the processor failed on a pair (`code`: template_error or processor_error)."""

    def __init__(self, code: str, reason: str):
        super().__init__(reason)
        self.code = code


@dataclass
class SkipReport:
    """What strict mode would have refused, counted by reason (dpo.on_bad_pair=skip)."""

    total: int = 0
    kept: int = 0
    skipped: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, err: BadPairError) -> None:
        self.skipped[err.code] += 1
        if len(self.examples) < 20:
            self.examples.append(str(err))

    def as_dict(self) -> dict:
        return {"total": self.total, "kept": self.kept, "skipped": dict(self.skipped), "examples": self.examples}


def set_max_pixels(processor, max_pixels: int) -> None:
    """Images above `max_pixels` are resized down by the processor (Qwen2-VL: fewer image tokens).
    transformers 5 reads `size.longest_edge`; older image processors a `max_pixels` attribute."""
    image_processor = getattr(processor, "image_processor", None)
    size = getattr(image_processor, "size", None)
    if hasattr(size, "longest_edge"):
        size.longest_edge = int(max_pixels)
    elif isinstance(size, dict) and "longest_edge" in size:
        image_processor.size = {**size, "longest_edge": int(max_pixels)}
    elif hasattr(image_processor, "max_pixels"):
        image_processor.max_pixels = int(max_pixels)
    else:
        raise ValueError("data.max_pixels is set but the processor has no image processor with a pixel limit")


class PreferenceDataset(Dataset):
    """Pairs from one or more parquet files; item i is (chosen sequence, rejected sequence) as verl rows.

    Every row is checked when the dataset is built, so a bad pair stops the run before step 1 (strict) or
    is counted and left out (`on_bad_pair="skip"`).
    """

    def __init__(self, files: str | list[str], processor, max_length: int, on_bad_pair: str = "error",
                 show_progress: bool = True):
        from tqdm import tqdm

        if on_bad_pair not in ("error", "skip"):
            raise ValueError(f"dpo.on_bad_pair must be 'error' or 'skip', got {on_bad_pair!r}")
        self.files = [files] if isinstance(files, str) else list(files)
        self.processor = processor
        self.tokenizer = getattr(processor, "tokenizer", processor)
        self.max_length = int(max_length)
        self.report = SkipReport()
        self.rows: list[dict] = []
        for file in self.files:
            records = read_pair_records(file)
            for i, record in tqdm(records, total=count_rows(file), disable=not show_progress,
                                  desc=f"checking pairs in {os.path.basename(file)}"):
                self.report.total += 1
                try:
                    row = self._check(file, i, record)
                except BadPairError as err:
                    if on_bad_pair == "error":
                        raise
                    self.report.add(err)
                    continue
                self.rows.append(row)
        self.report.kept = len(self.rows)
        if not self.rows:
            raise ValueError(f"no usable pairs in {self.files} (skipped: {dict(self.report.skipped)})")

    def _check(self, file: str, i: int, record: dict) -> dict:
        row, images, image_digests = check_pair(file, i, record)

        def bad(code: str, reason: str) -> BadPairError:
            return BadPairError(file, i, reason, code)

        try:
            encoded = self.encode(row, images)
        except EncodeError as e:
            raise bad(e.code, str(e)) from None
        for side in ("chosen", "rejected"):
            length = encoded[side]["input_ids"].shape[0]
            if length > self.max_length:
                raise bad("too_long", f"{side} is {length} tokens with its prompt, over max_length "
                                      f"{self.max_length} (prompts and image tokens are never truncated)")
            if int(encoded[side]["loss_mask"].sum()) == 0:
                raise bad("empty_response", f"{side} has no response tokens")
        row["lengths"] = (encoded["chosen"]["input_ids"].shape[0], encoded["rejected"]["input_ids"].shape[0])
        # what the reference log-probs of this row depend on, besides the model and settings
        row["ref_key"] = row_key(row["pair_id"], json_digest([row["messages"], row["chosen"], row["rejected"],
                                                          image_digests]))
        return row

    def encode(self, row: dict, images: list | None = None) -> dict[str, dict]:
        """Both sequences of a pair; the prompt (with its images) is processed once and shared.

        Raises EncodeError when the chat template or the processor fails on the pair."""
        if images is None:
            images = img.decode_all(row["images"])[0]
        chat = img.to_chat_parts(row["messages"])
        prompt_text = self._template(chat, add_generation_prompt=True)
        try:
            if images:
                prompt = self.processor(text=[prompt_text], images=images, return_tensors="pt")
            else:
                prompt = self.tokenizer(prompt_text, return_tensors="pt", add_special_tokens=False)
        except Exception as e:  # e.g. an image the processor cannot resize
            raise EncodeError("processor_error", f"the processor failed ({type(e).__name__}: {e})") from None
        prompt = dict(prompt)
        prompt_ids = prompt.pop("input_ids")[0]
        prompt.pop("attention_mask", None)
        prompt.pop("mm_token_type_ids", None)
        out = {}
        for side in ("chosen", "rejected"):
            full_text = self._template(chat + [{"role": "assistant", "content": [{"type": "text", "text": row[side]}]}],
                                       add_generation_prompt=False)
            if not full_text.startswith(prompt_text):
                raise EncodeError("template_error", "the chat template does not extend the prompt with the "
                                                    "response; cannot locate the response tokens")
            response_ids = self.tokenizer(full_text[len(prompt_text):].rstrip("\n"), add_special_tokens=False,
                                          return_tensors="pt")["input_ids"][0]
            input_ids = torch.cat([prompt_ids, response_ids])
            loss_mask = torch.cat([torch.zeros_like(prompt_ids), torch.ones_like(response_ids)])
            out[side] = {
                "input_ids": input_ids,
                "loss_mask": loss_mask,
                "position_ids": self._position_ids(input_ids, prompt.get("image_grid_thw")),
            }
            if images:
                out[side]["multi_modal_inputs"] = dict(prompt)
        return out

    def _template(self, chat: list[dict], add_generation_prompt: bool) -> str:
        try:
            return self.processor.apply_chat_template(chat, tokenize=False, add_generation_prompt=add_generation_prompt)
        except Exception as e:  # a template that rejects these messages (roles, order, content types)
            raise EncodeError("template_error", f"the chat template failed ({type(e).__name__}: {e})") from None

    def _position_ids(self, input_ids: torch.Tensor, image_grid_thw) -> torch.Tensor:
        """Qwen2-VL style mRoPE ids (4, L): text positions then the 3-D vision positions, as verl's SFT data."""
        image_processor = getattr(self.processor, "image_processor", None)
        if image_processor is None or "Qwen2VLImageProcessor" not in type(image_processor).__name__:
            return torch.arange(input_ids.shape[0], dtype=torch.long)
        from verl.models.transformers.qwen2_vl import get_rope_index

        vision = get_rope_index(self.processor, input_ids=input_ids, image_grid_thw=image_grid_thw,
                                attention_mask=torch.ones_like(input_ids))
        text = torch.arange(input_ids.shape[0], dtype=torch.long).unsqueeze(0)
        return torch.cat([text, vision], dim=0)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict:
        row = self.rows[index]
        encoded = self.encode(row)
        return {"index": index, "data_source": row["data_source"], "pair_id": row["pair_id"], **encoded}


PACKINGS = ("shared", "separate")


def collate_pairs(pairs: list[dict], packing: str = "separate") -> dict:
    """Pairs -> one verl no-padding batch.

    separate: rows [chosen_0, rejected_0, chosen_1, rejected_1, ...] (`force_group_size=2` keeps every pair
    inside one micro-batch). shared: one row per pair, `[prompt | chosen | last prompt token | rejected]` with a
    `branch` tensor (packing.py). `pair_rows(batch)` gives the rows that stand for the pairs in either layout.

    Text-only and image pairs mix: verl's collator takes the keys of the first row, and its engine skips a
    row whose `multi_modal_inputs` is None, so every row of a batch with images gets the key."""
    from verl.utils.dataset.dataset_utils import DatasetPadMode, SFTTensorCollator

    from .packing import pack_pair

    if packing not in PACKINGS:
        raise ValueError(f"dpo.pair_packing must be one of {PACKINGS}, got {packing!r}")
    if packing == "shared":
        rows = [pack_pair(pair["chosen"], pair["rejected"]) for pair in pairs]
        per_pair = (0,)
    else:
        rows = [dict(pair[side]) for pair in pairs for side in ("chosen", "rejected")]
        per_pair = (0, 1)
    if any("multi_modal_inputs" in row for row in rows):
        for row in rows:
            row.setdefault("multi_modal_inputs", None)
    batch = SFTTensorCollator(DatasetPadMode.NO_PADDING)(rows)
    batch["pair_index"] = torch.tensor([pair["index"] for pair in pairs for _ in per_pair], dtype=torch.long)
    batch["is_padding"] = torch.tensor([int(pair.get("is_padding", False)) for pair in pairs for _ in per_pair],
                                       dtype=torch.long)
    return batch


def is_shared(batch) -> bool:
    return "branch" in batch.keys()


def pair_rows(batch) -> slice:
    """The rows of a batch that carry each pair's index once (every row when shared, every other when separate)."""
    return slice(None) if is_shared(batch) else slice(0, None, 2)
