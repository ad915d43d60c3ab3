#!/usr/bin/env bash
# DPO cold start, the SPECS default: DPO + lambda * SFT on the self-distilled pairs, reference = the base model.
#   bash recipes/coldstart/dpo.sh BASE_MODEL PAIRS_PARQUET OUT_DIR [--dry-run]
# Writes verl checkpoints under OUT_DIR, its log to OUT_DIR/train.log and OUT_DIR/DONE holding the final
# huggingface/ directory.
# Paper defaults come from specs_verl/config/dpo_trainer.yaml (sigmoid, beta 0.1, lambda 1, lr 1e-6, batch 64,
# 1 epoch, max length 16384). Knobs: NGPUS (default 1: one plain process; more: torchrun), TORCHRUN_ARGS (e.g.
# multi-node rendezvous flags; given, torchrun launches even one process),
# DPO_ARGS (extra hydra overrides, space separated, e.g. "dpo.beta=0.2 data.micro_batch_size_per_gpu=2").
set -euo pipefail
source "$(dirname "$0")/../lib/pipeline.sh"
[[ $# -ge 3 ]] || die "usage: $0 BASE_MODEL PAIRS_PARQUET OUT_DIR [--dry-run]"
base="$1" pairs="$2" out="$3"; shift 3
parse_common_args "$@"
read -ra extra <<< "${DPO_ARGS:-}"
# one process on one device needs no torchrun launcher (its process alone holds ~0.5 GiB): the trainer starts
# itself when no torchrun environment is present
if [[ "${NGPUS:-1}" == 1 && -z "${TORCHRUN_ARGS:-}" ]]; then launch=("$PY" -m specs_verl.dpo)
else read -ra launcher <<< "${TORCHRUN_ARGS:---standalone}"
  launch=("$PY" -m torch.distributed.run "${launcher[@]}" --nproc-per-node="${NGPUS:-1}" -m specs_verl.dpo); fi
args=("data.train_files=$pairs" "model.path=$base" "trainer.default_local_dir=$out" "trainer.n_gpus_per_node=${NGPUS:-1}"
      "${extra[@]}")
check_config dpo "${args[@]}"
need "$pairs"
run_logged "$out/train.log" --show '^\[specs-dpo\] (reference pass|skipped|warning)' -- \
  "${launch[@]}" "${args[@]}" || die "DPO failed; log: $out/train.log"
mark_done "$out" "$( [[ "$DRY_RUN" == 1 ]] || hf_weights "$out")"
[[ "$DRY_RUN" == 1 ]] || done_line "weights $(cat "$(marker "$out")"), metrics $out/dpo_summary.json"
