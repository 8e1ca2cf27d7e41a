"""The benchmark's run: capture, scoring and display threads as in the GUI, keeping figures, never frames.

:func:`run_stream` drives the real-time loops of :mod:`liveness_app.core.realtime` for a while and keeps
8 bytes per figure per verdict plus one frame with a face, which :func:`gradcam_overhead` scores with and
without Grad-CAM. :mod:`liveness_app.bench` (the command line) and ``scripts/soak.py`` both run it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from array import array
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from .core.camera import CameraUnavailableError, FrameSource, open_source
from .core.face import FaceBox
from .core.overlay import OverlayOptions, draw_result
from .core.pipeline import FrameResult, LoadedModel, Pipeline
from .core.preprocess import preprocess_face, to_batch
from .core.realtime import CaptureLoop, Frame, LatestFrameSlot, ScoringLoop

STAGES = ("decode", "detect", "crop", "model", "gradcam")
WARMUP_RESULTS = 5  # the first verdicts include one-off allocation costs: left out of the figures
FaceSample = tuple[np.ndarray, FaceBox]  # one frame with a face, and that face's box


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
    capture.stop()
    scoring.stop()
    display.stop.set()
    threads.join(timeout=5)
    error = threads.error
    if isinstance(error, CameraUnavailableError):
        raise CameraUnavailableError(f"{source.name} failed after {elapsed:.1f} s: {error}") from error
    if error is not None:
        raise error
    return StreamRun(recorder.series, frames[0], slot.dropped, display.overlay_ms, source.fps, elapsed, recorder.sample)


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
