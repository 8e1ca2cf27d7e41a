#!/usr/bin/env bash
# Issue 12 (2026-12-02): which fine-tuning options make "adapt to my camera" work? The adaptation benchmark
# on the users where the default recipe missed the target, one recipe change at a time (one run at a time on
# a 2-core CPU). Base: the previous default.pt (8 groups), which never trained on these users. Each recipe is
# a change to training.config.FINETUNE as it was that day (3 epochs, first 8 blocks frozen, precise BN).
#   experiments/scripts/run_adapt_ablation.sh BASE.pt OUT_DIR
# Results: experiments/results/adapt-ablation (its run f-no-bn-refresh, b + "bn_refresh": false, came after
# this script and is not in it).
cd "$(dirname "$0")/../.."  # the repository root
. .venv/bin/activate
base=$1; out=$2
users="ShubhamLala webcam-DangThanhLiem webcam-Foxriver-2005 webcam-Ramkumarkh webcam-shravanshriram2007 webcam-Pagolu-Raghavendra"
declare -A recipes=(
    [a-default]='{}'
    [b-no-freeze]='{"freeze_blocks": 0}'
    [c-no-l2sp]='{"l2sp": 0.0}'
    [d-lr1e-4]='{"lr": 0.0001}'
    [e-6-epochs]='{"epochs": 6}'
)
for name in a-default b-no-freeze c-no-l2sp d-lr1e-4 e-6-epochs; do
    [ -f "$out/$name/adapt.md" ] && continue
    echo "=== $name $(date -u +%FT%TZ)"
    python -m training.studies.adapt_bench --data ../shared/data/manifest.csv --data ../shared/data/webcam/manifest.csv \
        --model "$base" --out "$out/$name" --minutes 2 --device cpu --groups $users \
        --recipe "${recipes[$name]}" > "$out/$name.log" 2>&1
    echo "=== $name done rc=$? $(date -u +%FT%TZ)"
done
