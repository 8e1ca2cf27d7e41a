"""Benchmark of the real-time pipeline: the same capture/scoring loops the GUI runs, without a window.

    python -m liveness_app.bench [--source VIDEO] [--device cpu|cuda] [--backend torch|onnx] [--seconds N]
                                 [--model CKPT]

Prints ms per stage (decode, detect, crop, model, gradcam, overlay), verdicts/s, end-to-end latency
(frame read -> verdict ready) and the cost of Grad-CAM relative to plain scoring. The last line is one
JSON object, so runs can be compared.

A source or model that cannot be used (missing file, not a video, no such camera, corrupt or foreign
checkpoint), or a source that fails during the run, gives one ``liveness-bench: error: ...`` line on
stderr and exit status 2. A run keeps numbers only (8 bytes per figure per verdict) and one frame with a
face for the Grad-CAM measurement, so memory stays flat however long it runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from . import paths
from .bench_stream import STAGES, WARMUP_RESULTS, StreamRun, gradcam_overhead, run_stream
from .core import BACKEND_CHOICES as BACKENDS
from .core import DEVICE_CHOICES as DEVICES
from .core.camera import CameraUnavailableError, FrameSource, open_source, quiet_opencv
from .core.cpu import cpu_model, scoring_threads
from .core.face import DetectorError, FaceDetector
from .core.meta import ModelLoadError
from .core.pipeline import LoadedModel, Pipeline

# The run itself lives in bench_stream; these names are re-exported for scripts/soak.py and the tests.
__all__ = [
    "PROG",
    "STAGES",
    "WARMUP_RESULTS",
    "BenchError",
    "build_parser",
    "gradcam_overhead",
    "load_model",
    "main",
    "open_bench_source",
    "open_detector",
    "peak_rss_mb",
    "print_table",
    "run_benchmark",
    "run_stream",
    "summarize",
]

PROG = "liveness-bench"


class BenchError(Exception):
    """A source, model or detector the benchmark cannot use; :func:`main` prints it and exits 2."""


# -- figures ---------------------------------------------------------------------------------------------
def _stats(values: Sequence[float]) -> dict[str, float | None]:
    """Mean and exact p50/p95 (None without values)."""
    if not len(values):
        return {"mean": None, "p50": None, "p95": None}
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()), "p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95))}


def peak_rss_mb() -> float | None:
    """This process's peak resident memory in MiB (None where ``resource`` does not exist: Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB on Linux


def summarize(run: StreamRun, overhead: float | None, device: str, model: LoadedModel) -> dict:
    """The JSON figures of a run (keys read by the README's tables and other tooling: keep them)."""
    s = run.series
    n = len(s)
    stages = {k: _stats(s.stages_ms[k]) for k in STAGES}
    stages["overlay"] = _stats(run.overlay_ms)
    latency = _stats(s.latency_ms)
    span = s.captured_at[-1] - s.captured_at[0] if n > 1 else 0.0
    return {
        "device": device,
        "backend": model.backend,
        "engine_reason": model.reason,  # which engine scored and why (auto: both measured at load)
        "model": model.meta.name,
        "input_size": model.meta.preprocessing.input_size,
        "source_fps": run.source_fps,
        "capture_fps": run.frames / run.seconds if run.seconds > 0 else 0.0,
        "verdicts_per_s": (n - 1) / span if span > 0 else 0.0,
        "latency_p50_ms": latency["p50"],
        "latency_p95_ms": latency["p95"],
        "latency_p95_one_face_ms": _stats(s.one_face_latency_ms)["p95"],
        "gradcam_overhead": overhead,
        "dropped_frames": run.dropped,
        "results": n,
        "faces_per_result": float(np.mean(s.faces)) if n else 0.0,
        "stages_ms": stages,
        "threads": scoring_threads(),
        "cpu": cpu_model(),
        "peak_rss_mb": peak_rss_mb(),
    }


def print_table(s: dict) -> None:
    print(f"{'stage':<10}{'mean ms':>10}{'p50 ms':>10}{'p95 ms':>10}")
    for name, st in s["stages_ms"].items():
        if st["mean"] is not None:
            print(f"{name:<10}{st['mean']:>10.2f}{st['p50']:>10.2f}{st['p95']:>10.2f}")
    n = {
        k: float("nan") if s[k] is None else s[k]  # None: nothing measured (no verdict, no face)
        for k in ("latency_p50_ms", "latency_p95_ms", "gradcam_overhead", "peak_rss_mb")
    }
    print(
        f"source {s['source_fps']:.1f} fps, captured {s['capture_fps']:.1f} fps, "
        f"{s['verdicts_per_s']:.1f} verdicts/s ({s['faces_per_result']:.2f} faces each), "
        f"latency p50 {n['latency_p50_ms']:.1f} ms p95 {n['latency_p95_ms']:.1f} ms, "
        f"Grad-CAM x{n['gradcam_overhead']:.3f}, dropped {s['dropped_frames']} stale frames, "
        f"device {s['device']}, backend {s['backend']}, peak RSS {n['peak_rss_mb']:.0f} MiB"
    )
    print(f"engine: {s['engine_reason']}")


# -- opening what the command line names -----------------------------------------------------------------
def open_bench_source(spec: str) -> FrameSource:
    """A camera index or video file (looping); :class:`BenchError` if it cannot be opened."""
    try:
        with quiet_opencv():
            return open_source(spec)
    except CameraUnavailableError as exc:
        raise BenchError(f"source not usable: {exc}") from exc


def load_model(path: Path, device_preference: str, backend: str = "auto") -> LoadedModel:
    """The model at ``path`` on the device for ``device_preference``, in ``backend``; :class:`BenchError`
    for a file that cannot be used."""
    try:
        with warnings.catch_warnings():  # torch warns about a file's pickle protocol before refusing it
            warnings.filterwarnings("ignore", category=UserWarning, module="torch")
            return LoadedModel.open(path, device_preference, backend)
    except ModelLoadError as exc:
        why = str(exc) if Path(path).name in str(exc) else f"{Path(path).name}: {exc}"  # metadata errors omit it
        raise BenchError(f"model not usable: {why}") from exc
    except (TypeError, ValueError, KeyError) as exc:  # metadata of the wrong shape that the loader let through
        raise BenchError(
            f"model not usable: {Path(path).name}: malformed metadata ({type(exc).__name__}: {exc})"
        ) from exc


def open_detector(path: Path) -> FaceDetector:
    """The face detector; :class:`BenchError` if its model file is missing or unreadable."""
    try:
        return FaceDetector(path)
    except DetectorError as exc:
        raise BenchError(str(exc)) from exc


def run_benchmark(
    source_spec: str,
    model_path: Path,
    device_preference: str = "auto",
    seconds: float = 20.0,
    gradcam: bool = True,
    backend: str = "auto",
) -> dict:
    """Open everything, stream, measure Grad-CAM's cost: the summary. :class:`BenchError` for what the
    user named (source, model) or the detector being unusable, or the source failing during the run."""
    with contextlib.closing(open_bench_source(source_spec)) as source:
        model = load_model(model_path, device_preference, backend)
        with open_detector(paths.default_detector_path()) as detector:
            try:
                run = run_stream(Pipeline(detector, model, heatmap=gradcam), source, seconds)
            except CameraUnavailableError as exc:
                raise BenchError(f"source failed during the run: {exc}") from exc
    return summarize(run, gradcam_overhead(model, run.sample), model.describe(), model)


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=str(paths.sample_video_path()), help="camera index or video file")
    p.add_argument("--device", default="auto", choices=DEVICES, help="where the model runs (default: auto)")
    p.add_argument(
        "--backend",
        default="auto",
        choices=BACKENDS,
        help="what scores: torch, onnx (ONNX Runtime on the CPU), or auto: the fastest engine on this "
        "machine, measured at load, ONNX Runtime on CUDA too where onnxruntime-gpu is installed (default: auto)",
    )
    p.add_argument("--seconds", type=_positive_seconds, default=20.0, help="how long to stream (default 20)")
    p.add_argument(
        "--model",
        type=Path,
        default=paths.default_model_path(),
        help="model file, .pt or .onnx (default: the bundled default.pt)",
    )
    p.add_argument("--no-gradcam", action="store_true", help="score without Grad-CAM")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 on success, 2 (with one message on stderr) for an unusable source or model."""
    args = build_parser().parse_args(argv)
    try:
        summary = run_benchmark(
            args.source, args.model, args.device, args.seconds, gradcam=not args.no_gradcam, backend=args.backend
        )
    except BenchError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print_table(summary)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
