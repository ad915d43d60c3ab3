#!/usr/bin/env bash
# The whole SPECS pipeline on a CPU machine with a small random-weight Qwen2.5-VL and synthetic image data:
# the same stages and commands as recipes/specs_qwen2.5vl.sh, at toy sizes (no GPU, no download).
#   (0)  build the model and the data; teach the base model every task but the hard OOD one with a short SFT on
#        mixed-format answers (40 % in the think/answer format), so each task starts with some format following
#   (1a) GRPO (verl main_ppo, the `hf` CPU rollout, the specs reward)   -> OUT_DIR/zero
#   (1b) sample zero and base on the ID task, pair                      -> OUT_DIR/pairs
#   (2)  cold starts from the base model on the same pairs, one run per seed, a checkpoint every quarter:
#        dpo (DPO + SFT term, lambda 1), dpo_nosft (lambda 0), sft, none  -> OUT_DIR/coldstart/<kind>/seed<S>
#   (3)  GRPO from the dpo cold start (seed 0) with GF in validation    -> OUT_DIR/rl
#   (4)  GF over the cold-start steps, per seed and as mean +- std      -> OUT_DIR/gf (gf.csv, gf.json, gf.png)
# and prints a summary (also OUT_DIR/summary.json) read back from those files. verl's and Ray's output goes to one
# log file per stage (named as it runs; its last lines are shown if the stage fails; VERBOSE=1 prints it all).
#
#   bash recipes/specs_tiny_cpu.sh [--quick] [--dry-run]
#
# --quick: fewer questions, steps and seeds (what CI runs); a rerun skips completed stages.
# Knobs: OUT_DIR (./runs/tiny_cpu, ./runs/tiny_cpu_quick with --quick), SIZE (small | tiny), N_TRAIN, N_VAL
# (evaluation questions per task), TEACH_STEPS, TEACH_LR, ZERO_STEPS, RL_STEPS, SAMPLES_PER_QUESTION,
# COLD_STARTS ("dpo dpo_nosft sft none"), SEEDS ("0 1 2"; "0 1" with --quick), COLDSTART_STEPS (a checkpoint
# every quarter of them), EVAL_TEMPERATURE (0.7), JOBS (cold starts run at once, 2), STAGES, VERBOSE.
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
  : "${OUT_DIR:=./runs/tiny_cpu_quick}" "${SIZE:=tiny}" "${N_TRAIN:=32}" "${N_VAL:=12}" "${TEACH_STEPS:=80}"
  : "${SAMPLES_PER_QUESTION:=4}" "${SEEDS:=0 1}" "${COLDSTART_STEPS:=8}"
else
  # the `tiny` model here too: nine cold starts of the 12M-parameter `small` one (SIZE=small) take about 25 min
  : "${OUT_DIR:=./runs/tiny_cpu}" "${SIZE:=tiny}" "${N_TRAIN:=64}" "${N_VAL:=24}" "${TEACH_STEPS:=120}"
  : "${SAMPLES_PER_QUESTION:=8}" "${SEEDS:=0 1 2}" "${COLDSTART_STEPS:=12}"
fi
: "${COLD_STARTS:=dpo dpo_nosft sft none}" "${EVAL_TEMPERATURE:=0.7}" "${JOBS:=2}"
(( COLDSTART_STEPS >= 4 )) || die "COLDSTART_STEPS=$COLDSTART_STEPS: GF needs a checkpoint at 4 points at least"
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
HARD_OOD_FILE="$DATA/rl_val_ood_total.parquet"  # wording the base never saw: reported apart from GF
ID_SOURCES=tiny_count
OOD_SOURCES=tiny_choice,tiny_shapes
# toy sizes over the preset's paper settings (grpo_cpu = grpo_specs + the CPU keys)
ROLLOUT_BATCH=4 PPO_MINI_BATCH=4 MICRO_BATCH=4 ROLLOUT_N=2 GRPO_LR=1e-5
MAX_PROMPT=512 MAX_RESPONSE=64 RL_TEST_FREQ=1 GF_METRIC=format
SAMPLE_TEMPERATURE=0.7 SAMPLE_BACKEND=hf PAIR_MODE=decoupled
SAMPLE_ARGS=(--batch-size 32 --no-progress)
PAIR_ARGS=(--pairs-per-question 2 --no-progress)
GRPO_CONFIG=grpo_cpu
GRPO_MACHINE=("data.val_batch_size=64" "data.filter_overlong_prompts=False")

print_knobs OUT_DIR SIZE N_TRAIN N_VAL TEACH_STEPS ZERO_STEPS RL_STEPS SAMPLES_PER_QUESTION COLD_STARTS SEEDS \
  COLDSTART_STEPS EVAL_TEMPERATURE JOBS STAGES
[[ "$DRY_RUN" == 1 ]] && say "dry run: commands are printed and configs composed; nothing runs"
START=$SECONDS

if stage_wanted setup; then
  if is_done "$DATA"; then say "0 model and data: complete"; else
    say "0 a $SIZE random-weight Qwen2.5-VL and synthetic image data"
    run_logged "$OUT_DIR/setup.log" --show '^wrote ' -- \
      "$PY" "$RECIPES_DIR/../data_tools/make_tiny_model.py" --out "$OUT_DIR/base_init" --size "$SIZE" \
      || die "building the model failed"
    # 40 % of the teaching answers in the think/answer format, the rest plain: material for both pair sides
    run_logged "$OUT_DIR/setup.log" -- \
      "$PY" "$RECIPES_DIR/../data_tools/make_tiny_data.py" --out "$DATA" --n-train "$N_TRAIN" --n-val "$N_VAL" \
        --formatted-share 0.4 || die "writing the data failed"
    mark_done "$DATA" "$DATA"
    [[ "$DRY_RUN" == 1 ]] || done_line "data $DATA ($(ls "$DATA" | grep -c parquet) parquet files), model $OUT_DIR/base_init"
  fi
  plan "$(marker "$DATA")"; plan "$TRAIN_FILE"; plan "$DATA/sft_train.parquet"; plan "$OUT_DIR/base_init"
  for f in "${VAL_FILES[@]}" "$HARD_OOD_FILE"; do plan "$f"; done
fi

TEACH="$OUT_DIR/teach"
if stage_wanted teach && ! is_done "$TEACH"; then
  say "0 teach the base model the tasks: $TEACH_STEPS SFT steps on mixed-format answers -> $TEACH"
  need "$DATA/sft_train.parquet"
  mapfile -t cpu < <(cpu_overrides sft)
  teach=("data.train_files=$DATA/sft_train.parquet" "data.val_files=null" "model.path=$OUT_DIR/base_init"
         "optim.lr=$TEACH_LR" "trainer.total_epochs=1000" "data.train_batch_size=8" "data.micro_batch_size_per_gpu=8" "data.use_dynamic_bsz=False"
         "data.max_length=1024" "trainer.total_training_steps=$TEACH_STEPS" "trainer.default_local_dir=$TEACH"
         "trainer.project_name=specs" "trainer.experiment_name=teach" "trainer.resume_mode=disable"
         "checkpoint.save_contents=[model,optimizer,extra,hf_model]" "${cpu[@]}")
  check_config sft "${teach[@]}"
  run_logged "$TEACH/train.log" --total "$TEACH_STEPS" -- \
    "$PY" -m torch.distributed.run --standalone --nproc-per-node=1 -m verl.trainer.sft_trainer "${teach[@]}" \
    || die "teaching SFT failed; log: $TEACH/train.log"
  mark_done "$TEACH" "$( [[ "$DRY_RUN" == 1 ]] || hf_weights "$TEACH")"
  [[ "$DRY_RUN" == 1 ]] || done_line "base model $(cat "$(marker "$TEACH")")"
fi
plan "$(marker "$TEACH")"
BASE_MODEL="$(output_of "$TEACH" "$TEACH/global_step_N/huggingface")"

# the cold start recipes at toy sizes: COLDSTART_STEPS steps, a checkpoint every quarter (GF at 5 points with step 0)
SAVE_FREQ=$(( COLDSTART_STEPS / 4 ))
TINY_DPO_ARGS="data.train_batch_size=4 data.micro_batch_size_per_gpu=2 data.max_length=1024 optim.lr=5e-4 trainer.total_epochs=100 trainer.total_training_steps=$COLDSTART_STEPS trainer.save_freq=$SAVE_FREQ dpo.on_bad_pair=skip"
TINY_SFT_ARGS="data.train_batch_size=4 data.micro_batch_size_per_gpu=2 data.max_length=1024 optim.lr=5e-4 trainer.total_epochs=100 trainer.total_training_steps=$COLDSTART_STEPS trainer.save_freq=$SAVE_FREQ"
export NGPUS=1

stage_wanted zero && stage_zero
stage_wanted pairs && stage_pairs

# coldstart_job KIND SEED: one cold-start run; its sub-recipe's console output goes to its folder's stage.out
coldstart_job() {
  local kind="$1" seed="$2" recipe="$1" out="$OUT_DIR/coldstart/$1/seed$2" pairs label
  label="$(printf '%-10s seed %s' "$kind" "$seed")"
  pairs="$(output_of "$OUT_DIR/pairs" "$OUT_DIR/pairs/pairs.parquet")"
  is_done "$out" && { printf '  %s: complete (%s)\n' "$label" "$(cat "$(marker "$out")")"; return; }
  local dpo="$TINY_DPO_ARGS trainer.seed=$seed" sft="$TINY_SFT_ARGS"
  [[ "$kind" == dpo_nosft ]] && { recipe=dpo; dpo+=" dpo.sft_weight=0"; }
  local cmd=(env DPO_ARGS="$dpo" SFT_ARGS="$sft" SEED="$seed" bash "$RECIPES_DIR/coldstart/$recipe.sh" "$BASE_MODEL"
             "$pairs" "$out")
  if [[ "$DRY_RUN" == 1 ]]; then "${cmd[@]}" --dry-run; plan "$(marker "$out")"; return; fi
  quiet_job "$out/stage.out" "$label" "$out/train.log" "${cmd[@]}"
}

if stage_wanted coldstart; then
  pairs_report="$OUT_DIR/pairs/report.json"
  if [[ "$DRY_RUN" != 1 ]]; then
    n_pairs=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['pairs'])" "$pairs_report")
    (( n_pairs >= 4 )) || die "self-distillation built only $n_pairs pairs (see $pairs_report): raise SAMPLES_PER_QUESTION, N_TRAIN or TEACH_STEPS"
  fi
  say "2 cold starts ($COLD_STARTS) x seeds ($SEEDS), $COLDSTART_STEPS steps, $JOBS at a time -> $OUT_DIR/coldstart"
  [[ " $COLD_STARTS " == *" none "* ]] && { stage_coldstart none > /dev/null; printf '  %-10s: the base model\n' none; }
  for kind in $COLD_STARTS; do
    [[ "$kind" == none ]] && continue
    for seed in $SEEDS; do in_parallel coldstart_job "$kind" "$seed"; done
  done
  wait_all || die "a cold start failed (see above)"
  for kind in $COLD_STARTS; do  # OUT_DIR/coldstart/<kind>/DONE: the first seed's run, what stage 3 starts from
    [[ "$kind" == none ]] && continue
    plan "$(marker "$OUT_DIR/coldstart/$kind")"
    [[ "$DRY_RUN" == 1 ]] || cp "$(marker "$OUT_DIR/coldstart/$kind/seed${SEEDS%% *}")" "$(marker "$OUT_DIR/coldstart/$kind")"
  done
fi
stage_wanted rl && stage_rl

# gf_job SEED: the GF evaluation of every cold start's checkpoints for one seed (its own base evaluation and
# sampling seed) -> OUT_DIR/gf/seed<S>
gf_job() {
  local seed="$1" runs=() kind out="$OUT_DIR/gf/seed$1"
  for kind in $COLD_STARTS; do
    [[ "$kind" == none ]] && continue
    need "$(marker "$OUT_DIR/coldstart/$kind/seed$seed")"
    runs+=("$kind=$OUT_DIR/coldstart/$kind/seed$seed")
  done
  local cmd=("$PY" -m specs_verl.evaluate --base "$BASE_MODEL" --checkpoints "${runs[@]}" --id "${VAL_FILES[0]}"
             --ood "${VAL_FILES[@]:1}" --extra "$HARD_OOD_FILE" --backend hf --metric format
             --temperature "$EVAL_TEMPERATURE" --seed "$seed" --max-new-tokens "$MAX_RESPONSE" --batch-size 64
             --threads "$(( JOBS > 1 ? 1 : 2 ))" --out "$out")
  if [[ "$DRY_RUN" == 1 ]]; then run "${cmd[@]}"; return; fi
  quiet_job "$out/stage.out" "seed $seed" "$out/evaluate.log" run_logged "$out/evaluate.log" --show '^wrote ' -- "${cmd[@]}"
}

if stage_wanted gf; then
  if is_done "$OUT_DIR/gf"; then say "4 GF over the cold-start steps: complete"; else
    say "4 GF over the cold-start steps (format following, ID vs OOD, T=$EVAL_TEMPERATURE), per seed -> $OUT_DIR/gf"
    for seed in $SEEDS; do in_parallel gf_job "$seed"; done
    wait_all || die "a GF evaluation failed (see above)"
    run "$PY" -m specs_verl.pipeline gf-seeds "$OUT_DIR/gf" || die "combining the seeds' GF failed"
    mark_done "$OUT_DIR/gf" "$OUT_DIR/gf/gf.csv"
  fi
fi

if [[ "$DRY_RUN" != 1 ]]; then
  say "finished in $(( SECONDS - START ))s"
  "$PY" -m specs_verl.pipeline summary "$OUT_DIR"
fi
