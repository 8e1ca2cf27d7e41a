"""Capture and scoring workers on their own QThreads, and the controller that owns them.

The loops themselves (latest frame wins, pacing, timing) live in :mod:`liveness_app.core.realtime`; the
workers only turn their callbacks and exceptions into signals; they run on threads of :mod:`.qthreads`.
Shutdown sets the loop's abort flag, wakes the worker (closes the frame slot), then ``quit()`` and ``wait()``.
Workers and threads delete themselves when finished; ``errored`` carries the exception, the receiver words it.
"""

from __future__ import annotations

import itertools
import logging
from functools import partial
from typing import Callable

import numpy as np
from PyQt6.QtCore import QObject, QThread, pyqtSignal, pyqtSlot

from ..core.camera import CameraUnavailableError, FrameSource
from ..core.pipeline import Pipeline
from ..core.realtime import CaptureLoop, Frame, LatestFrameSlot, ScoringLoop
from .qthreads import alive, start_in_thread, stop_thread

log = logging.getLogger(__name__)

FrameSink = Callable[[np.ndarray], None]  # called on the capture thread with every frame; must not block


class CaptureWorker(QObject):
    """Reads a source until stopped; every frame goes into ``slot`` (for scoring), to ``sink`` (a
    recorder, on this thread) and out by signal (display).

    ``slot`` and ``sink`` may be replaced while running or be None (no scoring, no recording).
    """

    frame_ready = pyqtSignal(object)  # core.realtime.Frame
    errored = pyqtSignal(object)  # the exception that ended the capture
    finished = pyqtSignal()

    def __init__(self, source: FrameSource, slot: LatestFrameSlot | None = None) -> None:
        super().__init__()
        self.source = source
        self.slot = slot
        self.sink: FrameSink | None = None
        self._loop = CaptureLoop(source, self._on_frame)

    def _on_frame(self, frame: Frame) -> None:
        slot, sink = self.slot, self.sink  # one read each: both may be swapped from the GUI thread
        if slot is not None:
            slot.put(frame)
        if sink is not None:
            sink(frame.image)
        self.frame_ready.emit(frame)

    @pyqtSlot()
    def run(self) -> None:
        try:
            self._loop.run()
        except CameraUnavailableError as exc:
            self.errored.emit(exc)
        except Exception as exc:  # anything else must still reach the status bar, not kill the thread silently
            log.exception("capture failed")
            self.errored.emit(exc)
        finally:
            self.source.close()
            self.finished.emit()

    def stop(self) -> None:
        """Thread-safe: asks the loop to end after the current read."""
        self._loop.stop()


class ScoringWorker(QObject):
    """Scores the newest frame in ``slot`` whenever it is free; stale frames are dropped, never queued."""

    result_ready = pyqtSignal(object)  # core.pipeline.FrameResult
    errored = pyqtSignal(object)  # the exception that stopped scoring
    finished = pyqtSignal()

    def __init__(self, pipeline: Pipeline, slot: LatestFrameSlot) -> None:
        super().__init__()
        self.slot = slot
        self._loop = ScoringLoop(pipeline, slot, self.result_ready.emit)

    @pyqtSlot()
    def run(self) -> None:
        try:
            self._loop.run()
        except Exception as exc:  # e.g. CUDA out of memory: say so, keep the video running
            log.exception("scoring failed")
            self.errored.emit(exc)
        finally:
            self.finished.emit()

    def stop(self) -> None:
        """Thread-safe: sets the abort flag and closes the slot, which wakes a waiting ``take``."""
        self._loop.stop()


class StreamController(QObject):
    """Owns one capture and one scoring thread; starts, swaps and stops sources without leaking threads.

    Signals are relayed from the current workers only, so a frame or result still in flight from a
    source that was just replaced never reaches the view. Each worker gets a generation number bound
    into its connections (not ``sender()``, which may point at a deleted worker by the time a queued
    signal arrives). A failed source stops both threads. ``state_changed`` says when a source started,
    delivered its first frame (``frame_size`` is known from then on) or stopped.
    """

    frame_ready = pyqtSignal(object)  # Frame
    result_ready = pyqtSignal(object)  # FrameResult
    source_failed = pyqtSignal(str)  # the source stopped delivering (unplugged camera, unreadable file): why
    scoring_failed = pyqtSignal(str)  # scoring stopped (e.g. out of GPU memory): why; the video plays on
    state_changed = pyqtSignal()  # a source started, gave its first frame, or stopped

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pipeline: Pipeline | None = None
        self._capture: tuple[CaptureWorker, QThread] | None = None
        self._scoring: tuple[ScoringWorker, QThread] | None = None
        self._dropped_before = 0
        self._generations = itertools.count(1)  # never reset: a number is never given to two workers
        self._capture_gen = self._scoring_gen = 0  # 0: none running
        self._frame_size: tuple[int, int] | None = None  # (width, height) of the current source's frames

    @property
    def source(self) -> FrameSource | None:
        return self._capture[0].source if self._capture else None

    @property
    def is_running(self) -> bool:
        return self._capture is not None and alive(self._capture[1]) and self._capture[1].isRunning()

    @property
    def is_scoring(self) -> bool:
        return self._scoring is not None and alive(self._scoring[1]) and self._scoring[1].isRunning()

    @property
    def frame_size(self) -> tuple[int, int] | None:
        """(width, height) of the running source's frames, once its first frame has arrived."""
        return self._frame_size if self.is_running else None

    def set_frame_sink(self, sink: FrameSink | None) -> bool:
        """Feed every frame of the running source to ``sink`` on the capture thread (None: stop). A new
        source starts without one. False when no source runs."""
        if self._capture is None:
            return False
        self._capture[0].sink = sink
        return True

    @property
    def dropped(self) -> int:
        """Frames scoring skipped because a newer one came first, since the source started."""
        current = self._scoring[0].slot.dropped if self._scoring else 0
        return self._dropped_before + current

    def threads(self) -> list[QThread]:
        """The threads this controller runs now (for tests and diagnostics)."""
        return [pair[1] for pair in (self._capture, self._scoring) if pair is not None and alive(pair[1])]

    def start(self, source: FrameSource, pipeline: Pipeline | None) -> None:
        """Stop whatever runs, then stream ``source``; scoring runs only when there is a pipeline."""
        self._stop_all()
        self._dropped_before, self._frame_size = 0, None
        self._pipeline = pipeline
        if pipeline is not None:
            pipeline.reset_tracks()  # faces of the old source do not carry over
        worker = CaptureWorker(source)
        self._capture_gen = gen = next(self._generations)
        worker.frame_ready.connect(partial(self._relay_frame, gen))
        worker.errored.connect(partial(self._relay_source_error, gen))
        self._capture = (worker, start_in_thread(worker))
        self._start_scoring()
        self.state_changed.emit()

    def set_pipeline(self, pipeline: Pipeline | None) -> None:
        """Score with ``pipeline`` from now on; restarts scoring if it had stopped (e.g. after an error)."""
        if pipeline is not self._pipeline:
            self._stop_scoring()
            self._pipeline = pipeline
        if self.is_running and not self.is_scoring:
            self._start_scoring()

    def stop(self) -> None:
        """Stop both threads (scoring first: it waits on capture's frames) and close the source.

        Safe to call repeatedly; on return no thread of this controller runs.
        """
        if self._stop_all():
            self.state_changed.emit()

    def _stop_all(self) -> bool:
        """Stop both threads; True when a source was running."""
        self._stop_scoring()
        if self._capture is None:
            return False
        stop_thread(*self._capture)
        self._capture, self._capture_gen, self._frame_size = None, 0, None
        return True

    def _start_scoring(self) -> None:
        self._stop_scoring()
        if self._pipeline is None or self._capture is None:
            return
        slot = LatestFrameSlot()  # a stopped scorer closes its slot, so each scorer gets a fresh one
        self._capture[0].slot = slot
        worker = ScoringWorker(self._pipeline, slot)
        self._scoring_gen = gen = next(self._generations)
        worker.result_ready.connect(partial(self._relay_result, gen))
        worker.errored.connect(partial(self._relay_scoring_error, gen))
        self._scoring = (worker, start_in_thread(worker))

    def _stop_scoring(self) -> None:
        if self._scoring is None:
            return
        worker, thread = self._scoring
        if self._capture is not None:
            self._capture[0].slot = None
        stop_thread(worker, thread)
        self._dropped_before += worker.slot.dropped
        self._scoring, self._scoring_gen = None, 0

    # Relays run in the GUI thread (queued from the workers); ``gen`` tells whether the sender is current.
    def _relay_frame(self, gen: int, frame: Frame) -> None:
        if gen != self._capture_gen:
            return
        if self._frame_size is None:
            self._frame_size = (frame.image.shape[1], frame.image.shape[0])
            self.state_changed.emit()
        self.frame_ready.emit(frame)

    def _relay_result(self, gen: int, result: object) -> None:
        if gen == self._scoring_gen:
            self.result_ready.emit(result)

    def _relay_source_error(self, gen: int, exc: BaseException) -> None:
        if gen != self._capture_gen or self._capture is None:
            return
        name = self._capture[0].source.name
        self.stop()
        known = isinstance(exc, CameraUnavailableError)  # it says itself what happened to which source
        self.source_failed.emit(str(exc) if known else f"Capture from {name} failed: {type(exc).__name__}: {exc}")

    def _relay_scoring_error(self, gen: int, exc: BaseException) -> None:
        if gen == self._scoring_gen:
            self.scoring_failed.emit(f"Scoring stopped: {type(exc).__name__}: {exc}")
