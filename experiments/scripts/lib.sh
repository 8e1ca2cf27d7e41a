# Shared by the issue-24 run scripts (source it after `cd` to the checkout):
#   wait_for PID          -- wait while process PID runs (empty: no wait)
#   train_once CONFIG RUN -- train CONFIG into RUN unless its log says it finished; resumes a cut-off run
#   gate_both RUN         -- RUN/best.pt's gate against the shipped default and against the shipped recipe
#                            retrained without the locked groups (runs/final-scratch-holdout)
DATA=(--data ../shared/data/manifest.csv --data ../shared/data/webcam/manifest.csv)
GATE=(--teachers-dir ../shared/teachers --cache-dir /work/cache)

wait_for() {
  if [ -n "${1:-}" ]; then
    while kill -0 "$1" 2>/dev/null; do sleep 20; done
  fi
}

train_once() {
  local config=$1 run=$2 resume=()
  mkdir -p "$run"
  grep -q "best model:" "$run/train.log" 2>/dev/null && return 0
  [ -f "$run/last_state.pt" ] && resume=(--resume)
  python -m training --config "$config" "${resume[@]}" >> "$run/train.log" 2>&1
}

gate_both() {
  local run=$1
  python -m training.gate --candidate "$run/best.pt" --current models/default.pt "${DATA[@]}" "${GATE[@]}" \
    --out "$run/gate"
  echo "gate against the shipped default: exit $?"
  python -m training.gate --candidate "$run/best.pt" --current runs/final-scratch-holdout/best.pt \
    "${DATA[@]}" "${GATE[@]}" --out "$run/gate-vs-holdout"
  echo "gate against the shipped recipe without the locked groups: exit $?"
}
