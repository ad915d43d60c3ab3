"""`sample`: n responses per question of a verl RL parquet file, written as resumable JSONL shards.

The output directory holds `run.json` (the settings) and `shard-NNNNN.jsonl` files, each written atomically
and holding every sample of its questions. A rerun with the same settings skips the questions already in a
shard, so a crash (or Ctrl-C) loses at most the shards in flight; a rerun with other settings is refused.

Generation runs in this process (`--replicas 1`: the `hf` or `vllm` backend) or over R rollout replicas on a
Ray cluster (`--replicas R`, `specs_verl.generation.replicas`). Sample k of question q is drawn with the seed
`row_seed(seed, q, k)` either way, so the samples do not depend on the replica count (the same tokens for `hf`).
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from specs_verl.generation import iter_rl_requests, load_backend

from .samples_io import RUN_FILE, done_question_ids, remove_stale_temp_files, shard_paths, write_atomic, write_shard

logger = logging.getLogger(__name__)


@dataclass
class SampleSettings:
    """What decides the samples: a resumed run must match these exactly."""

    model: str
    backend: str
    n: int
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int
    prompt_template: str
    instruction: str | None


@dataclass
class SampleOptions:
    """How the work is done (free to change between a run and its resumption)."""

    data: str
    out: str
    model_path: str
    shard_size: int = 64
    batch_size: int = 8
    tp: int = 1
    device: str = "auto"
    threads: int | None = None
    gpu_memory_utilization: float = 0.85
    max_model_len: int | None = None
    strict: bool = False
    progress: bool = True
    replicas: int = 1  # 1: this process, no Ray; R > 1 (or 0: gpus_per_node * nnodes // tp) replicas on Ray
    ray_address: str | None = None
    gpus_per_node: int = 1
    nnodes: int = 1

    def uses_replicas(self) -> bool:
        return self.replicas != 1 or self.ray_address is not None


def replica_settings(settings: "SampleSettings", opts: SampleOptions):
    from specs_verl.generation.replicas import ReplicaSettings

    return ReplicaSettings(model_path=opts.model_path, backend=settings.backend, replicas=opts.replicas,
                           gpus_per_node=opts.gpus_per_node, nnodes=opts.nnodes, tp=opts.tp,
                           ray_address=opts.ray_address, max_in_flight=opts.batch_size,
                           response_length=settings.max_new_tokens, threads=opts.threads,
                           overrides=[f"actor_rollout_ref.rollout.gpu_memory_utilization={opts.gpu_memory_utilization}"]
                           + ([f"actor_rollout_ref.rollout.max_model_len={opts.max_model_len}"]
                              if opts.max_model_len else []))


def generation_plan(settings: "SampleSettings", opts: SampleOptions) -> str:
    """Where the samples would be generated, with the replicas' verl config composed (and so checked)."""
    if not opts.uses_replicas():
        return f"generation: this process, {settings.backend} backend (tp={opts.tp}), {opts.model_path}"
    from specs_verl.generation.replicas import compose_rollout

    r = replica_settings(settings, opts)
    rollout, _, _ = compose_rollout(r, gpu=settings.backend == "vllm" or None)
    return (f"generation: {r.n_replicas()} {r.backend} replicas (gpus_per_node={r.gpus_per_node}, nnodes={r.nnodes}, "
            f"tp={rollout.tensor_model_parallel_size}) on Ray at {r.ray_address or 'RAY_ADDRESS or a local cluster'}, "
            f"{r.max_in_flight} requests in flight per replica; verl rollout config composed: name={rollout.name} "
            f"dtype={rollout.dtype} response_length={rollout.response_length} load_format={rollout.load_format}")


def resolve_backend(name: str) -> str:
    """`auto`: vllm where vLLM and a GPU are present, else hf."""
    if name != "auto":
        return name
    import importlib.util

    import torch

    return "vllm" if importlib.util.find_spec("vllm") is not None and torch.cuda.is_available() else "hf"


class SettingsMismatch(ValueError):
    """The output directory holds samples made with other settings."""


def check_settings(out: Path, settings: SampleSettings) -> None:
    """Record the settings of a new output directory; refuse to mix samples made with other settings."""
    path = out / RUN_FILE
    mine = asdict(settings)
    if path.exists():
        theirs = json.loads(path.read_text()).get("settings", {})
        diff = {k: (theirs.get(k), v) for k, v in mine.items() if theirs.get(k) != v}
        if diff:
            lines = "; ".join(f"{k}: {a!r} there, {b!r} now" for k, (a, b) in diff.items())
            raise SettingsMismatch(f"{out} holds samples made with other settings ({lines}). "
                             f"Use another --out, or rerun with the same settings to resume.")
        return
    if shard_paths(out):
        raise SettingsMismatch(f"{out} has sample shards but no {RUN_FILE}; use another --out")
    write_atomic(path, json.dumps({"settings": mine}, indent=2) + "\n")


def _record(req, k: int, s, settings: SampleSettings) -> dict[str, Any]:
    return {
        "qid": req.id, "sample_index": k, "text": s.text, "n_prompt_tokens": s.n_prompt_tokens,
        "n_tokens": s.n_tokens, "finish_reason": s.finish_reason, "data_source": req.data_source,
        "model": settings.model,
        "settings": {"backend": settings.backend, "n": settings.n, "temperature": settings.temperature,
                     "top_p": settings.top_p, "max_new_tokens": settings.max_new_tokens, "seed": settings.seed,
                     "prompt_template": settings.prompt_template},
    }


def run_sample(settings: SampleSettings, opts: SampleOptions, pool=None) -> dict[str, Any]:
    """Generate the missing samples; return the run's summary (also printed by the CLI). `pool`: replicas
    already started (a `ReplicaPool` for `opts.model_path`); else `opts.replicas` decides."""
    from tqdm import tqdm

    begin = time.perf_counter()
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temp_files(out)
    skipped: list[str] | None = None if opts.strict else []
    # a first pass checks every row (and finds the ids) without keeping any image; the second streams
    known = {r.id for r in iter_rl_requests(opts.data, settings.instruction, skipped=skipped)}
    for msg in (skipped or [])[:10]:
        logger.warning("skipped %s", msg)
    check_settings(out, settings)
    done = done_question_ids(out)
    n_todo = len(known - set(done))
    summary: dict[str, Any] = {
        "out": str(out), "questions": len(known), "rows_skipped": len(skipped or []),
        "skip_reasons": (skipped or [])[:10], "already_done": len(known & set(done)),
        "done_not_in_data": len(set(done) - known), "stale_temp_files_removed": stale,
        "questions_sampled": 0, "samples_written": 0, "shards_written": 0, "finish_length": 0,
        "generated_tokens": 0, "seconds": 0.0, "load_seconds": 0.0, "generation_seconds": 0.0,
        "replicas": None,
    }
    if not n_todo:
        summary["seconds"] = round(time.perf_counter() - begin, 3)
        return summary
    start = time.perf_counter()
    own_pool = None
    if pool is None and opts.uses_replicas():
        from specs_verl.generation.replicas import ReplicaPool

        pool = own_pool = ReplicaPool.start(replica_settings(settings, opts))
    if pool is not None:
        from specs_verl.generation.replicas import ReplicaBackend

        if Path(pool.settings.model_path).resolve() != Path(opts.model_path).resolve():
            raise ValueError(f"the replicas serve {pool.settings.model_path}, not {opts.model_path}")
        backend = ReplicaBackend(pool)
    else:
        if settings.backend == "hf":
            backend_opts = dict(batch_size=opts.batch_size, device=opts.device, threads=opts.threads)
        else:
            backend_opts = dict(tp=opts.tp, gpu_memory_utilization=opts.gpu_memory_utilization,
                                max_model_len=opts.max_model_len)
        backend = load_backend(settings.backend, opts.model_path, **backend_opts)
    summary["load_seconds"] = round(time.perf_counter() - start, 3)  # model loading
    gen_seconds = 0.0
    # one bar over questions; a sample moves it by 1/n, so the rate and the ETA follow samples as they finish
    bar = tqdm(total=n_todo, unit="question", disable=not opts.progress, smoothing=0.1,
               desc=f"sampling {Path(opts.data).name}", bar_format="{l_bar}{bar}| {n:.0f}/{total} "
               "[{elapsed}<{remaining}{postfix}]")
    t_bar = time.perf_counter()

    def progress(k: int) -> None:
        bar.update(k / settings.n)

    todo = (r for r in iter_rl_requests(opts.data, settings.instruction, skipped=[]) if r.id not in done)
    chunks = iter(lambda: list(itertools.islice(todo, max(1, opts.shard_size))), [])
    gen = dict(n=settings.n, temperature=settings.temperature, top_p=settings.top_p,
               max_new_tokens=settings.max_new_tokens, seed=settings.seed, progress=progress)

    def write(chunk, results) -> None:
        records = [_record(req, k, s, settings) for req, samples in zip(chunk, results) for k, s in enumerate(samples)]
        write_shard(out, records)
        summary["questions_sampled"] += len(chunk)
        summary["samples_written"] += len(records)
        summary["shards_written"] += 1
        summary["finish_length"] += sum(r["finish_reason"] == "length" for r in records)
        summary["generated_tokens"] += sum(r["n_tokens"] for r in records)
        elapsed = max(time.perf_counter() - t_bar, 1e-9)
        bar.set_postfix_str(f"{summary['samples_written'] / elapsed:.2f} samples/s, "
                            f"{summary['generated_tokens'] / elapsed:.0f} tok/s")

    try:
        t0 = time.perf_counter()
        if hasattr(backend, "generate_chunks"):  # replicas: the next shard's requests start as this one ends
            backend.generate_chunks(chunks, write, **gen)
        else:
            for chunk in chunks:
                write(chunk, backend.generate(chunk, **gen))
        gen_seconds = time.perf_counter() - t0  # shard writes included: a few ms each
    finally:
        bar.close()
        if pool is not None:
            summary["replicas"] = {name: backend.share.get(i, 0) for i, name in enumerate(pool.names)}
        backend.close()
        if own_pool is not None:
            own_pool.close()
    summary["seconds"] = round(time.perf_counter() - begin, 3)
    summary["generation_seconds"] = round(gen_seconds, 3)
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    s = summary
    lines = [f"sample -> {s['out']}",
             f"  questions in data      {s['questions']}  (rows skipped: {s['rows_skipped']})",
             f"  already sampled        {s['already_done']}",
             f"  sampled now            {s['questions_sampled']} questions, {s['samples_written']} samples "
             f"in {s['shards_written']} shard(s)"]
    if s["samples_written"]:
        rate = s["samples_written"] / max(s["generation_seconds"], 1e-9)
        lines.append(f"  truncated (length)     {s['finish_length']} of {s['samples_written']}")
        lines.append(f"  throughput             {rate:.2f} samples/s, "
                     f"{s['generated_tokens'] / max(s['generation_seconds'], 1e-9):.0f} tokens/s "
                     f"(generation {s['generation_seconds']:.1f} s, model load {s['load_seconds']:.1f} s, "
                     f"{s['seconds']:.1f} s in all)")
    if s.get("replicas"):
        total = max(1, sum(s["replicas"].values()))
        lines.append("  per replica            " + ", ".join(
            f"{name}: {count} ({100 * count / total:.0f}%)" for name, count in s["replicas"].items()))
    if s["done_not_in_data"]:
        lines.append(f"  note: {s['done_not_in_data']} question(s) in the shards are not in the data")
    for msg in s["skip_reasons"]:
        lines.append(f"  skipped: {msg}")
    return "\n".join(lines)
