"""`python -m specs_verl.pipeline compose|data-sources|hf-dir|pairs-to-sft|progress|gf-seeds|summary`: what the bash
recipes need from Python."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m specs_verl.pipeline", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("compose", help="compose a stage's hydra config with its overrides; fail on any error; "
                                       "print the settings the stage will train with")
    p.add_argument("kind", help="the presets grpo_specs, grpo_cpu, sft_coldstart, dpo (specs_verl/config), or "
                                "verl's own grpo (ppo_trainer), sft (sft_trainer_engine)")
    p.add_argument("overrides", nargs="*")
    p = sub.add_parser("data-sources", help="print the data_source names of RL parquet files, comma separated; "
                                            "fail naming the file if one cannot be read or has none")
    p.add_argument("files", nargs="+")
    p = sub.add_parser("hf-dir", help="print the latest huggingface/ weights directory of a verl output directory")
    p.add_argument("run_dir")
    p = sub.add_parser("pairs-to-sft", help="prompt + chosen of every pair -> verl multi-turn SFT parquet")
    p.add_argument("pairs")
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=None, help="shuffle the rows with this seed (data order of the run)")
    sub.add_parser("progress", add_help=False,
                   help="copy a stage's output to its log file; show progress and chosen lines (--help for more)")
    p = sub.add_parser("gf-seeds", help="combine GF_DIR/seed*/gf.csv into GF_DIR/gf.csv (seed column), "
                                        "gf_mean.csv, gf.json (final GF per seed, mean, std) and gf.png (bands)")
    p.add_argument("gf_dir")
    p = sub.add_parser("summary", help="print (and write summary.json) the summary of a pipeline output directory")
    p.add_argument("out_dir")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["progress"]:
        from .progress import main as progress

        return progress(argv[1:])
    args = parser.parse_args(argv)

    if args.command == "compose":
        from .compose import compose_config, settings

        try:
            config = compose_config(args.kind, args.overrides)
        except Exception as e:  # hydra / omegaconf / verl dataclass errors, shown as one message
            print(f"config check failed for {args.kind}: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
        shown = settings(args.kind, config)
        print(f"config ok: {args.kind} ({len(args.overrides)} overrides){': ' + shown if shown else ''}")
        return 0
    if args.command == "data-sources":
        from .data_sources import DataSourceError, data_sources

        try:
            print(",".join(data_sources(args.files)))
        except DataSourceError as e:
            print(f"data-sources: {e}", file=sys.stderr)
            return 1
        return 0
    if args.command == "hf-dir":
        from specs_verl.checkpoint_layout import latest_hf_dir

        path = latest_hf_dir(args.run_dir)
        if path is None:
            print(f"no checkpoint with full weights under {args.run_dir}", file=sys.stderr)
            return 1
        print(path)
        return 0
    if args.command == "pairs-to-sft":
        from .sft_data import pairs_to_sft

        print(f"wrote {pairs_to_sft(args.pairs, args.out, args.seed)} SFT rows to {args.out}")
        return 0
    if args.command == "gf-seeds":
        from .gf_seeds import combine

        print(combine(Path(args.gf_dir)))
        return 0
    from .summary import collect, render

    summary = collect(Path(args.out_dir))
    (Path(args.out_dir) / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
