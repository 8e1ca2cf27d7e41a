"""One take of "Adapt to my camera" (:mod:`.adapt_dialog`): about 30 s recorded as consecutive sessions through
the :class:`~.recorder_service.RecorderService`, with a countdown of the seconds left.

A take is complete when each of its parts has frames; a part that cannot start, or that ends with no frame
(the source stopped), breaks the take off and nothing of it is kept for adapting (its sessions stay listed in
the Recording panel, like any other).
"""

from __future__ import annotations

import time
from typing import Any

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from ..core.session_store import SessionStore
from .adapt_widgets import seconds_left
from .recorder_service import RecorderService

TICK_MS = 200  # how often the countdown is checked (it is emitted when its number changes)


class TakeRecorder(QObject):
    """Records a take as sessions of ``parts`` seconds each; ``countdown`` says the whole seconds left."""

    countdown = pyqtSignal(int)  # seconds left of the take, each time the number changes
    finished = pyqtSignal(str, list)  # label, the take's sessions (manifest entries), in order
    broke_off = pyqtSignal(str)  # label: the take could not go on; nothing of it is kept

    def __init__(self, recorder: RecorderService, parts: tuple[float, ...], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._recorder, self.parts = recorder, parts
        self._label = self._subject = ""
        self._sessions: list[dict[str, Any]] = []
        self._started: float | None = None  # time.monotonic() when the take began; None: no take
        self._token = 0  # a stop timer of a cancelled take must not end a later one
        self._shown = -1
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        recorder.finished.connect(self._on_stopped)

    @property
    def active(self) -> bool:
        return self._started is not None

    @property
    def label(self) -> str:
        return self._label

    @property
    def seconds(self) -> float:
        """The take's length."""
        return float(sum(self.parts))

    def elapsed(self) -> float:
        return 0.0 if self._started is None else time.monotonic() - self._started

    def seconds_left(self) -> int:
        return seconds_left(self.seconds, self.elapsed())

    def start(self, label: str, subject: str) -> bool:
        """Begin a take of ``label``; False (``broke_off`` follows) when its first part cannot start."""
        self._label, self._subject, self._sessions = label, subject, []
        self._started, self._shown = time.monotonic(), -1
        self._timer.start()
        self._tick()
        return self._start_part()

    def cancel(self) -> None:
        """Stop the take; nothing of it is kept."""
        if self._started is None:
            return
        self._end()
        self._recorder.stop("cancelled")

    def shutdown(self) -> None:
        self.cancel()
        try:
            self._recorder.finished.disconnect(self._on_stopped)
        except TypeError:
            pass

    def _start_part(self) -> bool:
        part = len(self._sessions)
        notes = f"adapt to my camera, part {part + 1} of {len(self.parts)}"
        if not self._recorder.start(self._label, self._subject, notes):
            # the service said why (no source, unreadable session list, ...); the Recording panel shows it
            self._end()
            self.broke_off.emit(self._label)
            return False
        self._token += 1
        token = self._token
        QTimer.singleShot(int(self.parts[part] * 1000), lambda: token == self._token and self._recorder.stop())
        return True

    def _on_stopped(self, session: dict[str, Any]) -> None:
        if self._started is None:
            return  # not a part of a take (the Recording panel's own session)
        if session.get("frames", 0) == 0:  # the source stopped: the take is recorded again
            self._end()
            self.broke_off.emit(self._label)
            return
        self._sessions.append(session)
        if len(self._sessions) < len(self.parts):
            self._start_part()
            return
        sessions = self._sessions
        self._end()
        self.finished.emit(self._label, sessions)

    def _end(self) -> None:
        self._started = None
        self._token += 1
        self._timer.stop()

    def _tick(self) -> None:
        left = self.seconds_left()
        if self._started is not None and left != self._shown:
            self._shown = left
            self.countdown.emit(left)


def take_samples(
    store: SessionStore, takes: dict[str, list[dict[str, Any]]], parts: int, held_out: int
) -> tuple[list, list]:
    """(train, held out) training samples of complete ``takes`` (label -> its sessions, in order): part
    ``held_out`` of each take is held out for the before/after check, the others train."""
    from training.data.samples import Sample

    train: list[Sample] = []
    held: list[Sample] = []
    for label, sessions in takes.items():
        if len(sessions) != parts:
            continue
        for i, s in enumerate(sessions):
            sample = Sample(store.file_of(s), label, s["subject"] or "me", "video")
            (held if i == held_out else train).append(sample)
    return train, held
