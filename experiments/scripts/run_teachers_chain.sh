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
DATA=(--data ../shared/data/manifest.csv --data ../shared/data/webcam/manifest.csv)
GATE=(--teachers-dir ../shared/teachers --cache-dir /work/cache)
WAIT_PID=${WAIT_PID:-}
if [ -n "$WAIT_PID" ]; then
  while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 20; done
fi
for run in final-teachers final-scratch-holdout; do
  if [ ! -f "runs/$run/best.pt" ]; then
    mkdir -p "runs/$run"
    liveness-train --config "training/configs/$run.json" > "runs/$run/train.log" 2>&1
  fi
done
python -m training.gate --candidate runs/final-teachers/best.pt --current models/default.pt "${DATA[@]}" "${GATE[@]}" \
  --out runs/final-teachers/gate
echo "gate against the shipped default: exit $?"
python -m training.gate --candidate runs/final-teachers/best.pt --current runs/final-scratch-holdout/best.pt \
  "${DATA[@]}" "${GATE[@]}" --out runs/final-teachers/gate-vs-holdout
echo "gate against the shipped recipe without the locked groups: exit $?"
python -m training.studies.cv --config training/configs/gen-teachers.json --folds 3 --out runs/cv-gen-teachers
echo "cv exit $?"
