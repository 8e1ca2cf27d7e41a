"""What the app remembers and how it starts: settings that persist (and the command line that wins over
them), a bundled model remembered by name, the config file, and the entry point (self-test, main, the
excepthook that logs and shows a message)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS, garbage_model  # noqa: E402
from PyQt6.QtCore import QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from liveness_app import __main__ as entry  # noqa: E402
from liveness_app import paths
from liveness_app.config import AppConfig, load_config  # noqa: E402
from liveness_app.gui.main_window import MainWindow  # noqa: E402
from studio_fakes import make_checkpoint  # noqa: E402

pytestmark = pytest.mark.gui


# -- settings --------------------------------------------------------------------------------------------
def test_settings_persist_and_command_line_wins(qtbot, make_window, settings_store, sample_video) -> None:
    second = make_checkpoint(paths.user_models_dir() / "second.pt", name="second", seed=1)
    first = make_window()
    with qtbot.waitSignal(first.active_model.model_changed, timeout=TIMEOUT_MS):
        first.model_menu.action_for(second).trigger()
    first.menu_actions.heatmap.trigger()
    first.menu_actions.box.trigger()
    first.threshold.spin.setValue(0.42)
    first.close()

    again = make_window(source=None, model=None, device=None)
    assert again.active_model.model.meta.name == "second"
    assert again.active_model.pipeline.threshold == pytest.approx(0.42) and again.threshold.value == pytest.approx(0.42)
    assert again.menu_actions.heatmap.isChecked() and not again.menu_actions.box.isChecked()
    assert again.menu_actions.devices["cpu"].isChecked()
    again.close()

    overridden = make_window(model=None, heatmap=False, threshold=0.3)
    assert not overridden.menu_actions.heatmap.isChecked()
    assert overridden.active_model.pipeline.threshold == pytest.approx(0.3)
    assert overridden.active_model.model.meta.name == "second"


def test_a_bundled_model_is_remembered_by_name_not_by_install_path(settings_store, tmp_path, monkeypatch) -> None:
    """Another install (a new version, the frozen app beside a checkout) must use its own bundled copy."""
    from liveness_app.gui.settings import AppSettings

    first, second = tmp_path / "install1" / "models", tmp_path / "install2" / "models"
    for folder in (first, second):
        folder.mkdir(parents=True)
        (folder / "default.pt").write_bytes(b"x")
    own = tmp_path / "mine.pt"
    settings = AppSettings(settings_store)
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: first)
    settings.last_model = first / "default.pt"
    settings.set_threshold_override(first / "default.pt", 0.3)
    assert settings_store.value("model/last") == "bundled:default.pt"
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: second)
    assert settings.last_model == second / "default.pt"
    assert settings.threshold_override(second / "default.pt") == 0.3
    settings.last_model = own  # a user's own file stays where it is
    assert settings.last_model == own.resolve()


# -- entry point and configuration -----------------------------------------------------------------------
def test_config_file_then_command_line(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text('device = "cpu"\nthreshold = 0.4\nmodel = "models/m.pt"\nheatmap = true\n')
    config = load_config(["--config", str(config_file), "--threshold", "0.7", "--source", "1"])
    assert (config.device, config.threshold, config.source, config.heatmap) == ("cpu", 0.7, "1", True)
    assert config.model == tmp_path / "models" / "m.pt"
    assert {"device", "threshold", "source", "heatmap", "model"} <= config.explicit
    assert load_config([]) == AppConfig()  # no user file: the defaults


def test_config_file_unknown_key_is_a_clear_error(tmp_path: Path) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text('devise = "cpu"\n')
    with pytest.raises(ValueError, match="unknown setting.*devise"):
        load_config(["--config", str(config_file)])
    with pytest.raises(SystemExit):
        load_config(["--threshold", "1.5"])


def test_main_self_test_runs_without_a_window(tiny_model, capsys) -> None:
    assert entry.main(["--self-test", "--model", str(tiny_model), "--device", "cpu"]) == 0
    assert "SELF-TEST OK" in capsys.readouterr().out
    assert not [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]


def test_main_self_test_failure_is_its_exit_code(tmp_path, capsys) -> None:
    assert entry.main(["--self-test", "--model", str(garbage_model(tmp_path / "bad.pt"))]) == 1
    assert "SELF-TEST FAILED" in capsys.readouterr().out


def test_main_opens_the_window_and_returns_its_exit_code(qtbot, monkeypatch, tiny_model, sample_video) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after main() installs its own

    def close_windows() -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, MainWindow) and widget.isVisible():
                qtbot.addWidget(widget)
                widget.close()

    QTimer.singleShot(0, close_windows)  # runs once the event loop of main() is up
    assert entry.main(["--source", str(sample_video), "--model", str(tiny_model), "--device", "cpu"]) == 0
    assert sys.excepthook is not sys.__excepthook__


def test_excepthook_logs_and_shows_a_message(qtbot, monkeypatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: shown.append(text))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    handlers = entry.configure_logging(AppConfig())
    try:
        entry.install_excepthook()
        try:
            raise RuntimeError("boom in a slot")
        except RuntimeError as exc:
            sys.excepthook(type(exc), exc, exc.__traceback__)
        qtbot.waitUntil(lambda: bool(shown), timeout=TIMEOUT_MS)
    finally:
        for handler in handlers:
            logging.getLogger("liveness_app").removeHandler(handler)
            handler.close()
    assert "RuntimeError: boom in a slot" in shown[0]
    log_text = (paths.log_dir() / entry.LOG_FILE_NAME).read_text()
    assert "boom in a slot" in log_text and "Traceback" in log_text
