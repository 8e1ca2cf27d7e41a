"""Recording as a service: (label, subject, notes) -> a session written from the running source.

Whoever records goes through :class:`RecorderService`: the Recording panel's Record button and the "Adapt to
my camera" dialog call :meth:`~RecorderService.start` and :meth:`~RecorderService.stop` and listen to its
signals; neither drives the other's widgets. The Recording panel owns it and shows what it reports (why a
recording was refused or failed), whoever started it.

Frames go from the capture thread straight to :class:`core.recorder.Recorder` through the controller's frame
sink (they never cross to the GUI thread for recording); ``write`` only queues: a slow disk drops frames
(counted), it never stalls the video. A recording stops when asked, when the source changes or fails, when
the disk fills up, and at :meth:`~RecorderService.shutdown` (the window closing).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from ..core.camera import FrameSource
from ..core.recorder import Recorder
from ..core.session_store import RecorderError, SessionStore
from .workers import StreamController

TICK_MS = 200  # how often a recording is checked (disk full, source gone) and its progress reported


def _no_blocker() -> str:
    return ""


class RecorderService(QObject):
    """Records one session at a time from ``controller``'s running source into ``store``.

    ``labels`` are the label names a session may have (``assets/labels.json``); ``blocker()`` says why the
    owner cannot take a recording now ("" when it can), e.g. the Recording panel while its session list
    cannot be read. ``store`` and ``labels`` may be missing (None, empty): recording is then refused, with
    the reason, and the rest of the app runs on.
    """

    started = pyqtSignal(str)  # session id, once its first frame is written
    finished = pyqtSignal(dict)  # the finished manifest entry
    refused = pyqtSignal(str)  # why a recording cannot start now (nothing was attempted)
    failed = pyqtSignal(str)  # a recording could not start or finish, or stopped itself: text for the user
    changed = pyqtSignal()  # a recording began, ended or could not begin: controls and session list are stale
    progress = pyqtSignal(float, int, int)  # seconds recorded, frames written, frames dropped
    message = pyqtSignal(str, int)  # status-bar text, milliseconds to show it
    source_changed = pyqtSignal()  # a source started, gave its first frame or stopped: :attr:`source` may differ

    def __init__(
        self,
        controller: StreamController,
        store: SessionStore | None,
        labels: Sequence[str],
        blocker: Callable[[], str] = _no_blocker,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._controller, self.store, self.labels = controller, store, tuple(labels)
        self._blocker = blocker
        self.recorder: Recorder | None = None
        self._source: FrameSource | None = None  # the source being recorded
        self._announced = False  # started was emitted for the current session
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        controller.state_changed.connect(self._on_stream_changed)
        controller.source_failed.connect(lambda _message: self.stop("the source stopped"))

    @property
    def is_recording(self) -> bool:
        return self.recorder is not None

    @property
    def source(self) -> FrameSource | None:
        """The running source: what a recording started now would record."""
        return self._controller.source

    @property
    def ready(self) -> bool:
        """A source has given a frame, and there is a folder and labels to record with."""
        return self._controller.frame_size is not None and self.store is not None and bool(self.labels)

    def cannot_record(self, label: str, subject: str) -> str:
        """Why a session of ``label`` for ``subject`` cannot start now ("" when it can)."""
        if self._controller.frame_size is None:
            return "no video source is running"
        if self.store is None:
            return "the recordings folder is not available"
        if not self.labels:
            return "no labels (assets/labels.json could not be read)"
        if blocked := self._blocker():
            return blocked
        if not subject.strip():
            return "enter a subject id (training keeps each subject in one split)"
        if label not in self.labels:
            return f"the label {label!r} is not in assets/labels.json"
        return ""

    def start(self, label: str, subject: str, notes: str = "") -> bool:
        """Start a session on the running source; from now on its frames go to the recorder. False when it
        could not start (``refused`` or ``failed`` said why)."""
        if problem := self.cannot_record(label, subject):
            self.refused.emit(problem)
            return False
        assert self.store is not None  # cannot_record says so otherwise
        source, size = self._controller.source, self._controller.frame_size
        assert source is not None and size is not None  # it gave a frame (cannot_record says so otherwise)
        try:
            recorder = Recorder(
                self.store, label, subject.strip(), camera=source.name, fps=source.fps, size=size, notes=notes.strip()
            )
        except (RecorderError, OSError, ValueError) as exc:
            self.failed.emit(f"Recording could not start: {exc}")
            self.changed.emit()
            return False
        self.recorder, self._source, self._announced = recorder, source, False
        self._controller.set_frame_sink(recorder.write)
        self._timer.start()
        self.changed.emit()  # the new session is listed as "recording"
        self._tick()
        return True

    def stop(self, reason: str = "") -> dict[str, Any] | None:
        """Finish the session (safe to call when idle); returns its manifest entry. ``reason`` (why it
        stopped, when not asked to) goes into the status-bar message."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return None
        if self._controller.source is self._source:
            self._controller.set_frame_sink(None)
        self._source = None
        self._timer.stop()
        problem = ""
        try:
            session = recorder.stop()
        except (RecorderError, OSError) as exc:
            problem, session = f"The recording could not be finished: {exc}", recorder.session
        self.changed.emit()
        if problem:
            self.failed.emit(problem)
        why = f" ({reason})" if reason else ""
        self.message.emit(
            f"Recorded {session['frames']} frames of '{session['label']}' for {session['subject']}{why}", 10000
        )
        if recorder.error:
            self.failed.emit(f"{recorder.error.capitalize()}. {session['frames']} frames were saved.")
        self.finished.emit(session)
        return session

    def shutdown(self) -> None:
        """The window is closing: finish the recording."""
        self.stop("the window closed")

    def _on_stream_changed(self) -> None:
        """A source started, gave its first frame or stopped: a recording ends with its source."""
        if self.recorder is not None and self._controller.source is not self._source:
            self.stop("the source changed" if self._controller.source else "the source stopped")
        self.source_changed.emit()

    def _tick(self) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        if recorder.error:  # the writer thread stopped itself (disk almost full)
            self.stop(recorder.error)
            return
        if self._controller.source is not self._source:  # replaced by a source that sends nothing
            self.stop("the source changed")
            return
        s = recorder.session
        self.progress.emit(recorder.elapsed, s["frames"], s["dropped_frames"])
        if s["frames"] > 0 and not self._announced:
            self._announced = True
            self.started.emit(s["id"])
