"""The soak's ``gui`` target: the real MainWindow, offscreen, streaming with heatmaps for a while.

Imported by ``scripts/soak.py`` (which puts this folder on ``sys.path``); Qt is imported only when the
target runs, so loading the soak script needs no Qt. RSS is sampled by a QTimer on the GUI thread.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soak import Sampler


def _gui_config(args: argparse.Namespace) -> Any:
    from liveness_app.config import load_config

    return load_config(["--source", str(args.source), "--heatmap", "--device", args.device, "--model", str(args.model)])


class _GuiCounts:
    """What the window received, to show that it really streamed (frames, verdicts, errors)."""

    def __init__(self) -> None:
        self.frames = self.results = self.results_with_faces = 0
        self.messages: list[str] = []

    def on_frame(self, _frame: object) -> None:
        self.frames += 1

    def on_result(self, result: Any) -> None:
        self.results += 1
        self.results_with_faces += bool(result.faces)

    def on_message(self, text: str) -> None:
        self.messages.append(text)
        print(f"soak gui: {text}", file=sys.stderr)


def _silence_message_boxes(counts: _GuiCounts) -> None:
    """A modal box would stop an unattended soak: its text is recorded instead."""
    from PyQt6.QtWidgets import QMessageBox, QWidget

    # QMessageBox.warning's (and critical's) signature, keyword names included
    def record(
        parent: QWidget | None,
        title: str | None,
        text: str | None,
        buttons: QMessageBox.StandardButton = QMessageBox.StandardButton.Ok,
        defaultButton: QMessageBox.StandardButton = QMessageBox.StandardButton.NoButton,
    ) -> QMessageBox.StandardButton:
        counts.on_message(f"{title}: {text}")
        return QMessageBox.StandardButton.NoButton  # no caller reads it

    QMessageBox.warning = record  # type: ignore[method-assign]
    QMessageBox.critical = record  # type: ignore[method-assign]


def soak_gui(args: argparse.Namespace, sampler: Sampler) -> dict[str, Any]:
    """The real MainWindow, offscreen, streaming for ``args.seconds``; settings in a temporary folder."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="liveness-soak-") as tmp:
        os.environ["LIVENESS_STUDIO_HOME"] = str(Path(tmp) / "home")  # never the user's data or settings
        from PyQt6.QtCore import QTimer
        from PyQt6.QtWidgets import QApplication

        from liveness_app.gui.main_window import MainWindow
        from liveness_app.gui.settings_store import SettingsFile

        app = QApplication.instance() or QApplication(["liveness-soak"])
        counts = _GuiCounts()
        _silence_message_boxes(counts)
        sampler.sample()
        window = MainWindow(_gui_config(args), settings=SettingsFile(Path(tmp) / "settings.json"))
        _connect_counts(window, counts)
        window.show()
        timer = QTimer()
        timer.setInterval(int(args.interval * 1000))
        timer.timeout.connect(sampler.sample)
        timer.start()
        sampler.mark("stream_start")
        QTimer.singleShot(int(args.seconds * 1000), lambda: _finish(window, sampler, timer, app))
        app.exec()
    return {
        "gui": {
            "frames": counts.frames,
            "results": counts.results,
            "results_with_faces": counts.results_with_faces,
            "messages": counts.messages,
        }
    }


def _connect_counts(window: Any, counts: _GuiCounts) -> None:
    window.controller.frame_ready.connect(counts.on_frame)
    window.controller.result_ready.connect(counts.on_result)
    window.controller.source_failed.connect(counts.on_message)
    window.controller.scoring_failed.connect(counts.on_message)


def _finish(window: Any, sampler: Sampler, timer: Any, app: Any) -> None:
    sampler.mark("stream_end")
    timer.stop()
    window.close()  # stops the stream threads, as closing the app does
    app.quit()
