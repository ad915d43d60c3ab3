"""Generate on the evaluation sets with one model and score every response (surface form + grader).

Generation is `specs_verl.generation` (the `hf` or `vllm` backend); scoring is the GRPO reward itself,
`specs_verl.reward.compute_score` (the surface-form check `format`/`structure`/`style` and the grader `acc`), so an
offline evaluation and the reward a GRPO run sees agree on every response.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specs_verl.atomic import write_atomic
from specs_verl.metrics import pass_at_ks

SCORE_KEYS = ("score", "acc", "format", "structure", "style")  # the numeric keys of compute_score


@dataclass
class EvalSet:
    """One evaluation set: a verl RL parquet file, its name (its data_source) and whether it is ID or OOD."""

    name: str
    kind: str  # "id" | "ood" | "extra" (scored and reported, not part of GF)
    path: Path
    requests: list


def load_sets(id_files: Sequence[str], ood_files: Sequence[str], instruction: str | None,
              limit: int | None, extra_files: Sequence[str] = ()) -> list[EvalSet]:
    """Read the ID, OOD and extra (scored and reported, outside GF) files. A set is named by its rows'
    data_source (by the file name when rows disagree)."""
    from specs_verl.generation import load_rl_requests

    sets: list[EvalSet] = []
    for kind, files in (("id", id_files), ("ood", ood_files), ("extra", extra_files)):
        for f in files:
            path = Path(f)
            requests = load_rl_requests(path, instruction=instruction)
            if not requests:
                raise ValueError(f"{path}: no rows")
            sources = {r.data_source for r in requests}
            name = sources.pop() if len(sources) == 1 and "" not in sources else path.stem
            if any(s.name == name for s in sets):
                name = f"{name}:{path.stem}"
            if any(s.name == name for s in sets):
                raise ValueError(f"{path}: set name {name!r} is used twice; pass each file once")
            requests = requests[:limit] if limit else requests
            # ids must be unique across one generate call; they also seed each sample's random stream
            requests = [dataclasses.replace(r, id=f"{name}/{r.id}") for r in requests]
            sets.append(EvalSet(name, kind, path, requests))
    return sets


@dataclass(frozen=True)
class GenSettings:
    """How responses are generated and scored; part of the cache key of a model's scores."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_new_tokens: int = 1024
    seed: int = 0
    rbf_top_p: float | None = None
    reward_options: tuple[tuple[str, Any], ...] = ()

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["reward_options"] = dict(self.reward_options)
        return d


def summarize(per_sample: list[dict[str, Any]], rbf_cap: int | None) -> dict[str, Any]:
    """Per-set summary from per-sample records (fractions; pass@k on `acc` when prompts have several samples)."""
    out: dict[str, Any] = {"n_prompts": len({r["id"] for r in per_sample}), "n_samples": len(per_sample)}
    out["scores"] = {k: sum(r[k] for r in per_sample) / len(per_sample) for k in SCORE_KEYS}
    out["truncated"] = sum(r["finish_reason"] == "length" for r in per_sample) / len(per_sample)
    by_prompt: dict[str, list[float]] = {}
    for r in per_sample:
        by_prompt.setdefault(r["id"], []).append(r["acc"])
    if min(len(v) for v in by_prompt.values()) > 1:
        out["pass_at_k"] = {str(k): v for k, v in pass_at_ks(list(by_prompt.values())).items()}
    sizes = [k for r in per_sample for k in (r.get("top_p_set_sizes") or [])]
    if sizes:
        # the backend reads each generated position's distribution given the sampled prefix: the same numbers
        # teacher-forcing the sampled response gives
        out["rbf"] = sum(sizes) / len(sizes)
        if rbf_cap is not None:
            out["rbf_capped"] = sum(k > rbf_cap for k in sizes) / len(sizes)
    return out


def evaluate_model(backend, sets: Sequence[EvalSet], settings: GenSettings, *, rbf_cap: int | None = None,
                   progress: Callable[[int], None] | None = None) -> tuple[dict[str, dict], list[dict]]:
    """Generate `settings.n` responses per prompt of every set in one batched call and score them.

    Returns (set name -> summary, per-sample records).
    """
    from specs_verl.reward import compute_score

    requests = [r for s in sets for r in s.requests]
    samples = backend.generate(requests, n=settings.n, temperature=settings.temperature, top_p=settings.top_p,
                               max_new_tokens=settings.max_new_tokens, seed=settings.seed,
                               branching_top_p=settings.rbf_top_p, progress=progress)
    options = dict(settings.reward_options)
    records, summaries, i = [], {}, 0
    for s in sets:
        per_set = []
        for r in s.requests:
            for k, sample in enumerate(samples[i]):
                scored = compute_score(r.data_source, sample.text, r.ground_truth, r.extra_info, **options)
                per_set.append({"set": s.name, "id": r.id, "k": k, "text": sample.text, "n_tokens": sample.n_tokens,
                                "finish_reason": sample.finish_reason, "ground_truth": _jsonable(r.ground_truth),
                                **{key: float(scored[key]) for key in SCORE_KEYS}, "pred": scored["pred"],
                                "top_p_set_sizes": sample.top_p_set_sizes})
            i += 1
        summaries[s.name] = summarize(per_set, rbf_cap)
        records.extend(per_set)
    return summaries, records


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return value.tolist() if hasattr(value, "tolist") else str(value)


def _image_content(image: Any) -> Any:
    """What an image of a request holds: its bytes (read from the file when given by path), never its name."""
    from specs_verl.fingerprint import bytes_digest, file_digest

    if isinstance(image, dict) and image.get("bytes") is not None:
        return bytes_digest(bytes(image["bytes"]))
    path = image.get("path") if isinstance(image, dict) else image if isinstance(image, (str, Path)) else None
    if path is not None:
        return file_digest(path) if os.path.exists(path) else f"missing:{path}"
    if hasattr(image, "tobytes"):  # a PIL image
        return bytes_digest(image.tobytes() + repr((image.mode, image.size)).encode())
    return repr(image)


def requests_digest(requests: Sequence) -> str:
    """The content of a set's requests: ids, messages (instruction included), images, answers."""
    from specs_verl.fingerprint import json_digest

    return json_digest([[r.id, r.messages, [_image_content(i) for i in r.images], r.data_source,
                         _jsonable(r.ground_truth), r.extra_info] for r in requests])


def cache_dir(out: Path, label: str, model_path: Path, settings: GenSettings, sets: Sequence[EvalSet],
              backend: str) -> Path:
    """Where one model's samples and scores are kept, keyed by content: the model's files (a model retrained
    into the same folder is evaluated again), the backend, the settings and every set's requests."""
    import hashlib

    from specs_verl.fingerprint import model_digest

    contents = [(s.name, s.kind, requests_digest(s.requests)) for s in sets]
    key = json.dumps([model_digest(model_path), backend, settings.as_dict(), contents], sort_keys=True, default=str)
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in label)[:60]
    return out / "evals" / f"{slug}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"


def evaluate_checkpoint(label: str, model_path: Path, sets: Sequence[EvalSet], settings: GenSettings, out: Path,
                        backend_name: str, backend_opts: dict[str, Any], *, rbf_cap: int | None = None,
                        reuse: bool = True, replicas=None) -> tuple[dict[str, dict], bool]:
    """Set name -> summary for one model, generated and scored once: a later call with the same model, settings and
    files reads `<out>/evals/<label>-<hash>/scores.json` back (the per-sample records sit next to it, samples.jsonl).
    `replicas` (a `generation.replicas.ReplicaSettings`): generate over rollout replicas on Ray instead of here;
    the samples are the same (per-sample seeds), so the cache does not tell the two apart.

    Returns (summaries, whether they came from the cache).
    """
    from tqdm import tqdm

    from specs_verl.generation.replicas import open_backend

    where = cache_dir(out, label, model_path, settings, sets, backend_name)
    scores_file = where / "scores.json"
    if reuse and scores_file.exists():
        return json.loads(scores_file.read_text())["sets"], True
    backend = open_backend(backend_name, model_path, backend_opts, replicas)
    total = settings.n * sum(len(s.requests) for s in sets)
    try:
        with tqdm(total=total, desc=f"generate {label}", unit="resp", dynamic_ncols=True) as bar:
            summaries, records = evaluate_model(backend, sets, settings, rbf_cap=rbf_cap, progress=bar.update)
    finally:
        backend.close()
        del backend
        _free_accelerator_memory()
    write_atomic(where / "samples.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    write_atomic(scores_file, json.dumps({"model": str(model_path), "label": label, "backend": backend_name,
                                          "settings": settings.as_dict(), "sets": summaries}, indent=2))
    return summaries, False


def _free_accelerator_memory() -> None:
    import gc

    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
