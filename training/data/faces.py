"""The frames of a sample and the face in each: what every per-frame consumer of a sample starts from.

:func:`sample_faces` reads an image or up to ``frames_per_video`` evenly spaced frames of a video and finds
the largest face in each (a tight, pre-cropped face is its own box). The crop cache cuts the model's crops
from these, and the teachers' runner (:mod:`training.teachers.scores`) cuts each teacher's own crop from the
same frames and boxes, so that the i-th teacher score of a sample belongs to its i-th cached crop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from liveness_app.core.face import MIN_FACE_PX, FaceBox, FaceDetector
from liveness_app.core.files import check_frame_size, display_path, opencv_path, read_image
from liveness_app.core.preprocess import face_box_in_crop
from training.data.samples import Sample


def _read_at(path: Path, wanted: set[int]) -> tuple[list[np.ndarray], int, bool]:
    """Frames at ``wanted`` indices, read sequentially (seeking is inexact for many codecs).
    Returns the frames, the frames seen, and whether the last wanted index was reached."""
    cap = _open_video(path)
    try:
        frames, index, last = [], 0, max(wanted)
        while index <= last and cap.grab():
            if index in wanted:
                ok, frame = cap.retrieve()
                if ok and frame is not None:
                    # Frame sizes may change mid-stream (each MJPEG frame has its own header).
                    check_frame_size(frame.shape[1], frame.shape[0], f"a frame of {display_path(path.name)}")
                    frames.append(frame)
            index += 1
        return frames, index, index > last
    finally:
        cap.release()  # also on errors: an open capture holds a file handle (and locks it on Windows)


def _open_video(path: Path) -> cv2.VideoCapture:
    """An open capture of ``path`` whose declared frame size is within the limit; OSError otherwise
    (the capture released). A name that is not UTF-8 is passed as its bytes (:func:`opencv_path`)."""
    cap = cv2.VideoCapture(opencv_path(path))  # type: ignore[arg-type]  # the binding takes bytes; its stubs omit them
    try:
        if not cap.isOpened():
            raise OSError(f"cannot open video {display_path(path.name)}")
        # The size the container declares, read before any frame is decoded.
        check_frame_size(
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), display_path(path.name)
        )
    except BaseException:
        cap.release()
        raise
    return cap


def _spaced(total: int, count: int) -> set[int]:
    return {int(i) for i in np.linspace(0, max(total - 1, 0), num=max(1, min(count, total))).round()}


def video_frames(path: Path, count: int) -> list[np.ndarray]:
    """Up to ``count`` frames evenly spaced over a video. The container's frame count may be wrong:
    missing, it is counted; too high, a second pass spaces the frames over the frames really there."""
    cap = _open_video(path)
    reported = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    total = reported if reported > 0 else _read_at(path, {1 << 30})[1]
    frames, seen, complete = _read_at(path, _spaced(total, count))
    if not complete and seen > 0:
        frames, _, _ = _read_at(path, _spaced(seen, count))
    if not frames:
        raise OSError(f"no decodable frames in {display_path(path.name)}")
    return frames


class Detectors:
    """One FaceDetector per worker thread, made on first use (a build served from the index loads none)
    and all closed on exit. Timestamps step 1 s per frame: VIDEO mode needs them to increase, and the
    frames of different samples are unrelated anyway."""

    def __init__(self, model_path: Path) -> None:
        self._path = model_path
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[FaceDetector] = []

    def largest_face(self, frame: np.ndarray) -> FaceBox | None:
        state = getattr(self._local, "state", None)
        if state is None:
            detector = FaceDetector(self._path, min_face_px=MIN_FACE_PX)  # the value in the settings hash
            with self._lock:
                self._all.append(detector)
            state = self._local.state = [detector, 0]
        state[1] += 1000
        faces = state[0].detect(frame, state[1])  # largest first
        return faces[0] if faces else None

    def __enter__(self) -> "Detectors":
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            for detector in self._all:
                detector.close()
            self._all.clear()


@dataclass
class SampleFaces:
    """The frames of one sample that show a face, with the face's box; ``no_face`` frames had none;
    ``reason`` says why a sample gave nothing (empty when it gave faces)."""

    faces: list[tuple[np.ndarray, FaceBox]] = field(default_factory=list)
    no_face: int = 0
    reason: str = ""


def sample_faces(sample: Sample, detectors: Detectors, frames_per_video: int) -> SampleFaces:
    """The faces of ``sample``: unreadable files give a reason, never an exception."""
    if not sample.path.is_file():  # a FIFO or a device would block the reader for good
        return SampleFaces(reason="unreadable: not a regular file")
    try:
        frames = [read_image(sample.path)] if sample.kind == "image" else video_frames(sample.path, frames_per_video)
    except (OSError, cv2.error) as exc:
        return SampleFaces(reason=f"unreadable: {exc}")
    out = SampleFaces()
    for frame in frames:
        # A tight crop is a face, just as a detector box is: it gets the same margin (padded black,
        # like a face at the edge of a frame), so the model sees faces at the scale the app shows it.
        box = face_box_in_crop(frame.shape, 0.0) if sample.precropped else detectors.largest_face(frame)
        if box is None:
            out.no_face += 1
        else:
            out.faces.append((frame, box))
    if not out.faces:
        out.reason = f"no face found in {len(frames)} frame(s)"
    return out
