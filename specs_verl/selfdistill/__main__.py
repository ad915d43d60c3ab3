"""Self-distillation of SPECS preference pairs (stage 1b).

  python -m specs_verl.selfdistill sample --model ZERO --data rl.parquet --out samples_zero/ --n 4
  python -m specs_verl.selfdistill sample --model BASE --data rl.parquet --out samples_base/ --n 4
  python -m specs_verl.selfdistill pair --chosen samples_zero/ --rejected samples_base/ --data rl.parquet \\
      --out pairs.parquet [--judge openai --judge-url http://host:8000/v1 --judge-model NAME]
  python -m specs_verl.selfdistill show pairs.parquet --n 5
"""

from __future__ import annotations

import argparse
import logging
import sys

from specs_verl.generation import RLDataError
from specs_verl.generation.replicas import add_replica_arguments
from specs_verl.surface_form import POLLUTION_RULES


def _add_sample(sub) -> None:
    p = sub.add_parser("sample", help="generate n responses per question (resumable JSONL shards)",
                       description="Generate n responses per question of a verl RL parquet file. Output: "
                                   "OUT/run.json (settings) and OUT/shard-NNNNN.jsonl (one sample per line). "
                                   "Rerun the same command to resume: questions already written are skipped.")
    p.add_argument("--model", required=True, help="model checkpoint directory (Hugging Face layout)")
    p.add_argument("--data", required=True, help="verl RL parquet (prompt with <image> placeholders, images, ...)")
    p.add_argument("--out", required=True, help="output directory for the shards")
    p.add_argument("--n", type=int, default=4, help="samples per question (default 4)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature; 0 = greedy (default 1.0)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling mass (default 1.0: off)")
    p.add_argument("--max-new-tokens", type=int, default=4096, help="longest response in tokens (default 4096)")
    p.add_argument("--seed", type=int, default=0, help="random seed; a sample depends on (seed, question, index)")
    p.add_argument("--backend", choices=["auto", "hf", "vllm"], default="auto",
                   help="vllm (GPU), hf (transformers, any machine) or auto: vllm when installed with a GPU")
    p.add_argument("--prompt-template", default="specs",
                   help="format instruction: a packaged name (specs, choice, terse), a text file, or 'none'. "
                        "Appended to the question unless already there; a file with {question} is a full "
                        "template (default: specs, the paper's think/answer/boxed instruction)")
    p.add_argument("--model-name", default=None, help="model id recorded with each sample (default: --model)")
    p.add_argument("--tp", type=int, default=1, help="vllm: tensor-parallel size (default 1)")
    p.add_argument("--gpu-memory-utilization", type=float, default=0.85, help="vllm: share of GPU memory")
    p.add_argument("--max-model-len", type=int, default=None, help="vllm: context length (default: the model's)")
    p.add_argument("--batch-size", type=int, default=8,
                   help="hf: rows (prompt x sample) per forward; with replicas: requests in flight per replica "
                        "(default 8)")
    p.add_argument("--device", default="auto", help="hf: cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--threads", type=int, default=None, help="hf: torch CPU threads")
    add_replica_arguments(p)
    p.add_argument("--shard-size", type=int, default=64,
                   help="questions per shard; a crash loses at most one shard of work (default 64)")
    p.add_argument("--strict", action="store_true", help="stop at the first unusable data row instead of skipping it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true",
                   help="print where generation would run (this process, or R replicas and verl's composed rollout "
                        "config for them) and exit; reads neither the model nor the data")


def _add_pair(sub) -> None:
    p = sub.add_parser("pair", help="build preference pairs from two sample pools and write a report",
                       description="chosen = correct, well-formed (and judged consistent) samples, supplemented "
                                   "to the canonical answer wrapper; rejected = samples with a correct "
                                   "(decoupled) or incorrect (coupled) answer, polluted to fail the format. "
                                   "Sample files need only 'qid' and 'text' per JSON line.")
    p.add_argument("--chosen", required=True, nargs="+", help="sample directories or JSONL files (the zero model)")
    p.add_argument("--rejected", required=True, nargs="+", help="sample directories or JSONL files (the base model)")
    p.add_argument("--data", required=True, help="the verl RL parquet the samples answer (question ids, images)")
    p.add_argument("--out", required=True, help="output preference parquet")
    p.add_argument("--report", default=None, help="report JSON (default: report.json next to --out)")
    p.add_argument("--mode", choices=["decoupled", "coupled"], default="decoupled",
                   help="decoupled (paper): rejected answers are correct too; coupled: rejected answers are wrong")
    p.add_argument("--pairs-per-question", type=int, default=1, help="at most K pairs per question (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seed for pollution rules and shuffles (default 0)")
    p.add_argument("--chosen-form", choices=["format", "structure", "style"], default="format",
                   help="the scorer level a chosen sample must reach before the supplement (default format)")
    p.add_argument("--pollution-rules", default=",".join(POLLUTION_RULES),
                   help="comma-separated rules drawn from at random for each rejected sample (default: all five: "
                        + ", ".join(POLLUTION_RULES) + ")")
    p.add_argument("--prompt-template", default="specs",
                   help="the instruction the samples were generated with (as for `sample`; default specs)")
    p.add_argument("--grade-time-limit", type=float, default=5.0, help="seconds per answer grading (default 5)")
    p.add_argument("--think-prefilled", action="store_true",
                   help="the chat template ends the prompt with <think>: responses start inside the reasoning "
                        "(as the reward's think_prefilled option)")
    p.add_argument("--judge", choices=["none", "openai", "hf"], default="none",
                   help="consistency judge: none (default: the paper's no-judge ablation, 48.13 vs 50.02; a warning says "
                        "so), openai (any OpenAI-compatible endpoint) or hf (local model)")
    p.add_argument("--judge-url", default=None, help="openai: base URL, e.g. http://localhost:8000/v1")
    p.add_argument("--judge-model", default=None, help="openai: model name; hf: checkpoint directory")
    p.add_argument("--judge-key-env", default="OPENAI_API_KEY",
                   help="openai: environment variable holding the API key (default OPENAI_API_KEY)")
    p.add_argument("--judge-prompt", default="judge_consistency",
                   help="judge prompt: packaged name or a file with {question}, {response}, {answer}")
    p.add_argument("--judge-concurrency", type=int, default=8, help="openai: requests in flight (default 8)")
    p.add_argument("--judge-timeout", type=float, default=60.0, help="openai: seconds per request (default 60)")
    p.add_argument("--judge-retries", type=int, default=4, help="openai: retries per request (default 4)")
    p.add_argument("--judge-max-tokens", type=int, default=256,
                   help="longest judge reply (default 256); a reply cut off there is asked again with 2x, then 4x")
    p.add_argument("--judge-batch-size", type=int, default=8, help="hf: judge prompts per forward (default 8)")
    p.add_argument("--judge-cache", default=None, help="verdict cache (default: judge_cache.jsonl next to --out)")
    p.add_argument("--strict", action="store_true",
                   help="stop at the first malformed sample line, unknown question id or unusable data row")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def _add_show(sub) -> None:
    p = sub.add_parser("show", help="print pairs side by side", description="Print preference pairs side by side.")
    p.add_argument("pairs", help="a preference parquet written by `pair` (or any file in that schema)")
    p.add_argument("--n", type=int, default=5, help="pairs to print (default 5)")
    p.add_argument("--start", type=int, default=0, help="first pair to print (default 0)")
    p.add_argument("--width", type=int, default=None, help="line width (default: the terminal's)")


def _sample(args) -> None:
    from .sample import SampleOptions, SampleSettings, format_summary, resolve_backend, run_sample
    from specs_verl.generation import load_instruction

    settings = SampleSettings(
        model=args.model_name or str(args.model), backend=resolve_backend(args.backend), n=args.n,
        temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens, seed=args.seed,
        prompt_template=args.prompt_template, instruction=load_instruction(args.prompt_template))
    opts = SampleOptions(data=args.data, out=args.out, model_path=args.model, shard_size=args.shard_size,
                         batch_size=args.batch_size, tp=args.tp, device=args.device, threads=args.threads,
                         gpu_memory_utilization=args.gpu_memory_utilization, max_model_len=args.max_model_len,
                         strict=args.strict, progress=not args.no_progress, replicas=args.replicas,
                         ray_address=args.ray_address, gpus_per_node=args.gpus_per_node, nnodes=args.nnodes)
    if args.dry_run:
        from .sample import generation_plan

        print(generation_plan(settings, opts))
        return
    print(format_summary(run_sample(settings, opts)))


def _pair(args) -> None:
    from .pair_command import PairOptions, format_pair_summary, run_pair
    from .pair_builder import PairConfig

    if args.judge == "openai":
        judge_opts = dict(url=args.judge_url, model=args.judge_model, api_key_env=args.judge_key_env,
                          concurrency=args.judge_concurrency, timeout=args.judge_timeout, retries=args.judge_retries,
                          max_tokens=args.judge_max_tokens)
    elif args.judge == "hf":
        if not args.judge_model:
            raise ValueError("--judge hf needs --judge-model (a checkpoint directory)")
        judge_opts = dict(model_path=args.judge_model, batch_size=args.judge_batch_size,
                          max_tokens=args.judge_max_tokens)
    else:
        judge_opts = None
    cfg = PairConfig(mode=args.mode, pairs_per_question=args.pairs_per_question, seed=args.seed,
                     chosen_form=args.chosen_form, time_limit=args.grade_time_limit,
                     think_prefilled=args.think_prefilled,
                     pollution_rules=tuple(r.strip() for r in args.pollution_rules.split(",") if r.strip()))
    opts = PairOptions(chosen=args.chosen, rejected=args.rejected, data=args.data, out=args.out, report=args.report,
                       prompt_template=args.prompt_template, judge=args.judge, judge_opts=judge_opts,
                       judge_template=args.judge_prompt, judge_cache=args.judge_cache, strict=args.strict,
                       progress=not args.no_progress)
    print(format_pair_summary(run_pair(cfg, opts)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m specs_verl.selfdistill", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_sample(sub)
    _add_pair(sub)
    _add_show(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from .judge import JudgeUnavailable
    from .pair_command import PairInputError
    from specs_verl.generation.replicas import ReplicasLost, ReplicaStartError

    from .sample import SettingsMismatch

    try:
        if args.command == "sample":
            _sample(args)
        elif args.command == "pair":
            _pair(args)
        else:
            from .show import show_pairs

            print(show_pairs(args.pairs, n=args.n, start=args.start, width=args.width))
    except (RLDataError, PairInputError, SettingsMismatch, JudgeUnavailable, FileNotFoundError, ValueError,
            ReplicaStartError, ReplicasLost) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
