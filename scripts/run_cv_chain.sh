#!/usr/bin/env bash
# The issue-11 cross-validation runs, one after the other (a 2-core CPU: never two at once). Fold 0 of
# every recipe first (a like-for-like comparison as early as possible), then the remaining folds.
cd "$(dirname "$0")/.."  # the repository root
. .venv/bin/activate
while pgrep -f "training.cv --config training/configs/gen-mnv2.json" >/dev/null; do sleep 20; done
run() {  # recipe, fold numbers...
    local name=$1; shift
    echo "=== $name folds $* $(date -u +%FT%TZ)"
    python -m training.cv --config training/configs/$name.json --folds 3 --only "$@" --out runs/cv-$name >> runs/cv-$name.log 2>&1
    echo "=== $name done rc=$? $(date -u +%FT%TZ)"
}
run gen-scratch 0
run gen-distil 0
run gen-distil-synth 0
run gen-distil 1 2
run gen-scratch 1 2
