"""Benchmark of the real-time pipeline: the same capture/scoring loops the GUI runs, without a window.

    python -m liveness_app.bench [--source VIDEO] [--device cpu|cuda] [--seconds N] [--model CKPT]

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
import os
import sys
import threading
import time
import warnings
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from . import paths
from .core.camera import CameraUnavailableError, FrameSource, open_source
from .core.device import CHOICES as DEVICES, cpu_model, describe, scoring_threads
from .core.face import DetectorError, FaceBox, FaceDetector
from .core.model import ModelLoadError
from .core.overlay import OverlayOptions, draw_result
from .core.pipeline import FrameResult, LoadedModel, Pipeline
from .core.preprocess import preprocess_face, to_batch
from .core.realtime import CaptureLoop, Frame, LatestFrameSlot, ScoringLoop

PROG = "liveness-bench"
STAGES = ("decode", "detect", "crop", "model", "gradcam")
WARMUP_RESULTS = 5  # the first verdicts include one-off allocation costs: left out of the figures
FaceSample = tuple[np.ndarray, FaceBox]  # one frame with a face, and that face's box


class BenchError(Exception):
    """A source, model or detector the benchmark cannot use; :func:`main` prints it and exits 2."""


# -- what a run keeps ------------------------------------------------------------------------------------
def _floats() -> array:
    return array("d")


@dataclass
class Series:
    """The figures of a run's verdicts, 8 bytes each: never a frame, a crop or a heatmap."""

    stages_ms: dict[str, array] = field(default_factory=lambda: {k: _floats() for k in STAGES})
    latency_ms: array = field(default_factory=_floats)
    one_face_latency_ms: array = field(default_factory=_floats)  # verdicts on frames with exactly one face
    faces: array = field(default_factory=_floats)
    captured_at: array = field(default_factory=_floats)  # perf_counter() when each scored frame was read

    def add(self, result: FrameResult) -> None:
        for stage in STAGES:
            self.stages_ms[stage].append(result.timings.get(stage, 0.0))
        self.latency_ms.append(result.latency_ms)
        self.faces.append(len(result.faces))
        if len(result.faces) == 1:
            self.one_face_latency_ms.append(result.latency_ms)
        self.captured_at.append(result.captured_at)

    def __len__(self) -> int:
        return len(self.latency_ms)


class _Recorder:
    """Takes each result apart as it arrives: figures into a :class:`Series`, the first face frame kept."""

    def __init__(self) -> None:
        self.warmup, self.steady = Series(), Series()
        self.sample: FaceSample | None = None

    def on_result(self, result: FrameResult) -> None:
        (self.warmup if len(self.warmup) < WARMUP_RESULTS else self.steady).add(result)
        if self.sample is None and result.faces and result.frame is not None:
            self.sample = (result.frame, result.faces[0].box)

    @property
    def series(self) -> Series:
        """The verdicts after warm-up; all of them when the run was too short to have any."""
        return self.steady if len(self.steady) else self.warmup


@dataclass
class StreamRun:
    """What :func:`run_stream` measured."""

    series: Series
    frames: int  # frames captured
    dropped: int  # frames replaced before scoring took them (latest frame wins)
    overlay_ms: array
    source_fps: float
    seconds: float  # how long the stream ran
    sample: FaceSample | None  # for :func:`gradcam_overhead`


# -- the run ---------------------------------------------------------------------------------------------
class _Display:
    """Stands in for the GUI's view: at the source rate, draws the newest result on the newest frame."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self.frame: Frame | None = None
        self.result: FrameResult | None = None
        self.overlay_ms = _floats()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.period):
            frame, result = self.frame, self.result
            if frame is not None:
                t0 = time.perf_counter()
                draw_result(frame.image, result, OverlayOptions(heatmap=True))
                self.overlay_ms.append((time.perf_counter() - t0) * 1e3)


class _Threads:
    """The loops on daemon threads; the first exception in any of them ends the run (``failed``)."""

    def __init__(self, targets: Sequence[Callable[[], None]]) -> None:
        self.failed = threading.Event()
        self.error: BaseException | None = None
        self._threads = [threading.Thread(target=self._guard, args=(t,), daemon=True) for t in targets]

    def _guard(self, target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread, which re-raises it
            if self.error is None:
                self.error = exc
            self.failed.set()

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float) -> None:
        for thread in self._threads:
            thread.join(timeout)


def run_stream(pipeline: Pipeline, source: FrameSource | str | int, seconds: float) -> StreamRun:
    """Stream ``source`` (a spec is opened and closed here; an open source stays the caller's) for
    ``seconds`` through capture, scoring and display threads.

    Raises :class:`CameraUnavailableError` when the source cannot be opened or fails during the run; any
    other error of a loop is re-raised here.
    """
    if isinstance(source, (str, int)):
        with contextlib.closing(open_source(source)) as opened:
            return run_stream(pipeline, opened, seconds)
    slot, recorder, display, frames = LatestFrameSlot(), _Recorder(), _Display(source.fps), [0]

    def on_frame(frame: Frame) -> None:
        frames[0] += 1
        display.frame = frame
        slot.put(frame)

    def on_result(result: FrameResult) -> None:
        display.result = result
        recorder.on_result(result)

    capture, scoring = CaptureLoop(source, on_frame), ScoringLoop(pipeline, slot, on_result)
    threads = _Threads((capture.run, scoring.run, display.run))
    start = time.perf_counter()
    threads.start()
    threads.failed.wait(seconds)
    elapsed = time.perf_counter() - start
    capture.stop(); scoring.stop(); display.stop.set()
    threads.join(timeout=5)
    error = threads.error
    if isinstance(error, CameraUnavailableError):
        raise CameraUnavailableError(f"{source.name} failed after {elapsed:.1f} s: {error}") from error
    if error is not None:
        raise error
    return StreamRun(recorder.series, frames[0], slot.dropped, display.overlay_ms, source.fps, elapsed,
                     recorder.sample)


def gradcam_overhead(model: LoadedModel, sample: FaceSample | None, repeats: int = 40) -> float | None:
    """Time scoring one face with and without Grad-CAM on the same crop; ratio of the two."""
    if sample is None:
        return None
    frame, box = sample
    x = to_batch([preprocess_face(frame, box, model.meta.preprocessing)])
    times: dict[bool, list[float]] = {}
    for cam in (False, True, False, True):
        for _ in range(5):
            model.scorer(x, with_cam=cam)
        t0 = time.perf_counter()
        for _ in range(repeats):
            model.scorer(x, with_cam=cam)
        times.setdefault(cam, []).append((time.perf_counter() - t0) / repeats)
    return min(times[True]) / min(times[False])


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
        "device": device, "model": model.meta.name, "input_size": model.meta.preprocessing.input_size,
        "source_fps": run.source_fps, "capture_fps": run.frames / run.seconds if run.seconds > 0 else 0.0,
        "verdicts_per_s": (n - 1) / span if span > 0 else 0.0,
        "latency_p50_ms": latency["p50"], "latency_p95_ms": latency["p95"],
        "latency_p95_one_face_ms": _stats(s.one_face_latency_ms)["p95"],
        "gradcam_overhead": overhead, "dropped_frames": run.dropped, "results": n,
        "faces_per_result": float(np.mean(s.faces)) if n else 0.0,
        "stages_ms": stages,
        "threads": scoring_threads(), "cpu": cpu_model(),
        "peak_rss_mb": peak_rss_mb(),
    }


def print_table(s: dict) -> None:
    print(f"{'stage':<10}{'mean ms':>10}{'p50 ms':>10}{'p95 ms':>10}")
    for name, st in s["stages_ms"].items():
        if st["mean"] is not None:
            print(f"{name:<10}{st['mean']:>10.2f}{st['p50']:>10.2f}{st['p95']:>10.2f}")
    n = {k: float("nan") if s[k] is None else s[k]  # None: nothing measured (no verdict, no face)
         for k in ("latency_p50_ms", "latency_p95_ms", "gradcam_overhead", "peak_rss_mb")}
    print(f"source {s['source_fps']:.1f} fps, captured {s['capture_fps']:.1f} fps, "
          f"{s['verdicts_per_s']:.1f} verdicts/s ({s['faces_per_result']:.2f} faces each), "
          f"latency p50 {n['latency_p50_ms']:.1f} ms p95 {n['latency_p95_ms']:.1f} ms, "
          f"Grad-CAM x{n['gradcam_overhead']:.3f}, dropped {s['dropped_frames']} stale frames, "
          f"device {s['device']}, peak RSS {n['peak_rss_mb']:.0f} MiB")


# -- opening what the command line names -----------------------------------------------------------------
@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    """OpenCV and FFmpeg print their own warnings for a missing camera or a file that is not a video;
    the error we raise says it once, clearly."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when FFmpeg is first used
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def open_bench_source(spec: str) -> FrameSource:
    """A camera index or video file (looping); :class:`BenchError` if it cannot be opened."""
    try:
        with _quiet_opencv():
            return open_source(spec)
    except CameraUnavailableError as exc:
        raise BenchError(f"source not usable: {exc}") from exc


def load_model(path: Path, device_preference: str) -> LoadedModel:
    """The checkpoint at ``path`` on the device for ``device_preference``; :class:`BenchError` for a file
    that cannot be used."""
    try:
        with warnings.catch_warnings():  # torch warns about a file's pickle protocol before refusing it
            warnings.filterwarnings("ignore", category=UserWarning, module="torch")
            return LoadedModel.open(path, device_preference)
    except ModelLoadError as exc:
        why = str(exc) if Path(path).name in str(exc) else f"{Path(path).name}: {exc}"  # metadata errors omit it
        raise BenchError(f"model not usable: {why}") from exc
    except (TypeError, ValueError, KeyError) as exc:  # metadata of the wrong shape that the loader let through
        raise BenchError(f"model not usable: {Path(path).name}: malformed metadata "
                         f"({type(exc).__name__}: {exc})") from exc


def open_detector(path: Path) -> FaceDetector:
    """The face detector; :class:`BenchError` if its model file is missing or unreadable."""
    try:
        return FaceDetector(path)
    except DetectorError as exc:
        raise BenchError(str(exc)) from exc


def run_benchmark(source_spec: str, model_path: Path, device_preference: str = "auto", seconds: float = 20.0,
                  gradcam: bool = True) -> dict:
    """Open everything, stream, measure Grad-CAM's cost: the summary. :class:`BenchError` for what the
    user named (source, model) or the detector being unusable, or the source failing during the run."""
    with contextlib.closing(open_bench_source(source_spec)) as source:
        model = load_model(model_path, device_preference)
        device = model.device
        with open_detector(paths.default_detector_path()) as detector:
            try:
                run = run_stream(Pipeline(detector, model, heatmap=gradcam), source, seconds)
            except CameraUnavailableError as exc:
                raise BenchError(f"source failed during the run: {exc}") from exc
    return summarize(run, gradcam_overhead(model, run.sample), describe(device), model)


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number of seconds")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--source", default=str(paths.sample_video_path()), help="camera index or video file")
    p.add_argument("--device", default="auto", choices=DEVICES, help="where the model runs (default: auto)")
    p.add_argument("--seconds", type=_positive_seconds, default=20.0, help="how long to stream (default 20)")
    p.add_argument("--model", type=Path, default=paths.default_model_path(),
                   help="model file (default: the bundled default.pt)")
    p.add_argument("--no-gradcam", action="store_true", help="score without Grad-CAM")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; 0 on success, 2 (with one message on stderr) for an unusable source or model."""
    args = build_parser().parse_args(argv)
    try:
        summary = run_benchmark(args.source, args.model, args.device, args.seconds, gradcam=not args.no_gradcam)
    except BenchError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    print_table(summary)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
