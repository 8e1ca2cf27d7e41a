"""Recording panel: record labelled sessions from the running source; list, relabel and delete them.

Frames come from ``controller.frame_ready`` (GUI thread) and go to :class:`core.recorder.Recorder`, whose
``write`` only queues: a slow disk drops frames (counted), it never stalls the video. The recorder is
created on the first frame after Record is pressed, because that frame gives the size. Labels are data
(``assets/labels.json``), not code. A recording stops when the user says so, when the source changes or
fails, when the disk fills up, and when the window closes.
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QFormLayout,
                             QHeaderView, QLabel, QLineEdit, QMessageBox, QPushButton,
                             QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from .. import paths
from ..core.camera import FrameSource
from ..core.realtime import Frame
from ..core.recorder import Recorder, RecorderError, SessionStore, load_labels
from .panels import button_row

if TYPE_CHECKING:
    from .main_window import MainWindow

log = logging.getLogger(__name__)

COLUMNS = ("Date", "Label", "Subject", "Length", "Frames", "Status")
REC_COLOUR = QColor(208, 32, 32)
REC_STYLE = f"color: {REC_COLOUR.name()}; font-weight: bold;"


def fill_label_combo(combo: QComboBox, labels: list[dict[str, Any]], current: str = "") -> None:
    """Label names as items, their descriptions as tooltips (on the item and on the combo itself)."""
    combo.clear()
    for lab in labels:
        combo.addItem(lab["name"])
        combo.setItemData(combo.count() - 1, lab.get("description", ""), Qt.ItemDataRole.ToolTipRole)
    combo.currentIndexChanged.connect(
        lambda i: combo.setToolTip(str(combo.itemData(i, Qt.ItemDataRole.ToolTipRole) or "")))
    if current:
        combo.setCurrentText(current)
    combo.setToolTip(str(combo.currentData(Qt.ItemDataRole.ToolTipRole) or ""))


def ask_relabel(parent: QWidget, labels: list[dict[str, Any]], label: str, subject: str) -> tuple[str, str] | None:
    """Label and subject for a recorded session, or None when cancelled (tests replace this function)."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("Relabel session")
    combo, subject_edit = QComboBox(dialog), QLineEdit(subject, dialog)
    fill_label_combo(combo, labels, label)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form = QFormLayout(dialog)
    form.addRow("Label:", combo)
    form.addRow("Subject:", subject_edit)
    form.addRow(buttons)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    return combo.currentText(), subject_edit.text().strip()


def _local_time(iso: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    try:
        return datetime.fromisoformat(iso).astimezone().strftime(fmt)
    except (TypeError, ValueError):
        return str(iso)


def session_row(s: dict[str, Any]) -> tuple[str, ...]:
    """The table's cells for one manifest entry."""
    status = s.get("status", "")
    if s.get("recovered"):
        status += " (recovered)"
    return (_local_time(s.get("date", ""), "%m-%d %H:%M"), s.get("label", ""), s.get("subject", ""),
            f"{float(s.get('duration_s', 0.0)):.1f} s", str(s.get("frames", 0)), status)


class RecordingPanel(QWidget):
    """Label, subject, notes, Record/Stop with a REC indicator; below, the recorded sessions."""

    recording_started = pyqtSignal(str)  # session id, once the first frame arrived
    recording_stopped = pyqtSignal(dict)  # the finished manifest entry

    def __init__(self, window: "MainWindow", store: SessionStore | None = None,
                 labels_path: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._window = window
        self.recorder: Recorder | None = None
        self._armed_source: FrameSource | None = None  # Record pressed: waiting for the first frame
        self._source: FrameSource | None = None  # the source being recorded
        self._build()
        self.labels = self._load_labels(labels_path or paths.asset_path("labels.json"))
        fill_label_combo(self.label_combo, self.labels)
        self.store = store or self._open_store()
        self._timer = QTimer(self, interval=200, timeout=self._tick)
        window.controller.frame_ready.connect(self._on_frame)
        window.controller.source_failed.connect(self._on_source_failed)
        window.closing.connect(self._on_closing)
        self._recover()
        self.refresh_sessions()
        self._update_controls()

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
        self.counts_label = QLabel()
        self._build_table()
        form = QFormLayout()
        form.addRow("Label:", self.label_combo)
        form.addRow("Subject:", self.subject_edit)
        form.addRow("Notes:", self.notes_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(button_row(self.record_button, self.rec_label))
        layout.addWidget(self.counts_label)
        layout.addWidget(QLabel("Recorded sessions:"))
        layout.addWidget(self.table, 1)
        layout.addLayout(button_row(self.relabel_button, self.delete_button))

    def _build_table(self) -> None:
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_controls)
        self.relabel_button = QPushButton("Relabel...")
        self.relabel_button.clicked.connect(self.relabel_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)

    def _load_labels(self, path: Path) -> list[dict[str, Any]]:
        try:
            return load_labels(path)
        except (OSError, ValueError, KeyError) as exc:
            log.error("labels unavailable: %s", exc)
            self.counts_label.setText(f"Recording unavailable: cannot read the labels ({exc})")
            return []

    def _open_store(self) -> SessionStore | None:
        try:
            return SessionStore(paths.recordings_dir())
        except OSError as exc:
            self.counts_label.setText(f"Recording unavailable: {exc}")
            return None

    def _recover(self) -> None:
        if self.store is None:
            return
        try:
            recovered = self.store.recover()
        except (RecorderError, OSError, ValueError, KeyError) as exc:
            self._window.status.showMessage(f"Recordings: cannot check for interrupted sessions: {exc}", 15000)
            return
        if recovered:
            self._window.status.showMessage(
                f"Recovered {len(recovered)} recording(s) cut short by a crash or power loss; "
                "see the Recording panel", 15000)

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
        except (RecorderError, OSError) as exc:
            self._update_controls()
            self._warn(f"Recording could not start: {exc}")
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
        selected = self.selected_session_id()
        current = self.recorder.session["id"] if self.recorder else None
        for button in (self.relabel_button, self.delete_button):
            button.setEnabled(selected is not None and selected != current)

    # -- session list ------------------------------------------------------------------------------------
    def sessions(self) -> list[dict[str, Any]]:
        """Manifest entries, newest first ([] when the manifest cannot be read; the status bar says why)."""
        if self.store is None:
            return []
        try:
            return sorted(self.store.sessions(), key=lambda s: s.get("date", ""), reverse=True)
        except (OSError, ValueError, KeyError) as exc:
            self._window.status.showMessage(f"Cannot read the session list: {exc}", 15000)
            return []

    def refresh_sessions(self) -> None:
        selected = self.selected_session_id()
        sessions = self.sessions()
        self.table.setRowCount(len(sessions))
        for row, s in enumerate(sessions):
            for col, text in enumerate(session_row(s)):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, s["id"])
                if s.get("status") == "recording":
                    item.setForeground(REC_COLOUR)
                if col == 0:  # the full date and the notes; the cell is kept short for a narrow dock
                    item.setToolTip("\n".join(filter(None, [_local_time(s.get("date", "")), s.get("notes")])))
                self.table.setItem(row, col, item)
            if s["id"] == selected:
                self.table.selectRow(row)
        self._update_controls()

    def selected_session_id(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select_session(self, session_id: str) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == session_id:
                self.table.selectRow(row)
                return

    def _selected_session(self) -> dict[str, Any] | None:
        sid = self.selected_session_id()
        return next((s for s in self.sessions() if s["id"] == sid), None)

    def relabel_selected(self) -> None:
        session = self._selected_session()
        if session is None or self.store is None:
            return
        answer = ask_relabel(self, self.labels, session["label"], session.get("subject", ""))
        if answer is None:
            return
        try:
            self.store.relabel(session["id"], answer[0], answer[1] or None)
        except RecorderError as exc:
            self._warn(str(exc))
        self.refresh_sessions()

    def delete_selected(self) -> None:
        session = self._selected_session()
        if session is None or self.store is None:
            return
        text = (f"Delete the '{session['label']}' session of {session.get('subject') or 'no subject'} "
                f"({_local_time(session.get('date', ''))}) and its video file?")
        if QMessageBox.question(self, "Delete session", text) != QMessageBox.StandardButton.Yes:
            return
        try:
            self.store.delete(session["id"])
        except (RecorderError, OSError) as exc:
            self._warn(str(exc))
        self.refresh_sessions()
