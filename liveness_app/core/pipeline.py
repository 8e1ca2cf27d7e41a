"""One frame in, one :class:`FrameResult` out: detect -> crop -> score (+ Grad-CAM) -> smooth.

The GUI's scoring worker and the benchmark both drive this class. Settings (model, threshold, heatmap)
may be changed from another thread between frames: each frame works on a snapshot taken under a lock,
so a model switch never tears a frame and never stops the stream.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import paths
from .backends.factory import LoadedModel
from .face import FaceBox, FaceDetector
from .preprocess import crop_box, preprocess_face, to_batch
from .scores import check_scores
from .smoothing import FaceTracker, SmoothingConfig, Verdict

__all__ = ["FaceResult", "FrameResult", "LoadedModel", "Pipeline", "open_pipeline"]  # LoadedModel: from .backend


@dataclass
class FaceResult:
    box: FaceBox
    track_id: int
    score: float  # this frame's P(live)
    smoothed: float  # moving average over the track's recent frames
    verdict: Verdict
    crop: tuple[int, int, int, int]  # the square the model saw, frame pixels (may exceed the frame)
    heatmap: np.ndarray | None = None  # Grad-CAM in [0, 1] over ``crop``, feature resolution


@dataclass
class FrameResult:
    t_ms: int
    faces: list[FaceResult]
    timings: dict[str, float]  # ms per stage
    model_name: str
    threshold: float
    frame: np.ndarray | None = None  # the frame these results belong to
    frame_index: int = -1  # that frame's number in its stream (core.realtime.Frame.index); -1: not from a stream
    captured_at: float = 0.0  # perf_counter() when the frame was read
    latency_ms: float = 0.0  # capture -> result ready
    extra: dict = field(default_factory=dict)


class Pipeline:
    """Face liveness on single frames, with per-face tracking and smoothing."""

    def __init__(
        self,
        detector: FaceDetector,
        model: LoadedModel,
        smoothing: SmoothingConfig | None = None,
        heatmap: bool = False,
        threshold: float | None = None,
    ) -> None:
        self._detector = detector
        self._lock = threading.Lock()
        self._model = model
        self._threshold = model.meta.threshold if threshold is None else float(threshold)
        self._heatmap = heatmap
        self._tracker = FaceTracker(smoothing or SmoothingConfig())

    @property
    def model(self) -> LoadedModel:
        return self._model

    @property
    def detector(self) -> FaceDetector:
        return self._detector

    @property
    def threshold(self) -> float:
        return self._threshold

    def set_model(self, model: LoadedModel, threshold: float | None = None) -> None:
        """Swap the model between frames; the threshold becomes the new model's calibrated one."""
        with self._lock:
            self._model = model
            self._threshold = model.meta.threshold if threshold is None else float(threshold)
            self._tracker.reset()

    def set_threshold(self, threshold: float) -> None:
        with self._lock:
            self._threshold = float(threshold)

    def set_heatmap(self, enabled: bool) -> None:
        with self._lock:
            self._heatmap = bool(enabled)

    def reset_tracks(self) -> None:
        with self._lock:
            self._tracker.reset()

    def process(self, frame: np.ndarray, t_ms: int) -> FrameResult:
        with self._lock:
            model, threshold, heatmap = self._model, self._threshold, self._heatmap
        spec = model.meta.preprocessing
        t0 = time.perf_counter()
        boxes = self._detector.detect(frame, t_ms)
        t1 = time.perf_counter()
        timings = {"detect": (t1 - t0) * 1e3, "crop": 0.0, "model": 0.0, "gradcam": 0.0}
        faces: list[FaceResult] = []
        if boxes:
            batch = to_batch([preprocess_face(frame, b, spec) for b in boxes])
            timings["crop"] = (time.perf_counter() - t1) * 1e3
            out = model.scorer(batch, with_cam=heatmap, threshold=threshold)
            check_scores(out.scores, len(boxes))  # ScoreRangeError: the scoring worker stops and says why
            timings.update(out.timings)
            with self._lock:
                ids = self._tracker.assign(boxes)
                smoothed = [self._tracker.update(i, s, threshold) for i, s in zip(ids, out.scores)]
            for k, box in enumerate(boxes):
                faces.append(
                    FaceResult(
                        box=box,
                        track_id=ids[k],
                        score=float(out.scores[k]),
                        smoothed=smoothed[k][0],
                        verdict=smoothed[k][1],
                        crop=crop_box(box, spec.crop_margin),
                        heatmap=None if out.cams is None else out.cams[k],
                    )
                )
        else:
            with self._lock:
                self._tracker.assign([])
        return FrameResult(
            t_ms=t_ms, faces=faces, timings=timings, model_name=model.meta.name, threshold=threshold, frame=frame
        )


def open_pipeline(
    model_path: Path,
    device_preference: str = "auto",
    detector_path: Path | None = None,
    heatmap: bool = False,
    backend: str = "auto",
) -> Pipeline:
    """Device + detector + model -> pipeline: what the benchmark, the soak test and the self-test run (the
    GUI session keeps one detector and swaps :meth:`LoadedModel.open` models into its pipeline). The
    caller closes ``pipeline.detector``. Raises ModelLoadError or DetectorError."""
    model = LoadedModel.open(model_path, device_preference, backend)
    return Pipeline(FaceDetector(detector_path or paths.default_detector_path()), model, heatmap=heatmap)
