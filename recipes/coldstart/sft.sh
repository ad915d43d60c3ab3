#!/usr/bin/env bash
# SFT cold start, the paper's baseline: verl's own SFT trainer on the chosen side of the same pairs.
#   bash recipes/coldstart/sft.sh BASE_MODEL PAIRS_PARQUET OUT_DIR [--dry-run]
# Writes OUT_DIR/sft_data.parquet (prompt + chosen), verl checkpoints, its log OUT_DIR/train.log and OUT_DIR/DONE
# holding the final huggingface/ directory. Settings: the preset specs_verl/config/sft_coldstart.yaml (lr 1e-5,
# batch 64, 1 epoch, max length 16384, hf weights in every checkpoint). Knobs: NGPUS, TORCHRUN_ARGS, SEED
# (shuffles the rows: verl's SFT sampler always uses seed 0), SFT_ARGS (extra hydra overrides, space separated).
set -euo pipefail
source "$(dirname "$0")/../lib/pipeline.sh"
[[ $# -ge 3 ]] || die "usage: $0 BASE_MODEL PAIRS_PARQUET OUT_DIR [--dry-run]"
base="$1" pairs="$2" out="$3"; shift 3
parse_common_args "$@"
read -ra extra <<< "${SFT_ARGS:-}"
read -ra launcher <<< "${TORCHRUN_ARGS:---standalone}"
mapfile -t cpu < <(cpu_overrides sft)
data="$out/sft_data.parquet"
args=("data.train_files=$data" "model.path=$base" "trainer.default_local_dir=$out" "trainer.n_gpus_per_node=${NGPUS:-1}"
      "${cpu[@]}" "${extra[@]}")
check_config sft_coldstart "${args[@]}"
need "$pairs"
seed=(); [[ -n "${SEED:-}" ]] && seed=(--seed "$SEED")
run "$PY" -m specs_verl.pipeline pairs-to-sft "$pairs" "$data" "${seed[@]}" || die "building the SFT data failed"
run_logged "$out/train.log" -- \
  "$PY" -m torch.distributed.run "${launcher[@]}" --nproc-per-node="${NGPUS:-1}" -m verl.trainer.sft_trainer \
  --config-path=pkg://specs_verl.config --config-name=sft_coldstart "${args[@]}" || die "SFT failed; log: $out/train.log"
mark_done "$out" "$( [[ "$DRY_RUN" == 1 ]] || hf_weights "$out")"
[[ "$DRY_RUN" == 1 ]] || done_line "weights $(cat "$(marker "$out")")"
