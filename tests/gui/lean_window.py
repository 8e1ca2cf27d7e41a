"""Run by test_lean_runtime.py in a process where torch, torchvision and training cannot be imported (as in
the lean bundle): the window streams the sample video, scores in ONNX Runtime with Grad-CAM, shows a note
where the Training panel would be, and refuses a checkpoint with the way out. Prints "LEAN WINDOW OK"."""

from __future__ import annotations

import sys

sys.modules.update(dict.fromkeys(["torch", "torchvision", "training"]))  # import torch -> ImportError

import os  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ["QT_QPA_PLATFORM"] = "offscreen"
from PyQt6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from liveness_app.config import AppConfig  # noqa: E402
from liveness_app.gui.main_window import MainWindow  # noqa: E402
from liveness_app.gui.panels.info import NotePanel  # noqa: E402
from liveness_app.gui.settings_store import SettingsFile  # noqa: E402


def wait(app: QApplication, check, seconds: float = 600.0) -> None:  # bounds a hang, not a speed
    end = time.monotonic() + seconds
    while not check():
        if time.monotonic() > end:
            raise TimeoutError("timed out")
        app.processEvents()
        time.sleep(0.01)


def main(root: Path, home: Path) -> int:
    app = QApplication([])
    warnings: list[str] = []
    QMessageBox.warning = lambda *args, **kw: warnings.append(str(args[2]))  # record, never block
    config = AppConfig(
        source=str(root / "assets" / "sample.mp4"),
        model=root / "models" / "default.onnx",
        heatmap=True,
        explicit=frozenset({"source", "model", "heatmap"}),
    )
    window = MainWindow(config, settings=SettingsFile(home / "settings.json"))
    window.show()
    results = []
    window.controller.result_ready.connect(results.append)
    wait(app, lambda: any(r.faces and r.faces[0].heatmap is not None for r in results))
    assert window.active_model.model.backend == "onnx", window.active_model.model.reason
    assert "ONNX Runtime" in window.status.device_label.text()
    assert isinstance(window.training_panel, NotePanel) and "full install" in window.training_panel.label.text()
    assert not window.menu_actions.backends["torch"].isEnabled()
    refused = []
    window.active_model.load_failed.connect(lambda failure: refused.append(failure.message))
    window.active_model.activate(root / "models" / "default.pt")
    wait(app, lambda: bool(refused))
    assert "PyTorch checkpoint" in refused[0] and "liveness-export" in refused[0], refused
    assert window.active_model.model.path.suffix == ".onnx"  # the model in use stays
    assert window.open_adapt_dialog() is None and any("full install" in w for w in warnings), warnings
    assert sys.modules["torch"] is None
    window.close()
    print("LEAN WINDOW OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
