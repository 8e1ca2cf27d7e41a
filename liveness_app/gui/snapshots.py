"""File > Snapshot and File > Snapshot folder...: the frame as shown, overlay included, saved as a PNG."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QWidget

from .. import paths
from . import dialogs
from .settings import AppSettings
from .video_view import VideoView


class Snapshots(QObject):
    """Saves what ``view`` shows into the folder kept in ``settings``; ``message`` says where (or why not)."""

    message = pyqtSignal(str, int)  # status-bar text, milliseconds to show it

    def __init__(self, view: VideoView, settings: AppSettings, parent: QWidget) -> None:
        super().__init__(parent)
        self._view, self._settings, self._parent = view, settings, parent

    def take(self) -> Path | None:
        """Save the frame as shown as a PNG; its path, or None when there is no frame or it cannot be written."""
        folder = self._settings.snapshot_dir or paths.user_data_dir() / "snapshots"
        try:
            path = self._view.save_snapshot(folder)
        except OSError as exc:
            self.message.emit(f"Snapshot not saved: {exc}", 10000)
            return None
        self.message.emit(f"Snapshot saved: {path}" if path else "No frame to save yet", 10000)
        return path

    def choose_folder(self) -> None:
        """Ask where snapshots go from now on."""
        start = self._settings.snapshot_dir or paths.user_data_dir()
        if folder := dialogs.ask_folder(self._parent, "Save snapshots in", start):
            self._settings.snapshot_dir = folder
            self.message.emit(f"Snapshots go to {folder}", 5000)
