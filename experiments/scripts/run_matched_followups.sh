#!/usr/bin/env bash
# Issue 24, one change at a time against final-matched (function matching, 10 x 2,048, mixup 0.2, locked split
# held out): the ImageNet MobileNetV2 as the student (final-matched-mnv2) and per-teacher temperatures
# (calibrated_mean, final-matched-calibrated). Each run is trained (or resumed) and gated twice: against the
# shipped default and against the shipped recipe retrained without the locked groups.
# Run from a frozen checkout (git worktree) with weights/ holding the ImageNet MobileNetV2 file;
# WAIT_PID=N waits for process N (one CPU-heavy job at a time).
#   WAIT_PID=N nohup bash experiments/scripts/run_matched_followups.sh > runs/matched-followups.log 2>&1 &
set -u
cd "$(dirname "$0")/../.."
. experiments/scripts/lib.sh
wait_for "${WAIT_PID:-}"
for NAME in ${RUNS:-final-matched-mnv2 final-matched-calibrated}; do
  train_once "training/configs/$NAME.json" "runs/$NAME"
  echo "$NAME:"
  gate_both "runs/$NAME"
done
