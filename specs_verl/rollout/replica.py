"""`HFReplica`: verl's handle on one `hf` rollout replica; it starts the replica's `HFRolloutServer` actor.

verl's `LLMServerManager` builds one replica per `rollout.tensor_model_parallel_size` training workers (the
hybrid engine: the workers train, the server generates) and calls `init_hybrid(worker_group)`, which calls
`launch_servers()` here. The server is placed on the node of the replica's first worker. On an accelerator it
uses that worker's device (colocated, like vLLM's hybrid servers: `sleep` moves it off between rollouts); on
the CPU platform it takes no Ray resources (the training workers are idle while it generates).
"""

from __future__ import annotations

import ray
from verl.plugin.platform import get_platform
from verl.utils.device import get_device_name, get_resource_name
from verl.workers.rollout.replica import RolloutReplica

from .server import HFRolloutServer


def server_name(replica_rank: int, suffix: str = "") -> str:
    return f"hf_rollout_server_{replica_rank}{suffix}"


def _worker_placement(worker) -> tuple[str, list]:
    return ray.get_runtime_context().get_node_id(), ray.get_runtime_context().get_accelerator_ids().get(
        get_resource_name(), [])


class HFReplica(RolloutReplica):
    async def launch_servers(self):
        if not self.workers:
            raise RuntimeError("the hf rollout runs only as a hybrid rollout (actor_rollout_ref.hybrid_engine=True); "
                               "it found no training workers for replica %d" % self.replica_rank)
        if self.world_size != 1:
            raise ValueError(f"the hf rollout holds the whole model in one process: set "
                             f"actor_rollout_ref.rollout.tensor_model_parallel_size=1 (now world size {self.world_size})")
        node_id, accelerator_ids = await self.workers[0].__ray_call__.remote(_worker_placement)
        device, env_vars = "cpu", {}
        if get_device_name() != "cpu" and accelerator_ids:
            device = f"{get_device_name()}:0"
            platform = get_platform()
            env_vars = {var: "1" for var in platform.ray_noset_envvars()}
            env_vars[platform.visible_devices_envvar()] = str(accelerator_ids[0])
        server = ray.remote(HFRolloutServer).options(
            name=server_name(self.replica_rank, self.name_suffix),
            num_cpus=0,
            scheduling_strategy=ray.util.scheduling_strategies.NodeAffinitySchedulingStrategy(node_id=node_id,
                                                                                            soft=False),
            runtime_env={"env_vars": env_vars} if env_vars else None,
            max_concurrency=self.max_concurrency,
        ).remote(self.config, self.model_config, self.replica_rank, device)
        await server.ready.remote()  # the model is loaded once this returns
        self.servers = [server]
        self._server_handle = server
        self._server_address = f"hf://{server_name(self.replica_rank, self.name_suffix)}"
