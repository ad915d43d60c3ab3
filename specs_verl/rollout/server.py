"""The `hf` rollout server: a Ray actor per replica that answers verl's token-in/token-out `generate` calls.

verl's `LLMServerClient` calls `server.generate.remote(request_id=..., prompt_ids=..., sampling_params=...,
image_data=..., video_data=...)` once per sample, all samples of a step at once; the server gathers the calls
that arrive together into batches (`MicroBatcher`) for `HFGenerator`. The trainer side (`HFServerAdapter`)
pushes new weights after every step through `begin_weight_update` / `load_weights` / `finish_weight_update`;
generation is held back while weights change. The lifecycle calls verl makes on vLLM/SGLang servers (sleep,
wake_up, KV-cache release, abort, profiling) are answered too: on CPU there is nothing to free; on an
accelerator `sleep` moves the model to host memory and `wake_up` brings it back.

Options (`+actor_rollout_ref.rollout.engine_kwargs.hf.<key>=...`, all optional):
    batch_wait_ms     how long the first request of a batch waits for more to arrive              20
    max_batch_size    requests per batch                                    rollout.max_num_seqs
    threads           torch CPU threads of the server process                  torch's default
    weights_report_dir  at start and after each weight sync, write `weights_step_<N>_replica_<R>.json` here
                      (per tensor: float64 sum, sha256 of the bytes, dtype): lets a test or a user check that
                      the rollout holds the trained weights                                          null
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any, Optional

import torch

from specs_verl.atomic import write_atomic

from .batching import MicroBatcher
from .engine import GenerationRequest, HFGenerator
from .sampling import parse_sampling_params

logger = logging.getLogger(__name__)
logger.setLevel(os.getenv("VERL_LOGGING_LEVEL", "INFO"))

ENGINE_KEY = "hf"  # rollout.engine_kwargs.<ENGINE_KEY>


def engine_options(config) -> dict[str, Any]:
    kwargs = getattr(config, "engine_kwargs", None) or {}
    options = kwargs.get(ENGINE_KEY) if hasattr(kwargs, "get") else None
    return dict(options or {})


def _write_json_atomic(path: str, payload: dict) -> None:
    write_atomic(path, json.dumps(payload))


class HFRolloutServer:
    """One per replica. Holds its own transformers copy of the policy on `device`."""

    def __init__(self, config, model_config, replica_rank: int, device: str = "cpu"):
        options = engine_options(config)
        if options.get("threads"):
            torch.set_num_threads(int(options["threads"]))
        self.config = config
        self.replica_rank = replica_rank
        self.global_steps: Optional[int] = None
        self.report_dir = options.get("weights_report_dir")
        path = getattr(model_config, "local_path", None) or model_config.path
        trust = bool(getattr(model_config, "trust_remote_code", False))
        start = time.time()
        self.engine = HFGenerator.from_pretrained(path, dtype=getattr(config, "dtype", "float32"), device=device,
                                                  trust_remote_code=trust)
        self.device = device
        self.batcher: MicroBatcher = MicroBatcher(
            self._run_batch,
            max_batch_size=int(options.get("max_batch_size") or getattr(config, "max_num_seqs", 256) or 256),
            wait_s=float(options.get("batch_wait_ms", 20)) / 1000.0,
        )
        self._warned: set[str] = set()
        self._weights_loaded = 0
        logger.info("hf rollout server %d: %s on %s (%s) in %.1fs", replica_rank, path, device,
                    self.engine.model.dtype, time.time() - start)
        self._report_weights()

    # ---------------------------------------------------------------- generation
    async def generate(self, request_id: str = None, prompt_ids: list[int] = None,
                       sampling_params: dict[str, Any] = None, image_data: Optional[list[Any]] = None,
                       video_data: Optional[list[Any]] = None, audio_data: Optional[list[Any]] = None,
                       mm_processor_kwargs: Optional[dict[str, Any]] = None, **kwargs):
        from verl.workers.rollout.replica import TokenOutput

        if video_data:
            raise ValueError("the hf rollout does not support video inputs (use rollout.name=vllm for video data)")
        if audio_data:
            raise ValueError("the hf rollout does not support audio inputs")
        spec, ignored = parse_sampling_params(
            sampling_params, prompt_tokens=len(prompt_ids), prompt_length=self.config.prompt_length,
            response_length=self.config.response_length, max_model_len=getattr(self.config, "max_model_len", None),
            default_ignore_eos=bool(getattr(self.config, "ignore_eos", False)))
        for key in set(ignored) | set(kwargs):
            if key not in self._warned:
                self._warned.add(key)
                logger.warning("hf rollout: ignoring %r (no meaning for a transformers sampler)", key)
        if spec.n != 1:
            raise ValueError(f"sampling_params n={spec.n}: one generate call returns one sequence "
                             "(verl repeats each prompt rollout.n times itself)")
        request = GenerationRequest(list(prompt_ids), spec, list(image_data) if image_data else None,
                                    dict(mm_processor_kwargs or {}))
        # checked (and the image features computed) before batching, so a bad request fails alone
        request.prepared = self.engine.prepare(request.prompt_ids, request.images, request.mm_processor_kwargs)
        output = (await self.batcher.submit(request))[0]
        return TokenOutput(
            token_ids=output.token_ids,
            log_probs=output.log_probs,
            # verl's contract: "completed" for an end-of-sequence token and for the length limit alike (as vLLM)
            stop_reason="completed",
            num_preempted=0,
            extra_fields={"global_steps": self.global_steps,
                          **({"top_p_set_sizes": output.top_p_set_sizes} if output.top_p_set_sizes else {})},
        )

    async def _run_batch(self, requests: list[GenerationRequest]):
        return await asyncio.to_thread(self.engine.generate, requests)

    # ---------------------------------------------------------------- weights
    async def begin_weight_update(self) -> None:
        await self.batcher.pause()

    def load_weights(self, named_tensors: list[tuple[str, torch.Tensor]]) -> int:
        n = self.engine.load_weights(named_tensors)
        self._weights_loaded += n
        return n

    def finish_weight_update(self, global_steps: Optional[int] = None) -> dict[str, Any]:
        missing = self.engine.finish_weight_update()
        loaded, self._weights_loaded = self._weights_loaded, 0
        if global_steps is not None:
            self.global_steps = global_steps
        self._report_weights()
        batches = dict(sorted(self.batcher.batch_sizes.items()))
        self.batcher.batch_sizes.clear()
        if batches:
            logger.info("hf rollout server %d: generation batches since the last weight sync (size: count) %s",
                        self.replica_rank, batches)
        self.batcher.resume()
        return {"loaded": loaded, "unchanged": len(missing)}

    def _report_weights(self) -> None:
        if not self.report_dir:
            return
        os.makedirs(self.report_dir, exist_ok=True)
        step = 0 if self.global_steps is None else self.global_steps
        _write_json_atomic(os.path.join(self.report_dir, f"weights_step_{step}_replica_{self.replica_rank}.json"),
                           {"global_steps": step, "replica_rank": self.replica_rank,
                            "weights": self.engine.weight_digest()})

    def set_global_steps(self, global_steps: Optional[int]) -> None:
        self.global_steps = global_steps

    # ---------------------------------------------------------------- lifecycle
    def ready(self) -> bool:
        return True

    async def wake_up(self, tags: Optional[list[str]] = None) -> None:
        if self.device != "cpu":
            self.engine.to(self.device)

    async def sleep(self) -> None:
        if self.device != "cpu":
            await self.batcher.pause()
            self.engine.to("cpu")
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            self.batcher.resume()

    async def clear_kv_cache(self) -> None:  # transformers keeps no cache between generate calls
        return None

    async def release_kv_cache(self) -> None:
        return None

    async def resume_kv_cache(self) -> None:
        return None

    async def abort_all_requests(self, reject_request: bool = False) -> dict[str, Any]:
        # Nothing is aborted mid-way: the batch in flight finishes, later ones wait for resume_generation().
        await self.batcher.pause()
        return {"aborted_count": 0, "request_ids": []}

    async def resume_generation(self) -> None:
        self.batcher.resume()

    async def wait_for_requests_to_drain(self) -> None:
        while self.batcher.pending:
            await asyncio.sleep(0.05)

    async def start_profile(self, **kwargs) -> None:
        return None

    async def stop_profile(self) -> None:
        return None
