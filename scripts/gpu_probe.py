"""What scripts/gpu_check.py measures with: GPU busy sampling, the sample data set, one timed step."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import cv2

from liveness_app import paths

ROOT = Path(__file__).resolve().parents[1]


class GpuBusy:
    """Samples ``nvidia-smi``'s utilization.gpu (all GPUs, mean) every ``period`` s between start and stop."""

    def __init__(self, period: float = 0.2) -> None:
        self.period, self._stop = period, threading.Event()
        self.samples: list[float] = []
        self.available = shutil.which("nvidia-smi") is not None
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        cmd = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]
        while not self._stop.is_set():
            try:
                out = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.split()
                values = [float(v) for v in out if v.replace(".", "", 1).isdigit()]
                if values:
                    self.samples.append(sum(values) / len(values))
            except (OSError, subprocess.SubprocessError):
                return
            self._stop.wait(self.period)

    def __enter__(self) -> "GpuBusy":
        if self.available:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def summary(self) -> dict[str, float | None]:
        if not self.samples:
            return {"gpu_busy_mean": None, "gpu_busy_max": None}
        return {"gpu_busy_mean": round(sum(self.samples) / len(self.samples), 1), "gpu_busy_max": max(self.samples)}


def sample_dataset(out: Path, frames: int) -> Path:
    """Frames of the bundled sample video as a labelled manifest: 4 groups x (live, replay); throughput only."""
    cap = cv2.VideoCapture(str(paths.sample_video_path()))
    rows, k = [], 0
    while k < frames:
        ok, frame = cap.read()
        if not ok:  # loop the clip
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = cap.read()
            if not ok:
                break
        group, label = f"g{k % 4}", ("live", "replay")[(k // 4) % 2]
        rel = Path(group) / label / f"{k:05d}.jpg"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out / rel), frame)
        rows.append({"path": rel.as_posix(), "label": label, "attack_type": "" if label == "live" else "replay"})
        rows[-1]["group"] = group
        k += 1
    cap.release()
    manifest = out / "manifest.csv"
    with manifest.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "label", "attack_type", "group"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def run_step(name: str, cmd: list[str], out: Path, timeout: float) -> dict[str, Any]:
    """One timed process, its GPU busy % and its output in ``out/<name>.log``."""
    log = out / f"{name}.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    with GpuBusy() as busy, log.open("w") as f:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT, timeout=timeout, env=env).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    result = {"step": name, "rc": rc, "seconds": round(time.perf_counter() - t0, 1), **busy.summary()}
    print(f"{name}: exit {rc} in {result['seconds']} s", flush=True)
    return result


def last_json(log: Path) -> dict[str, Any]:
    for line in reversed(log.read_text(errors="replace").splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return {}


def train_rate(run_dir: Path) -> float | None:
    """Images/s of the fastest epoch in the run's log (the first epoch pays for start-up)."""
    try:
        epochs = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines() if line.strip()]
    except (OSError, ValueError):
        return None
    rates = [e["images"] / e["seconds_train"] for e in epochs if e.get("seconds_train")]
    return round(max(rates), 1) if rates else None
