"""`python -m specs_verl.evaluate`: GF curves of cold-start checkpoints (generated and scored) and of training logs.

    # checkpoints: generate on the ID and OOD sets with the base model and every checkpoint, score, plot
    python -m specs_verl.evaluate --base Qwen/Qwen2.5-VL-7B-Instruct \\
        --checkpoints dpo=ckpt/dpo sft=ckpt/sft --id val_id.parquet --ood chart.parquet doc.parquet \\
        --backend vllm --metric format --out gf_coldstart

    # a GRPO run's verl `file` logger JSONL (no generation)
    python -m specs_verl.evaluate --jsonl grpo=logs/specs/run.jsonl \\
        --id-sources geo3k --ood-sources chartqa docvqa --log-metric acc --out gf_grpo

Writes <out>/gf.csv, <out>/gf.json and <out>/gf.png (ID score, OOD score and GF against the step, one line per
run); generations and per-model scores go to <out>/evals/ and are reused by a later call with the same
settings (so adding a run does not evaluate the base model again).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from specs_verl.generation.replicas import add_replica_arguments
from specs_verl.metrics import GFSpec

from .checkpoints import resolve_runs
from .curves import gf_row, log_curve
from .report import plot, write_csv, write_json
from .scoring import SCORE_KEYS, GenSettings, evaluate_checkpoint, load_sets


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m specs_verl.evaluate", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    g = p.add_argument_group("checkpoints (generate and score)")
    g.add_argument("--base", help="the starting model (Hugging Face directory or hub id); its scores are the GF "
                                  "baseline and step 0 of every run")
    g.add_argument("--checkpoints", nargs="+", default=[], metavar="RUN",
                   help="one run per value: a checkpoint dir with global_step_N/ folders (weights in huggingface/, "
                        "actor/huggingface/ or the folder itself), a model dir, or a comma-separated list of model "
                        "dirs; prefix NAME= to name the run")
    g.add_argument("--id", nargs="+", default=[], metavar="FILE", help="in-distribution set(s), verl RL parquet")
    g.add_argument("--ood", nargs="+", default=[], metavar="FILE", help="out-of-distribution sets, verl RL parquet "
                                                                        "(one set per file)")
    g.add_argument("--extra", nargs="+", default=[], metavar="FILE",
                   help="more sets, verl RL parquet, scored at every checkpoint and reported as score/<set> "
                        "columns but left out of GF (e.g. a hard OOD split)")
    g.add_argument("--metric", default="format", choices=SCORE_KEYS,
                   help="the score GF is computed on: format (surface form, the paper's cold-start GF), acc "
                        "(grader), score (the GRPO reward), structure or style (default: format)")
    g.add_argument("--backend", default="hf", choices=("hf", "vllm"), help="generation backend (default: hf)")
    g.add_argument("--n", type=int, default=1, help="responses per prompt (default: 1); n > 1 adds pass@k")
    g.add_argument("--temperature", type=float, default=0.0, help="sampling temperature, 0 = greedy (default: 0)")
    g.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default: 1.0)")
    g.add_argument("--max-new-tokens", type=int, default=1024, help="response length cap (default: 1024)")
    g.add_argument("--seed", type=int, default=0, help="sampling seed (default: 0)")
    g.add_argument("--limit", type=int, default=None, help="use only the first N rows of each set")
    g.add_argument("--instruction", default="none",
                   help="format instruction added to each question: specs, choice, terse, a file, or none "
                        "(default: none, the prompts as they are in the files)")
    g.add_argument("--profile", default="specs", help="surface-form profile of the scorer (default: specs)")
    g.add_argument("--think-prefilled", action="store_true",
                   help="the chat template puts <think> in the prompt; restore it before scoring")
    g.add_argument("--batch-size", type=int, default=8, help="hf backend: rows per generate call (default: 8)")
    g.add_argument("--device", default="auto", help="hf backend: cpu, cuda, cuda:N or auto (default: auto)")
    g.add_argument("--dtype", default="auto", help="model dtype (default: auto)")
    g.add_argument("--threads", type=int, default=None, help="hf backend: torch CPU threads")
    g.add_argument("--tp", type=int, default=1, help="vllm backend: tensor parallel size (default: 1)")
    g.add_argument("--gpu-memory-utilization", type=float, default=None, help="vllm backend")
    g.add_argument("--max-model-len", type=int, default=None, help="vllm backend")
    add_replica_arguments(g)  # one pool of replicas per model, one model after the other
    g.add_argument("--rbf", action="store_true",
                   help="also measure the rollout branching factor: per generated position, the size of the "
                        "smallest token set holding --rbf-top-p of the model's distribution given the sampled "
                        "prefix (teacher-forced values), averaged over positions")
    g.add_argument("--rbf-top-p", type=float, default=0.95, help="(default: 0.95)")
    g.add_argument("--rbf-logprobs", type=int, default=20,
                   help="vllm backend: top log-probs read per position; a set larger than this counts as this + 1 "
                        "and the share of such positions is reported as rbf_capped (default: 20)")
    g.add_argument("--no-reuse", action="store_true", help="generate again even when <out>/evals has the scores")

    g = p.add_argument_group("training logs (verl `file` logger JSONL; no generation)")
    g.add_argument("--jsonl", nargs="+", default=[], metavar="[NAME=]FILE", help="one run per file")
    g.add_argument("--id-sources", nargs="+", default=[], help="data_source names of the ID validation sets")
    g.add_argument("--ood-sources", nargs="+", default=[], help="data_source names of the OOD validation sets")
    g.add_argument("--log-metric", default="acc",
                   help="validation variable to read: acc, format, reward or any reward key (default: acc)")

    g = p.add_argument_group("GF and output")
    g.add_argument("--beta", type=float, default=2.0, help="F-beta weight of OOD over ID (default: 2, the paper)")
    g.add_argument("--ood-weights", nargs="+", type=float, default=None,
                   help="weights of the OOD sets, in --ood (or --ood-sources) order (default: equal)")
    g.add_argument("--title", default=None, help="figure title")
    g.add_argument("--out", required=True, type=Path, help="output directory")
    args = p.parse_args(argv)

    if not args.checkpoints and not args.jsonl:
        p.error("give --checkpoints (with --base, --id, --ood) and/or --jsonl (with --id-sources, --ood-sources)")
    if args.checkpoints and not (args.base and args.id and args.ood):
        p.error("--checkpoints needs --base, --id and --ood")
    if args.jsonl and not (args.id_sources and args.ood_sources):
        p.error("--jsonl needs --id-sources and --ood-sources")
    if args.n < 1 or (args.n > 1 and args.temperature == 0):
        p.error("--n > 1 needs --temperature > 0 (greedy decoding gives n identical responses)")
    return args


def backend_options(args) -> dict:
    if args.backend == "hf":
        return {"batch_size": args.batch_size, "device": args.device, "dtype": args.dtype, "threads": args.threads}
    opts = {"tp": args.tp, "dtype": args.dtype}
    if args.gpu_memory_utilization is not None:
        opts["gpu_memory_utilization"] = args.gpu_memory_utilization
    if args.max_model_len is not None:
        opts["max_model_len"] = args.max_model_len
    if args.rbf:
        opts["max_logprobs"] = args.rbf_logprobs
    return opts


def replica_settings(args):
    """The replicas to generate on, or None for this process (`--replicas 1` and no --ray-address)."""
    if args.replicas == 1 and not args.ray_address:
        return None
    from specs_verl.generation.replicas import ReplicaSettings

    overrides = [f"actor_rollout_ref.rollout.{k}={v}" for k, v in (
        ("gpu_memory_utilization", args.gpu_memory_utilization), ("max_model_len", args.max_model_len)) if v]
    return ReplicaSettings(model_path=str(args.base), backend=args.backend, replicas=args.replicas,
                           gpus_per_node=args.gpus_per_node, nnodes=args.nnodes, tp=args.tp,
                           ray_address=args.ray_address, max_in_flight=args.batch_size, dtype=args.dtype,
                           response_length=args.max_new_tokens, threads=args.threads, overrides=overrides)


def evaluate_checkpoints(args) -> tuple[list[dict], dict, dict]:
    """GF rows of every run, the per-model details, and the evaluation description for gf.json."""
    from specs_verl.generation import load_instruction

    runs = resolve_runs(args.checkpoints)
    sets = load_sets(args.id, args.ood, load_instruction(args.instruction), args.limit, args.extra)
    spec = GFSpec(tuple(s.name for s in sets if s.kind == "id"), tuple(s.name for s in sets if s.kind == "ood"),
                  metric=args.metric, beta=args.beta,
                  ood_weights=None if args.ood_weights is None else tuple(args.ood_weights))
    reward_options = {"profile": args.profile, "think_prefilled": args.think_prefilled}
    settings = GenSettings(n=args.n, temperature=args.temperature, top_p=args.top_p,
                           max_new_tokens=args.max_new_tokens, seed=args.seed,
                           rbf_top_p=args.rbf_top_p if args.rbf else None,
                           reward_options=tuple(sorted(reward_options.items())))
    rbf_cap = args.rbf_logprobs if args.backend == "vllm" else None

    models = {"base": Path(args.base)}  # label -> path, each evaluated once
    for run in runs:
        for step, path in run.checkpoints:
            if path not in models.values():
                models[f"{run.name}/step{step}"] = path
    details, label_of = {}, {path: label for label, path in models.items()}
    replicas = replica_settings(args)
    if replicas is not None:
        from specs_verl.generation.replicas import ray_session

        session = ray_session(replicas)
        print(f"generation: {replicas.n_replicas()} {args.backend} replicas per model (gpus_per_node="
              f"{replicas.gpus_per_node}, nnodes={replicas.nnodes}, tp={replicas.tp}, ray_address="
              f"{replicas.ray_address or 'RAY_ADDRESS or local'})", flush=True)
    else:
        import contextlib

        session = contextlib.nullcontext()
    with session:
        for i, (label, path) in enumerate(models.items(), start=1):
            summaries, cached = evaluate_checkpoint(label, path, sets, settings, args.out, args.backend,
                                                    backend_options(args), rbf_cap=rbf_cap, reuse=not args.no_reuse,
                                                    replicas=replicas)
            print(f"[{i}/{len(models)}] {label}: " + ", ".join(
                f"{s} {args.metric}={100 * v['scores'][args.metric]:.1f}%" for s, v in summaries.items())
                + (" (reused)" if cached else ""), flush=True)
            details[label] = {"path": str(path), "sets": summaries}

    def scores(label):
        return {s: details[label]["sets"][s]["scores"][args.metric] for s in spec.sources}

    base = scores("base")

    def row(run, step, checkpoint, label):
        r = gf_row(run.name, "eval", step, checkpoint, spec, scores(label), base)
        r.update({f"score/{s.name}": 100 * details[label]["sets"][s.name]["scores"][args.metric]
                  for s in sets if s.kind == "extra"})
        r.update({f"rbf/{s}": v["rbf"] for s, v in details[label]["sets"].items() if "rbf" in v})
        return r

    rows = []
    for run in runs:
        rows.append(row(run, 0, args.base, "base"))
        rows.extend(row(run, step, str(path), label_of[path]) for step, path in run.checkpoints)
    evaluation = {"backend": args.backend, "settings": settings.as_dict(), "instruction": args.instruction,
                  "sets": [{"name": s.name, "kind": s.kind, "file": str(s.path), "rows": len(s.requests)}
                           for s in sets]}
    return rows, details, evaluation


def main(argv=None) -> int:
    args = parse_args(argv)
    rows, payload = [], {"units": "percent", "beta": args.beta, "ood_weights": args.ood_weights}
    if args.checkpoints:
        eval_rows, details, evaluation = evaluate_checkpoints(args)
        rows += eval_rows
        payload.update(metric=args.metric, evaluation=evaluation, models=details)
    if args.jsonl:
        spec = GFSpec(tuple(args.id_sources), tuple(args.ood_sources), metric=args.log_metric, beta=args.beta,
                      ood_weights=None if args.ood_weights is None else tuple(args.ood_weights))
        payload["logs"] = []
        for item in args.jsonl:
            name, _, file = item.rpartition("=") if "=" in item and not Path(item).exists() else ("", "", item)
            name = name or Path(file).stem
            log_rows, base_step = log_curve(file, spec, name)
            rows += log_rows
            payload["logs"].append({"run": name, "file": file, "metric": args.log_metric,
                                    "baseline_step": base_step})
            if base_step not in (0, None):
                print(f"warning: {file}: no validation at step 0; the baseline is the validation at step "
                      f"{base_step} (run with trainer.val_before_train=True)", file=sys.stderr)
    payload["rows"] = rows

    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, args.out / "gf.csv")
    write_json(payload, args.out / "gf.json")
    plot(rows, args.out / "gf.png", args.beta, args.title)

    print(f"\n{'run':<24} {'step':>6} {'ID':>7} {'OOD':>7} {'G_ID':>7} {'G_OOD':>7} {'GF':>7}   (percent)")
    for r in rows:
        print(f"{r['run'][:24]:<24} {r['step']:>6} {r['id_score']:>7.2f} {r['ood_score']:>7.2f} "
              f"{r['g_id']:>7.2f} {r['g_ood']:>7.2f} {r['gf']:>7.2f}")
    print(f"\nwrote {args.out / 'gf.csv'}, {args.out / 'gf.json'}, {args.out / 'gf.png'} "
          f"({len(rows)} rows, {len({r['run'] for r in rows})} runs)")
    return 0


def cli() -> int:
    """`main` with a one-line message instead of a traceback for what a user can fix (a path, a name, an extra)."""
    from specs_verl.generation.replicas import ReplicasLost, ReplicaStartError

    try:
        return main()
    except (FileNotFoundError, ValueError, KeyError, ImportError, ReplicaStartError, ReplicasLost) as e:
        print(f"error: {e.args[0] if isinstance(e, KeyError) and e.args else e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(cli())
