#!/usr/bin/env bash
# Both scoring engines side by side in one run, alternating (torch, onnx, torch, onnx, ...), so that they
# see the same machine: the CPUs behind this project vary from day to day and call to call.
#
#   scripts/compare_backends.sh [SECONDS] [ROUNDS] [OUT_DIR]   # defaults: 20 s, 2 rounds, docs/results/backends
#
# Each run is `liveness-bench --backend B --device cpu --seconds S` on the bundled sample video with the
# default model, Grad-CAM on; its JSON line goes to OUT_DIR/runs.jsonl and a table to OUT_DIR/summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-20}
ROUNDS=${2:-2}
OUT=${3:-docs/results/backends}
mkdir -p "$OUT"
: > "$OUT/runs.jsonl"
for round in $(seq 1 "$ROUNDS"); do
    for backend in torch onnx; do
        echo "round $round: $backend" >&2
        python -m liveness_app.bench --backend "$backend" --device cpu --seconds "$SECONDS_EACH" 2>/dev/null |
            tail -n 1 >> "$OUT/runs.jsonl"
    done
done
python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines() if line.strip()]
rows = ["| backend | device | decode | detect | crop | model (+ map) | Grad-CAM extra | overlay | verdicts/s "
        "| latency p50 / p95 | dropped | Grad-CAM cost | peak RSS |", "|---" * 13 + "|"]
for r in runs:
    st = {k: (v["mean"] if v["mean"] is not None else float("nan")) for k, v in r["stages_ms"].items()}
    rows.append(f"| {r['backend']} | {r['device']} | {st['decode']:.1f} ms | {st['detect']:.1f} ms | "
                f"{st['crop']:.1f} ms | {st['model']:.1f} ms | {st['gradcam']:.1f} ms | {st['overlay']:.1f} ms | "
                f"{r['verdicts_per_s']:.1f} | {r['latency_p50_ms']:.0f} / {r['latency_p95_ms']:.0f} ms | "
                f"{r['dropped_frames']} | x{r['gradcam_overhead']:.2f} | {r['peak_rss_mb']:.0f} MiB |")
cpu = runs[0]["cpu"] if runs else "?"
text = f"CPU: {cpu}, {runs[0]['threads'] if runs else '?'} scoring thread(s), model {runs[0]['model'] if runs else '?'}\n\n"
(out / "summary.md").write_text(text + "\n".join(rows) + "\n")
print(text + "\n".join(rows))
PY
