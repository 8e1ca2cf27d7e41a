"""The GUI end to end, offscreen: the bundled sample video stands in for the camera, a tiny model runs on
the CPU, settings live in a temporary INI file. Waits are on signals and conditions, never on sleeps."""
from __future__ import annotations

import threading

import logging
import sys
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QSettings, QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from studio_fakes import make_checkpoint  # noqa: E402
from liveness_app import __main__ as entry, paths  # noqa: E402
from liveness_app.config import AppConfig, load_config  # noqa: E402
from liveness_app.core.camera import CameraUnavailableError, VideoFileSource, open_source  # noqa: E402
from liveness_app.core.smoothing import Verdict  # noqa: E402
from liveness_app.gui import dialogs  # noqa: E402
from liveness_app.gui.main_window import MainWindow  # noqa: E402

pytestmark = pytest.mark.gui
TIMEOUT_MS = 20_000  # generous: a loaded CI machine may be slow; a pass is usually well under a second


@pytest.fixture(autouse=True)
def _no_real_settings(tmp_path: Path) -> None:
    """A QSettings built without injection (as main() does) lands in the test's folder, not the user's."""
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))


@pytest.fixture
def settings_store(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def app_config(detector: Path, **values: object) -> AppConfig:
    """A config as if ``values`` were typed on the command line (always on the CPU)."""
    values.setdefault("device", "cpu")
    return AppConfig(detector=detector, explicit=frozenset(values), **values)


@pytest.fixture
def make_window(qtbot, settings_store, detector_path, sample_video, tiny_model) -> Callable[..., MainWindow]:
    def make(opener: Callable | None = None, settings: QSettings | None = None,
             on_window: Callable | None = None, **values: object) -> MainWindow:
        values.setdefault("source", str(sample_video))
        values.setdefault("model", tiny_model)
        values = {k: v for k, v in values.items() if v is not None}
        window = MainWindow(app_config(detector_path, **values), settings=settings or settings_store,
                            source_opener=opener)
        if on_window is not None:  # before any queued signal of the window is delivered
            on_window(window)
        qtbot.addWidget(window)
        window.show()  # the view renders frames when it paints, and only a shown widget paints
        qtbot.waitUntil(lambda: not window.model_loading, timeout=TIMEOUT_MS)  # start-up model, off the GUI thread
        return window
    return make


def wait_result(qtbot, window: MainWindow, check: Callable = lambda r: bool(r.faces)):
    """The next result that passes ``check`` (by default: one with a face)."""
    with qtbot.waitSignal(window.controller.result_ready, timeout=TIMEOUT_MS, check_params_cb=check) as blocker:
        pass
    return blocker.args[0]


@pytest.fixture
def warnings_shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """QMessageBox.warning records its text instead of blocking on a modal box."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    return shown


# -- streaming -------------------------------------------------------------------------------------------
def test_sample_video_gives_verdicts_and_shows_frames(qtbot, make_window) -> None:
    window = make_window()
    result = wait_result(qtbot, window)
    assert result.model_name == "tiny"
    assert result.faces[0].verdict in set(Verdict)
    assert 0.0 <= result.faces[0].smoothed <= 1.0
    qtbot.waitUntil(lambda: window.view.painted > 0, timeout=TIMEOUT_MS)
    assert window.view.message == ""
    qtbot.waitUntil(lambda: window.faces_panel.rowCount() >= 1, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: "fps" in window.status.stats_label.text(), timeout=TIMEOUT_MS)
    assert "verdicts/s" in window.status.stats_label.text()
    assert window.status.source_label.text() == "Source: sample.mp4"
    assert window.model_panel.field("Name") == "tiny"
    assert window.model_panel.field("Input").startswith("64×64")


def test_model_switch_from_menu_keeps_stream_running(qtbot, make_window) -> None:
    second = make_checkpoint(paths.user_models_dir() / "second.pt", name="second", seed=1)
    window = make_window()
    wait_result(qtbot, window)
    capture_thread = window.controller.threads()[0]
    window.refresh_model_menu()
    action = window.model_menu.action_for(second)
    assert action is not None and not action.isChecked()

    with qtbot.waitSignal(window.model_changed, timeout=TIMEOUT_MS):  # loaded off the GUI thread
        action.trigger()

    assert window.pipeline.model.meta.name == "second"
    assert action.isChecked()
    assert window.model_panel.field("Name") == "second"
    result = wait_result(qtbot, window, lambda r: r.model_name == "second" and bool(r.faces))
    assert result.faces
    assert window.controller.threads()[0] is capture_thread and capture_thread.isRunning()


def test_heatmap_toggle_computes_gradcam_only_when_shown(qtbot, make_window) -> None:
    window = make_window()
    assert wait_result(qtbot, window).faces[0].heatmap is None
    window.menu_actions.heatmap.trigger()
    assert window.view.options.heatmap
    result = wait_result(qtbot, window, lambda r: bool(r.faces) and r.faces[0].heatmap is not None)
    assert result.faces[0].heatmap.min() >= 0.0 and result.faces[0].heatmap.max() <= 1.0
    window.menu_actions.heatmap.trigger()
    wait_result(qtbot, window, lambda r: bool(r.faces) and r.faces[0].heatmap is None)


def test_device_menu(qtbot, make_window) -> None:
    window = make_window()
    cuda = window.menu_actions.devices["cuda"]
    if not torch.cuda.is_available():
        assert not cuda.isEnabled() and "CUDA" in cuda.toolTip()
    with qtbot.waitSignal(window.model_changed, timeout=TIMEOUT_MS):
        assert window.set_device("cpu")
    assert window.menu_actions.devices["cpu"].isChecked()
    assert window.model.device.type == "cpu"
    assert "cpu" in window.status.device_label.text()


# -- missing or failing sources --------------------------------------------------------------------------
def _no_cameras(spec: str):
    if spec.strip().isdigit():
        raise CameraUnavailableError(f"No camera found at index {spec}.")
    return open_source(spec)


def test_missing_camera_shows_message_and_window_stays_usable(qtbot, make_window, sample_video) -> None:
    window = make_window(opener=_no_cameras, source="7")
    assert "No camera found at index 7" in window.view.message
    assert "File > Open video" in window.view.message
    assert "No camera found at index 7" in window.status.source_label.text()
    assert not window.controller.is_running
    assert not window.recording_panel.record_button.isEnabled()  # nothing to record: greyed, as Qt apps do
    assert window.open_source(str(sample_video))  # what File > Open video... does after its dialog
    wait_result(qtbot, window)
    qtbot.waitUntil(lambda: window.view.message == "", timeout=TIMEOUT_MS)
    qtbot.waitUntil(window.recording_panel.record_button.isEnabled, timeout=TIMEOUT_MS)


def test_the_recorder_is_fed_on_the_capture_thread_not_the_gui_thread(qtbot, make_window) -> None:
    window = make_window()
    qtbot.waitUntil(lambda: window.controller.frame_size is not None, timeout=TIMEOUT_MS)
    assert window.controller.frame_size == (640, 480)
    threads: list[int] = []
    assert window.controller.set_frame_sink(lambda image: threads.append(threading.get_ident()))
    qtbot.waitUntil(lambda: len(threads) >= 3, timeout=TIMEOUT_MS)
    window.controller.set_frame_sink(None)
    assert threading.get_ident() not in threads
    window.controller.stop()
    assert window.controller.frame_size is None and not window.controller.set_frame_sink(print)


def test_no_source_given_and_no_camera_plays_the_sample_video(qtbot, make_window) -> None:
    window = make_window(opener=_no_cameras, source=None)
    assert window.status.source_label.text() == "No camera found — playing the bundled sample video"
    wait_result(qtbot, window)


def test_no_source_given_reopens_the_last_camera(qtbot, make_window, settings_store, sample_video) -> None:
    opened: list[str] = []

    def opener(spec: str):
        opened.append(spec)
        return open_source(str(sample_video))  # any camera index "works": the sample video stands in

    make_window(opener=opener, source="2").close()
    make_window(opener=opener, source=None)
    assert opened == ["2", "2"]


class _UnpluggedCamera:
    """Delivers a few frames of the sample video, then fails as an unplugged camera does."""

    paced, fps, name = True, 30.0, "camera 0"

    def __init__(self, path: Path, frames: int = 5) -> None:
        self._video, self._left = VideoFileSource(path), frames

    def read(self) -> np.ndarray:
        self._left -= 1
        if self._left < 0:
            raise CameraUnavailableError("camera 0 stopped delivering frames (unplugged?).")
        return self._video.read()

    def close(self) -> None:
        self._video.close()


def test_unplugged_camera_is_reported_not_fatal(qtbot, make_window, sample_video) -> None:
    failures: list[str] = []
    window = make_window(opener=lambda spec: _UnpluggedCamera(sample_video), source="0",
                         on_window=lambda w: w.controller.source_failed.connect(failures.append))
    qtbot.waitUntil(lambda: bool(failures), timeout=TIMEOUT_MS)  # it may fail while the model still loads
    assert "unplugged" in failures[0]
    assert "unplugged" in window.view.message and "unplugged" in window.status.source_label.text()
    assert not window.controller.is_running and window.controller.threads() == []


# -- models ----------------------------------------------------------------------------------------------
def _garbage(path: Path) -> Path:
    path.write_bytes(b"\x00not a model\xff" * 64)
    return path


def _foreign_pickle(path: Path) -> Path:
    torch.save({"weights": torch.zeros(3), "epoch": 3}, path)
    return path


def _mismatched(path: Path) -> Path:
    data = torch.load(make_checkpoint(path), weights_only=True)
    data["state_dict"].pop(next(iter(data["state_dict"])))
    torch.save(data, path)
    return path


@pytest.mark.parametrize("make_bad", [_garbage, _foreign_pickle, _mismatched])
def test_unusable_model_is_refused_and_current_stays(qtbot, make_window, warnings_shown, make_bad) -> None:
    bad = make_bad(paths.user_models_dir() / "bad.pt")
    window = make_window()
    window.refresh_model_menu()
    with qtbot.waitSignal(window.model_refused, timeout=TIMEOUT_MS):
        window.model_menu.action_for(bad).trigger()

    assert len(warnings_shown) == 1 and "bad.pt" in warnings_shown[0]
    assert window.pipeline.model.meta.name == "tiny"
    assert window.model_menu.action_for(window.model.path).isChecked()
    assert not window.model_menu.action_for(bad).isChecked()
    wait_result(qtbot, window, lambda r: r.model_name == "tiny")


def test_unusable_model_at_start_up_leaves_a_running_window(qtbot, make_window, warnings_shown,
                                                            tmp_path) -> None:
    window = make_window(model=_garbage(tmp_path / "corrupt.pt"))
    qtbot.waitUntil(lambda: bool(warnings_shown), timeout=TIMEOUT_MS)  # shown once the window is up
    assert "corrupt.pt" in warnings_shown[0] and "without verdicts" in warnings_shown[0]
    assert window.model is None and window.pipeline is None
    assert window.model_panel.field("Name") == "no model loaded"
    assert not window.threshold.isEnabled()
    qtbot.waitUntil(lambda: "no model" in window.status.stats_label.text(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.view.painted > 0, timeout=TIMEOUT_MS)  # the video still plays

    with qtbot.waitSignal(window.model_changed, timeout=TIMEOUT_MS):  # and scoring starts
        window.activate_model(make_checkpoint(tmp_path / "good.pt", name="good"))
    assert wait_result(qtbot, window).model_name == "good"


def test_open_model_dialog_refuses_a_foreign_file(qtbot, make_window, warnings_shown, tmp_path,
                                                  monkeypatch) -> None:
    foreign = _foreign_pickle(tmp_path / "foreign.pt")
    monkeypatch.setattr(dialogs, "ask_model_file", lambda parent, start: foreign)
    window = make_window()
    with qtbot.waitSignal(window.model_refused, timeout=TIMEOUT_MS):
        window.model_menu.open_action.trigger()
    assert len(warnings_shown) == 1 and "not a Liveness Studio model" in warnings_shown[0]
    assert window.model.meta.name == "tiny"


def test_threshold_control_defaults_to_the_models_and_resets(qtbot, make_window, tmp_path) -> None:
    model = make_checkpoint(tmp_path / "calibrated.pt", threshold=0.37, name="calibrated")
    window = make_window(model=model)
    assert window.threshold.value == pytest.approx(0.37)
    assert window.pipeline.threshold == pytest.approx(0.37)
    assert not window.threshold.reset_button.isEnabled()

    window.threshold.spin.setValue(0.6)
    assert window.pipeline.threshold == pytest.approx(0.6)
    wait_result(qtbot, window, lambda r: r.threshold == pytest.approx(0.6))
    window.threshold.reset_button.click()
    assert window.pipeline.threshold == pytest.approx(0.37)
    assert window.settings.threshold_override(model) is None


def test_snapshot_writes_png(qtbot, make_window) -> None:
    window = make_window()
    wait_result(qtbot, window)
    qtbot.waitUntil(lambda: window.view.current_image() is not None, timeout=TIMEOUT_MS)
    window.menu_actions.snapshot.trigger()
    shots = list((paths.user_data_dir() / "snapshots").glob("*.png"))
    assert len(shots) == 1
    image = cv2.imread(str(shots[0]))
    assert image is not None and image.shape == (480, 640, 3)
    assert str(shots[0]) in window.status.currentMessage()


# -- settings and lifecycle ------------------------------------------------------------------------------
def test_settings_persist_and_command_line_wins(qtbot, make_window, settings_store, sample_video) -> None:
    second = make_checkpoint(paths.user_models_dir() / "second.pt", name="second", seed=1)
    first = make_window()
    with qtbot.waitSignal(first.model_changed, timeout=TIMEOUT_MS):
        first.model_menu.action_for(second).trigger()
    first.menu_actions.heatmap.trigger()
    first.menu_actions.box.trigger()
    first.threshold.spin.setValue(0.42)
    first.close()

    again = make_window(source=None, model=None, device=None)
    assert again.model.meta.name == "second"
    assert again.pipeline.threshold == pytest.approx(0.42) and again.threshold.value == pytest.approx(0.42)
    assert again.menu_actions.heatmap.isChecked() and not again.menu_actions.box.isChecked()
    assert again.menu_actions.devices["cpu"].isChecked()
    again.close()

    overridden = make_window(model=None, heatmap=False, threshold=0.3)
    assert not overridden.menu_actions.heatmap.isChecked()
    assert overridden.pipeline.threshold == pytest.approx(0.3)
    assert overridden.model.meta.name == "second"


def test_close_stops_threads_cleanly(qtbot, qtlog, make_window) -> None:
    window = make_window()
    wait_result(qtbot, window)
    threads = window.controller.threads()
    assert len(threads) == 2 and all(t.isRunning() for t in threads)
    window.close()
    assert all(t.isFinished() for t in threads)
    assert not window.controller.is_running and window.controller.threads() == []
    assert not [r for r in qtlog.records if "QThread" in r.message]


def test_switching_sources_does_not_leak_threads(qtbot, make_window, sample_video) -> None:
    window = make_window()
    wait_result(qtbot, window)
    old = window.controller.threads()
    assert window.open_source(str(sample_video))
    assert all(t.isFinished() for t in old)
    assert len(window.controller.threads()) == 2
    wait_result(qtbot, window)


def test_a_signal_still_queued_from_a_replaced_source_is_ignored(qtbot, make_window, sample_video) -> None:
    window = make_window()
    wait_result(qtbot, window)
    old_capture = window.controller._capture[0]
    assert window.open_source(str(sample_video))
    received: list = []
    window.controller.frame_ready.connect(received.append)
    old_capture.frame_ready.emit("stale")  # what a frame in flight at the switch looks like
    qtbot.wait(50)
    assert "stale" not in received


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
    assert entry.main(["--self-test", "--model", str(_garbage(tmp_path / "bad.pt"))]) == 1
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
