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
. experiments/scripts/lib.sh
wait_for "${WAIT_PID:-}"
train_once training/configs/final-matched.json runs/final-matched
gate_both runs/final-matched
python -m training.studies.cv --config training/configs/gen-matched.json --folds 3 --out runs/cv-gen-matched
echo "cv exit $?"
