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
WAIT_PID=${WAIT_PID:-}
if [ -n "$WAIT_PID" ]; then
  while kill -0 "$WAIT_PID" 2>/dev/null; do sleep 30; done
fi
DATA=(--data ../shared/data/manifest.csv --data ../shared/data/webcam/manifest.csv)
GATE=(--teachers-dir ../shared/teachers --cache-dir /work/cache)
for NAME in ${RUNS:-final-matched-mnv2 final-matched-calibrated}; do
  RUN=runs/$NAME
  mkdir -p "$RUN"
  if ! grep -q "best model:" "$RUN/train.log" 2>/dev/null; then  # not finished: start or resume
    RESUME=()
    [ -f "$RUN/last_state.pt" ] && RESUME=(--resume)
    python -m training --config "training/configs/$NAME.json" "${RESUME[@]}" >> "$RUN/train.log" 2>&1
  fi
  python -m training.gate --candidate "$RUN/best.pt" --current models/default.pt "${DATA[@]}" "${GATE[@]}" --out "$RUN/gate"
  echo "$NAME: gate against the shipped default: exit $?"
  python -m training.gate --candidate "$RUN/best.pt" --current runs/final-scratch-holdout/best.pt "${DATA[@]}" \
    "${GATE[@]}" --out "$RUN/gate-vs-holdout"
  echo "$NAME: gate against the shipped recipe without the locked groups: exit $?"
done
