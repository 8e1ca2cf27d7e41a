#!/usr/bin/env bash
# The second candidate of issue 24: the student leaning more on the teachers (kd_weight 0.9) over a longer
# schedule (10 epochs of 4,096 images, patience 5); then its gate against the shipped default and against
# the shipped recipe retrained without the locked groups. Runs after run_teachers_chain.sh (WAIT_PID).
set -u
cd "$(dirname "$0")/../.."
. experiments/scripts/lib.sh
wait_for "${WAIT_PID:-}"
train_once training/configs/final-teachers-long.json runs/final-teachers-long
gate_both runs/final-teachers-long
