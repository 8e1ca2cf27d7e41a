#!/usr/bin/env bash
# The issue-11 cross-validation runs, one after the other (2-core CPU: never two at once).
cd "$(dirname "$0")/.."  # the repository root
. .venv/bin/activate
for name in gen-mnv2 gen-distil gen-scratch gen-distil-synth; do
    echo "=== $name $(date -u +%FT%TZ)"
    python -m training.cv --config training/configs/$name.json --folds 3 --out runs/cv-$name > runs/cv-$name.log 2>&1
    echo "=== $name done rc=$? $(date -u +%FT%TZ)"
done
