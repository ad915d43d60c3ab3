#!/usr/bin/env bash
# SPECS on GPUs with verl (arXiv 2510.25801), Qwen2.5-VL-7B-Instruct by default:
#   (1a) short GRPO from the base model with the specs reward        -> OUT_DIR/zero
#   (1b) sample the zero and the base model, grade, judge, pollute     -> OUT_DIR/pairs/pairs.parquet
#   (2)  cold start from the base model: COLD_START=dpo | sft | none  -> OUT_DIR/coldstart/<kind>
#   (3)  GRPO from the cold start, specs reward, GF in validation      -> OUT_DIR/rl
#
#   bash recipes/specs_qwen2.5vl.sh [--dry-run]
#
# --dry-run prints every command, composes every GRPO/SFT/DPO config against verl's real config tree and checks
# that each stage reads what an earlier stage writes; it needs no GPU. A stage whose OUT_DIR/<stage>/DONE exists
# is skipped, so rerunning the same command resumes.
#
# Knobs (environment variables; the values in force are printed at start):
#   MODEL        base model (hub id or directory)                      Qwen/Qwen2.5-VL-7B-Instruct
#   DATA_DIR     verl RL parquet from data_tools/prepare_data.py        ./data
#                (train.parquet; val_id.parquet; one val_ood_<name>.parquet per OOD set)
#   OUT_DIR      where every stage writes                               ./runs/specs_qwen2.5vl
#   NGPUS        GPUs per node                                          8
#   NNODES       nodes; for >1 start a Ray cluster first (ray start --head on node 0, ray start --address=HEAD:6379
#                on the others), export RAY_ADDRESS=auto and run this on the head node; the cold start then needs
#                TORCHRUN_ARGS with torchrun's rendezvous flags on every node     1
#   COLD_START   dpo | sft | none                                       dpo
#   ZERO_MODEL   skip 1a and use this zero model                        (unset)
#   JUDGE_URL, JUDGE_MODEL  OpenAI-compatible consistency judge for 1b (key in $OPENAI_API_KEY)   (unset: no judge)
#   STAGES       which stages to run                                    "zero pairs coldstart rl"
#   ID_SOURCES / OOD_SOURCES  data_source names for GF                  from the validation files (an error
#                                                                       if they cannot be read)
#   ROLLOUT_N, GRPO_LR, CLIP_HIGH   change a paper setting                (unset: the preset's)
#   MAX_RESPONSE GRPO's response and 1b's sampling budget, in tokens   10240
#   SAMPLE_TP    1b: tensor-parallel size of each sampling replica        1
#   REPLICAS     1b: rollout replicas (verl's replica classes on Ray: the local cluster, or $RAY_ADDRESS for
#                NNODES > 1), sampling every GPU of every node              NGPUS x NNODES / SAMPLE_TP
#   SAMPLE_IN_FLIGHT  1b: requests in flight per replica                   128
# The paper's GRPO settings (8 samples per prompt, lr 1e-6, no KL, clip-higher 0.28, max response 10,240, the
# specs reward) come from the preset specs_verl/config/grpo_specs.yaml; the rollout batch of 128 prompts is
# scaled down to 16 per GPU when fewer GPUs are given.
set -euo pipefail
source "$(dirname "$0")/lib/pipeline.sh"
parse_common_args "$@"

MODEL="${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}"
DATA_DIR="${DATA_DIR:-./data}"
OUT_DIR="${OUT_DIR:-./runs/specs_qwen2.5vl}"
NGPUS="${NGPUS:-8}"
NNODES="${NNODES:-1}"
COLD_START="${COLD_START:-dpo}"
STAGES="${STAGES:-zero pairs coldstart rl}"
BASE_MODEL="$MODEL"
TRAIN_FILE="${TRAIN_FILE:-$DATA_DIR/train.parquet}"
mapfile -t VAL_FILES < <(ls "$DATA_DIR"/val_id.parquet "$DATA_DIR"/val_ood_*.parquet 2>/dev/null || true)
[[ ${#VAL_FILES[@]} -gt 0 ]] || VAL_FILES=("$DATA_DIR/val_id.parquet")
if stage_wanted rl; then  # GF's sources: the data_source names of the validation files (stage 3 only)
  [[ -n "${ID_SOURCES:-}" ]] || ID_SOURCES="$("$PY" -m specs_verl.pipeline data-sources "$DATA_DIR/val_id.parquet")" \
    || die "cannot name GF's ID sources (see above): prepare $DATA_DIR (data_tools/prepare_data.py) or set ID_SOURCES"
  if [[ -z "${OOD_SOURCES:-}" ]]; then
    mapfile -t ood_files < <(ls "$DATA_DIR"/val_ood_*.parquet 2>/dev/null || true)
    (( ${#ood_files[@]} )) || die "cannot name GF's OOD sources: no $DATA_DIR/val_ood_*.parquet; set OOD_SOURCES"
    OOD_SOURCES="$("$PY" -m specs_verl.pipeline data-sources "${ood_files[@]}")" \
      || die "cannot name GF's OOD sources (see above): fix the file or set OOD_SOURCES"
  fi
fi

TOTAL_GPUS=$(( NGPUS * NNODES ))
ROLLOUT_BATCH="${ROLLOUT_BATCH:-$(( TOTAL_GPUS * 16 < 128 ? TOTAL_GPUS * 16 : 128 ))}"
PPO_MINI_BATCH="${PPO_MINI_BATCH:-$(( ROLLOUT_BATCH / 2 ))}"
MICRO_BATCH="${MICRO_BATCH:-2}"
MAX_PROMPT="${MAX_PROMPT:-4096}"
MAX_RESPONSE="${MAX_RESPONSE:-10240}"  # the preset's response budget, also stage 1b's sampling budget
ZERO_STEPS="${ZERO_STEPS:-100}"
RL_STEPS="${RL_STEPS:-800}"
RL_TEST_FREQ="${RL_TEST_FREQ:-50}"
SAMPLES_PER_QUESTION="${SAMPLES_PER_QUESTION:-4}"
SAMPLE_TEMPERATURE="${SAMPLE_TEMPERATURE:-1.0}"
SAMPLE_BACKEND="${SAMPLE_BACKEND:-vllm}"
PAIR_MODE="${PAIR_MODE:-decoupled}"
SAMPLE_TP="${SAMPLE_TP:-1}"
REPLICAS="${REPLICAS:-$(( TOTAL_GPUS / SAMPLE_TP ))}"
SAMPLE_IN_FLIGHT="${SAMPLE_IN_FLIGHT:-128}"
SAMPLE_ARGS=(--replicas "$REPLICAS" --gpus-per-node "$NGPUS" --nnodes "$NNODES" --tp "$SAMPLE_TP"
             --batch-size "$SAMPLE_IN_FLIGHT")
read -ra extra <<< "${SAMPLE_EXTRA_ARGS:-}"
SAMPLE_ARGS+=("${extra[@]}")
read -ra PAIR_ARGS <<< "${PAIR_EXTRA_ARGS:-}"
GRPO_CONFIG=grpo_specs
GRPO_MACHINE=(  # this machine's keys; the paper's settings are the preset's
  "actor_rollout_ref.rollout.name=vllm"
  "actor_rollout_ref.rollout.tensor_model_parallel_size=${ROLLOUT_TP:-2}"
  "actor_rollout_ref.rollout.gpu_memory_utilization=0.6" "actor_rollout_ref.model.use_remove_padding=True"
  "actor_rollout_ref.model.enable_gradient_checkpointing=True"
  "actor_rollout_ref.actor.fsdp_config.param_offload=False" "data.filter_overlong_prompts=True"
  "trainer.n_gpus_per_node=$NGPUS" "trainer.nnodes=$NNODES" "trainer.logger=[console,file]"
)
export DPO_ARGS="${DPO_ARGS:-} trainer.nnodes=$NNODES"
export NGPUS

print_knobs MODEL DATA_DIR OUT_DIR NGPUS NNODES COLD_START ZERO_MODEL JUDGE_URL JUDGE_MODEL STAGES ID_SOURCES OOD_SOURCES \
  ROLLOUT_BATCH PPO_MINI_BATCH ZERO_STEPS RL_STEPS SAMPLE_BACKEND REPLICAS SAMPLE_TP SAMPLE_IN_FLIGHT
[[ "$DRY_RUN" == 1 ]] && say "dry run: commands are printed and configs composed; nothing runs"
if stage_wanted pairs; then  # where 1b samples; a dry run also composes verl's rollout config for the replicas
  "$PY" -m specs_verl.selfdistill sample --dry-run --model "$MODEL" --data "$TRAIN_FILE" --out "$OUT_DIR/samples" \
    --backend "$SAMPLE_BACKEND" "${SAMPLE_ARGS[@]}" --max-new-tokens "$MAX_RESPONSE" \
    | sed 's/^/  1b /' || die "1b sampling replicas: the configuration does not compose (see above)"
fi

stage_wanted zero && stage_zero
stage_wanted pairs && stage_pairs
stage_wanted coldstart && stage_coldstart "$COLD_START"
stage_wanted rl && stage_rl
say "done. Outputs under $OUT_DIR"
