"""The recorded sessions as a table: relabel and delete valid ones; list refused entries, never act on them.

The manifest is read through :class:`~liveness_app.core.session_store.SessionStore`, whose schema refuses
entries that cannot be trusted (a file outside the recordings folder, missing fields, ...): they are shown
greyed with the reason and cannot be selected for an action. A manifest that cannot be read at all is
reported above the table, with an offer to set it aside (renamed, not deleted) and start a new list.
A list of many thousand sessions shows the newest :data:`MAX_ROWS` (all stay in :meth:`SessionList.sessions`):
a table item per cell of 100,000 sessions took seconds and gigabytes before the window could open.
"""

from __future__ import annotations

import logging
from typing import Any

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QColor
from PyQt6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...core.session_store import RecorderError, SessionStore
from ...core.sessions import RECORDING, InvalidEntry, ManifestError
from .info import button_row, wrapped_label
from .label_picker import ask_relabel
from .session_rows import COLUMNS, INVALID_COLOUR, REC_COLOUR, invalid_row, local_time, session_row

log = logging.getLogger(__name__)

MAX_ROWS = 1000  # newest valid sessions shown
MAX_INVALID_ROWS = 200  # refused entries shown (all are counted above the table)


class SessionList(QWidget):
    """The table of sessions with Relabel / Delete; ``message`` carries status-bar text."""

    message = pyqtSignal(str)
    changed = pyqtSignal()  # re-read: the manifest was set aside, a session relabelled or deleted

    def __init__(self, store: SessionStore | None, labels: list[dict[str, Any]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store, self.labels = store, labels
        self.manifest_error = ""  # why the manifest cannot be read ("" when it can)
        self._active: str | None = None  # the session being recorded: no action on it
        self._sessions: list[dict[str, Any]] = []
        self._build()

    def _build(self) -> None:
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        vertical, header = self.table.verticalHeader(), self.table.horizontalHeader()
        assert vertical is not None and header is not None  # a table always has both
        vertical.hide()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.problem_label = wrapped_label()
        self.problem_label.hide()
        self.note_label = wrapped_label()
        self.note_label.hide()
        self.set_aside_button = QPushButton("Set the unreadable list aside...")
        self.set_aside_button.clicked.connect(self.set_aside)
        self.set_aside_button.hide()
        self.relabel_button = QPushButton("Relabel...")
        self.relabel_button.clicked.connect(self.relabel_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Recorded sessions:"))
        layout.addWidget(self.problem_label)
        layout.addLayout(button_row(self.set_aside_button))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.note_label)
        layout.addLayout(button_row(self.relabel_button, self.delete_button))

    # -- reading -----------------------------------------------------------------------------------------
    def sessions(self) -> list[dict[str, Any]]:
        """Valid manifest entries as last read, newest first."""
        return list(self._sessions)

    def refresh(self) -> None:
        """Re-read the manifest and fill the table (the newest valid sessions first, then refused entries)."""
        selected = self.selected_session_id()
        invalid: list[InvalidEntry] = []
        self._sessions, self.manifest_error = [], ""
        if self.store is not None:
            try:
                manifest = self.store.read()
                self._sessions = sorted(manifest.sessions, key=lambda s: s["date"], reverse=True)
                invalid = manifest.invalid
            except ManifestError as exc:
                self.manifest_error = str(exc)
                log.error("recordings: %s", exc)
        self._show_problem(invalid)
        self._fill_table(self._sessions[:MAX_ROWS], invalid[:MAX_INVALID_ROWS], selected)
        self._show_note(len(self._sessions), len(invalid))
        self._update_buttons()

    def _fill_table(self, sessions: list[dict[str, Any]], invalid: list[InvalidEntry], selected: str | None) -> None:
        """Rows in one go: no repaint or resize per row while they are set."""
        self.table.setUpdatesEnabled(False)
        try:
            self.table.setRowCount(0)  # drops the old items at once instead of reusing them cell by cell
            self.table.setRowCount(len(sessions) + len(invalid))
            for row, s in enumerate(sessions):
                self._fill_row(
                    row,
                    session_row(s),
                    s["id"],
                    REC_COLOUR if s["status"] == RECORDING else None,
                    "\n".join(filter(None, [local_time(s["date"]), s["notes"]])),
                )
                if s["id"] == selected:
                    self.table.selectRow(row)
            for i, bad in enumerate(invalid, start=len(sessions)):
                self._fill_row(
                    i,
                    invalid_row(bad),
                    None,
                    INVALID_COLOUR,
                    f"Entry {bad.index + 1} of manifest.json was refused and is never opened or "
                    f"deleted from here: {bad.reason}",
                )
        finally:
            self.table.setUpdatesEnabled(True)

    def _show_note(self, sessions: int, invalid: int) -> None:
        """Says what the table leaves out of a very long list."""
        parts = []
        if sessions > MAX_ROWS:
            parts.append(f"the newest {MAX_ROWS:,} of {sessions:,} sessions")
        if invalid > MAX_INVALID_ROWS:
            parts.append(f"the first {MAX_INVALID_ROWS:,} of {invalid:,} refused entries")
        self.note_label.setText(f"Showing {' and '.join(parts)}." if parts else "")
        self.note_label.setVisible(bool(parts))

    def _fill_row(
        self, row: int, cells: tuple[str, ...], session_id: str | None, colour: QColor | None, tooltip: str
    ) -> None:
        for col, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, session_id)
            if colour is not None:
                item.setForeground(colour)
            if col == 0 or session_id is None:  # the cell is kept short for a narrow dock
                item.setToolTip(tooltip)
            self.table.setItem(row, col, item)

    def _show_problem(self, invalid: list[InvalidEntry]) -> None:
        if self.manifest_error:
            text = (
                f"The session list cannot be read: {self.manifest_error}. Nothing was changed; "
                "recording is off until it is fixed or set aside."
            )
        elif invalid:
            text = (
                f"{len(invalid)} entr{'y' if len(invalid) == 1 else 'ies'} of the session list "
                "refused (greyed below, never opened or deleted from here)."
            )
        else:
            text = ""
        self.problem_label.setText(text)
        self.problem_label.setVisible(bool(text))
        self.set_aside_button.setVisible(bool(self.manifest_error))

    # -- selection ---------------------------------------------------------------------------------------
    def set_active(self, session_id: str | None) -> None:
        self._active = session_id
        self._update_buttons()

    def selected_session_id(self) -> str | None:
        items = self.table.selectedItems()
        return items[0].data(Qt.ItemDataRole.UserRole) if items else None

    def select_session(self, session_id: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)  # every listed row has one
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == session_id:
                self.table.selectRow(row)
                return

    def _selected_session(self) -> dict[str, Any] | None:
        sid = self.selected_session_id()
        return next((s for s in self._sessions if s["id"] == sid), None)

    def _update_buttons(self) -> None:
        selected = self.selected_session_id()
        for button in (self.relabel_button, self.delete_button):
            button.setEnabled(selected is not None and selected != self._active)

    # -- actions -----------------------------------------------------------------------------------------
    def relabel_selected(self) -> None:
        session = self._selected_session()
        if session is None or self.store is None:
            return
        answer = ask_relabel(self, self.labels, session["label"], session["subject"])
        if answer is None:
            return
        try:
            self.store.relabel(session["id"], answer[0], answer[1] or None)
        except RecorderError as exc:
            self._warn(str(exc))
        self.refresh()
        self.changed.emit()

    def delete_selected(self) -> None:
        session = self._selected_session()
        if session is None or self.store is None:
            return
        try:
            path = self.store.file_of(session)
        except ValueError as exc:  # validated on read; the file may have been swapped since
            self._warn(str(exc))
            return
        text = (
            f"Delete the '{session['label']}' session of {session['subject'] or 'no subject'} "
            f"({local_time(session['date'])}) and its video file?\n\n{path}"
        )
        if QMessageBox.question(self, "Delete session", text) != QMessageBox.StandardButton.Yes:
            return
        try:
            removed = self.store.delete(session["id"])
            self.message.emit(
                f"Deleted {removed}"
                if removed
                else f"Removed the session from the list; its video {path} was already gone"
            )
        except (RecorderError, OSError) as exc:  # e.g. the file is a FIFO or a folder: nothing was removed
            self._warn(str(exc))
        self.refresh()
        self.changed.emit()

    def set_aside(self) -> None:
        """Rename the unreadable manifest (after asking), so that a new list can start."""
        if self.store is None or not self.manifest_error:
            return
        text = (
            f"{self.store.path} cannot be read:\n{self.manifest_error}\n\nRename it (it is kept, "
            "with the videos) and start a new session list?"
        )
        if QMessageBox.question(self, "Session list", text) != QMessageBox.StandardButton.Yes:
            return
        try:
            target = self.store.set_aside()
        except RecorderError as exc:
            self._warn(str(exc))
            return
        self.message.emit(f"The unreadable session list was kept as {target.name}; a new one starts")
        self.refresh()
        self.changed.emit()

    def _warn(self, text: str) -> None:
        log.warning("recordings: %s", text)
        self.message.emit(text)
        QMessageBox.warning(self, "Recording", text)
