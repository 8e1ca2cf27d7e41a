#!/usr/bin/env bash
# Issue 24: the ImageNet MobileNetV2 as the function-matching student (final-matched-mnv2's recipe,
# training/configs/gen-matched-mnv2.json) on the three CV folds, locked groups out.
# Run from a frozen checkout (git worktree) with weights/ holding the ImageNet MobileNetV2 file;
# WAIT_PID=N waits for process N (one CPU-heavy job at a time).
#   WAIT_PID=N nohup bash experiments/scripts/run_cv_matched_mnv2.sh > runs/cv-matched-mnv2.log 2>&1 &
set -u
cd "$(dirname "$0")/../.."
. experiments/scripts/lib.sh
wait_for "${WAIT_PID:-}"
python -m training.studies.cv --config training/configs/gen-matched-mnv2.json --folds 3 --out runs/cv-gen-matched-mnv2
echo "cv exit $?"
