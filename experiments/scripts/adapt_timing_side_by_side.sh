#!/usr/bin/env bash
# Adapt to my camera, before and after the data-path work (issue 26), side by side in one run on this
# machine: for each user, the old checkout then the new one, alternating, same base model, fresh caches.
#   OLD=/path/to/old/checkout bash experiments/scripts/adapt_timing_side_by_side.sh OUT USER [USER ...]
# Each checkout runs its own code (python -m from its folder). Results: OUT/{old,new}-USER/adapt.json.
set -u
OUT=$1; shift
NEW=$(cd "$(dirname "$0")/../.." && pwd)
OLD=${OLD:?set OLD to the checkout to compare with}
DATA=(--data ../shared/data/manifest.csv --data ../shared/data/webcam/manifest.csv)
mkdir -p "$OUT"
for user in "$@"; do
  for side in old new; do
    dir=$([ "$side" = old ] && echo "$OLD" || echo "$NEW")
    (cd "$dir" && python -m training.studies.adapt_bench "${DATA[@]}" --model models/default.pt \
      --groups "$user" --minutes 2 --device cpu --out "$OUT/$side-$user") > "$OUT/$side-$user.log" 2>&1
    echo "$side $user: exit $?"
  done
done
