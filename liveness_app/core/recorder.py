"""Recorded, labelled sessions for training: video files plus one atomically written manifest.

Layout (read by :func:`training.dataset.load_recordings`)::

    recordings/manifest.json   {"version": 1, "sessions": [{id, file, label, attack_type, subject, camera,
                                 width, height, fps, duration_s, frames, date, notes, status}, ...]}
    recordings/<id>.avi        Motion-JPEG: every frame stands alone, so a file cut short by a crash or a
                                 full disk stays readable up to its last frame (an MP4 without its index
                                 would not)

A session is entered as ``"recording"`` before its first frame and set ``"complete"`` when it stops;
:meth:`SessionStore.recover` turns a ``"recording"`` left by a crash into ``"complete"`` (its readable
frames counted, marked ``recovered``) or ``"incomplete"`` when nothing can be read.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np

MIN_FREE_BYTES = 200 * 1024 * 1024  # stop recording before the disk is completely full


class RecorderError(RuntimeError):
    """Recording cannot start or continue (folder not writable, disk full, ...)."""


def load_labels(path: Path) -> list[dict[str, Any]]:
    """Session labels from ``assets/labels.json`` (data, not code: users may add their own)."""
    labels = json.loads(Path(path).read_text())["labels"]
    if not any(lab["name"] == "live" for lab in labels):
        raise ValueError(f"{path}: the label list needs a 'live' entry")
    return labels


class SessionStore:
    """The manifest of recorded sessions; every change is written atomically (temp file + rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / "manifest.json"
        self._lock = threading.Lock()

    def sessions(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        return json.loads(self.path.read_text())["sessions"]

    def _write(self, sessions: list[dict[str, Any]]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump({"version": 1, "sessions": sessions}, f, indent=1)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise RecorderError(f"cannot save the session list ({exc.strerror or exc}); the previous one is kept") from exc

    def upsert(self, session: dict[str, Any]) -> None:
        with self._lock:
            sessions = [s for s in self.sessions() if s["id"] != session["id"]] + [session]
            self._write(sessions)

    def relabel(self, session_id: str, label: str, subject: str | None = None) -> None:
        with self._lock:
            sessions = self.sessions()
            for s in sessions:
                if s["id"] == session_id:
                    s["label"], s["attack_type"] = label, "" if label == "live" else label
                    if subject is not None:
                        s["subject"] = subject
            self._write(sessions)

    def delete(self, session_id: str) -> None:
        """Remove a session and its video file."""
        with self._lock:
            sessions = self.sessions()
            for s in sessions:
                if s["id"] == session_id:
                    (self.root / s["file"]).unlink(missing_ok=True)
            self._write([s for s in sessions if s["id"] != session_id])

    def recover(self) -> list[str]:
        """Settle sessions a crash left in ``"recording"``; returns their ids."""
        settled = []
        for s in self.sessions():
            if s.get("status") != "recording":
                continue
            frames = count_frames(self.root / s["file"])
            s.update(frames=frames, duration_s=round(frames / s["fps"], 2) if s.get("fps") else 0.0,
                     status="complete" if frames > 0 else "incomplete", recovered=True)
            self.upsert(s)
            settled.append(s["id"])
        return settled


def count_frames(path: Path) -> int:
    """Frames that can actually be decoded (the header's count is unreliable after a crash)."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.isOpened() and cap.grab():
        n += 1
    cap.release()
    return n


class Recorder:
    """Writes one session on its own thread; frames come from the capture thread and never block it."""

    def __init__(self, store: SessionStore, label: str, subject: str, camera: str, fps: float,
                 size: tuple[int, int], notes: str = "", min_free_bytes: int = MIN_FREE_BYTES) -> None:
        if shutil.disk_usage(store.root).free < min_free_bytes:
            raise RecorderError(f"not enough free disk space in {store.root} to record")
        self.store, self.min_free = store, min_free_bytes
        sid = datetime.now().strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        w, h = size
        self.session: dict[str, Any] = {
            "id": sid, "file": f"{sid}.avi", "label": label, "attack_type": "" if label == "live" else label,
            "subject": subject, "camera": camera, "width": w, "height": h, "fps": float(fps), "duration_s": 0.0,
            "frames": 0, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"), "notes": notes,
            "status": "recording", "dropped_frames": 0}
        self._writer = cv2.VideoWriter(str(store.root / self.session["file"]), cv2.VideoWriter_fourcc(*"MJPG"),
                                       float(fps), (w, h))
        if not self._writer.isOpened():
            raise RecorderError(f"cannot open a video file for writing in {store.root}")
        store.upsert(self.session)  # entered before the first frame: a crash leaves a trace to recover
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=int(fps * 4))
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
        try:
            self._queue.put(frame, block=block)
        except queue.Full:
            self.session["dropped_frames"] += 1

    def _run(self) -> None:
        w, h = self.session["width"], self.session["height"]
        while (frame := self._queue.get()) is not None:
            if self.error:
                continue
            if self.session["frames"] % 30 == 0 and shutil.disk_usage(self.store.root).free < self.min_free:
                self.error = "recording stopped: the disk is almost full"
                continue
            if frame.shape[1] != w or frame.shape[0] != h:
                frame = cv2.resize(frame, (w, h))
            self._writer.write(frame)
            self.session["frames"] += 1

    def stop(self) -> dict[str, Any]:
        """Finish the file and mark the session complete; returns the manifest entry."""
        self._queue.put(None)
        self._thread.join()
        self._writer.release()
        s = self.session
        s["duration_s"] = round(s["frames"] / s["fps"], 2)
        s["status"] = "complete" if s["frames"] > 0 else "incomplete"
        if self.error:
            s["notes"] = (s["notes"] + " | " if s["notes"] else "") + self.error
        self.store.upsert(s)
        return s
