"""`HFServerAdapter`: the rollout object inside each training worker; it sends the trained weights to the server.

verl builds it in every hybrid actor/rollout worker (`get_rollout_class("hf", "async")`) and, after each
training step, calls `update_weights(per_tensor_generator)` with the full (gathered) tensors of the policy.
Every rank must drain the generator (FSDP gathers each tensor collectively); the replica's leader rank ships the
tensors to its `HFRolloutServer` in buckets of `checkpoint_engine.update_weights_bucket_megabytes`, so at most
one bucket sits in transit. `resume` / `release` wake the server up and put it to sleep, as for vLLM.
"""

from __future__ import annotations

import logging
import os
import time

import ray
import torch
from verl.workers.rollout.base import BaseRollout

from .replica import server_name

logger = logging.getLogger(__name__)
logger.setLevel(os.getenv("VERL_LOGGING_LEVEL", "INFO"))


class HFServerAdapter(BaseRollout):
    def __init__(self, config, model_config, device_mesh, replica_rank: int = -1, **kwargs):
        super().__init__(config, model_config, device_mesh)
        rank = int(os.environ.get("RANK", "0"))
        world = (self.config.tensor_model_parallel_size * self.config.data_parallel_size
                 * self.config.pipeline_model_parallel_size)
        self.replica_rank = rank // world if replica_rank == -1 else replica_rank
        self.is_leader_rank = rank % world == 0
        self.sleep_level = 1  # verl reads it; weights stay in the server between steps
        self._server = None
        bucket_mb = getattr(getattr(self.config, "checkpoint_engine", None), "update_weights_bucket_megabytes", 512)
        self.bucket_bytes = int(bucket_mb or 512) << 20

    def _server_handle(self):
        if self._server is None:
            self._server = ray.get_actor(server_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]):
        if self.is_leader_rank and self.config.free_cache_engine:
            await self._server_handle().wake_up.remote(tags=tags)

    async def release(self):
        if self.is_leader_rank and self.config.free_cache_engine:
            await self._server_handle().sleep.remote()

    @torch.no_grad()
    async def update_weights(self, weights, global_steps: int = None, wire_format: str = "named_tensors",
                             peft_config=None, base_sync_done: bool = True, **kwargs):
        if wire_format != "named_tensors":
            raise NotImplementedError(f"the hf rollout takes full tensors only (wire_format={wire_format!r}); "
                                      "use actor_rollout_ref.rollout.checkpoint_engine.backend=naive")
        if peft_config is not None:
            raise NotImplementedError("the hf rollout takes merged weights only: set "
                                      "actor_rollout_ref.model.lora.merge=True to train LoRA with it")
        start = time.time()
        server = self._server_handle() if self.is_leader_rank else None
        if server is not None:
            await server.begin_weight_update.remote()
        bucket, size, count = [], 0, 0
        try:
            for name, tensor in weights:  # every rank drains the generator: each tensor is gathered collectively
                if server is None:
                    continue
                tensor = tensor.detach().to("cpu", copy=True)
                bucket.append((name, tensor))
                size += tensor.numel() * tensor.element_size()
                count += 1
                if size >= self.bucket_bytes:
                    await server.load_weights.remote(bucket)
                    bucket, size = [], 0
            if server is not None and bucket:
                await server.load_weights.remote(bucket)
        finally:
            if server is not None:  # always reopen the server, even if the sync failed
                result = await server.finish_weight_update.remote(global_steps)
        if server is not None:
            logger.info("hf rollout: sent %d tensors to replica %d in %.2fs (%s)", count, self.replica_rank,
                        time.time() - start, result)
