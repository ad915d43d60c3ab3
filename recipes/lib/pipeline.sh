# The SPECS pipeline as bash functions, shared by specs_qwen2.5vl.sh (GPUs) and specs_tiny_cpu.sh (CPU).
# Sourced, not run. Every stage: prints its command, skips itself when its DONE marker exists (so a rerun
# resumes), and in --dry-run mode checks its hydra config with `python -m specs_verl.pipeline compose` and that
# every path it reads is one an earlier stage writes (or exists), without running anything.

RECIPES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
DRY_RUN="${DRY_RUN:-0}"
# paths the stages of this run will write (a file, so that sub-recipes such as coldstart/*.sh share it)
export SPECS_PLAN_FILE="${SPECS_PLAN_FILE:-$(mktemp -t specs_plan.XXXXXX)}"

say() { printf '\n[specs] %s\n' "$*"; }
die() { printf '[specs] error: %s\n' "$*" >&2; exit 1; }

parse_common_args() {
  for arg in "$@"; do
    case "$arg" in
      --dry-run) DRY_RUN=1 ;;
      -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
      *) die "unknown argument $arg (see --help)" ;;
    esac
  done
  export DRY_RUN
}

print_knobs() {
  say "settings (environment variables; set any of them to change it)"
  for name in "$@"; do printf '  %-16s %s\n' "$name" "${!name-}"; done
}

stage_wanted() { [[ " $STAGES " == *" $1 "* ]]; }

# run CMD...: print it; run it unless this is a dry run.
run() {
  printf '  $'; printf ' %q' "$@"; printf '\n'
  [[ "$DRY_RUN" == 1 ]] || "$@"
}

# run_logged LOG [--total N] [--show REGEX] [--label WORD] -- CMD...: print the command and its log file, run it
# with all of its output (verl's config dumps, Ray's worker logs) in LOG; the console gets progress lines (verl's
# `step:N`, out of --total) and the lines matching --show. On failure the log's last LOG_TAIL (40) lines are shown.
# VERBOSE=1 also prints everything.
run_logged() {
  local log="$1" progress=() rc errexit=0; shift
  while [[ $# -gt 0 && "$1" != -- ]]; do progress+=("$1"); shift; done
  shift
  printf '  $'; printf ' %q' "$@"; printf '\n'
  [[ "$DRY_RUN" == 1 ]] && return 0
  mkdir -p "$(dirname "$log")"; : > "$log"
  printf '    log: %s\n' "$log"
  [[ $- == *e* ]] && errexit=1
  set +e
  if [[ "${VERBOSE:-0}" == 1 ]]; then "$@" 2>&1 | tee -a "$log"; rc=${PIPESTATUS[0]}
  else "$@" 2>&1 | "$PY" -m specs_verl.pipeline progress --log "$log" "${progress[@]}"; rc=${PIPESTATUS[0]}; fi
  (( errexit )) && set -e
  if (( rc != 0 )); then
    printf '    failed (exit %s); the last lines of %s:\n' "$rc" "$log"
    tail -n "${LOG_TAIL:-40}" "$log" | sed 's/^/    | /'
  fi
  return "$rc"
}

# done_line TEXT: the one-line result of a stage
done_line() { printf '  -> %s\n' "$*"; }

# in_parallel CMD...: run CMD in the background, at most JOBS (default 1) at once; wait_all waits for the rest
# and fails if any failed. Each job runs in its own process group (set -m) so that Ctrl-C stops whole jobs.
JOB_RUNNING=0 JOB_FAILED=0
in_parallel() {
  if (( ${JOBS:-1} <= 1 )) || [[ "$DRY_RUN" == 1 ]]; then "$@" || JOB_FAILED=1; return 0; fi
  if (( JOB_RUNNING == 0 )); then
    set -m
    trap 'kill -TERM -- $(jobs -p | sed "s/^/-/") 2>/dev/null; exit 130' INT TERM
  fi
  "$@" & JOB_RUNNING=$(( JOB_RUNNING + 1 ))
  if (( JOB_RUNNING >= JOBS )); then wait -n || JOB_FAILED=1; JOB_RUNNING=$(( JOB_RUNNING - 1 )); fi
}
wait_all() {
  while (( JOB_RUNNING > 0 )); do wait -n || JOB_FAILED=1; JOB_RUNNING=$(( JOB_RUNNING - 1 )); done
  trap - INT TERM
  set +m
  local failed=$JOB_FAILED; JOB_FAILED=0
  return "$failed"
}

# quiet_job OUT LABEL LOG CMD...: run CMD with its console output in OUT; print one line when it ends (OUT's
# last line and the job's LOG), or OUT's last lines if it fails. For jobs run in parallel, whose outputs would
# interleave.
quiet_job() {
  local out="$1" label="$2" log="$3"; shift 3
  mkdir -p "$(dirname "$out")"
  if "$@" > "$out" 2>&1; then printf '  %s: %s (log %s)\n' "$label" "$(tail -n 1 "$out" | sed 's/^ *//')" "$log"
  else
    printf '  %s: FAILED; the last lines of %s:\n' "$label" "$out"
    tail -n "${LOG_TAIL:-40}" "$out" | sed 's/^/    | /'
    return 1
  fi
}

# check_config KIND OVERRIDES...: compose a hydra config as its entry point would (dry run and real run alike).
check_config() {
  local out
  if ! out="$("$PY" -m specs_verl.pipeline compose "$@" 2>&1)"; then
    printf '%s\n' "$out" | tail -n 6 >&2
    die "the $1 config of this stage does not compose (see above)"
  fi
  printf '  %s\n' "$(printf '%s\n' "$out" | tail -n 1)"
}

# cpu_overrides sft|grpo: verl's CPU settings (specs_verl.platform.overrides), when VERL_PLATFORM=cpu
cpu_overrides() {
  [[ "${VERL_PLATFORM:-}" == cpu ]] || return 0
  "$PY" -m specs_verl.platform "$1" --overrides-only
}

# plan PATH: this stage will write PATH. need PATH: a later stage reads it; it must be planned or exist.
plan() { printf '%s\n' "$1" >> "$SPECS_PLAN_FILE"; }
need() {
  [[ -e "$1" ]] || grep -qxF -- "$1" "$SPECS_PLAN_FILE" \
    || die "a stage reads $1, which no earlier stage writes and which does not exist"
}

# done_marker DIR -> the file whose presence says the stage that writes DIR is complete (it holds the output)
marker() { printf '%s/DONE' "$1"; }
is_done() { [[ "$DRY_RUN" != 1 && -f "$(marker "$1")" ]]; }
mark_done() { [[ "$DRY_RUN" == 1 ]] || printf '%s\n' "$2" > "$(marker "$1")"; }
output_of() {  # output_of DIR PLACEHOLDER: what a finished stage recorded, or (dry run) the path it will write
  if [[ "$DRY_RUN" == 1 && ! -f "$(marker "$1")" ]]; then need "$(marker "$1")"; plan "$2"; printf '%s' "$2"
  else [[ -f "$(marker "$1")" ]] || die "$1 is not complete (no $(marker "$1")); run its stage first"; cat "$(marker "$1")"; fi
}

# hf_weights RUN_DIR: the latest huggingface/ directory a verl run wrote
hf_weights() { "$PY" -m specs_verl.pipeline hf-dir "$1"; }

# ---------------------------------------------------------------- GRPO (stages 1a and 3)
# knob_overrides KEY=VAR...: KEY=<value of VAR> for each knob VAR that is set; an unset knob keeps the preset's value
knob_overrides() {
  local pair var
  for pair in "$@"; do var="${pair#*=}"; [[ -n "${!var:-}" ]] && printf '%s=%s\n' "${pair%%=*}" "${!var}"; done
  return 0
}

# grpo MODEL OUT_DIR STEPS EXTRA...: verl's main_ppo on the preset GRPO_CONFIG (specs_verl/config: grpo_specs on
# GPUs, grpo_cpu on CPU), which holds the paper's settings (no KL, clip-higher, 8 samples, lr 1e-6, the specs
# reward, hf weights in every checkpoint). The recipe adds the data, the model, the sizes and its machine's keys.
grpo() {
  local model="$1" out="$2" steps="$3"; shift 3
  local knobs; mapfile -t knobs < <(knob_overrides "actor_rollout_ref.rollout.n=ROLLOUT_N" \
    "actor_rollout_ref.actor.optim.lr=GRPO_LR" "actor_rollout_ref.actor.clip_ratio_high=CLIP_HIGH" \
    "data.max_prompt_length=MAX_PROMPT" "data.max_response_length=MAX_RESPONSE" "data.train_batch_size=ROLLOUT_BATCH")
  local args=(
    "data.train_files=$TRAIN_FILE" "data.val_files=[$(IFS=,; echo "${VAL_FILES[*]}")]"
    "data.image_key=images" "actor_rollout_ref.model.path=$model"
    "actor_rollout_ref.actor.ppo_mini_batch_size=$PPO_MINI_BATCH"
    "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=$MICRO_BATCH"
    "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=$MICRO_BATCH"
    "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=$MICRO_BATCH"
    "${knobs[@]}"
    "trainer.total_training_steps=$steps" "trainer.save_freq=$steps" "trainer.default_local_dir=$out"
    "trainer.experiment_name=$(basename "$out")"
    "${GRPO_MACHINE[@]}" "$@"
  )
  check_config "$GRPO_CONFIG" "${args[@]}"
  plan "$(marker "$out")"
  # verl's `file` logger (when trainer.logger has it) writes the metrics JSONL next to the checkpoints
  VERL_FILE_LOGGER_PATH="$out/metrics.jsonl" run_logged "$out/grpo.log" --total "$steps" -- \
    "$PY" -m verl.trainer.main_ppo --config-path=pkg://specs_verl.config --config-name="$GRPO_CONFIG" "${args[@]}" \
    || die "GRPO failed; log: $out/grpo.log"
  [[ "$DRY_RUN" == 1 ]] && return
  mark_done "$out" "$(hf_weights "$out")"
  done_line "weights $(cat "$(marker "$out")")"
}

stage_zero() {  # 1a: a short GRPO from the base model; its well-formatted answers become the chosen side
  local out="$OUT_DIR/zero"
  if [[ -n "${ZERO_MODEL:-}" ]]; then say "1a zero model: given (ZERO_MODEL=$ZERO_MODEL)"; need "$ZERO_MODEL"
    plan "$(marker "$out")"; [[ "$DRY_RUN" == 1 ]] || { mkdir -p "$out"; mark_done "$out" "$ZERO_MODEL"; }; return; fi
  is_done "$out" && { say "1a zero model: complete ($(cat "$(marker "$out")"))"; return; }
  say "1a zero model: GRPO from $BASE_MODEL for $ZERO_STEPS steps -> $out"
  need "$TRAIN_FILE"
  grpo "$BASE_MODEL" "$out" "$ZERO_STEPS" "trainer.val_before_train=False" "trainer.test_freq=-1"
}

stage_pairs() {  # 1b: sample zero and base, grade, judge, supplement, pollute -> preference pairs
  local out="$OUT_DIR/pairs" zero
  is_done "$out" && { say "1b pairs: complete ($(cat "$(marker "$out")"))"; return; }
  zero="$(output_of "$OUT_DIR/zero" "$OUT_DIR/zero/global_step_N/actor/huggingface")"
  say "1b self-distillation: $SAMPLES_PER_QUESTION samples per question from zero and base -> $out"
  need "$TRAIN_FILE"
  local sample=("$PY" -m specs_verl.selfdistill sample --data "$TRAIN_FILE" --n "$SAMPLES_PER_QUESTION"
                --temperature "$SAMPLE_TEMPERATURE" --max-new-tokens "$MAX_RESPONSE" --backend "$SAMPLE_BACKEND"
                "${SAMPLE_ARGS[@]}")
  local who
  for who in zero base; do
    local model="$zero"; [[ "$who" == base ]] && model="$BASE_MODEL"
    run_logged "$OUT_DIR/samples/$who.log" --show '^ *(sampled now|throughput) ' -- \
      "${sample[@]}" --model "$model" --out "$OUT_DIR/samples/$who" || die "sampling the $who model failed"
  done
  local judge=(--judge none)
  [[ -n "${JUDGE_URL:-}" ]] && judge=(--judge openai --judge-url "$JUDGE_URL" --judge-model "${JUDGE_MODEL:?JUDGE_MODEL must be set with JUDGE_URL}")
  run_logged "$out/pair.log" --show '^(wrote |warning: )' -- \
    "$PY" -m specs_verl.selfdistill pair --chosen "$OUT_DIR/samples/zero" --rejected "$OUT_DIR/samples/base" \
      --data "$TRAIN_FILE" --out "$out/pairs.parquet" --mode "$PAIR_MODE" "${judge[@]}" "${PAIR_ARGS[@]}" \
      || die "pairing failed; log: $out/pair.log"
  plan "$(marker "$out")"; plan "$out/pairs.parquet"
  mark_done "$out" "$out/pairs.parquet"
}

stage_coldstart() {  # 2: the cold start (dpo | sft | none), each from the base model on the same pairs
  local kind="${1:-$COLD_START}" out="$OUT_DIR/coldstart/${1:-$COLD_START}" pairs
  [[ -x "$RECIPES_DIR/coldstart/$kind.sh" ]] || die "COLD_START=$kind: no recipes/coldstart/$kind.sh (dpo | sft | none)"
  is_done "$out" && { say "2 cold start ($kind): complete ($(cat "$(marker "$out")"))"; return; }
  pairs="$(output_of "$OUT_DIR/pairs" "$OUT_DIR/pairs/pairs.parquet")"
  say "2 cold start ($kind) from $BASE_MODEL on $pairs -> $out"
  local dry=(); [[ "$DRY_RUN" == 1 ]] && dry=(--dry-run)  # the sub-recipe checks its own config in a dry run
  printf '  $ bash %q %q %q %q\n' "$RECIPES_DIR/coldstart/$kind.sh" "$BASE_MODEL" "$pairs" "$out"
  bash "$RECIPES_DIR/coldstart/$kind.sh" "$BASE_MODEL" "$pairs" "$out" "${dry[@]}" || die "cold start $kind failed"
  plan "$(marker "$out")"
}

stage_rl() {  # 3: GRPO from the cold-started model, GF (ID vs OOD) in every validation
  local out="$OUT_DIR/rl" start
  is_done "$out" && { say "3 GRPO: complete ($(cat "$(marker "$out")"))"; return; }
  start="$(output_of "$OUT_DIR/coldstart/$COLD_START" "$OUT_DIR/coldstart/$COLD_START/global_step_N/huggingface")"
  say "3 GRPO from the $COLD_START cold start ($start) for $RL_STEPS steps, GF on $ID_SOURCES vs $OOD_SOURCES -> $out"
  local metric; mapfile -t metric < <(knob_overrides "specs.gf.metric=GF_METRIC")
  grpo "$start" "$out" "$RL_STEPS" "trainer.v1.trainer_mode=specs_sync" "trainer.val_before_train=True" \
       "trainer.test_freq=$RL_TEST_FREQ" "specs.gf.id_sources=[$ID_SOURCES]" "specs.gf.ood_sources=[$OOD_SOURCES]" \
       "${metric[@]}" "trainer.logger=[console,file]"
}
