"""Latest-frame-wins plumbing shared by the GUI workers and the benchmark (no Qt here).

Capture reads continuously at the source's rate and overwrites a one-slot holder; scoring takes the newest
frame when it is free. A slow model lowers the verdict rate, never the video rate, and latency never
grows, because nothing is ever queued.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .camera import CameraUnavailableError, FrameSource
from .cpu import use_scoring_threads
from .pipeline import FrameResult, Pipeline


@dataclass(frozen=True)
class Frame:
    image: np.ndarray
    index: int
    t_ms: int  # source time, for the detector's increasing timestamps
    captured_at: float  # perf_counter() when read
    decode_ms: float


class LatestFrameSlot:
    """Holds at most one frame: ``put`` replaces (and counts as dropped) whatever was not taken yet."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def take(self, timeout: float | None = None) -> Frame | None:
        """The newest frame, waiting up to ``timeout``; None on timeout or once closed."""
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        """Wake any waiting consumer; later takes return None at once."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class CaptureLoop:
    """Reads ``source`` until stopped, pacing files to their frame rate; hands frames to ``on_frame``."""

    def __init__(self, source: FrameSource, on_frame: Callable[[Frame], None]) -> None:
        self.source = source
        self._on_frame = on_frame
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        """Raises :class:`CameraUnavailableError` when the source fails (the caller reports it)."""
        period = 1.0 / self.source.fps
        start = time.perf_counter()
        index = 0
        while not self._stop.is_set():
            t0 = time.perf_counter()
            image = self.source.read()
            t1 = time.perf_counter()
            t_ms = int(index * period * 1000) if self.source.paced else int((t1 - start) * 1000)
            self._on_frame(Frame(image, index, t_ms, t1, (t1 - t0) * 1e3))
            index += 1
            if self.source.paced:  # play a file at its own rate, catching up after a late frame
                delay = start + index * period - time.perf_counter()
                if delay > 0:
                    self._stop.wait(delay)
                elif delay < -1.0:  # far behind (machine stalled): resynchronise instead of racing
                    start = time.perf_counter() - index * period


class ScoringLoop:
    """Takes the newest frame from ``slot``, runs the pipeline, hands the result to ``on_result``."""

    def __init__(self, pipeline: Pipeline, slot: LatestFrameSlot, on_result: Callable[[FrameResult], None]) -> None:
        self.pipeline = pipeline
        self._slot = slot
        self._on_result = on_result
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()
        self._slot.close()

    def run(self) -> None:
        model = None
        while not self._stop.is_set():
            frame = self._slot.take(timeout=0.2)
            if frame is None:
                continue
            if self.pipeline.model is not model:  # first frame, or a switch that may have brought torch in
                model = self.pipeline.model
                use_scoring_threads()
            result = self.pipeline.process(frame.image, frame.t_ms)
            result.timings["decode"] = frame.decode_ms
            result.captured_at = frame.captured_at
            result.latency_ms = (time.perf_counter() - frame.captured_at) * 1e3
            result.frame_index = frame.index  # the view draws the boxes on this frame (core.pairing)
            self._on_result(result)


__all__ = ["CameraUnavailableError", "CaptureLoop", "Frame", "LatestFrameSlot", "ScoringLoop"]
