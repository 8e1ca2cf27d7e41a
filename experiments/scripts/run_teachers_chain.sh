#!/usr/bin/env bash
# Issue 24's runs, one after the other (2 shared cores: never two trainings at once):
#   1. the candidate default distilled from the four teachers (training/configs/final-teachers.json),
#   2. its gate on the locked split, beside the current default and the teachers,
#   3. the same recipe's cross-validation (training/configs/gen-teachers.json), 3 folds, locked groups out.
# Needs ../shared/data and ../shared/teachers; logs and results under runs/.
#   nohup bash experiments/scripts/run_teachers_chain.sh > runs/teachers-chain.log 2>&1 &
set -u
cd "$(dirname "$0")/../.."
DATA=(--data ../shared/data/manifest.csv --data ../shared/data/webcam/manifest.csv)
WAIT_PID=${WAIT_PID:-}
if [ -n "$WAIT_PID" ]; then
  while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 20; done
fi
if [ ! -f runs/final-teachers/best.pt ]; then
  liveness-train --config training/configs/final-teachers.json > runs/final-teachers/train.log 2>&1
fi
python -m training.gate --candidate runs/final-teachers/best.pt --current models/default.pt "${DATA[@]}" \
  --teachers-dir ../shared/teachers --cache-dir /work/cache --out runs/final-teachers/gate
echo "gate exit $?"
python -m training.studies.cv --config training/configs/gen-teachers.json --folds 3 --out runs/cv-gen-teachers
echo "cv exit $?"
