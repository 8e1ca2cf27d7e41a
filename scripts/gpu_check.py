"""The GPU check anyone can run: every GPU path of the project on one machine, one table.

    python scripts/gpu_check.py --out gpu-check [--data SPEC ...] [--device cuda] [--quick]

Runs, each as its own process from this checkout and timed, with the GPU's busy % sampled by
``nvidia-smi`` every 0.2 s while it runs:

1. training (``python -m training``, 128 px, bf16 on CUDA), images/s of the fastest epoch;
2. the same under ``torchrun`` with the NCCL process group and SyncBatchNorm, one process per GPU;
3. the crop cache build (face detection on the CPU), frames/s, then scoring from the cache with
   ``liveness-eval``, crops/s;
4. "adapt to my camera" for one user (``training.studies.adapt_bench``), seconds from recordings to model;
5. the real-time benchmark (``liveness_app.bench``) with PyTorch, with ONNX Runtime (CPU), and with the
   engine *Auto* picks: model ms, p95 latency, dropped frames; Auto's reason gives every candidate's ms,
   ONNX Runtime on CUDA among them where ``onnxruntime-gpu`` is installed (or why it could not open).

Without ``--data`` it extracts frames of the bundled sample video into a small labelled set (four groups,
each with a "live" and a "replay" half): the figures are throughput, not accuracy. Writes
``OUT/gpu_check.json`` and ``OUT/gpu_check.md``; every step's output is in ``OUT/<step>.log``, and their user
folder (ONNX cache, the engine race's memory) is ``OUT/home``, so Auto measures afresh. A step that
fails is reported in the table (with its log) and the others still run. ``--device cpu`` runs the same
steps on the CPU (torchrun with gloo), e.g. to check the script itself or for a side-by-side.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gpu_probe import last_json, run_step, sample_dataset, train_rate  # noqa: E402

from liveness_app import paths  # noqa: E402


def steps(a: argparse.Namespace, data: list[str], out: Path) -> list[tuple[str, list[str]]]:
    py, cuda = sys.executable, a.device == "cuda"
    spec = [x for d in data for x in ("--data", d)]
    cache = ["--cache-dir", str(out / "cache")]
    train = [*spec, *cache, "--device", a.device, "--input-size", "128", "--batch-size", str(a.batch_size)]
    train += ["--epochs", str(a.epochs), "--epoch-size", str(a.epoch_size), "--patience", str(a.epochs)]
    train += ["--workers", str(a.workers), "--no-install", "--dev-fraction", "0.25"]
    gpus = max(1, a.gpus)
    torchrun = [py, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(gpus if cuda else 1)]
    model = str(paths.default_model_path())
    seconds = "5" if a.quick else "15"
    return [
        ("train", [py, "-m", "training", *train, "--out-dir", str(out / "run-train")]),
        ("torchrun", [*torchrun, "-m", "training", *train, "--sync-bn", "true", "--out-dir", str(out / "run-ddp")]),
        ("cache", [py, "-m", "training.eval.evaluate", "--model", model, *spec, *cache, "--out", str(out / "eval-0")]),
        (
            "score",
            [
                py,
                "-m",
                "training.eval.evaluate",
                "--model",
                model,
                *spec,
                *cache,
                "--device",
                a.device,
                "--out",
                str(out / "eval"),
            ],
        ),  # fmt: skip
        (
            "adapt",
            [
                py,
                "-m",
                "training.studies.adapt_bench",
                *spec,
                "--model",
                model,
                "--groups",
                a.adapt_group,
                "--minutes",
                str(a.adapt_minutes),
                "--device",
                a.device,
                "--out",
                str(out / "adapt"),
            ],
        ),  # fmt: skip
        (
            "realtime-torch",
            [py, "-m", "liveness_app.bench", "--device", a.device, "--backend", "torch", "--seconds", seconds],
        ),  # fmt: skip
        (
            "realtime-onnx",
            [py, "-m", "liveness_app.bench", "--device", a.device, "--backend", "onnx", "--seconds", seconds],
        ),  # fmt: skip
        (
            "realtime-auto",
            [py, "-m", "liveness_app.bench", "--device", a.device, "--backend", "auto", "--seconds", seconds],
        ),  # fmt: skip
    ]


def figures(name: str, out: Path) -> dict[str, Any]:
    """What each step's own output says: its rate and the figures the issue asks for."""
    if name in ("train", "torchrun"):
        return {"images_per_s": train_rate(out / ("run-train" if name == "train" else "run-ddp"))}
    if name in ("cache", "score"):
        try:
            metrics = json.loads((out / ("eval-0" if name == "cache" else "eval") / "metrics.json").read_text())
            return {"crops": metrics["frame"]["n"]}
        except (OSError, ValueError, KeyError, TypeError):
            return {}
    if name == "adapt":
        try:
            users = json.loads((out / "adapt" / "adapt.json").read_text())["users"]
            return {"adapt_s": users[0].get("seconds")}
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            return {}
    s = last_json(out / f"{name}.log")
    model = (s.get("stages_ms") or {}).get("model") or {}
    return {
        "engine": s.get("device"),
        "model_ms": model.get("mean"),
        "latency_p95_ms": s.get("latency_p95_ms"),
        "dropped_frames": s.get("dropped_frames"),
        "verdicts_per_s": s.get("verdicts_per_s"),
        "engine_reason": s.get("engine_reason"),  # auto: every candidate's ms at load, or why it did not open
    }


def _cell(v: Any) -> str:
    if v is None:
        return ""
    return f"{v:.1f}" if isinstance(v, float) else str(v)


def markdown(rows: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    lines = [
        f"# GPU check, {machine['date']}",
        "",
        f"{machine['gpu'] or 'no GPU'}; {machine['cpus']} CPU cores; torch {machine['torch']}; device {machine['device']}.",
        "",
        "| step | exit | seconds | rate | GPU busy mean / max % | other |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        rate = ""
        if r.get("images_per_s"):
            rate = f"{r['images_per_s']:.0f} img/s"
        elif r.get("crops") and r.get("seconds"):
            rate = f"{r['crops'] / r['seconds']:.0f} crops/s (whole process)"
        busy = f"{_cell(r.get('gpu_busy_mean'))} / {_cell(r.get('gpu_busy_max'))}" if r.get("gpu_busy_mean") else ""
        other = ", ".join(
            f"{k} {_cell(r[k])}"
            for k in ("adapt_s", "engine", "model_ms", "latency_p95_ms", "dropped_frames")
            if r.get(k) is not None
        )
        lines.append(f"| {r['step']} | {r['rc']} | {r['seconds']} | {rate} | {busy} | {other} |")
    reasons = [f"- {r['step']}: {r['engine_reason']}" for r in rows if r.get("engine_reason")]
    return "\n".join(lines + (["", "Engines and why:", *reasons] if reasons else [])) + "\n"


def machine_info(device: str) -> dict[str, Any]:
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    return {
        "date": time.strftime("%Y-%m-%d"),
        "gpu": f"{torch.cuda.device_count()} x {gpu}" if gpu else "",
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "torch": torch.__version__,
        "device": device,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/gpu_check.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="folder for gpu_check.json/.md and the logs")
    p.add_argument("--data", action="append", help="dataset spec(s), as liveness-train --data (default: sample)")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--gpus", type=int, default=0, help="torchrun processes (default: every visible GPU)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--epoch-size", type=int, default=20000)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2))
    p.add_argument("--adapt-group", default="g0", help="the user adapt_bench measures (a group with both labels)")
    p.add_argument("--adapt-minutes", type=float, default=0.25)
    p.add_argument("--frames", type=int, default=1600, help="sample frames when no --data is given")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script, measures nothing")
    p.add_argument("--only", nargs="*", help="run only these steps")
    a = p.parse_args(argv)
    if a.quick:
        a.epochs, a.epoch_size, a.batch_size, a.frames, a.workers = 1, 64, 16, 48, 0
    a.out.mkdir(parents=True, exist_ok=True)
    # every step's user folder (ONNX cache, engine race memory) in OUT: Auto measures afresh, the user's data
    # stays untouched
    os.environ["LIVENESS_STUDIO_HOME"] = str((a.out / "home").resolve())
    import torch

    if a.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda: no CUDA device is visible to PyTorch (use --device cpu to check the script)")
    a.gpus = a.gpus or max(1, torch.cuda.device_count())
    data = a.data or [str(sample_dataset(a.out / "sample-data", a.frames))]
    rows = []
    for name, cmd in steps(a, data, a.out):
        if a.only and name not in a.only:
            continue
        rows.append({**run_step(name, cmd, a.out, timeout=3600), **figures(name, a.out)})
    machine = machine_info(a.device)
    (a.out / "gpu_check.json").write_text(json.dumps({"machine": machine, "steps": rows}, indent=1))
    table = markdown(rows, machine)
    (a.out / "gpu_check.md").write_text(table)
    print(table)
    return 0 if all(r["rc"] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
