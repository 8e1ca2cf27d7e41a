"""Recording panel: label, subject, notes, Record/Stop with a REC indicator; below, the session list.

The panel gets the stream controller, not the window. It owns the
:class:`~liveness_app.gui.recorder_service.RecorderService` that records (``recorder_service``: the "Adapt to
my camera" dialog records through it too) and shows what the service reports, whoever started the
recording: progress, why a recording was refused or failed. Record is enabled once the source has given a
frame (its size is the video's). Labels are data (``assets/labels.json``), not code. Status-bar text goes
out by ``message``; the composition root wires it.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QThread, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ... import paths
from ...core.recorder import load_labels
from ...core.session_store import SessionStore
from ...core.sessions import RECORDING
from ..qthreads import start_in_thread, stop_thread
from ..recorder_service import RecorderService
from ..tasks import TaskWorker, error_text
from ..workers import StreamController
from .info import button_row
from .label_picker import fill_label_combo
from .session_list import SessionList
from .session_rows import REC_COLOUR

log = logging.getLogger(__name__)

REC_STYLE = f"color: {REC_COLOUR.name()}; font-weight: bold;"


class RecordingPanel(QWidget):
    """Label, subject, notes, Record/Stop with a REC indicator; below, the recorded sessions."""

    recording_started = pyqtSignal(str)  # session id, once its first frame is written
    recording_stopped = pyqtSignal(dict)  # the finished manifest entry
    recovered = pyqtSignal(list)  # ids of sessions a crash had left unfinished, settled off the GUI thread
    message = pyqtSignal(str, int)  # status-bar text, milliseconds to show it

    def __init__(
        self,
        controller: StreamController,
        store: SessionStore | None = None,
        labels_path: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.counts_label = QLabel()
        self.labels = self._load_labels(labels_path or paths.asset_path("labels.json"))
        self.store = store or self._open_store()
        self.session_list = SessionList(self.store, self.labels)
        self.table, self.relabel_button, self.delete_button = (
            self.session_list.table,
            self.session_list.relabel_button,
            self.session_list.delete_button,
        )
        self.recorder_service = RecorderService(
            controller, self.store, [lab["name"] for lab in self.labels], self._list_problem, parent=self
        )
        self._build()
        fill_label_combo(self.label_combo, self.labels)
        self._recovery: tuple[TaskWorker, QThread] | None = None
        self._recovery_abort = threading.Event()  # set when the window closes: recovery stops between videos
        self._connect_service(self.recorder_service)
        controller.state_changed.connect(self._update_controls)  # Record is enabled once a frame has come
        self.session_list.message.connect(lambda text: self.message.emit(text, 15000))
        self.session_list.changed.connect(self._update_controls)
        self.refresh_sessions()
        self._start_recovery()

    def _connect_service(self, service: RecorderService) -> None:
        service.started.connect(self.recording_started)
        service.changed.connect(self.refresh_sessions)
        service.progress.connect(self._show_progress)
        service.refused.connect(self._refuse)
        service.failed.connect(self._warn)
        service.message.connect(self.message)
        service.finished.connect(self._show_finished)
        service.finished.connect(self.recording_stopped)

    # -- widgets -----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.label_combo = QComboBox()
        self.subject_edit, self.notes_edit = QLineEdit(), QLineEdit()
        self.subject_edit.setPlaceholderText("required: training splits by subject")
        self.notes_edit.setPlaceholderText("optional: lighting, distance, attack medium...")
        self.record_button = QPushButton("● Record")
        self.record_button.clicked.connect(self.toggle_recording)
        self.rec_label = QLabel()
        self.rec_label.setStyleSheet(REC_STYLE)
        self.rec_label.hide()
        form = QFormLayout()
        form.addRow("Label:", self.label_combo)
        form.addRow("Subject:", self.subject_edit)
        form.addRow("Notes:", self.notes_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(button_row(self.record_button, self.rec_label))
        layout.addWidget(self.counts_label)
        layout.addWidget(self.session_list, 1)

    def _load_labels(self, path: Path) -> list[dict[str, Any]]:
        try:
            return load_labels(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.error("labels unavailable: %s", exc)
            self.counts_label.setText(f"Recording unavailable: cannot read the labels ({exc})")
            return []

    def _open_store(self) -> SessionStore | None:
        try:
            return SessionStore(paths.recordings_dir())
        except OSError as exc:
            log.error("recordings folder unavailable: %s", exc)
            self.counts_label.setText(f"Recording unavailable: {exc}")
            return None

    def _start_recovery(self) -> None:
        """Settle sessions a crash left unfinished, on a worker thread (counting frames reads whole videos).
        Only when the list just read has such a session: reading a long list again costs seconds."""
        if self.store is None or self.session_list.manifest_error:
            return
        if not any(s["status"] == RECORDING for s in self.session_list.sessions()):
            return
        store, abort = self.store, self._recovery_abort
        worker = TaskWorker(lambda: store.recover(abort))
        worker.returned.connect(self._on_recovered)
        worker.errored.connect(
            lambda exc: self.message.emit(
                f"Recordings: cannot check for interrupted sessions: {error_text(exc)}", 15000
            )
        )
        self._recovery = (worker, start_in_thread(worker))

    def _on_recovered(self, ids: list[str]) -> None:
        if ids:
            self.message.emit(
                f"Recovered {len(ids)} recording(s) cut short by a crash or power loss; see the Recording panel", 15000
            )
            self.refresh_sessions()
        self.recovered.emit(list(ids))

    # -- recording: the service records, the panel shows it ---------------------------------------------
    @property
    def is_recording(self) -> bool:
        return self.recorder_service.is_recording

    def toggle_recording(self) -> None:
        if self.is_recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self) -> bool:
        """Record a session of the label, subject and notes entered here (:meth:`RecorderService.start`)."""
        return self.recorder_service.start(
            self.label_combo.currentText(), self.subject_edit.text(), self.notes_edit.text()
        )

    def stop_recording(self, reason: str = "") -> dict[str, Any] | None:
        """Finish the session (safe to call when idle); returns its manifest entry."""
        return self.recorder_service.stop(reason)

    def _list_problem(self) -> str:
        """Why this panel cannot take a recording now: its session list cannot be read."""
        if self.session_list.manifest_error:
            return "the session list cannot be read (see the Recording panel: fix it or set it aside)"
        return ""

    def shutdown(self) -> None:
        """The window is closing: finish the recording; a recovery still counting frames saves what it
        settled and stops (the rest is recovered at the next start)."""
        self.recorder_service.shutdown()
        self._recovery_abort.set()
        if self._recovery is not None:  # its worker and thread may have finished and deleted themselves
            stop_thread(*self._recovery)

    def _show_progress(self, seconds: float, frames: int, dropped: int) -> None:
        whole = int(seconds)
        self.rec_label.setText(f"● REC {whole // 60:02d}:{whole % 60:02d}")
        self.counts_label.setText(f"{frames} frames so far, {dropped} dropped")

    def _show_finished(self, session: dict[str, Any]) -> None:
        """The session's own count, as the table lists it: frames still queued at Stop are written after the
        last progress report, so that report's count is short of it."""
        self.counts_label.setText(
            f"Last session: {session['frames']} frames ({session['duration_s']:.1f} s), "
            f"{session['dropped_frames']} dropped"
        )

    def _refuse(self, problem: str) -> None:
        QMessageBox.warning(self, "Cannot record", f"Cannot record: {problem}.")

    def _warn(self, text: str) -> None:
        log.warning("recording: %s", text)
        self.message.emit(text, 15000)
        QMessageBox.warning(self, "Recording", text)

    def _update_controls(self) -> None:
        recording, service = self.is_recording, self.recorder_service
        self.record_button.setText("■ Stop" if recording else "● Record")
        self.record_button.setEnabled(recording or service.ready)
        self.rec_label.setVisible(recording)
        for w in (self.label_combo, self.subject_edit, self.notes_edit):
            w.setEnabled(not recording)
        self.session_list.set_active(service.recorder.session["id"] if service.recorder else None)

    # -- session list ------------------------------------------------------------------------------------
    def sessions(self) -> list[dict[str, Any]]:
        """Valid manifest entries, newest first."""
        return self.session_list.sessions()

    def refresh_sessions(self) -> None:
        self.session_list.refresh()
        self._update_controls()

    def selected_session_id(self) -> str | None:
        return self.session_list.selected_session_id()

    def select_session(self, session_id: str) -> None:
        self.session_list.select_session(session_id)
