"""Recording panel: record labelled sessions from the running source; below, the session list.

Frames come from ``controller.frame_ready`` (GUI thread) and go to :class:`core.recorder.Recorder`, whose
``write`` only queues: a slow disk drops frames (counted), it never stalls the video. The recorder is
created on the first frame after Record is pressed, because that frame gives the size. Labels are data
(``assets/labels.json``), not code. A recording stops when the user says so, when the source changes or
fails, when the disk fills up, and when the window closes.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import QThread, QTimer, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QVBoxLayout, QWidget

from .. import paths
from ..core.camera import FrameSource
from ..core.realtime import Frame
from ..core.recorder import Recorder, RecorderError, SessionStore, load_labels
from .panels import button_row
from .session_list import REC_COLOUR, SessionList, fill_label_combo
from .tasks import TaskWorker
from .workers import start_in_thread

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)

REC_STYLE = f"color: {REC_COLOUR.name()}; font-weight: bold;"


class RecordingPanel(QWidget):
    """Label, subject, notes, Record/Stop with a REC indicator; below, the recorded sessions."""

    recording_started = pyqtSignal(str)  # session id, once the first frame arrived
    recording_stopped = pyqtSignal(dict)  # the finished manifest entry
    recovered = pyqtSignal(list)  # ids of sessions a crash had left unfinished, settled off the GUI thread

    def __init__(self, window: "MainWindow", store: SessionStore | None = None,
                 labels_path: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._window = window
        self.recorder: Recorder | None = None
        self._armed_source: FrameSource | None = None  # Record pressed: waiting for the first frame
        self._source: FrameSource | None = None  # the source being recorded
        self.counts_label = QLabel()
        self.labels = self._load_labels(labels_path or paths.asset_path("labels.json"))
        self.store = store or self._open_store()
        self.session_list = SessionList(self.store, self.labels)
        self.table, self.relabel_button, self.delete_button = (
            self.session_list.table, self.session_list.relabel_button, self.session_list.delete_button)
        self._build()
        fill_label_combo(self.label_combo, self.labels)
        self._timer = QTimer(self, interval=200, timeout=self._tick)
        self._recovery: tuple[TaskWorker, QThread] | None = None
        window.controller.frame_ready.connect(self._on_frame)
        window.controller.source_failed.connect(self._on_source_failed)
        window.closing.connect(self._on_closing)
        self.session_list.message.connect(lambda text: self._window.status.showMessage(text, 15000))
        self.session_list.changed.connect(self._update_controls)
        self.refresh_sessions()
        self._start_recovery()

    # -- widgets -----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.label_combo = QComboBox()
        self.subject_edit = QLineEdit(placeholderText="required: training splits by subject")
        self.notes_edit = QLineEdit(placeholderText="optional: lighting, distance, attack medium...")
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
        """Settle sessions a crash left unfinished, on a worker thread (counting frames reads whole videos)."""
        if self.store is None or self.session_list.manifest_error:
            return
        worker = TaskWorker(self.store.recover)
        worker.returned.connect(self._on_recovered)
        worker.errored.connect(lambda msg: self._window.status.showMessage(
            f"Recordings: cannot check for interrupted sessions: {msg}", 15000))
        self._recovery = (worker, start_in_thread(worker))

    def _on_recovered(self, ids: list[str]) -> None:
        if ids:
            self._window.status.showMessage(
                f"Recovered {len(ids)} recording(s) cut short by a crash or power loss; "
                "see the Recording panel", 15000)
            self.refresh_sessions()
        self.recovered.emit(list(ids))

    # -- recording ---------------------------------------------------------------------------------------
    @property
    def is_recording(self) -> bool:
        """Recording, or waiting for the first frame to start."""
        return self.recorder is not None or self._armed_source is not None

    def toggle_recording(self) -> None:
        if self.is_recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self) -> bool:
        """Arm the recorder: the session starts with the next frame of the running source."""
        problem = self._cannot_record()
        if problem:
            QMessageBox.warning(self, "Cannot record", f"Cannot record: {problem}.")
            return False
        source = self._window.controller.source
        self._armed_source = source
        self._update_controls()
        return True

    def _cannot_record(self) -> str:
        """Why recording cannot start now ("" when it can)."""
        if self._window.controller.source is None or not self._window.controller.is_running:
            return "no video source is running"
        if self.store is None:
            return "the recordings folder is not available"
        if not self.labels:
            return "no labels (assets/labels.json could not be read)"
        if self.session_list.manifest_error:
            return "the session list cannot be read (see the Recording panel: fix it or set it aside)"
        if not self.subject_edit.text().strip():
            return "enter a subject id (training keeps each subject in one split)"
        return ""

    def stop_recording(self, reason: str = "") -> dict[str, Any] | None:
        """Finish the session (safe to call when idle); returns its manifest entry."""
        recorder, self.recorder = self.recorder, None
        self._armed_source = self._source = None
        self._timer.stop()
        self._update_controls()
        if recorder is None:
            return None
        try:
            session = recorder.stop()
        except (RecorderError, OSError) as exc:
            self._warn(f"The recording could not be finished: {exc}")
            session = recorder.session
        error = recorder.error
        self.refresh_sessions()
        why = f" ({reason})" if reason else ""
        self._window.status.showMessage(
            f"Recorded {session['frames']} frames of '{session['label']}' for {session['subject']}{why}", 10000)
        if error:
            self._warn(f"{error.capitalize()}. {session['frames']} frames were saved.")
        self.recording_stopped.emit(session)
        return session

    def _on_source_failed(self, _message: str) -> None:
        self.stop_recording("the source stopped")

    def _on_closing(self) -> None:
        self.stop_recording("the window closed")
        if self._recovery is not None:  # a recovery still counting frames ends with its video
            self._recovery[1].quit()
            self._recovery[1].wait()

    def _on_frame(self, frame: Frame) -> None:
        """GUI thread, every frame: must stay cheap (the recorder only queues)."""
        if self.recorder is None and self._armed_source is None:
            return
        expected = self._source if self.recorder is not None else self._armed_source
        if self._window.controller.source is not expected:
            self.stop_recording("the source changed")
            return
        if self.recorder is None:
            self._begin(frame)
        if self.recorder is not None:
            self.recorder.write(frame.image)

    def _begin(self, frame: Frame) -> None:
        source, self._armed_source = self._armed_source, None
        height, width = frame.image.shape[:2]
        try:
            self.recorder = Recorder(self.store, self.label_combo.currentText(), self.subject_edit.text().strip(),
                                     camera=source.name, fps=source.fps, size=(width, height),
                                     notes=self.notes_edit.text().strip())
        except (RecorderError, OSError, ValueError) as exc:
            self._update_controls()
            self._warn(f"Recording could not start: {exc}")
            self.refresh_sessions()
            return
        self._source = source
        self._timer.start()
        self._tick()
        self._update_controls()
        self.refresh_sessions()  # the new session is listed as "recording"
        self.recording_started.emit(self.recorder.session["id"])

    def _tick(self) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        if recorder.error:  # the writer thread stopped itself (disk almost full)
            self.stop_recording(recorder.error)
            return
        if self._window.controller.source is not self._source:  # replaced by a source that sends nothing
            self.stop_recording("the source changed")
            return
        seconds = int(recorder.elapsed)
        self.rec_label.setText(f"● REC {seconds // 60:02d}:{seconds % 60:02d}")
        s = recorder.session
        self.counts_label.setText(f"{s['frames']} frames written, {s['dropped_frames']} dropped")

    def _warn(self, text: str) -> None:
        log.warning("recording: %s", text)
        self._window.status.showMessage(text, 15000)
        QMessageBox.warning(self, "Recording", text)

    def _update_controls(self) -> None:
        recording = self.is_recording
        self.record_button.setText("■ Stop" if recording else "● Record")
        self.record_button.setEnabled(self.store is not None and bool(self.labels))
        self.rec_label.setVisible(self.recorder is not None)
        for w in (self.label_combo, self.subject_edit, self.notes_edit):
            w.setEnabled(not recording)
        self.session_list.set_active(self.recorder.session["id"] if self.recorder else None)

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
