"""Frame sources: a webcam or a video file standing in for one (tests, demo, benchmark)."""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Iterator, Protocol

import cv2
import numpy as np

from .files import opencv_path


@contextlib.contextmanager
def quiet_opencv() -> Iterator[None]:
    """OpenCV and FFmpeg print their own warnings for a missing camera or a file that is not a video;
    the error we raise says it once, clearly."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET; read when FFmpeg is first used
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


class CameraUnavailableError(RuntimeError):
    """No camera at that index, a camera that stopped delivering frames, or an unreadable video."""


class FrameSource(Protocol):
    name: str
    fps: float
    paced: bool  # True: read() returns at once, the caller paces to ``fps`` (files); False: read() blocks

    def read(self) -> np.ndarray:
        """Next BGR frame; raises :class:`CameraUnavailableError` when no more can come."""

    def close(self) -> None: ...


class CameraSource:
    """An OpenCV camera. A few failed reads in a row mean the camera is gone (unplugged)."""

    paced = False

    def __init__(self, index: int, max_failures: int = 10) -> None:
        self.name = f"camera {index}"
        with quiet_opencv():  # no camera there: our message says so, once
            self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise CameraUnavailableError(f"No camera found at index {index}.")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else 30.0
        self._max_failures = max_failures

    def read(self) -> np.ndarray:
        for _ in range(self._max_failures):
            ok, frame = self._cap.read()
            if ok and frame is not None:
                return frame
            time.sleep(0.01)
        raise CameraUnavailableError(f"{self.name} stopped delivering frames (unplugged?).")

    def close(self) -> None:
        self._cap.release()


class VideoFileSource:
    """A video file played at its own frame rate, looping by default (a stand-in camera)."""

    paced = True

    def __init__(self, path: Path | str, loop: bool = True) -> None:
        self.path = Path(path)
        self.name = self.path.name
        if not self.path.is_file():
            raise CameraUnavailableError(f"Video file not found: {self.path}")
        # a non-UTF-8 name would crash OpenCV; its binding takes the name's bytes, which cv2's stubs omit
        self._cap = cv2.VideoCapture(opencv_path(self.path))  # type: ignore[arg-type]
        ok, first = self._cap.read() if self._cap.isOpened() else (False, None)
        if not ok:
            self._cap.release()
            raise CameraUnavailableError(f"Cannot read video {self.path.name}: not a video OpenCV can decode.")
        self._pending: np.ndarray | None = first
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else 30.0
        self.loop = loop

    def read(self) -> np.ndarray:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        ok, frame = self._cap.read()
        if not ok and self.loop:
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self._cap.read()
        if not ok:
            raise CameraUnavailableError(f"End of video {self.name}.")
        return frame

    def close(self) -> None:
        self._cap.release()


def open_source(spec: str | int, loop: bool = True) -> FrameSource:
    """A camera index (``0`` or ``"0"``) or a video file path."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CameraSource(int(spec))
    return VideoFileSource(spec, loop=loop)
