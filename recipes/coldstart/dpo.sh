#!/usr/bin/env bash
# DPO cold start, the SPECS default: DPO + lambda * SFT on the self-distilled pairs, reference = the base model.
#   bash recipes/coldstart/dpo.sh BASE_MODEL PAIRS_PARQUET OUT_DIR [--dry-run]
# Writes verl checkpoints under OUT_DIR, its log to OUT_DIR/train.log and OUT_DIR/DONE holding the final
# huggingface/ directory.
# Paper defaults come from specs_verl/config/dpo_trainer.yaml (sigmoid, beta 0.1, lambda 1, lr 1e-6, batch 64,
# 1 epoch, max length 16384). Knobs: NGPUS (default 1), TORCHRUN_ARGS (e.g. multi-node rendezvous flags),
# DPO_ARGS (extra hydra overrides, space separated, e.g. "dpo.beta=0.2 data.micro_batch_size_per_gpu=2").
set -euo pipefail
source "$(dirname "$0")/../lib/pipeline.sh"
[[ $# -ge 3 ]] || die "usage: $0 BASE_MODEL PAIRS_PARQUET OUT_DIR [--dry-run]"
base="$1" pairs="$2" out="$3"; shift 3
parse_common_args "$@"
read -ra extra <<< "${DPO_ARGS:-}"
read -ra launcher <<< "${TORCHRUN_ARGS:---standalone}"
args=("data.train_files=$pairs" "model.path=$base" "trainer.default_local_dir=$out" "trainer.n_gpus_per_node=${NGPUS:-1}"
      "${extra[@]}")
check_config dpo "${args[@]}"
need "$pairs"
run_logged "$out/train.log" --show '^\[specs-dpo\] (reference pass|skipped|warning)' -- \
  "$PY" -m torch.distributed.run "${launcher[@]}" --nproc-per-node="${NGPUS:-1}" -m specs_verl.dpo "${args[@]}" \
  || die "DPO failed; log: $out/train.log"
mark_done "$out" "$( [[ "$DRY_RUN" == 1 ]] || hf_weights "$out")"
[[ "$DRY_RUN" == 1 ]] || done_line "weights $(cat "$(marker "$out")"), metrics $out/dpo_summary.json"
