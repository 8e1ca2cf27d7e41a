"""The list of training data sources (recordings, labelled folders, manifest.csv datasets), checkable."""

from __future__ import annotations

import os
from pathlib import Path

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from ... import paths
from ...core.sessions import MANIFEST_NAME
from .. import dialogs
from .info import button_row


def home_short(spec: str) -> str:
    """``spec`` with the user's home folder written ``~`` (the tooltip keeps the whole path)."""
    home = str(Path.home())
    inside = len(spec) > len(home) > 1 and spec.startswith(home) and spec[len(home)] in ("/", os.sep)
    return "~" + spec[len(home) :] if inside else spec


class DataSourceList(QWidget):
    """Checked sources are used to train and to evaluate; Add folder / Add dataset / Remove below."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.list = QListWidget()
        self.list.setToolTip("Checked sources are used to train and to evaluate")
        self.list.setMaximumHeight(64)  # the dock shares its height with the model summary
        self.list.setWordWrap(True)  # a long path wraps (after its slashes) rather than running off the edge
        self.buttons = add_folder, add_dataset, remove = (
            QPushButton("Add folder..."),
            QPushButton("Add dataset..."),
            QPushButton("Remove"),
        )
        add_folder.setToolTip("A folder with one sub-folder per label (live, print, ...) of images or videos")
        add_dataset.setToolTip("A manifest.csv listing files with their label and subject")
        add_folder.clicked.connect(self._add_folder)
        add_dataset.clicked.connect(self._add_dataset)
        remove.clicked.connect(self._remove_selected)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(button_row(*self.buttons))

    def set_sources(self, specs: list[str]) -> None:
        self.list.clear()
        for spec in specs:
            self.add_source(spec)

    def add_source(self, spec: str) -> None:
        """Add (checked) a folder, a manifest.csv or NAME:PATH spec; the recordings folder is named as such."""
        shown = home_short(spec)
        item = QListWidgetItem(f"Recordings ({shown})" if Path(spec) == paths.recordings_dir() else shown)
        item.setToolTip(spec)
        item.setData(Qt.ItemDataRole.UserRole, spec)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        self.list.addItem(item)

    def sources(self) -> list[str]:
        """The checked data specs."""
        items = (self.list.item(i) for i in range(self.list.count()))
        return [
            i.data(Qt.ItemDataRole.UserRole) for i in items if i is not None and i.checkState() == Qt.CheckState.Checked
        ]

    def missing_data(self) -> str:
        """Why there is nothing to train on ("" when there may be)."""
        specs = self.sources()
        if not specs:
            return "No data selected: check at least one data source, or add a folder or dataset."
        if specs == [str(paths.recordings_dir())] and not (paths.recordings_dir() / MANIFEST_NAME).is_file():
            return (
                "No recordings yet: record live and attack sessions of at least two subjects in the "
                "Recording panel, or add a folder or dataset."
            )
        return ""

    def _remove_selected(self) -> None:
        for item in self.list.selectedItems():
            self.list.takeItem(self.list.row(item))

    def _add_folder(self) -> None:
        if folder := dialogs.ask_folder(self, "Add a folder of labelled data (DIR/<label>/<files>)", Path.home()):
            self.add_source(str(folder))

    def _add_dataset(self) -> None:
        if name := dialogs.ask_manifest(self, Path.home()):
            self.add_source(name)
