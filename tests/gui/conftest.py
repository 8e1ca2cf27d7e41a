"""Fixtures of the GUI tests: settings kept in the test's folder, a settings file, message boxes that
record instead of blocking, the main window (two ways: ``make_window`` for the window tests, ``window``
set up for tiny training runs), and recordings made by the app's own recorder. Qt runs offscreen."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from gui_helpers import TAKES, TIMEOUT_MS, TINY, app_config
from PyQt6.QtCore import QSettings
from PyQt6.QtWidgets import QMessageBox

from liveness_app import paths
from liveness_app.core.camera import VideoFileSource
from liveness_app.core.recorder import Recorder
from liveness_app.core.session_store import SessionStore
from liveness_app.gui.main_window import MainWindow
from liveness_app.gui.settings_store import SettingsFile


@pytest.fixture(autouse=True)
def _no_real_settings(tmp_path: Path) -> None:
    """The platform's QSettings (where an old version's settings are imported from) is the test's folder's."""
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))


@pytest.fixture(autouse=True)
def _no_blocking_boxes(monkeypatch: pytest.MonkeyPatch) -> None:
    """A message box nobody expected must fail the test, not hang it on a modal loop: it is printed (the
    failure report shows it) and dismissed. ``warnings_shown`` replaces this for tests that expect one."""
    for kind in ("warning", "critical", "information"):
        monkeypatch.setattr(
            QMessageBox, kind, lambda parent, title, text, *a, k=kind: print(f"QMessageBox.{k}: {title}: {text}")
        )


@pytest.fixture
def settings_store(tmp_path: Path) -> SettingsFile:
    return SettingsFile(tmp_path / "settings.json")


@pytest.fixture
def make_window(qtbot, settings_store, detector_path, sample_video, tiny_model) -> Callable[..., MainWindow]:
    def make(
        opener: Callable | None = None,
        settings: SettingsFile | None = None,
        on_window: Callable | None = None,
        **values: object,
    ) -> MainWindow:
        values.setdefault("source", str(sample_video))
        values.setdefault("model", tiny_model)
        values = {k: v for k, v in values.items() if v is not None}
        window = MainWindow(
            app_config(detector_path, **values), settings=settings or settings_store, source_opener=opener
        )
        if on_window is not None:  # before any queued signal of the window is delivered
            on_window(window)
        qtbot.addWidget(window)
        window.show()  # the view renders frames when it paints, and only a shown widget paints
        qtbot.waitUntil(
            lambda: not window.active_model.loading, timeout=TIMEOUT_MS
        )  # start-up model, off the GUI thread
        return window

    return make


@pytest.fixture
def warnings_shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """QMessageBox.warning records its text instead of blocking on a modal box."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    return shown


@pytest.fixture
def window(qtbot, tmp_path, detector_path, sample_video, tiny_model) -> MainWindow:
    """The app on the sample video with the tiny model, on the CPU; the training panel set to tiny runs."""
    config = app_config(detector_path, source=str(sample_video), model=tiny_model)
    win = MainWindow(config, settings=SettingsFile(tmp_path / "settings.json"))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: not win.active_model.loading, timeout=TIMEOUT_MS)  # the start-up model, off the GUI thread
    win.training_panel.overrides.update(TINY)
    win.training_panel.form.device_combo.setCurrentText("cpu")
    return win


@pytest.fixture
def recordings(sample_video: Path) -> Path:
    """Four one-second sessions (alice and bob, live and print) written by the app's own recorder."""
    store = SessionStore(paths.recordings_dir())
    video = VideoFileSource(sample_video)
    try:
        for label, subject in TAKES:
            rec = Recorder(store, label, subject, camera=video.name, fps=video.fps, size=(640, 480))
            for _ in range(30):
                rec.write(video.read())
            rec.stop()
    finally:
        video.close()
    return store.root
