#!/usr/bin/env bash
# The second candidate of issue 24: the student leaning more on the teachers (kd_weight 0.9) over a longer
# schedule (10 epochs of 4,096 images, patience 5); then its gate against the shipped default and against
# the shipped recipe retrained without the locked groups. Runs after run_teachers_chain.sh (WAIT_PID).
set -u
cd "$(dirname "$0")/../.."
WAIT_PID=${WAIT_PID:-}
if [ -n "$WAIT_PID" ]; then
  while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 20; done
fi
DATA=(--data ../shared/data/manifest.csv --data ../shared/data/webcam/manifest.csv)
GATE=(--teachers-dir ../shared/teachers --cache-dir /work/cache)
mkdir -p runs/final-teachers-long
[ -f runs/final-teachers-long/best.pt ] || liveness-train --config training/configs/final-teachers-long.json \
  > runs/final-teachers-long/train.log 2>&1
python -m training.gate --candidate runs/final-teachers-long/best.pt --current models/default.pt "${DATA[@]}" \
  "${GATE[@]}" --out runs/final-teachers-long/gate
echo "gate against the shipped default: exit $?"
python -m training.gate --candidate runs/final-teachers-long/best.pt --current runs/final-scratch-holdout/best.pt \
  "${DATA[@]}" "${GATE[@]}" --out runs/final-teachers-long/gate-vs-holdout
echo "gate against the shipped recipe without the locked groups: exit $?"
