"""Render a Request into the model's own prompt text (its chat template; images as its vision tokens)."""

from __future__ import annotations

import os

from specs_verl.schema.images import to_chat_parts

from .request import Request, check_images


class PromptRenderer:
    """Loads a checkpoint's processor (when it has an image processor) and tokenizer; renders prompts.

    Both backends render prompts here, so the `hf` and `vllm` backends see the same text for the same request.
    """

    def __init__(self, model_path: str | os.PathLike):
        from transformers import AutoProcessor, AutoTokenizer

        self.model_id = str(model_path)
        try:
            processor = AutoProcessor.from_pretrained(model_path)
        except (OSError, ValueError):  # a text-only checkpoint may have no processor at all
            processor = None
        tokenizer = getattr(processor, "tokenizer", None) or AutoTokenizer.from_pretrained(model_path)
        self.processor = processor if hasattr(processor, "image_processor") else None
        self.tokenizer = tokenizer

    def render(self, request: Request) -> str:
        check_images(request)
        if request.images and self.processor is None:
            raise ValueError(f"request {request.id!r} has images but {self.model_id} has no image processor")
        templater = self.processor if self.processor is not None else self.tokenizer
        return templater.apply_chat_template(to_chat_parts(request.messages), add_generation_prompt=True,
                                             tokenize=False)
