#!/usr/bin/env bash
# The issue-11 cross-validation runs, one after the other (a 2-core CPU: never two at once).
#   experiments/scripts/run_cv_chain.sh RECIPE:FOLDS [RECIPE:FOLDS ...]     e.g.  gen-mnv2:0 gen-kd:0 gen-mnv2:1,2
# A fold with a result.json is not run again, so the chain resumes across sessions. Logs: runs/cv-RECIPE.log
# RECIPE names experiments/configs/RECIPE.json, or training/configs/RECIPE.json (the shipped recipes).
cd "$(dirname "$0")/../.."  # the repository root
. .venv/bin/activate
mkdir -p runs
run() {  # recipe, fold numbers...
    local name=$1; shift
    local todo=()
    for k in "$@"; do [ -f "runs/cv-$name/fold-$k/result.json" ] || todo+=("$k"); done
    [ ${#todo[@]} -gt 0 ] || return 0
    echo "=== $name folds ${todo[*]} $(date -u +%FT%TZ)"
    local config=experiments/configs/$name.json
    [ -f "$config" ] || config=training/configs/$name.json
    python -m training.studies.cv --config "$config" --folds 3 --only "${todo[@]}" \
        --out "runs/cv-$name" >> "runs/cv-$name.log" 2>&1
    echo "=== $name done rc=$? $(date -u +%FT%TZ)"
}
for item in "$@"; do
    folds=${item#*:}; run "${item%%:*}" ${folds//,/ }
done
