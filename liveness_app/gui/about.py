"""Help > About: the version, what ships with the app under which terms, and where the app keeps its data and
its log. The text comes from :func:`about_html` (tests read it); the dialog only shows it."""

from __future__ import annotations

import html
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from PyQt6.QtCore import PYQT_VERSION_STR, QT_VERSION_STR, Qt
from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from .. import __version__, paths

# What the app ships, and on which terms (the model card, assets/README.md and the licence files say more).
SHIPPED = (
    (
        "Bundled models",
        "<code>models/default.pt</code>, <code>models/imagenet-mobilenet-v2.pt</code> and their ONNX "
        "exports: trained on research data sets (NUAA, public recordings), so for <b>research and evaluation "
        "use only</b>. Their limits and data: the model card, <code>models/default.md</code>. The MobileNetV2 "
        "starting weights are torchvision's ImageNet weights (BSD-3-Clause).",
    ),
    (
        "Face detector",
        "MediaPipe BlazeFace (<code>assets/face_detection_*.tflite</code>), Apache-2.0 "
        "(<code>assets/LICENSE-mediapipe-Apache-2.0.txt</code>).",
    ),
    (
        "Sample video",
        "made by this project from scikit-image's public-domain NASA portrait of Eileen Collins.",
    ),
    (
        "Not shipped",
        "the open models that <code>liveness-eval --compare</code> and training can use as baselines and "
        "teachers (Silent-Face and face-antispoof-onnx: Apache-2.0; HyperFAS: BSD-3-Clause): you give their "
        "folder.",
    ),
    ("This program", "Apache-2.0."),
)


@dataclass(frozen=True)
class Places:
    """Where the app keeps what the user makes."""

    data: Path
    recordings: Path
    models: Path
    logs: Path

    @classmethod
    def current(cls) -> Places:
        return cls(paths.user_data_dir(), paths.recordings_dir(), paths.user_models_dir(), paths.log_file())


def versions() -> str:
    """The app's version and those of what it runs on (read from the installed packages, nothing imported)."""
    parts = [f"Python {platform.python_version()}", f"Qt {QT_VERSION_STR} (PyQt {PYQT_VERSION_STR})"]
    for name, shown in (("torch", "PyTorch"), ("onnxruntime", "ONNX Runtime")):
        try:
            parts.append(f"{shown} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"no {shown}")
    return " · ".join(parts)


def about_html(places: Places, version: str = __version__) -> str:
    """The About text: version, what ships under which terms, where data and the log are."""
    rows = "".join(f"<li><b>{title}</b>: {text}</li>" for title, text in SHIPPED)
    where = (
        ("Your data (settings.json, snapshots, reports)", places.data),
        ("Recordings", places.recordings),
        ("Your models", places.models),
        ("Log (errors and crashes)", places.logs),
    )
    folders = "".join(f"<li>{title}: <code>{html.escape(str(path))}</code></li>" for title, path in where)
    return (
        f"<h3>Liveness Studio {html.escape(version)}</h3>"
        "<p>Real-time face liveness detection (face anti-spoofing): tells a live face from a photo, a replay "
        "or a mask; records, retrains and evaluates.</p>"
        f"<p><small>{html.escape(versions())}</small></p>"
        f"<p><b>What is shipped, and on which terms</b></p><ul>{rows}</ul>"
        f"<p><b>Where your data and the log are</b></p><ul>{folders}</ul>"
        "<p>Set <code>LIVENESS_STUDIO_HOME</code> to keep all of it in another folder.</p>"
    )


class AboutDialog(QDialog):
    """The About text in a dialog with a Close button; its paths can be selected and copied."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("About Liveness Studio")
        self.setWindowIcon(QIcon(str(paths.asset_path("icon.png"))))
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.label.setMinimumWidth(520)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.label)
        layout.addWidget(buttons)


def show_about(parent: QWidget) -> AboutDialog:
    """Open the About dialog over ``parent`` (without blocking: the video goes on behind it)."""
    dialog = AboutDialog(about_html(Places.current()), parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
