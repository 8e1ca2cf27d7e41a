"""File and folder choosers: each returns a path, or None when the user cancels."""

from __future__ import annotations

from pathlib import Path

from PyQt6.QtWidgets import QFileDialog, QWidget

VIDEO_FILTER = "Videos (*.mp4 *.avi *.mov *.mkv *.webm *.m4v);;All files (*)"
MODEL_FILTER = "Liveness Studio models (*.pt);;All files (*)"
MANIFEST_FILTER = "Dataset manifests (*.csv);;All files (*)"


def ask_video_file(parent: QWidget, start: Path) -> str | None:
    name, _ = QFileDialog.getOpenFileName(parent, "Open video", str(start), VIDEO_FILTER)
    return name or None


def ask_model_file(parent: QWidget, start: Path) -> Path | None:
    name, _ = QFileDialog.getOpenFileName(parent, "Open model", str(start), MODEL_FILTER)
    return Path(name) if name else None


def ask_folder(parent: QWidget, title: str, start: Path) -> Path | None:
    name = QFileDialog.getExistingDirectory(parent, title, str(start))
    return Path(name) if name else None


def ask_manifest(parent: QWidget, start: Path) -> str | None:
    name, _ = QFileDialog.getOpenFileName(parent, "Add dataset (manifest.csv)", str(start), MANIFEST_FILTER)
    return name or None
