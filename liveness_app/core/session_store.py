"""The manifest of recorded sessions, kept by :class:`SessionStore`; the videos are written by :mod:`.recorder`.

The manifest's layout and its validation live in :mod:`.sessions`, reading and writing the file in
:mod:`.manifest_file` (both also used by :func:`training.data.samples.load_recordings`).

A session is entered as ``"recording"`` before its first frame and set ``"complete"`` when it stops;
:meth:`SessionStore.recover` turns a ``"recording"`` left by a crash into ``"complete"`` (its readable
frames counted, marked ``recovered``) or ``"incomplete"`` when nothing can be read. Only regular files are
ever opened or deleted: a FIFO, a folder or a device in the folder is never read (a FIFO would block).
"""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import cv2

from .files import atomic_write, opencv_path
from .manifest_file import manifest_text, read_manifest
from .sessions import (
    MANIFEST_NAME,
    RECORDING,
    InvalidEntry,
    Manifest,
    ManifestError,
    attack_type_of,
    file_kind,
    session_path,
    settle,
)

# Recovery saves what it settled at least this often. A crash loses no session (one not saved yet is still
# "recording" and is counted again at the next start), only the counting; one save per session made
# recovery quadratic (every save rewrites the whole list: 400 sessions took a minute).
RECOVER_SAVE_EVERY_S = 10.0
_ABORT_CHECK_FRAMES = 64  # frames counted between two looks at the abort flag


class _Aborted(Exception):
    """Frame counting was told to stop (the window is closing)."""


class RecorderError(RuntimeError):
    """Recording cannot start or continue (folder not writable, disk full, unreadable manifest, ...)."""


class SessionStore:
    """The manifest of recorded sessions; every change is written atomically (:func:`.files.atomic_write`).

    Reads go through :func:`.manifest_file.read_manifest`: :meth:`sessions` are the valid entries,
    :meth:`invalid` the refused ones. A manifest that cannot be read at all raises
    :class:`~.sessions.ManifestError` from reads and :class:`RecorderError` from writes, and is never
    overwritten; :meth:`set_aside` renames it so that recording can start a new list.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.path = self.root / MANIFEST_NAME
        self._lock = threading.RLock()

    def read(self) -> Manifest:
        return read_manifest(self.root)

    def sessions(self) -> list[dict[str, Any]]:
        """Valid sessions; ManifestError when the manifest cannot be read."""
        return self.read().sessions

    def invalid(self) -> list[InvalidEntry]:
        return self.read().invalid

    def file_of(self, session: dict[str, Any]) -> Path:
        """The session's video, guaranteed inside the recordings folder (ValueError otherwise)."""
        return session_path(self.root, session.get("file"))

    def _writable(self) -> Manifest:
        try:
            return self.read()
        except ManifestError as exc:
            raise RecorderError(f"the session list cannot be read, so it is left untouched: {exc}") from exc

    def _write(self, sessions: list[dict[str, Any]], invalid: list[InvalidEntry]) -> None:
        try:
            text = manifest_text(sessions, invalid)
        except (ValueError, RecursionError) as exc:  # a refused entry the encoder cannot write back as it was
            raise RecorderError(
                f"cannot save the session list: an entry cannot be written back ({exc}); the previous one is kept"
            ) from exc
        try:
            with atomic_write(self.path, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            raise RecorderError(
                f"cannot save the session list ({exc.strerror or exc}); the previous one is kept"
            ) from exc

    def upsert(self, session: dict[str, Any]) -> None:
        with self._lock:
            current = self._writable()
            sessions = [s for s in current.sessions if s["id"] != session["id"]] + [session]
            self._write(sessions, current.invalid)

    def relabel(self, session_id: str, label: str, subject: str | None = None) -> None:
        with self._lock:
            current = self._writable()
            for s in current.sessions:
                if s["id"] == session_id:
                    s["label"], s["attack_type"] = label, attack_type_of(label)
                    if subject is not None:
                        s["subject"] = subject
            self._write(current.sessions, current.invalid)

    def delete(self, session_id: str) -> Path | None:
        """Remove a valid session and its video file (only ever a regular file inside the folder); returns
        the file removed, or None when it was already gone (the entry is removed all the same).

        A file that is not a regular file (a FIFO, a folder, a device) is never removed: RecorderError
        says what it is, and the session stays listed. Refused entries cannot be deleted from here."""
        with self._lock:
            current = self._writable()
            session = next((s for s in current.sessions if s["id"] == session_id), None)
            if session is None:
                raise RecorderError(f"no valid session {session_id!r} to delete")
            path = self.file_of(session)
            kind = file_kind(path)
            if kind not in ("file", "missing"):
                raise RecorderError(
                    f"nothing was deleted: {path} is {kind}, not a video file; remove it yourself if it should go"
                )
            if kind == "file":
                path.unlink()
            self._write([s for s in current.sessions if s["id"] != session_id], current.invalid)
            return path if kind == "file" else None

    def set_aside(self) -> Path:
        """Rename an unreadable manifest to ``manifest.json.unreadable-<time>`` (kept, never deleted)."""
        with self._lock:
            target = self.root / f"{MANIFEST_NAME}.unreadable-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
            try:
                os.replace(self.path, target)
            except OSError as exc:
                raise RecorderError(f"cannot rename {self.path}: {exc.strerror or exc}") from exc
            return target

    def recover(self, abort: threading.Event | None = None, save_every_s: float = RECOVER_SAVE_EVERY_S) -> list[str]:
        """Settle sessions a crash left in ``"recording"``; returns the ids settled and saved.

        Only regular files inside the folder are opened (a FIFO or a device would block the reader). The
        list is written once at the end, and every ``save_every_s`` seconds on the way. ``abort`` (set
        from another thread: the window closing) is looked at between sessions and while counting: what
        was settled is saved, the rest stays "recording" for the next start. Slow on long videos, so the
        app calls it off the GUI thread.
        """
        counted: dict[str, int] = {}  # settled but not saved yet: id -> readable frames
        saved: list[str] = []
        last_save = time.monotonic()
        for s in self._writable().sessions:
            if abort is not None and abort.is_set():
                break
            if s.get("status") != RECORDING:
                continue
            path = self.file_of(s)
            try:
                counted[s["id"]] = count_frames(path, abort) if file_kind(path) == "file" else 0
            except _Aborted:
                break
            if time.monotonic() - last_save >= save_every_s:
                saved += self._settle(counted)
                counted, last_save = {}, time.monotonic()
        return saved + self._settle(counted)

    def _settle(self, counted: dict[str, int]) -> list[str]:
        """Write the frame counts of recovered sessions into the current list (one read, one write); a
        session deleted or finished meanwhile is left as it now is. Returns the ids settled."""
        if not counted:
            return []
        with self._lock:
            current = self._writable()
            settled: list[str] = []
            for s in current.sessions:
                if s["id"] in counted and s["status"] == RECORDING:
                    settle(s, counted[s["id"]])["recovered"] = True
                    settled.append(s["id"])
            self._write(current.sessions, current.invalid)
            return settled


def count_frames(path: Path, abort: threading.Event | None = None) -> int:
    """Frames that can actually be decoded (the header's count is unreliable after a crash); raises
    :class:`_Aborted` when ``abort`` is set meanwhile (a long video takes seconds to count)."""
    # a name that is not UTF-8 would crash OpenCV's binding; it takes the bytes, which cv2's stubs omit
    cap = cv2.VideoCapture(opencv_path(path))  # type: ignore[arg-type]
    n = 0
    try:
        while cap.isOpened() and cap.grab():
            n += 1
            if abort is not None and n % _ABORT_CHECK_FRAMES == 0 and abort.is_set():
                raise _Aborted(str(path))
    finally:
        cap.release()
    return n
