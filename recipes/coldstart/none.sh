#!/usr/bin/env bash
# No cold start: GRPO starts from the base model itself (the "zero" setting).
#   bash recipes/coldstart/none.sh BASE_MODEL PAIRS_PARQUET OUT_DIR [--dry-run]
# Writes OUT_DIR/DONE holding BASE_MODEL; PAIRS_PARQUET is accepted for a uniform interface and not read.
set -euo pipefail
source "$(dirname "$0")/../lib/pipeline.sh"
[[ $# -ge 3 ]] || die "usage: $0 BASE_MODEL PAIRS_PARQUET OUT_DIR [--dry-run]"
base="$1" out="$3"; shift 3
parse_common_args "$@"
say "cold start none: GRPO will start from $base"
[[ "$DRY_RUN" == 1 ]] || { mkdir -p "$out"; mark_done "$out" "$base"; }
