"""MediaPipe BlazeFace face detection (model file shipped in ``assets/``) -> :class:`FaceBox`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .native_log import quiet_native_log

# The first detections run with native stderr captured (see __init__): LiteRT's once-per-process alignment
# warning comes with the first frame that lands unaligned, not always the first frame (a CI run saw it later)
QUIET_DETECTIONS = 20

# Boxes whose longer side is below this many pixels (of the frame searched) are not faces, to the app or
# to training. BlazeFace "finds" faces in about a quarter of 8x8 noise images, and in noise up to 64 px
# (boxes up to 24 px), which would enter training as faces. A real face that small has no print dots or
# screen moire left once its crop is scaled up to the model's input (128 px), and one 2 m from a 640x480
# webcam is still about 40 px wide. Training and the app share the limit, so the app never scores a face
# smaller than any the model was trained on.
MIN_FACE_PX = 32


@dataclass(frozen=True)
class FaceBox:
    """A face in pixel coordinates of the frame it was found in."""

    x: float
    y: float
    w: float
    h: float
    score: float = 1.0

    @property
    def center(self) -> tuple[float, float]:
        return self.x + self.w / 2, self.y + self.h / 2

    def iou(self, other: "FaceBox") -> float:
        """Intersection over union, used to follow a face from frame to frame."""
        ix = max(0.0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0.0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.w * self.h + other.w * other.h - inter
        return inter / union if union > 0 else 0.0


class DetectorError(RuntimeError):
    """The face detector model is missing or unreadable."""


class FaceDetector:
    """BlazeFace through the MediaPipe Tasks API, in VIDEO mode (timestamps must increase).

    ``detect`` takes a BGR frame as OpenCV gives it and leaves out boxes whose longer side is below
    ``min_face_px`` (see :data:`MIN_FACE_PX`). Use as a context manager or call :meth:`close`:
    MediaPipe's own finaliser fails at interpreter exit otherwise.
    """

    def __init__(
        self, model_path: Path, min_confidence: float = 0.5, max_faces: int = 8, min_face_px: float = MIN_FACE_PX
    ) -> None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise DetectorError(f"Face detector model not found: {model_path}")
        # Imported here so that modules which only need FaceBox do not pay mediapipe's import time.
        from mediapipe.tasks.python import BaseOptions, vision

        options = vision.FaceDetectorOptions(
            base_options=BaseOptions(model_asset_buffer=model_path.read_bytes()),
            running_mode=vision.RunningMode.VIDEO,
            min_detection_confidence=min_confidence,
        )
        try:
            with quiet_native_log():  # LiteRT's start-up INFO lines, on every command and worker
                self._detector = vision.FaceDetector.create_from_options(options)
        except (RuntimeError, ValueError) as exc:
            raise DetectorError(f"Cannot load face detector {model_path.name}: {exc}") from exc
        self._max_faces = max_faces
        self._min_face_px = float(min_face_px)
        self._last_ts = -1
        # LiteRT warns once per process when an input buffer is not aligned to its liking, which depends on
        # where the frame happens to lie in memory (most frames, not all): the first detections are kept quiet
        self._quiet_left = QUIET_DETECTIONS

    def detect(self, frame_bgr: np.ndarray, t_ms: int) -> list[FaceBox]:
        """Faces in ``frame_bgr`` no smaller than ``min_face_px``, largest first. ``t_ms`` is forced to
        increase, as MediaPipe requires."""
        import mediapipe as mp

        ts = max(int(t_ms), self._last_ts + 1)
        self._last_ts = ts
        rgb = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)
        if self._quiet_left > 0:
            self._quiet_left -= 1
            with quiet_native_log():
                result = self._detector.detect_for_video(image, ts)
        else:
            result = self._detector.detect_for_video(image, ts)
        boxes = [_to_facebox(d, frame_bgr.shape) for d in result.detections]
        # The longer side: a face cut by the frame's edge keeps its full height or width.
        boxes = [b for b in boxes if max(b.w, b.h) >= self._min_face_px]
        boxes.sort(key=lambda b: b.w * b.h, reverse=True)
        return boxes[: self._max_faces]

    def close(self) -> None:
        if self._detector is not None:
            with quiet_native_log():  # "DestroyAccelerator"
                self._detector.close()
            self._detector = None

    def __enter__(self) -> "FaceDetector":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_facebox(detection: Any, shape: tuple[int, ...]) -> FaceBox:
    bb = detection.bounding_box
    h, w = shape[:2]
    x0, y0 = max(0, bb.origin_x), max(0, bb.origin_y)
    x1, y1 = min(w, bb.origin_x + bb.width), min(h, bb.origin_y + bb.height)
    score = detection.categories[0].score if detection.categories else 1.0
    return FaceBox(float(x0), float(y0), float(x1 - x0), float(y1 - y0), float(score))
