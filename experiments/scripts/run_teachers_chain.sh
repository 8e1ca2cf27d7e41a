#!/usr/bin/env bash
# Issue 24's runs, one after the other (2 shared cores: never two trainings at once):
#   1. the candidate default distilled from the four teachers (training/configs/final-teachers.json),
#   2. the current default's recipe retrained with the locked groups left out (final-scratch-holdout.json):
#      the shipped default trained on the locked groups, so only this retrain is a fair baseline there,
#   3. the gate of the candidate against the shipped default and against that retrain,
#   4. the candidate recipe's cross-validation (training/configs/gen-teachers.json), 3 folds, locked groups out.
# Needs ../shared/data and ../shared/teachers; logs and results under runs/.
#   nohup bash experiments/scripts/run_teachers_chain.sh > runs/teachers-chain.log 2>&1 &
set -u
cd "$(dirname "$0")/../.."
. experiments/scripts/lib.sh
wait_for "${WAIT_PID:-}"
for run in final-teachers final-scratch-holdout; do
  train_once "training/configs/$run.json" "runs/$run"
done
gate_both runs/final-teachers
python -m training.studies.cv --config training/configs/gen-teachers.json --folds 3 --out runs/cv-gen-teachers
echo "cv exit $?"
