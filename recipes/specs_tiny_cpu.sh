#!/usr/bin/env bash
# The whole SPECS pipeline on a CPU machine with a small random-weight Qwen2.5-VL and synthetic image data:
# the same stages and commands as recipes/specs_qwen2.5vl.sh, at toy sizes (no GPU, no download).
#   (0)  build the model and the data; teach the base model the task with a short SFT on mixed-format answers
#        (a random model answers nothing correctly, so self-distillation would have no material)
#   (1a) GRPO (verl main_ppo, the `hf` CPU rollout, the specs reward)   -> OUT_DIR/zero
#   (1b) sample zero and base, pair                                     -> OUT_DIR/pairs
#   (2)  cold starts dpo, sft and none from the base model               -> OUT_DIR/coldstart/*
#   (3)  GRPO from the dpo cold start with GF in validation              -> OUT_DIR/rl
#   (4)  GF of each cold start on the ID and OOD sets                    -> OUT_DIR/gf (gf.csv, gf.json, gf.png)
# and prints a summary (also OUT_DIR/summary.json) read back from those files.
#
#   bash recipes/specs_tiny_cpu.sh [--quick] [--dry-run]
#
# --quick: the `tiny` model and fewer questions and steps (what CI runs); a rerun skips completed stages.
# Knobs: OUT_DIR (./runs/tiny_cpu, ./runs/tiny_cpu_quick with --quick), SIZE (small | tiny), N_TRAIN, N_VAL,
# TEACH_STEPS, TEACH_LR, ZERO_STEPS, RL_STEPS, SAMPLES_PER_QUESTION, COLD_STARTS ("dpo sft none"), STAGES.
set -euo pipefail
QUICK=0
args=()
for a in "$@"; do [[ "$a" == --quick ]] && QUICK=1 || args+=("$a"); done
source "$(dirname "$0")/lib/pipeline.sh"
parse_common_args "${args[@]}"

export VERL_PLATFORM=cpu
eval "$("$PY" -c "from specs_verl.platform import cpu_env; print(' '.join(f'export {k}={v}' for k, v in cpu_env().items()))")"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
if [[ "$QUICK" == 1 ]]; then
  : "${OUT_DIR:=./runs/tiny_cpu_quick}" "${SIZE:=tiny}" "${N_TRAIN:=32}" "${N_VAL:=4}" "${TEACH_STEPS:=80}"
  : "${SAMPLES_PER_QUESTION:=4}" "${COLD_STARTS:=dpo none}"
else
  : "${OUT_DIR:=./runs/tiny_cpu}" "${SIZE:=small}" "${N_TRAIN:=48}" "${N_VAL:=8}" "${TEACH_STEPS:=100}"
  : "${SAMPLES_PER_QUESTION:=8}" "${COLD_STARTS:=dpo sft none}"
fi
# the 12M-parameter `small` model wants a smaller step than the 0.2M `tiny` one (5e-3 stalls it near loss 1.2)
if [[ "$SIZE" == small ]]; then TEACH_LR="${TEACH_LR:-1e-3}"; else TEACH_LR="${TEACH_LR:-5e-3}"; fi
ZERO_STEPS="${ZERO_STEPS:-1}"
RL_STEPS="${RL_STEPS:-1}"
COLD_START=dpo
STAGES="${STAGES:-setup teach zero pairs coldstart rl gf}"
OUT_DIR="$(mkdir -p "$OUT_DIR" && cd "$OUT_DIR" && pwd)"
DATA="$OUT_DIR/data"
TRAIN_FILE="$DATA/rl_train.parquet"
VAL_FILES=("$DATA/rl_val_id.parquet" "$DATA/rl_val_ood_choice.parquet" "$DATA/rl_val_ood_shapes.parquet")
ID_SOURCES=tiny_count
OOD_SOURCES=tiny_choice,tiny_shapes
ROLLOUT_BATCH=4 PPO_MINI_BATCH=4 MICRO_BATCH=4 ROLLOUT_N=2 GRPO_LR=1e-5 CLIP_HIGH=0.28
MAX_PROMPT=512 MAX_RESPONSE=64 RL_TEST_FREQ=1 GF_METRIC=format
SAMPLE_TEMPERATURE=0.7 SAMPLE_BACKEND=hf PAIR_MODE=decoupled
SAMPLE_ARGS=(--batch-size 32 --no-progress)
PAIR_ARGS=(--pairs-per-question 2 --no-progress)
GRPO_CONFIG=grpo_cpu
GRPO_ENTRY=(--config-path=pkg://specs_verl.config --config-name=grpo_cpu)
GRPO_PRESET=("data.val_batch_size=64" "data.filter_overlong_prompts=False")

print_knobs OUT_DIR SIZE N_TRAIN N_VAL TEACH_STEPS ZERO_STEPS RL_STEPS SAMPLES_PER_QUESTION COLD_STARTS STAGES
[[ "$DRY_RUN" == 1 ]] && say "dry run: commands are printed and configs composed; nothing runs"
START=$SECONDS

if stage_wanted setup; then
  if is_done "$DATA"; then say "0 model and data: complete"; else
    say "0 a $SIZE random-weight Qwen2.5-VL and synthetic image data"
    run "$PY" "$RECIPES_DIR/../data_tools/make_tiny_model.py" --out "$OUT_DIR/base_init" --size "$SIZE"
    # 40 % of the teaching answers in the think/answer format, the rest plain: material for both pair sides
    run "$PY" "$RECIPES_DIR/../data_tools/make_tiny_data.py" --out "$DATA" --n-train "$N_TRAIN" --n-val "$N_VAL" \
        --formatted-share 0.4
    mark_done "$DATA" "$DATA"
  fi
  plan "$(marker "$DATA")"; plan "$TRAIN_FILE"; plan "$DATA/sft_train.parquet"; plan "$OUT_DIR/base_init"
  for f in "${VAL_FILES[@]}"; do plan "$f"; done
fi

TEACH="$OUT_DIR/teach"
if stage_wanted teach && ! is_done "$TEACH"; then
  say "0 teach the base model the task: $TEACH_STEPS SFT steps on mixed-format answers -> $TEACH"
  need "$DATA/sft_train.parquet"
  mapfile -t cpu < <(cpu_overrides sft)
  teach=("data.train_files=$DATA/sft_train.parquet" "data.val_files=null" "model.path=$OUT_DIR/base_init"
         "optim.lr=$TEACH_LR" "trainer.total_epochs=1000" "data.train_batch_size=8" "data.micro_batch_size_per_gpu=8" "data.use_dynamic_bsz=False"
         "data.max_length=1024" "trainer.total_training_steps=$TEACH_STEPS" "trainer.default_local_dir=$TEACH"
         "trainer.project_name=specs" "trainer.experiment_name=teach" "trainer.resume_mode=disable"
         "checkpoint.save_contents=[model,optimizer,extra,hf_model]" "${cpu[@]}")
  check_config sft "${teach[@]}"
  run "$PY" -m torch.distributed.run --standalone --nproc-per-node=1 -m verl.trainer.sft_trainer "${teach[@]}" \
    > >(grep --line-buffered -E "step:[0-9]+ " | sed -u -E 's/ - (perf|train\/(global|total|mfu))[^ ]*//g') \
    || die "teaching SFT failed"
  mark_done "$TEACH" "$( [[ "$DRY_RUN" == 1 ]] || hf_weights "$TEACH")"
fi
plan "$(marker "$TEACH")"
BASE_MODEL="$(output_of "$TEACH" "$TEACH/global_step_N/huggingface")"

# the cold start recipes at toy sizes
export DPO_ARGS="data.train_batch_size=4 data.micro_batch_size_per_gpu=2 data.max_length=1024 optim.lr=5e-4 trainer.total_epochs=2 dpo.on_bad_pair=skip trainer.save_freq=-1"
export SFT_ARGS="data.train_batch_size=4 data.micro_batch_size_per_gpu=2 data.max_length=1024 optim.lr=5e-4 trainer.total_epochs=2"
export NGPUS=1

stage_wanted zero && stage_zero
stage_wanted pairs && stage_pairs
if stage_wanted coldstart; then
  pairs_report="$OUT_DIR/pairs/report.json"
  if [[ "$DRY_RUN" != 1 ]]; then
    n_pairs=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['pairs'])" "$pairs_report")
    (( n_pairs >= 4 )) || die "self-distillation built only $n_pairs pairs (see $pairs_report): raise SAMPLES_PER_QUESTION, N_TRAIN or TEACH_STEPS"
  fi
  for kind in $COLD_STARTS; do stage_coldstart "$kind"; done
fi
stage_wanted rl && stage_rl

if stage_wanted gf; then
  if is_done "$OUT_DIR/gf"; then say "4 GF of the cold starts: complete"; else
    say "4 GF of each cold start (format following, ID vs OOD) -> $OUT_DIR/gf"
    runs=()
    for kind in $COLD_STARTS; do
      [[ "$kind" == none ]] && continue
      runs+=("$kind=$(output_of "$OUT_DIR/coldstart/$kind" "$OUT_DIR/coldstart/$kind/global_step_N/huggingface")")
    done
    run "$PY" -m specs_verl.evaluate --base "$BASE_MODEL" --checkpoints "${runs[@]}" --id "${VAL_FILES[0]}" \
        --ood "${VAL_FILES[@]:1}" --backend hf --metric format --max-new-tokens "$MAX_RESPONSE" --batch-size 16 \
        --out "$OUT_DIR/gf" || die "GF evaluation failed"
    mark_done "$OUT_DIR/gf" "$OUT_DIR/gf/gf.csv"
  fi
fi

if [[ "$DRY_RUN" != 1 ]]; then
  say "finished in $(( SECONDS - START ))s"
  "$PY" -m specs_verl.recipes summary "$OUT_DIR"
fi
