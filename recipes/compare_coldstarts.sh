#!/usr/bin/env bash
# Compare the cold starts on the same self-distilled pairs: dpo, sft and none, then one GF table and plot.
#   bash recipes/compare_coldstarts.sh [--dry-run]
# Needs OUT_DIR/pairs from recipes/specs_qwen2.5vl.sh (STAGES="zero pairs"). Writes OUT_DIR/coldstart/<kind>
# for each kind and OUT_DIR/gf_compare/{gf.csv,gf.json,gf.png} (format following on the ID and OOD sets, GF
# against the base model). Knobs as in specs_qwen2.5vl.sh (MODEL, DATA_DIR, OUT_DIR, NGPUS) plus
# COLD_STARTS ("dpo sft none"), GF_METRIC (format), EVAL_BACKEND (vllm), EVAL_MAX_NEW_TOKENS (4096), and for the
# generation over rollout replicas on Ray (every GPU of every node): NNODES (1), EVAL_TP (1), REPLICAS
# (NGPUS x NNODES / EVAL_TP), EVAL_IN_FLIGHT (128 requests per replica).
set -euo pipefail
source "$(dirname "$0")/lib/pipeline.sh"
parse_common_args "$@"

MODEL="${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}"
DATA_DIR="${DATA_DIR:-./data}"
OUT_DIR="${OUT_DIR:-./runs/specs_qwen2.5vl}"
export NGPUS="${NGPUS:-8}"
COLD_STARTS="${COLD_STARTS:-dpo sft none}"
NNODES="${NNODES:-1}"
EVAL_TP="${EVAL_TP:-1}"
REPLICAS="${REPLICAS:-$(( NGPUS * NNODES / EVAL_TP ))}"
EVAL_IN_FLIGHT="${EVAL_IN_FLIGHT:-128}"
BASE_MODEL="$MODEL"
ID_FILE="$DATA_DIR/val_id.parquet"
mapfile -t OOD_FILES < <(ls "$DATA_DIR"/val_ood_*.parquet 2>/dev/null || true)
print_knobs MODEL DATA_DIR OUT_DIR NGPUS NNODES COLD_STARTS REPLICAS EVAL_TP EVAL_IN_FLIGHT
need "$ID_FILE"
[[ ${#OOD_FILES[@]} -gt 0 ]] || die "no $DATA_DIR/val_ood_*.parquet: GF needs at least one OOD set"

runs=()
for kind in $COLD_STARTS; do
  stage_coldstart "$kind"
  [[ "$kind" == none ]] && continue  # no cold start: the base model, which is GF's baseline
  runs+=("$kind=$(output_of "$OUT_DIR/coldstart/$kind" "$OUT_DIR/coldstart/$kind/global_step_N/huggingface")")
done
say "GF of the cold starts -> $OUT_DIR/gf_compare"
run "$PY" -m specs_verl.evaluate --base "$BASE_MODEL" --checkpoints "${runs[@]}" --id "$ID_FILE" \
    --ood "${OOD_FILES[@]}" --backend "${EVAL_BACKEND:-vllm}" --metric "${GF_METRIC:-format}" \
    --max-new-tokens "${EVAL_MAX_NEW_TOKENS:-4096}" --replicas "$REPLICAS" --gpus-per-node "$NGPUS" \
    --nnodes "$NNODES" --tp "$EVAL_TP" --batch-size "$EVAL_IN_FLIGHT" --out "$OUT_DIR/gf_compare" \
    || die "GF evaluation failed"
