#!/usr/bin/env bash
# The issue-11 cross-validation runs, one after the other (a 2-core CPU: never two at once). Fold 0 of
# every recipe first (a like-for-like comparison as early as possible), then the remaining folds.
cd "$(dirname "$0")/.."  # the repository root
. .venv/bin/activate
mkdir -p runs
run gen-mnv2 0 1 2
run() {  # recipe, fold numbers... (a fold with a result.json is not run again)
    local name=$1; shift
    local todo=()
    for k in "$@"; do [ -f "runs/cv-$name/fold-$k/result.json" ] || todo+=("$k"); done
    [ ${#todo[@]} -gt 0 ] || return 0
    echo "=== $name folds ${todo[*]} $(date -u +%FT%TZ)"
    python -m training.cv --config training/configs/$name.json --folds 3 --only "${todo[@]}" --out runs/cv-$name >> runs/cv-$name.log 2>&1
    echo "=== $name done rc=$? $(date -u +%FT%TZ)"
}
run gen-scratch 0
run gen-distil 0
run gen-distil-synth 0
run gen-distil 1 2
run gen-scratch 1 2
