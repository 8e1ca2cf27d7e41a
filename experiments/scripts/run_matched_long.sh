#!/usr/bin/env bash
# Issue 24, function matching on a longer schedule: the candidate of final-matched.json (its dev AUC still
# rising at its last epoch) for 30 epochs of 4,096 with the teachers' weight at 0.9, then its two gates.
# Run from a frozen checkout (git worktree) after run_matched_chain.sh; WAIT_PID=N waits for process N.
#   WAIT_PID=N nohup bash experiments/scripts/run_matched_long.sh > runs/matched-long.log 2>&1 &
set -u
cd "$(dirname "$0")/../.."
. experiments/scripts/lib.sh
wait_for "${WAIT_PID:-}"
train_once "${CONFIG:-training/configs/final-matched-long.json}" runs/final-matched-long
gate_both runs/final-matched-long
