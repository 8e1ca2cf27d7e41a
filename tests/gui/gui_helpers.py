"""Plain helpers the GUI tests share: the wait limits, a command-line config, waiting for a verdict, a click, a corrupt model
file, and the CI-sized training recipe and takes. Imported as ``gui_helpers`` (pytest puts this folder on
the path for the test modules next to it)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PyQt6.QtCore import Qt

from liveness_app.config import AppConfig
from liveness_app.gui.main_window import MainWindow

# A wait in a test bounds a hang, never a speed: a CI machine shared with other jobs may be many times
# slower than a quiet one (a model load that takes 2 s alone took over 20 s beside other work), so every
# wait is minutes long; a pass is usually well under a second.
TIMEOUT_MS = 300_000
TRAIN_TIMEOUT_MS = 900_000
# A CI-sized run: 32 px input, one batch per epoch, 4 frames per video, no DataLoader processes.
TINY = {
    "input_size": 32,
    "batch_size": 8,
    "workers": 0,
    "frames_per_video": 4,
    "train_frames_per_video": 4,
    "eval_frames_per_video": 4,
}
TAKES = [("live", "alice"), ("print", "alice"), ("live", "bob"), ("print", "bob")]


def app_config(detector: Path, **values: object) -> AppConfig:
    """A config as if ``values`` were typed on the command line (always on the CPU)."""
    values.setdefault("device", "cpu")
    return AppConfig(detector=detector, explicit=frozenset(values), **values)


def wait_result(qtbot, window: MainWindow, check: Callable = lambda r: bool(r.faces)):
    """The next result that passes ``check`` (by default: one with a face)."""
    with qtbot.waitSignal(window.controller.result_ready, timeout=TIMEOUT_MS, check_params_cb=check) as blocker:
        pass
    return blocker.args[0]


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def garbage_model(path: Path) -> Path:
    """A file named like a model that holds bytes no loader accepts."""
    path.write_bytes(b"\x00not a model\xff" * 64)
    return path
