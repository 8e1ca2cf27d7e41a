"""Benchmark of the real-time pipeline: the same capture/scoring loops the GUI runs, without a window.

    python -m liveness_app.bench [--source VIDEO] [--device cpu|cuda] [--seconds N] [--model CKPT]

Prints ms per stage (decode, detect, crop, model, gradcam, overlay), verdicts/s, end-to-end latency
(frame read -> verdict ready) and the cost of Grad-CAM relative to plain scoring. The last line is one
JSON object, so runs can be compared.
"""
from __future__ import annotations

import argparse
import json
import platform
import threading
import time
from pathlib import Path

import numpy as np

from . import paths
from .core.camera import open_source
from .core.device import describe, scoring_threads, select_device
from .core.face import FaceDetector
from .core.overlay import OverlayOptions, draw_result
from .core.pipeline import FrameResult, LoadedModel, Pipeline
from .core.preprocess import preprocess_face, to_batch
from .core.realtime import CaptureLoop, Frame, LatestFrameSlot, ScoringLoop


class _Display:
    """Stands in for the GUI's view: at the source rate, draws the newest result on the newest frame."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self.frame: Frame | None = None
        self.result: FrameResult | None = None
        self.overlay_ms: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.period):
            frame, result = self.frame, self.result
            if frame is not None:
                t0 = time.perf_counter()
                draw_result(frame.image, result, OverlayOptions(heatmap=True))
                self.overlay_ms.append((time.perf_counter() - t0) * 1e3)


def run_stream(pipeline: Pipeline, source_spec: str, seconds: float) -> dict:
    source = open_source(source_spec)
    slot = LatestFrameSlot()
    results: list[FrameResult] = []
    display = _Display(source.fps)
    frames = [0]

    def on_frame(frame: Frame) -> None:
        frames[0] += 1
        display.frame = frame
        slot.put(frame)

    def on_result(result: FrameResult) -> None:
        display.result = result
        results.append(result)

    capture, scoring = CaptureLoop(source, on_frame), ScoringLoop(pipeline, slot, on_result)
    threads = [threading.Thread(target=t, daemon=True) for t in (capture.run, scoring.run, display.run)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    capture.stop(); scoring.stop(); display.stop.set()
    for t in threads:
        t.join(timeout=5)
    source.close()
    warm = results[5:] or results  # the first frames include one-off allocation costs
    return {"results": warm, "frames": frames[0], "dropped": slot.dropped, "overlay_ms": display.overlay_ms,
            "source_fps": source.fps, "seconds": seconds}


def gradcam_overhead(model: LoadedModel, results: list[FrameResult], repeats: int = 40) -> float | None:
    """Time scoring one face with and without Grad-CAM on the same crop; ratio of the two."""
    face_result = next((r for r in results if r.faces), None)
    if face_result is None:
        return None
    x = to_batch([preprocess_face(face_result.frame, face_result.faces[0].box, model.meta.preprocessing)])
    times = {}
    for cam in (False, True, False, True):
        for _ in range(5):
            model.scorer(x, with_cam=cam)
        t0 = time.perf_counter()
        for _ in range(repeats):
            model.scorer(x, with_cam=cam)
        times.setdefault(cam, []).append((time.perf_counter() - t0) / repeats)
    return min(times[True]) / min(times[False])


def summarize(run: dict, overhead: float | None, device: str, model: LoadedModel) -> dict:
    res = run["results"]
    stages = {k: [r.timings.get(k, 0.0) for r in res] for k in ("decode", "detect", "crop", "model", "gradcam")}
    stages["overlay"] = run["overlay_ms"]
    lat = [r.latency_ms for r in res]
    one_face = [r for r in res if len(r.faces) == 1]
    stats = lambda v: {"mean": float(np.mean(v)) if v else None, "p50": float(np.percentile(v, 50)) if v else None,  # noqa: E731
                       "p95": float(np.percentile(v, 95)) if v else None}
    span = (res[-1].captured_at - res[0].captured_at) if len(res) > 1 else run["seconds"]
    return {
        "device": device, "model": model.meta.name, "input_size": model.meta.preprocessing.input_size,
        "source_fps": run["source_fps"], "capture_fps": run["frames"] / run["seconds"],
        "verdicts_per_s": (len(res) - 1) / span if len(res) > 1 else 0.0,
        "latency_p50_ms": stats(lat)["p50"], "latency_p95_ms": stats(lat)["p95"],
        "latency_p95_one_face_ms": stats([r.latency_ms for r in one_face])["p95"],
        "gradcam_overhead": overhead, "dropped_frames": run["dropped"], "results": len(res),
        "faces_per_result": float(np.mean([len(r.faces) for r in res])) if res else 0.0,
        "stages_ms": {k: stats(v) for k, v in stages.items()},
        "threads": scoring_threads(), "cpu": platform.processor() or platform.machine(),
    }


def print_table(s: dict) -> None:
    print(f"{'stage':<10}{'mean ms':>10}{'p50 ms':>10}{'p95 ms':>10}")
    for name, st in s["stages_ms"].items():
        if st["mean"] is not None:
            print(f"{name:<10}{st['mean']:>10.2f}{st['p50']:>10.2f}{st['p95']:>10.2f}")
    print(f"source {s['source_fps']:.1f} fps, captured {s['capture_fps']:.1f} fps, {s['verdicts_per_s']:.1f} verdicts/s "
          f"({s['faces_per_result']:.2f} faces each), latency p50 {s['latency_p50_ms']:.1f} ms p95 "
          f"{s['latency_p95_ms']:.1f} ms, Grad-CAM x{s['gradcam_overhead'] or float('nan'):.3f}, "
          f"dropped {s['dropped_frames']} stale frames, device {s['device']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m liveness_app.bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=str(paths.sample_video_path()))
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--model", type=Path, default=paths.default_model_path())
    p.add_argument("--no-gradcam", action="store_true", help="score without Grad-CAM")
    args = p.parse_args(argv)
    device, _ = select_device(args.device)
    model = LoadedModel.load(args.model, device)
    with FaceDetector(paths.default_detector_path()) as detector:
        pipeline = Pipeline(detector, model, heatmap=not args.no_gradcam)
        run = run_stream(pipeline, args.source, args.seconds)
    summary = summarize(run, gradcam_overhead(model, run["results"]), describe(device), model)
    print_table(summary)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
