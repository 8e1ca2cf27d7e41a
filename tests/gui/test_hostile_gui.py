"""The app started offscreen on hostile files made by the test: a recordings manifest of the wrong shape or
pointing outside its folder, a settings file of wrong types, a damaged model remembered as the last one.
It always starts, refuses what it must, says why, and logs what went wrong."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QSettings, Qt  # noqa: E402
from PyQt6.QtWidgets import QMessageBox  # noqa: E402

from liveness_app import __main__ as entry  # noqa: E402
from liveness_app import paths
from liveness_app.config import AppConfig  # noqa: E402
from liveness_app.gui import main_window  # noqa: E402
from liveness_app.gui.main_window import MainWindow  # noqa: E402
from liveness_app.gui.settings import AppSettings  # noqa: E402
from liveness_app.gui.settings_store import SettingsFile, default_store  # noqa: E402
from studio_fakes import make_checkpoint  # noqa: E402

pytestmark = pytest.mark.gui
TIMEOUT_MS = 20_000


@pytest.fixture(autouse=True)
def _no_real_settings(tmp_path: Path) -> None:
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Message boxes record their text instead of blocking."""
    texts: list[str] = []
    for name in ("warning", "critical"):
        monkeypatch.setattr(QMessageBox, name, lambda parent, title, text, *a: texts.append(text))
    return texts


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings.json"


@pytest.fixture
def start(qtbot, settings_file, detector_path, sample_video):
    def make(**values: object) -> MainWindow:
        values.setdefault("source", str(sample_video))
        values.setdefault("device", "cpu")
        config = AppConfig(detector=detector_path, explicit=frozenset(values), **values)
        window = MainWindow(config, settings=SettingsFile(settings_file))
        qtbot.addWidget(window)
        window.show()
        qtbot.waitUntil(lambda: not window.active_model.loading, timeout=TIMEOUT_MS)
        return window

    return make


def _manifest(sessions: object) -> Path:
    root = paths.recordings_dir()
    (root / "manifest.json").write_text(json.dumps({"version": 1, "sessions": sessions}))
    return root


def _rows(window: MainWindow) -> list[tuple[str, ...]]:
    t = window.recording_panel.table
    return [tuple(t.item(r, c).text() for c in range(t.columnCount())) for r in range(t.rowCount())]


@pytest.mark.parametrize("text", ["[]", '{"version": 1, "sessions": ["x"]}', "{broken", '{"version": 1}'])
def test_the_app_starts_whatever_the_manifest_holds(start, shown, tiny_model, text) -> None:
    (paths.recordings_dir() / "manifest.json").write_text(text)
    window = start(model=tiny_model)
    assert window.isVisible() and window.active_model.model.meta.name == "tiny"
    panel = window.recording_panel
    if text.startswith("{b") or text == "[]":  # unreadable as a whole: said above the table
        assert "cannot be read" in panel.session_list.problem_label.text()
        assert not panel.session_list.set_aside_button.isHidden()
    elif "x" in text:
        assert _rows(window)[0][5].startswith("invalid: an entry must be an object")


def test_a_corrupt_manifest_blocks_recording_with_a_message_then_can_be_set_aside(
    qtbot, start, shown, tiny_model, monkeypatch
) -> None:
    manifest = paths.recordings_dir() / "manifest.json"
    manifest.write_text("{broken")
    window = start(model=tiny_model)
    panel = window.recording_panel
    panel.subject_edit.setText("ann")
    qtbot.waitUntil(panel.record_button.isEnabled, timeout=TIMEOUT_MS)  # the source has given a frame
    qtbot.mouseClick(panel.record_button, Qt.MouseButton.LeftButton)
    assert "session list cannot be read" in shown[-1]
    assert not panel.is_recording and panel.record_button.text() == "● Record"
    assert sorted(p.name for p in paths.recordings_dir().iterdir()) == ["manifest.json"]  # no orphan video

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(panel.session_list.set_aside_button, Qt.MouseButton.LeftButton)
    assert not manifest.exists() and panel.session_list.problem_label.isHidden()
    assert [p.read_text() for p in paths.recordings_dir().glob("manifest.json.unreadable-*")] == ["{broken"]
    with qtbot.waitSignal(panel.recording_started, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.record_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.recording_stopped, timeout=TIMEOUT_MS):
        qtbot.mouseClick(panel.record_button, Qt.MouseButton.LeftButton)
    assert len(panel.sessions()) == 1


def test_entries_outside_the_folder_are_listed_as_invalid_and_never_deleted(
    qtbot, start, shown, tiny_model, tmp_path, monkeypatch
) -> None:
    victim = tmp_path / "precious.txt"
    victim.write_text("keep")
    root = paths.recordings_dir()
    (root / "mine.avi").write_bytes(b"x")
    entry_ = {"label": "live", "subject": "ann", "date": "2026-01-01T00:00:00+00:00", "status": "complete"}
    _manifest([{**entry_, "id": "evil", "file": str(victim)}, {**entry_, "id": "mine", "file": "mine.avi"}])
    window = start(model=tiny_model)
    panel = window.recording_panel
    rows = _rows(window)
    assert len(rows) == 2 and rows[1][5].startswith("invalid: file") and "outside" in rows[1][5]
    assert "1 entry of the session list refused" in panel.session_list.problem_label.text()

    panel.table.selectRow(1)  # the refused entry: no action can touch it
    assert not panel.delete_button.isEnabled() and not panel.relabel_button.isEnabled()

    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox, "question", lambda parent, title, text, *a: asked.append(text) or QMessageBox.StandardButton.Yes
    )
    panel.select_session("mine")
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert str((root / "mine.avi").resolve()) in asked[0]  # the confirmation names the file
    assert not (root / "mine.avi").exists() and victim.read_text() == "keep"
    assert [s["id"] for s in json.loads((root / "manifest.json").read_text())["sessions"]] == ["evil"]


def test_settings_of_the_wrong_type_are_ignored(start, shown, settings_file, tmp_path) -> None:
    model = make_checkpoint(tmp_path / "calibrated.pt", threshold=0.37, name="calibrated")
    key = str(model.resolve())
    settings_file.write_text(
        json.dumps(
            {
                "model/thresholds": json.dumps({key: "abc"}),
                "overlay/box": "maybe",
                "model/last": ["a", "b"],
                "model/device": "gpu",
                "model/backend": {"x": 1},
                "window/geometry": "base64:%%%",
            }
        )
    )
    window = start(model=model, device="cpu")
    assert window.threshold.value == pytest.approx(0.37)
    assert window.active_model.pipeline.threshold == pytest.approx(0.37)
    assert window.menu_actions.box.isChecked()  # the default, not a crash
    settings = SettingsFile(settings_file)
    assert AppSettings(settings).device is None and AppSettings(settings).backend is None

    for bad in ("abc", json.dumps({key: float("nan")}), json.dumps({key: 1.7}), json.dumps([0.2])):
        settings.setValue("model/thresholds", bad)
        assert AppSettings(settings).threshold_override(model) is None
    settings.setValue("model/last", "bundled:../../../etc/passwd")
    assert AppSettings(settings).last_model is None


def test_a_damaged_last_model_falls_back_to_the_default_with_a_message(start, shown, settings_file, tmp_path) -> None:
    damaged = make_checkpoint(tmp_path / "damaged.pt", name="damaged")
    data = torch.load(damaged, weights_only=True)
    data["state_dict"]["classifier.3.weight"].fill_(float("nan"))
    torch.save(data, damaged)
    store = SettingsFile(settings_file)
    AppSettings(store).last_model = damaged
    store.sync()
    window = start()  # no --model: the last one used, then the bundled default
    assert window.active_model.model is not None and window.active_model.model.path == paths.default_model_path()
    assert not shown  # quiet at start-up: a status-bar note, not a box


def test_liveness_studio_home_moves_the_settings(_user_home: Path) -> None:
    store = default_store()
    assert Path(store.fileName()) == paths.user_data_dir() / "settings.json"
    assert Path(store.fileName()).is_relative_to(_user_home)


def test_a_crash_at_start_is_logged_with_its_traceback_and_shown(
    qtbot, shown, monkeypatch, tiny_model, sample_video
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)

    def broken(config: AppConfig) -> None:
        raise RuntimeError("the window could not be built")

    monkeypatch.setattr(main_window, "MainWindow", broken)
    code = entry.main(["--source", str(sample_video), "--model", str(tiny_model), "--device", "cpu"])
    assert code == 1
    assert "the window could not be built" in shown[0] and entry.LOG_FILE_NAME in shown[0]
    log_text = (paths.log_dir() / entry.LOG_FILE_NAME).read_text()
    assert "Traceback" in log_text and "the window could not be built" in log_text


def test_a_missing_video_source_is_logged(qtbot, start, shown, tiny_model, tmp_path, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="liveness_app"):
        window = start(model=tiny_model, source=str(tmp_path / "gone.mp4"))
    assert "gone.mp4" in window.view.message
    assert any("no video source" in r.getMessage() and "gone.mp4" in r.getMessage() for r in caplog.records)
