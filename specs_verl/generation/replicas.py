"""Offline generation over R rollout replicas on a Ray cluster: the engine GRPO uses, on every GPU of every node.

    pool = ReplicaPool.start(ReplicaSettings(model_path, backend="hf", replicas=2))   # or backend="vllm"
    backend = ReplicaBackend(pool)          # the `generate(requests, n, ...)` contract of `load_backend`
    samples = backend.generate(requests, n=4, temperature=1.0, top_p=1.0, max_new_tokens=1024, seed=0)
    pool.close()

Replicas are verl's own (`get_rollout_replica_class(name)(...).init_standalone()`, as verl's
`main_generation_server.py` starts them): `vllm` (vLLMReplica) or this project's `hf` rollout (HFReplica), each
behind a Ray actor answering token-in/token-out `generate(prompt_ids, sampling_params, request_id, image_data)`.
Ray is the cluster at `RAY_ADDRESS` / `ray_address` (multi-node), else a local one started here.

What the client guarantees:
- Each sample is one request carrying its own seed, `row_seed(seed, request id, k)`, the seed the single-process
  `hf` backend uses for that sample: the `hf` replicas return exactly its samples whatever the replica count,
  vLLM the same per-request seed.
- Back-pressure: at most `max_in_flight` requests wait on a replica, and `generate_chunks` reads the next chunk
  (shard) of requests only while fewer than two per slot are sent or waiting, so the replicas stay busy across
  shard boundaries and memory holds a shard or two, never the data set; images are decoded as a request is sent.
- A replica whose actor dies mid-run (or leaves a request unanswered for `request_timeout_s`) is dropped and its
  unanswered requests go to the others (an answer is recorded once, when its call returns: nothing lost, nothing
  twice); the run fails only when none is left. A replica that never starts is an error naming it and the cause.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .request import Request, Sample
from .seeding import row_seed

logger = logging.getLogger(__name__)

REPLICA_BACKENDS = ("hf", "vllm")


@dataclass
class ReplicaSettings:
    """Where and how the replicas run.

    Args:
        model_path: a Hugging Face checkpoint directory every node can read.
        backend: "hf" (transformers, CPU or one GPU per replica) or "vllm".
        replicas: how many replicas; 0 = derived, `gpus_per_node * nnodes // tp` (verl's rule).
        gpus_per_node, nnodes, tp: the cluster's shape and each replica's tensor-parallel size (vllm).
        ray_address: an existing Ray cluster ("auto", "ray://host:10001"); None = `RAY_ADDRESS` or a local one.
        max_in_flight: requests waiting on one replica at a time (its batch size, for `hf`).
        dtype: model dtype ("auto": bfloat16 on GPU, float32 on CPU).
        prompt_length: longest prompt in tokens the replicas accept.
        threads: `hf` on CPU: torch threads per replica.
        request_timeout_s: a request unanswered this long counts its replica as hung: dropped, requests re-queued.
        overrides: more hydra overrides of verl's `ppo_trainer` config (e.g. `actor_rollout_ref.rollout.
            gpu_memory_utilization=0.9`).
    """

    model_path: str
    backend: str = "hf"
    replicas: int = 0
    gpus_per_node: int = 1
    nnodes: int = 1
    tp: int = 1
    ray_address: str | None = None
    max_in_flight: int = 8
    dtype: str = "auto"
    prompt_length: int = 8192
    response_length: int = 4096
    threads: int | None = None
    request_timeout_s: float = 3600.0
    overrides: list[str] = field(default_factory=list)

    def n_replicas(self) -> int:
        return self.replicas or max(1, self.gpus_per_node * self.nnodes // max(1, self.tp))


def add_replica_arguments(parser) -> None:
    """The replica flags `selfdistill sample` and `evaluate` share (an argparse parser or group)."""
    parser.add_argument("--replicas", type=int, default=1,
                        help="rollout replicas on a Ray cluster (verl's replica classes, the engine GRPO uses); "
                             "1 (default): this process, no Ray; 0: --gpus-per-node x --nnodes / --tp")
    parser.add_argument("--ray-address", default=None,
                        help="an existing Ray cluster for the replicas (default: $RAY_ADDRESS, else a local one)")
    parser.add_argument("--gpus-per-node", type=int, default=1, help="replicas: GPUs per node (default 1)")
    parser.add_argument("--nnodes", type=int, default=1, help="replicas: nodes (default 1)")


def on_accelerator() -> bool:
    import torch

    return torch.cuda.is_available()


def rollout_overrides(s: ReplicaSettings, gpu: bool) -> list[str]:
    """Hydra overrides of verl's `ppo_trainer` config for standalone replicas serving `s.model_path`."""
    if s.backend not in REPLICA_BACKENDS:
        raise ValueError(f"unknown replica backend {s.backend!r}; choose one of {', '.join(REPLICA_BACKENDS)}")
    dtype = s.dtype if s.dtype != "auto" else ("bfloat16" if gpu else "float32")
    r = "actor_rollout_ref.rollout"
    out = [f"actor_rollout_ref.model.path={Path(s.model_path).resolve() if Path(s.model_path).exists() else s.model_path}",
           f"{r}.name={s.backend}", f"{r}.tensor_model_parallel_size={s.tp if s.backend == 'vllm' else 1}",
           f"{r}.prompt_length={s.prompt_length}", f"{r}.response_length={s.response_length}",
           f"{r}.dtype={dtype}", f"{r}.max_num_seqs={max(1, s.max_in_flight)}",
           f"{r}.load_format=auto",  # standalone: real weights (verl's default, dummy, waits for a trainer's sync)
           f"{r}.free_cache_engine=False",  # nothing to make room for: no trainer shares the device
           f"trainer.n_gpus_per_node={s.gpus_per_node}", f"trainer.nnodes={s.nnodes}"]
    if s.backend == "hf":
        out.append(f"+{r}.engine_kwargs.hf.max_batch_size={max(1, s.max_in_flight)}")
        if s.threads:
            out.append(f"+{r}.engine_kwargs.hf.threads={int(s.threads)}")
    return out + list(s.overrides)


def compose_rollout(s: ReplicaSettings, gpu: bool | None = None):
    """verl's rollout and model config for the replicas, composed from verl's own `ppo_trainer` yaml and checked
    as verl's dataclass (what a dry run shows). Returns (rollout_config, model_config, full config)."""
    from hydra import compose, initialize_config_module
    from verl.utils.config import omega_conf_to_dataclass

    gpu = on_accelerator() if gpu is None else gpu
    with initialize_config_module(config_module="verl.trainer.config", version_base=None):
        config = compose(config_name="ppo_trainer", overrides=rollout_overrides(s, gpu))
    omega_conf_to_dataclass(config.actor_rollout_ref.rollout)  # verl's checks of the values
    return config.actor_rollout_ref.rollout, config.actor_rollout_ref.model, config


class ReplicaStartError(RuntimeError):
    """A replica did not start: the message names it."""


def _root_cause(error: BaseException) -> str:
    """The last `SomeError: message` line of an error (Ray wraps a remote one in its whole traceback)."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(error).splitlines()]
    causes = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b.*:", line)]
    return causes[-1] if causes else f"{type(error).__name__}: {lines[0] if lines else ''}"


class ReplicasLost(RuntimeError):
    """Every replica died before the work was done."""


def _init_ray(address: str | None, n_replicas: int, gpu: bool) -> bool:
    """Connect to (or start) Ray; True when this call started it (and so shuts it down)."""
    import ray

    from specs_verl.platform import cpu_env

    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS") or None
    env = {} if gpu else cpu_env()
    if address:
        ray.init(address=address, runtime_env={"env_vars": env}, ignore_reinit_error=True)
    elif gpu:
        ray.init(runtime_env={"env_vars": env})
    else:
        # the CPU platform: one logical GPU per replica (verl sizes resource pools from accelerator counts; the
        # hf servers never touch one), CPUs for the replica workers
        ray.init(num_cpus=max(4, 2 * n_replicas), num_gpus=n_replicas, runtime_env={"env_vars": env},
                 include_dashboard=False)
    return True


class ray_session:
    """`with ray_session(settings):` one Ray connection for several pools in a row (one per model to evaluate);
    stops Ray at the end when it started it."""

    def __init__(self, settings: ReplicaSettings):
        self.settings = settings
        self.started = False

    def __enter__(self):
        gpu = on_accelerator()
        if not gpu:
            _use_cpu_platform()
        self.started = _init_ray(self.settings.ray_address, self.settings.n_replicas(), gpu)
        return self

    def __exit__(self, *exc):
        import ray

        if self.started and ray.is_initialized():
            ray.shutdown()


class ReplicaPool:
    """R started replicas and their server handles; `close()` stops them (and Ray, when it started it)."""

    def __init__(self, settings: ReplicaSettings, replicas: list, started_ray: bool):
        self.settings = settings
        self.replicas = replicas
        self.servers = [r.server_handle for r in replicas]
        self.names = [f"{settings.backend} replica {r.replica_rank}" for r in replicas]
        self.alive = set(range(len(replicas)))  # replicas whose actor has not died
        self.started_ray = started_ray
        self.load_seconds = 0.0

    @classmethod
    def start(cls, settings: ReplicaSettings, timeout_s: float = 1800.0) -> "ReplicaPool":
        gpu = on_accelerator()
        if not gpu:
            _use_cpu_platform()
        n = settings.n_replicas()
        begin = time.perf_counter()
        started = _init_ray(settings.ray_address, n, gpu)
        rollout_config, model_config, _ = compose_rollout(settings, gpu)
        import specs_verl.rollout  # noqa: F401  (registers the `hf` replica with verl)
        from verl.workers.rollout.replica import get_rollout_replica_class

        replica_cls = get_rollout_replica_class(settings.backend)
        # verl names each replica's placement group and server by rank: a suffix of this pool's own keeps two
        # pools (two runs, or a GRPO job) on one cluster apart
        suffix = f"gen_{uuid.uuid4().hex[:8]}"
        replicas = [replica_cls(replica_rank=rank, config=rollout_config, model_config=model_config,
                                gpus_per_node=settings.gpus_per_node, name_suffix=suffix) for rank in range(n)]
        pool = cls(settings, replicas, started)

        async def start_all():
            return await asyncio.gather(*[asyncio.wait_for(r.init_standalone(), timeout_s) for r in replicas],
                                        return_exceptions=True)

        results = asyncio.run(start_all())
        failed = [(rank, e) for rank, e in enumerate(results) if isinstance(e, BaseException)]
        if failed:
            pool.close()
            rank, error = failed[0]
            reason = "timed out" if isinstance(error, asyncio.TimeoutError) else _root_cause(error)
            raise ReplicaStartError(f"{settings.backend} replica {rank} of {n} did not start ({reason})"
                                    + (f"; {len(failed) - 1} more failed" if len(failed) > 1 else ""))
        pool.servers = [r.server_handle for r in replicas]
        pool.alive = set(range(len(replicas)))
        pool.load_seconds = time.perf_counter() - begin
        logger.info("%d %s replicas of %s up in %.1fs", n, settings.backend, settings.model_path, pool.load_seconds)
        return pool

    def close(self) -> None:
        import ray

        for r in self.replicas:
            for actor in list(getattr(r, "servers", []) or []) + list(getattr(r, "workers", []) or []):
                try:
                    ray.kill(actor)
                except Exception:  # already dead
                    pass
            pool = getattr(r, "resource_pool", None)
            for pg in (getattr(pool, "pgs", None) or []):
                try:
                    ray.util.remove_placement_group(pg)
                except Exception:
                    pass
        self.replicas, self.servers = [], []
        if self.started_ray and ray.is_initialized():
            ray.shutdown()


def _use_cpu_platform() -> None:
    """Without an accelerator the driver places replicas as verl's `cpu` platform does (its resource name, its
    device name "cpu"): selected here even when this process already asked verl for a platform."""
    from specs_verl.platform import cpu_env

    os.environ.update({k: v for k, v in cpu_env().items() if k not in os.environ})
    from verl.plugin.platform.platform_manager import get_platform, set_platform

    if get_platform().device_name != "cpu":
        from specs_verl.platform.cpu import PlatformCPU

        set_platform(PlatformCPU())


@dataclass
class Job:
    """One sample to generate: request `index` of chunk `chunk`, sample `k`, with its own sampling dict (seed)."""

    chunk: int
    index: int
    k: int
    sampling_params: dict[str, Any]


def _is_replica_death(error: BaseException) -> bool:
    import ray

    return isinstance(error, (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError))


async def dispatch(chunks: Iterable[Sequence[Job]], servers: Sequence[Any], names: Sequence[str],
                   max_in_flight: int, prompt: Callable[[Job], tuple[list[int], list | None]],
                   on_result: Callable[[Job, Any, int], None], on_chunk: Callable[[int], None] | None = None,
                   alive: set[int] | None = None, timeout_s: float | None = None) -> Counter:
    """Send the jobs of every chunk to the live servers, at most `max_in_flight` per server at a time.

    Chunks are read lazily, one job at a time, while fewer than two jobs per slot are sent or waiting (the
    back-pressure: a long data set never sits in memory), so the next chunk's jobs fill the replicas while the
    last ones of a chunk finish. `prompt(job)` gives the prompt ids and images as the job is sent;
    `on_result(job, output, replica)` is called once per job and `on_chunk(c)` once chunk `c` is complete. A
    server whose actor dies (or leaves a job unanswered for `timeout_s`) is removed from `alive` (the caller's
    set, so later calls skip it) and its unanswered jobs re-queued. Returns answers per replica index."""
    alive = set(range(len(servers))) if alive is None else alive
    lost: list[str] = [names[r] for r in range(len(servers)) if r not in alive]
    if not alive:
        raise ReplicasLost(f"no replica is left ({', '.join(lost)} died)")
    call = uuid.uuid4().hex[:8]  # request ids unique on a server across calls (vLLM refuses a live duplicate)
    queue: asyncio.Queue[Job] = asyncio.Queue()
    capacity = asyncio.Semaphore(2 * max(1, max_in_flight) * len(alive))
    unanswered: Counter = Counter()  # chunk -> jobs not answered yet
    state = {"outstanding": 0, "fed": False}
    done = asyncio.Event()
    share: Counter = Counter()
    failures: list[BaseException] = []

    def finish_if_done() -> None:
        if state["fed"] and state["outstanding"] == 0:
            done.set()

    async def feeder():
        try:
            for c, jobs in enumerate(chunks):
                unanswered[c] += len(jobs)
                if not jobs and on_chunk is not None:
                    on_chunk(c)
                for job in jobs:
                    await capacity.acquire()
                    state["outstanding"] += 1
                    queue.put_nowait(job)
        except Exception as error:  # the data: the run stops with it
            failures.append(error)
            done.set()
        state["fed"] = True
        finish_if_done()

    async def worker(replica: int):
        while not done.is_set() and replica in alive:
            try:
                job = await asyncio.wait_for(queue.get(), timeout=0.2)
            except asyncio.TimeoutError:
                continue
            try:
                prompt_ids, images = prompt(job)
                output = await asyncio.wait_for(servers[replica].generate.remote(
                    request_id=f"{call}-{job.chunk}-{job.index}-{job.k}", prompt_ids=prompt_ids,
                    sampling_params=dict(job.sampling_params), image_data=images), timeout_s)
            except Exception as error:
                if not (_is_replica_death(error) or isinstance(error, asyncio.TimeoutError)):
                    failures.append(error)  # a bad request or a bug: the run stops with it
                    done.set()
                    return
                queue.put_nowait(job)  # unanswered: another replica takes it
                if replica in alive:
                    alive.discard(replica)
                    lost.append(names[replica])
                    logger.warning("%s %s (%s); its requests go to the %d others", names[replica],
                                   "hung" if isinstance(error, asyncio.TimeoutError) else "died",
                                   type(error).__name__, len(alive))
                if not alive:
                    done.set()
                return
            share[replica] += 1
            unanswered[job.chunk] -= 1
            try:
                on_result(job, output, replica)
                if not unanswered[job.chunk] and on_chunk is not None:
                    on_chunk(job.chunk)
            except Exception as error:  # e.g. a shard that cannot be written: the run stops with it
                failures.append(error)
                done.set()
                return
            state["outstanding"] -= 1
            capacity.release()
            finish_if_done()

    # round robin (slot 0 of every replica first): fewer jobs than slots still spread over the replicas
    tasks = [asyncio.create_task(worker(r)) for _ in range(max(1, max_in_flight)) for r in sorted(alive)]
    tasks.append(asyncio.create_task(feeder()))
    try:
        await done.wait()
        if failures:
            raise failures[0]
    finally:
        done.set()  # ends the workers' loops even where a cancel is lost (asyncio.wait_for, Python < 3.12)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if state["outstanding"] or not state["fed"]:
        raise ReplicasLost(f"every replica died ({', '.join(lost)}); {state['outstanding']} samples in flight "
                           "were not generated")
    return share


def open_backend(name: str, model_path, backend_opts: dict[str, Any], replicas: ReplicaSettings | None = None):
    """The backend to generate with: `load_backend(name, ...)` in this process, or, given `replicas`, a
    `ReplicaBackend` over a pool started for `model_path` (closed with the backend)."""
    if replicas is None:
        from . import load_backend

        return load_backend(name, model_path, **backend_opts)
    import dataclasses

    pool = ReplicaPool.start(dataclasses.replace(replicas, model_path=str(model_path), backend=name))
    backend = ReplicaBackend(pool)
    backend.close = pool.close  # type: ignore[method-assign]
    return backend


class ReplicaClient:
    """The request path, the same for every replica backend: a `Request` becomes the token ids and images verl's
    agent loop would send (placeholders expanded by the processor; vLLM's server folds them back, the `hf` one
    checks them), and a `TokenOutput` becomes a `Sample`."""

    def __init__(self, model_path: str):
        from transformers import GenerationConfig

        from .templating import PromptRenderer

        self.renderer = PromptRenderer(model_path)
        self.tokenizer = self.renderer.tokenizer
        try:
            eos = GenerationConfig.from_pretrained(model_path).eos_token_id
        except OSError:
            eos = None
        eos = self.tokenizer.eos_token_id if eos is None else eos
        self.eos_ids = set(eos if isinstance(eos, list) else [eos])

    def prompt(self, request: Request) -> tuple[list[int], list | None]:
        text = self.renderer.render(request)
        images = request.pil_images() or None
        if images:
            ids = self.renderer.processor(text=[text], images=images, return_tensors="pt")["input_ids"][0].tolist()
        else:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids, images

    def to_sample(self, output, n_prompt_tokens: int) -> Sample:
        """verl's `TokenOutput` says "completed" for both stops; an end-of-sequence last token tells them apart."""
        ids = list(output.token_ids)
        stop = bool(ids) and ids[-1] in self.eos_ids
        sizes = (output.extra_fields or {}).get("top_p_set_sizes")
        return Sample(text=self.tokenizer.decode(ids[:-1] if stop else ids, skip_special_tokens=True),
                      n_prompt_tokens=n_prompt_tokens, n_tokens=len(ids), finish_reason="stop" if stop else "length",
                      token_ids=ids, top_p_set_sizes=sizes)


class ReplicaBackend:
    """The generation-backend contract (`specs_verl.generation`) over a `ReplicaPool`."""

    def __init__(self, pool: ReplicaPool):
        self.pool = pool
        self.name = f"{pool.settings.backend}-replicas"
        self.client = ReplicaClient(pool.settings.model_path)
        self.share: Counter = Counter()  # samples answered per replica, over this backend's life
        self.generated_tokens = 0

    def generate(self, requests: Sequence[Request], n: int = 1, temperature: float = 1.0, top_p: float = 1.0,
                 max_new_tokens: int = 512, seed: int = 0, *, logprobs: bool = False,
                 branching_top_p: float | None = None,
                 progress: Callable[[int], None] | None = None) -> list[list[Sample]]:
        """`n` samples per request, in request order (the `specs_verl.generation` contract)."""
        out: list[list[list[Sample]]] = []
        self.generate_chunks([requests], lambda chunk, samples: out.append(samples), n=n, temperature=temperature,
                             top_p=top_p, max_new_tokens=max_new_tokens, seed=seed, logprobs=logprobs,
                             branching_top_p=branching_top_p, progress=progress)
        return out[0]

    def generate_chunks(self, chunks: Iterable[Sequence[Request]],
                        on_chunk: Callable[[Sequence[Request], list[list[Sample]]], None], n: int = 1,
                        temperature: float = 1.0, top_p: float = 1.0, max_new_tokens: int = 512, seed: int = 0, *,
                        logprobs: bool = False, branching_top_p: float | None = None,
                        progress: Callable[[int], None] | None = None) -> None:
        """Stream chunks of requests (read lazily) through the replicas; `on_chunk(chunk, samples)` as each chunk
        completes (not necessarily in order), `samples[i][k]` the k-th sample of `chunk[i]`."""
        if logprobs:
            raise ValueError("log-probs over replicas are not supported; use --replicas 1")
        if branching_top_p is not None and self.pool.settings.backend != "hf":
            raise ValueError("the branching factor over vllm replicas is not supported; use --replicas 1")
        live: dict[int, tuple[Sequence[Request], list[list[Sample | None]]]] = {}  # chunks being generated
        # a request's prompt (its images decoded) is built when its first sample is sent and dropped when its
        # last one is answered: memory follows the requests in flight, not the data
        prompts: dict[tuple[int, int], tuple[list[int], list | None]] = {}
        n_prompt: dict[tuple[int, int], int] = {}
        unanswered: Counter = Counter()

        def jobs():
            for c, chunk in enumerate(chunks):
                live[c] = (chunk, [[None] * n for _ in chunk])
                unanswered.update({(c, i): n for i in range(len(chunk))})
                yield [Job(c, i, k, request_params(temperature, top_p, max_new_tokens, row_seed(seed, r.id, k),
                                                   branching_top_p))
                       for i, r in enumerate(chunk) for k in range(n)]

        def prompt(job: Job):
            key = (job.chunk, job.index)
            if key not in prompts:
                prompts[key] = self.client.prompt(live[job.chunk][0][job.index])
                n_prompt[key] = len(prompts[key][0])
            return prompts[key]

        def on_result(job: Job, output, replica: int) -> None:
            key = (job.chunk, job.index)
            sample = live[job.chunk][1][job.index][job.k] = self.client.to_sample(output, n_prompt[key])
            self.generated_tokens += sample.n_tokens
            unanswered[key] -= 1
            if not unanswered[key]:
                del unanswered[key], n_prompt[key]
                prompts.pop(key, None)
            if progress is not None:
                progress(1)

        def chunk_done(c: int) -> None:
            chunk, samples = live.pop(c)
            on_chunk(chunk, samples)  # type: ignore[arg-type]

        share = asyncio.run(dispatch(jobs(), self.pool.servers, self.pool.names, self.pool.settings.max_in_flight,
                                     prompt, on_result, chunk_done, alive=self.pool.alive,
                                     timeout_s=self.pool.settings.request_timeout_s))
        self.share.update(share)

    def close(self) -> None:
        """The pool outlives the backend (its owner closes it)."""


def request_params(temperature: float, top_p: float, max_new_tokens: int, seed: int,
                   branching_top_p: float | None = None) -> dict[str, Any]:
    """verl's per-request sampling dict (vLLM's names) for one sample."""
    params: dict[str, Any] = {"temperature": float(temperature), "top_p": float(top_p), "top_k": -1,
                              "repetition_penalty": 1.0, "max_tokens": int(max_new_tokens), "seed": int(seed),
                              "logprobs": False}
    if branching_top_p is not None:
        params["branching_top_p"] = float(branching_top_p)
    return params
