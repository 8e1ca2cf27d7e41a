#!/usr/bin/env bash
# Issue 24, function matching on a longer schedule: the candidate of final-matched.json (its dev AUC still
# rising at its last epoch) for 30 epochs of 4,096 with the teachers' weight at 0.9, then its two gates.
# Run from a frozen checkout (git worktree) after run_matched_chain.sh; WAIT_PID=N waits for process N.
#   WAIT_PID=N nohup bash experiments/scripts/run_matched_long.sh > runs/matched-long.log 2>&1 &
set -u
cd "$(dirname "$0")/../.."
WAIT_PID=${WAIT_PID:-}
if [ -n "$WAIT_PID" ]; then
  while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 30; done
fi
CONFIG=${CONFIG:-training/configs/final-matched-long.json}
DATA=(--data ../shared/data/manifest.csv --data ../shared/data/webcam/manifest.csv)
GATE=(--teachers-dir ../shared/teachers --cache-dir /work/cache)
RUN=runs/final-matched-long
mkdir -p "$RUN"
if ! grep -q "best model:" "$RUN/train.log" 2>/dev/null; then  # not finished: start or resume
  RESUME=()
  [ -f "$RUN/last_state.pt" ] && RESUME=(--resume)
  python -m training --config "$CONFIG" "${RESUME[@]}" >> "$RUN/train.log" 2>&1
fi
python -m training.gate --candidate "$RUN/best.pt" --current models/default.pt "${DATA[@]}" "${GATE[@]}" --out "$RUN/gate"
echo "gate against the shipped default: exit $?"
python -m training.gate --candidate "$RUN/best.pt" --current runs/final-scratch-holdout/best.pt "${DATA[@]}" \
  "${GATE[@]}" --out "$RUN/gate-vs-holdout"
echo "gate against the shipped recipe without the locked groups: exit $?"
