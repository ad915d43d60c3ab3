"""The `hf` backend: transformers `generate`, batched with left padding; runs on CPU or one GPU."""

from __future__ import annotations

import os
from typing import Callable, Sequence

from .request import Request, Sample
from .templating import PromptRenderer
from .vocab import suppressed_token_ids


class HFBackend:
    """Batched generation with a transformers model (any Qwen-VL-style image-text model, or a causal LM).

    Args:
        model_path: a Hugging Face checkpoint directory (or hub id when online).
        batch_size: rows (prompt x sample) per `generate` call.
        device: "cpu", "cuda", "cuda:1", ... or "auto" (CUDA when available).
        dtype: "auto" (bfloat16 on CUDA, float32 on CPU), "float32", "bfloat16", "float16".
        threads: torch CPU threads (None leaves torch's default).
    """

    name = "hf"

    def __init__(self, model_path: str | os.PathLike, batch_size: int = 8, device: str = "auto",
                 dtype: str = "auto", threads: int | None = None, attn_implementation: str = "sdpa"):
        import torch
        from transformers import AutoConfig

        if threads:
            torch.set_num_threads(int(threads))
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if dtype == "auto":
            dtype = "bfloat16" if str(device).startswith("cuda") else "float32"
        self.model_id = str(model_path)
        self.batch_size = max(1, int(batch_size))
        self.device = torch.device(device)
        config = AutoConfig.from_pretrained(model_path)
        if getattr(config, "vision_config", None) is not None:
            from transformers import AutoModelForImageTextToText as model_cls
        else:
            from transformers import AutoModelForCausalLM as model_cls
        self.model = model_cls.from_pretrained(model_path, dtype=getattr(torch, dtype),
                                               attn_implementation=attn_implementation).to(self.device).eval()
        self.renderer = PromptRenderer(model_path)
        self.processor = self.renderer.processor
        tok = self.tokenizer = self.renderer.tokenizer
        tok.padding_side = "left"
        gen = self.model.generation_config
        eos = gen.eos_token_id if gen.eos_token_id is not None else tok.eos_token_id
        self.eos_ids = sorted(set(eos if isinstance(eos, list) else [eos]))
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else self.eos_ids[0]
        vocab_size = self.model.get_output_embeddings().weight.shape[0]
        self.suppress_ids = suppressed_token_ids(tok, self.model.config, vocab_size)

    def generate(self, requests: Sequence[Request], n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
                 max_new_tokens: int = 512, seed: int = 0, *, logprobs: bool = False,
                 branching_top_p: float | None = None,
                 progress: Callable[[int], None] | None = None) -> list[list[Sample]]:
        """`n` samples for each request, in request order (see `specs_verl.generation` for the contract)."""
        texts = [self.renderer.render(r) for r in requests]
        # longest prompts first, the n samples of a prompt together: batches of similar length, little padding
        order = sorted(range(len(requests)), key=lambda i: -len(texts[i]))
        rows = [(i, k) for i in order for k in range(n)]
        results: list[list[Sample | None]] = [[None] * n for _ in requests]
        for start in range(0, len(rows), self.batch_size):
            batch = rows[start:start + self.batch_size]
            samples = self._generate_batch(requests, texts, batch, temperature, top_p, max_new_tokens, seed,
                                           logprobs, branching_top_p)
            for (i, k), s in zip(batch, samples):
                results[i][k] = s
            if progress is not None:
                progress(len(batch))
        return results  # type: ignore[return-value]

    def _generate_batch(self, requests, texts, batch, temperature, top_p, max_new_tokens, seed, logprobs,
                        branching_top_p) -> list[Sample]:
        import torch
        from transformers import GenerationConfig, LogitsProcessorList

        from .sampler import SeededSampler
        from .seeding import row_seed

        decoded: dict[int, list] = {}
        images = []
        for i, _ in batch:
            if i not in decoded:
                decoded[i] = requests[i].pil_images()
            images.extend(decoded[i])
        batch_texts = [texts[i] for i, _ in batch]
        if self.processor is not None:
            enc = self.processor(text=batch_texts, images=images or None, padding=True, return_tensors="pt")
        else:
            enc = self.tokenizer(batch_texts, padding=True, return_tensors="pt")
        enc = enc.to(self.device)
        sampler = SeededSampler([row_seed(seed, requests[i].id, k) for i, k in batch], temperature, top_p,
                                self.suppress_ids, device=self.device, logprobs=logprobs,
                                branching_top_p=branching_top_p)
        config = GenerationConfig(max_new_tokens=int(max_new_tokens), do_sample=False, eos_token_id=self.eos_ids,
                                  pad_token_id=self.pad_id)
        with torch.inference_mode():
            out = self.model.generate(**enc, generation_config=config, logits_processor=LogitsProcessorList([sampler]))
        prompt_len = enc["input_ids"].shape[1]
        n_prompt = enc["attention_mask"].sum(dim=1).tolist()
        eos = set(self.eos_ids)
        samples = []
        for row, ids in enumerate(out[:, prompt_len:].tolist()):
            stop = next((j for j, t in enumerate(ids) if t in eos), None)
            n_tok = len(ids) if stop is None else stop + 1
            text = self.tokenizer.decode(ids[:n_tok if stop is None else stop], skip_special_tokens=True)
            lp, sizes = sampler.per_row(row, n_tok)
            samples.append(Sample(text=text, n_prompt_tokens=int(n_prompt[row]), n_tokens=n_tok,
                                  finish_reason="length" if stop is None else "stop", token_ids=ids[:n_tok],
                                  logprobs=lp, top_p_set_sizes=sizes))
        return samples

    def close(self) -> None:
        self.model = None
