"""`python -m specs_verl`: the stage commands of the SPECS pipeline, one line each (each has its own --help)."""

from __future__ import annotations

import sys

# (command, stage, what it does): in pipeline order; verl's own GRPO entry point is listed where a stage uses it
COMMANDS = (
    ("python data_tools/prepare_data.py NAME --out DIR", "data",
     "ViRL39K, geometry3k, MathVista, MathVerse, MathVision, MMMU -> verl RL parquet (skips counted by reason)"),
    ("python -m verl.trainer.main_ppo --config-path=pkg://specs_verl.config --config-name=grpo_specs", "1a, 3",
     "verl's GRPO with the paper's settings and the `specs` reward (stage 3: trainer.v1.trainer_mode=specs_sync, GF)"),
    ("python -m specs_verl.selfdistill sample|pair|show", "1b",
     "sample the zero and base models, grade, judge, supplement, pollute -> pairs.parquet + report.json"),
    ("python -m specs_verl.dpo data.train_files=PAIRS model.path=MODEL", "2",
     "the DPO + SFT cold start on verl's FSDP engine (torchrun --nproc-per-node=N -m specs_verl.dpo on N devices)"),
    ("python -m specs_verl.evaluate --base MODEL --checkpoints RUN --id ID --ood OOD...", "GF",
     "generate, score and plot the Generalization Factor of cold-start checkpoints or of a GRPO log"),
    ("python -m specs_verl.surface_form FILE.jsonl", "inspect", "the surface-form report of each response"),
    ("python -m specs_verl.platform sft|grpo", "CPU", "the overrides verl's own trainers need on the cpu platform"),
    ("python -m specs_verl.pipeline compose|hf-dir|data-sources|gf-seeds|summary|...", "recipes",
     "what the bash recipes ask of Python (config checks, checkpoint lookup, GF over seeds, the run summary)"),
    ("bash recipes/specs_qwen2.5vl.sh [--dry-run]", "all", "the whole pipeline on GPUs (COLD_START=dpo|sft|none)"),
    ("bash recipes/specs_tiny_cpu.sh [--quick]", "all", "the whole pipeline on this machine's CPU at toy sizes"),
)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] not in ("-h", "--help", "ls"):
        print(f"python -m specs_verl: unknown command {argv[0]!r}; the stage commands are:", file=sys.stderr)
    width = max(len(stage) for _, stage, _ in COMMANDS)
    print("SPECS stage commands (each takes --help):\n")
    for command, stage, what in COMMANDS:
        print(f"  [{stage:>{width}}] {command}\n  {'':>{width + 2}} {what}")
    return 0 if not argv or argv[0] in ("-h", "--help", "ls") else 2


if __name__ == "__main__":
    sys.exit(main())
