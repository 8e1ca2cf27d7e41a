#!/usr/bin/env bash
# Issue 24, function matching: the four teachers score the very augmented view the student sees (with
# mixup 0.2), against soft targets on the stored crops at the same schedule (final-teachers, gen-teachers).
#   1. the candidate trained on every group but the locked split (training/configs/final-matched.json),
#   2. its gate against the shipped default and against the shipped recipe retrained without the locked groups,
#   3. the recipe's cross-validation (training/configs/gen-matched.json), 3 folds, locked groups out.
# Needs ../shared/data and ../shared/teachers; logs and results under runs/.
#   nohup bash experiments/scripts/run_matched_chain.sh > runs/matched-chain.log 2>&1 &
# Modules run with ``python -m`` from this checkout, so a frozen copy (``git worktree add``) runs its own
# code while work goes on in the main one. WAIT_PID=N waits for a run already going (process N) first.
set -u
cd "$(dirname "$0")/../.."
WAIT_PID=${WAIT_PID:-}
if [ -n "$WAIT_PID" ]; then
  while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 20; done
fi
DATA=(--data ../shared/data/manifest.csv --data ../shared/data/webcam/manifest.csv)
GATE=(--teachers-dir ../shared/teachers --cache-dir /work/cache)
if ! grep -q "best model:" runs/final-matched/train.log 2>/dev/null; then  # not finished: start or resume
  mkdir -p runs/final-matched
  RESUME=()
  [ -f runs/final-matched/last_state.pt ] && RESUME=(--resume)
  python -m training --config training/configs/final-matched.json "${RESUME[@]}" >> runs/final-matched/train.log 2>&1
fi
python -m training.gate --candidate runs/final-matched/best.pt --current models/default.pt "${DATA[@]}" "${GATE[@]}" \
  --out runs/final-matched/gate
echo "gate against the shipped default: exit $?"
python -m training.gate --candidate runs/final-matched/best.pt --current runs/final-scratch-holdout/best.pt \
  "${DATA[@]}" "${GATE[@]}" --out runs/final-matched/gate-vs-holdout
echo "gate against the shipped recipe without the locked groups: exit $?"
python -m training.studies.cv --config training/configs/gen-matched.json --folds 3 --out runs/cv-gen-matched
echo "cv exit $?"
