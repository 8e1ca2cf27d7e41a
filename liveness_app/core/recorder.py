"""Recorded, labelled sessions for training: :class:`Recorder` writes one session's video on its own thread
and enters it in the manifest kept by :class:`~.session_store.SessionStore`.

Videos are Motion-JPEG ``.avi``: every frame stands alone, so a file cut short by a crash or a full disk
stays readable up to its last frame (an MP4 without its index would not). A session is entered as
``"recording"`` before its first frame and set ``"complete"`` when it stops (see :mod:`.session_store`
for the recovery of one a crash left behind).
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .session_store import RecorderError, SessionStore, count_frames
from .sessions import LIVE, new_session, settle

MIN_FREE_BYTES = 200 * 1024 * 1024  # stop recording before the disk is completely full


def load_labels(path: Path) -> list[dict[str, Any]]:
    """Session labels from ``assets/labels.json`` (data, not code: users may add their own); ValueError
    (or OSError, KeyError, TypeError) when the file cannot be used."""
    try:
        labels = json.loads(Path(path).read_text(encoding="utf-8"))["labels"]
    except (RecursionError, MemoryError) as exc:  # deep nesting, a huge value: not JSONDecodeError
        raise ValueError(f"{path}: cannot be decoded ({type(exc).__name__})") from exc
    if not isinstance(labels, list) or not all(
        isinstance(lab, dict) and isinstance(lab.get("name"), str) and lab["name"] for lab in labels
    ):
        raise ValueError(f"{path}: 'labels' must be a list of objects with a 'name'")
    if not any(lab["name"] == LIVE for lab in labels):
        raise ValueError(f"{path}: the label list needs a 'live' entry")
    return labels


class Recorder:
    """Writes one session on its own thread; frames come from the capture thread and never block it."""

    def __init__(
        self,
        store: SessionStore,
        label: str,
        subject: str,
        camera: str,
        fps: float,
        size: tuple[int, int],
        notes: str = "",
        min_free_bytes: int = MIN_FREE_BYTES,
    ) -> None:
        if shutil.disk_usage(store.root).free < min_free_bytes:
            raise RecorderError(f"not enough free disk space in {store.root} to record")
        self.store, self.min_free = store, min_free_bytes
        # date, time and milliseconds first: file names sort in capture order (the one-person split uses it)
        sid = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3] + "-" + uuid.uuid4().hex[:6]
        self.session: dict[str, Any] = new_session(sid, label, subject, camera, size, fps, notes)
        self.path = store.root / self.session["file"]
        self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter.fourcc(*"MJPG"), float(fps), tuple(size))
        if not self._writer.isOpened():
            raise RecorderError(f"cannot open a video file for writing in {store.root}")
        try:
            store.upsert(self.session)  # entered before the first frame: a crash leaves a trace to recover
        except BaseException:
            self._writer.release()  # no orphan video without a manifest entry
            self.path.unlink(missing_ok=True)
            raise
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=max(8, int(fps * 4)))
        self._closed = False  # the writer thread stopped writing (disk almost full)
        self.error: str | None = None
        self.started = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def write(self, frame: np.ndarray, block: bool = False) -> None:
        """Queue a frame. Live capture never blocks: if the disk cannot keep up, the frame is counted as
        dropped. ``block=True`` (offline writing, benchmarks) waits for the writer instead."""
        if self._closed:
            return
        try:
            self._queue.put(frame, block=block)
        except queue.Full:
            self.session["dropped_frames"] += 1

    def _run(self) -> None:
        w, h = self.session["width"], self.session["height"]
        while (frame := self._queue.get()) is not None:
            if self._closed:
                continue
            if self.session["frames"] % 30 == 0 and shutil.disk_usage(self.store.root).free < self.min_free:
                self._close_file()
                self.error = "recording stopped: the disk is almost full"  # set last: the file is settled
                continue
            if frame.shape[1] != w or frame.shape[0] != h:
                frame = cv2.resize(frame, (w, h))
            self._writer.write(frame)
            self.session["frames"] += 1
        if not self._closed:
            self._writer.release()

    def _close_file(self) -> None:
        """Finish the file early and count the frames that really decode: a write on a disk that filled
        up fails silently in OpenCV, so the running count may be ahead of the file."""
        self._closed = True
        self._writer.release()
        self.session["frames"] = min(self.session["frames"], count_frames(self.path))

    def stop(self) -> dict[str, Any]:
        """Finish the file and mark the session complete; returns the manifest entry."""
        self._queue.put(None)
        self._thread.join()
        s = settle(self.session, self.session["frames"])
        if self.error:
            s["notes"] = (s["notes"] + " | " if s["notes"] else "") + self.error
        self.store.upsert(s)
        return s
