"""Recording panel: record labelled sessions from the running source; below, the session list.

The panel gets the stream controller, not the window. Frames go from the capture thread straight to
:class:`core.recorder.Recorder` through the controller's frame sink (they never cross to the GUI thread
for recording); ``write`` only queues: a slow disk drops frames (counted), it never stalls the video.
Record is enabled once the source has given a frame (its size is the video's). Labels are data
(``assets/labels.json``), not code. A recording stops when the user says so, when the source changes or
fails, when the disk fills up, and when :meth:`shutdown` is called (the window closing). Status-bar text
goes out by ``message``; the composition root wires it.
"""
from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QThread, QTimer, pyqtSignal
from PyQt6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QVBoxLayout, QWidget

from ... import paths
from ...core.camera import FrameSource
from ...core.recorder import Recorder, RecorderError, SessionStore, load_labels
from ...core.sessions import RECORDING
from .info import button_row
from .session_list import REC_COLOUR, SessionList, fill_label_combo
from ..tasks import TaskWorker
from ..workers import StreamController, start_in_thread

log = logging.getLogger(__name__)

REC_STYLE = f"color: {REC_COLOUR.name()}; font-weight: bold;"


class RecordingPanel(QWidget):
    """Label, subject, notes, Record/Stop with a REC indicator; below, the recorded sessions."""

    recording_started = pyqtSignal(str)  # session id, once its first frame is written
    recording_stopped = pyqtSignal(dict)  # the finished manifest entry
    recovered = pyqtSignal(list)  # ids of sessions a crash had left unfinished, settled off the GUI thread
    message = pyqtSignal(str, int)  # status-bar text, milliseconds to show it

    def __init__(self, controller: StreamController, store: SessionStore | None = None,
                 labels_path: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._controller = controller
        self.recorder: Recorder | None = None
        self._source: FrameSource | None = None  # the source being recorded
        self._announced = False  # recording_started was emitted for the current session
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
        self._recovery_abort = threading.Event()  # set when the window closes: recovery stops between videos
        controller.state_changed.connect(self._on_stream_changed)
        controller.source_failed.connect(self._on_source_failed)
        self.session_list.message.connect(lambda text: self.message.emit(text, 15000))
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
        """Settle sessions a crash left unfinished, on a worker thread (counting frames reads whole videos).
        Only when the list just read has such a session: reading a long list again costs seconds."""
        if self.store is None or self.session_list.manifest_error:
            return
        if not any(s["status"] == RECORDING for s in self.session_list.sessions()):
            return
        store, abort = self.store, self._recovery_abort
        worker = TaskWorker(lambda: store.recover(abort))
        worker.returned.connect(self._on_recovered)
        worker.errored.connect(lambda msg: self.message.emit(
            f"Recordings: cannot check for interrupted sessions: {msg}", 15000))
        self._recovery = (worker, start_in_thread(worker))

    def _on_recovered(self, ids: list[str]) -> None:
        if ids:
            self.message.emit(f"Recovered {len(ids)} recording(s) cut short by a crash or power loss; "
                              "see the Recording panel", 15000)
            self.refresh_sessions()
        self.recovered.emit(list(ids))

    # -- recording ---------------------------------------------------------------------------------------
    @property
    def is_recording(self) -> bool:
        return self.recorder is not None

    def toggle_recording(self) -> None:
        if self.is_recording:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self) -> bool:
        """Start a session on the running source; from now on its frames go to the recorder."""
        problem = self._cannot_record()
        if problem:
            QMessageBox.warning(self, "Cannot record", f"Cannot record: {problem}.")
            return False
        source, size = self._controller.source, self._controller.frame_size
        try:
            recorder = Recorder(self.store, self.label_combo.currentText(), self.subject_edit.text().strip(),
                                camera=source.name, fps=source.fps, size=size,
                                notes=self.notes_edit.text().strip())
        except (RecorderError, OSError, ValueError) as exc:
            self._warn(f"Recording could not start: {exc}")
            self.refresh_sessions()
            return False
        self.recorder, self._source, self._announced = recorder, source, False
        self._controller.set_frame_sink(recorder.write)
        self._timer.start()
        self._tick()
        self.refresh_sessions()  # the new session is listed as "recording"
        return True

    def _cannot_record(self) -> str:
        """Why recording cannot start now ("" when it can)."""
        if self._controller.frame_size is None:
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
        if recorder is None:
            return None
        if self._controller.source is self._source:
            self._controller.set_frame_sink(None)
        self._source = None
        self._timer.stop()
        self._update_controls()
        try:
            session = recorder.stop()
        except (RecorderError, OSError) as exc:
            self._warn(f"The recording could not be finished: {exc}")
            session = recorder.session
        error = recorder.error
        self.refresh_sessions()
        why = f" ({reason})" if reason else ""
        self.message.emit(
            f"Recorded {session['frames']} frames of '{session['label']}' for {session['subject']}{why}", 10000)
        if error:
            self._warn(f"{error.capitalize()}. {session['frames']} frames were saved.")
        self.recording_stopped.emit(session)
        return session

    def _on_source_failed(self, _message: str) -> None:
        self.stop_recording("the source stopped")

    def _on_stream_changed(self) -> None:
        """A source started, gave its first frame or stopped: a recording ends with its source."""
        if self.recorder is not None and self._controller.source is not self._source:
            self.stop_recording("the source changed" if self._controller.source else "the source stopped")
        self._update_controls()

    def shutdown(self) -> None:
        """The window is closing: finish the recording; a recovery still counting frames saves what it
        settled and stops (the rest is recovered at the next start)."""
        self.stop_recording("the window closed")
        self._recovery_abort.set()
        if self._recovery is not None:
            self._recovery[1].quit()
            self._recovery[1].wait()

    def _tick(self) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        if recorder.error:  # the writer thread stopped itself (disk almost full)
            self.stop_recording(recorder.error)
            return
        if self._controller.source is not self._source:  # replaced by a source that sends nothing
            self.stop_recording("the source changed")
            return
        seconds = int(recorder.elapsed)
        self.rec_label.setText(f"● REC {seconds // 60:02d}:{seconds % 60:02d}")
        s = recorder.session
        self.counts_label.setText(f"{s['frames']} frames written, {s['dropped_frames']} dropped")
        if s["frames"] > 0 and not self._announced:
            self._announced = True
            self.recording_started.emit(s["id"])

    def _warn(self, text: str) -> None:
        log.warning("recording: %s", text)
        self.message.emit(text, 15000)
        QMessageBox.warning(self, "Recording", text)

    def _update_controls(self) -> None:
        recording = self.is_recording
        self.record_button.setText("■ Stop" if recording else "● Record")
        can_start = self._controller.frame_size is not None and self.store is not None and bool(self.labels)
        self.record_button.setEnabled(recording or can_start)
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
