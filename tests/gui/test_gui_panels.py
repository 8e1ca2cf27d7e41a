"""The recording and training panels as a new user meets them, offscreen and CI-sized: record labelled
sessions of the sample video, fix a label, delete a take, survive a failing disk; train a tiny model from
the recordings, pick it up in the Model menu and score with it; cancel a run; evaluate and get a report.
Waits are on signals and conditions, never on sleeps."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import pytest

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QSettings, Qt, QTimer  # noqa: E402
from PyQt6.QtGui import QDesktopServices  # noqa: E402
from PyQt6.QtWidgets import QApplication, QComboBox, QDialog, QLineEdit, QMessageBox  # noqa: E402

from liveness_app import paths  # noqa: E402
from liveness_app.config import AppConfig  # noqa: E402
from liveness_app.core import recorder as recorder_module  # noqa: E402
from liveness_app.core.camera import VideoFileSource  # noqa: E402
from liveness_app.core.recorder import Recorder, RecorderError, SessionStore, load_labels  # noqa: E402
from liveness_app.gui import recording_panel, session_list  # noqa: E402
from liveness_app.gui.main_window import MainWindow  # noqa: E402
from liveness_app.gui.recording_panel import RecordingPanel  # noqa: E402

pytestmark = pytest.mark.gui
TIMEOUT_MS = 30_000
TRAIN_TIMEOUT_MS = 120_000
# A CI-sized run: 32 px input, one batch per epoch, 4 frames per video, no DataLoader processes.
TINY = {"input_size": 32, "batch_size": 8, "workers": 0, "frames_per_video": 4, "train_frames_per_video": 4,
        "eval_frames_per_video": 4}
TAKES = [("live", "alice"), ("print", "alice"), ("live", "bob"), ("print", "bob")]


@pytest.fixture(autouse=True)
def _no_real_settings(tmp_path: Path) -> None:
    for fmt in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(fmt, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))


@pytest.fixture
def window(qtbot, tmp_path, detector_path, sample_video, tiny_model) -> MainWindow:
    """The app on the sample video with the tiny model, on the CPU; the training panel set to tiny runs."""
    config = AppConfig(detector=detector_path, source=str(sample_video), model=tiny_model, device="cpu",
                       explicit=frozenset({"source", "model", "device"}))
    win = MainWindow(config, settings=QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: not win.model_loading, timeout=TIMEOUT_MS)  # the start-up model, off the GUI thread
    win.training_panel.overrides.update(TINY)
    win.training_panel.form.device_combo.setCurrentText("cpu")
    return win


@pytest.fixture
def warnings_shown(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """QMessageBox.warning records its text instead of blocking on a modal box."""
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: shown.append(text))
    return shown


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


def wait_result(qtbot, window: MainWindow, check: Callable = lambda r: bool(r.faces)):
    with qtbot.waitSignal(window.controller.result_ready, timeout=TIMEOUT_MS, check_params_cb=check) as blocker:
        pass
    return blocker.args[0]


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def press_record(qtbot, panel: RecordingPanel) -> None:
    """Record is enabled once the running source has given a frame (a new source takes a moment)."""
    qtbot.waitUntil(panel.record_button.isEnabled, timeout=TIMEOUT_MS)
    click(qtbot, panel.record_button)


def record(qtbot, panel: RecordingPanel, label: str, subject: str, frames: int = 30) -> dict:
    """Pick label and subject, press Record, let about a second go by, press Stop."""
    panel.label_combo.setCurrentText(label)
    panel.subject_edit.setText(subject)
    with qtbot.waitSignal(panel.recording_started, timeout=TIMEOUT_MS):
        press_record(qtbot, panel)
    assert not panel.rec_label.isHidden() and panel.rec_label.text().startswith("● REC 00:0")
    assert panel.record_button.text() == "■ Stop" and not panel.subject_edit.isEnabled()
    qtbot.waitUntil(lambda: panel.recorder.session["frames"] >= frames, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: "frames written" in panel.counts_label.text(), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(panel.recording_stopped, timeout=TIMEOUT_MS) as stopped:
        press_record(qtbot, panel)
    assert panel.rec_label.isHidden() and panel.record_button.text() == "● Record"
    return stopped.args[0]


def manifest() -> list[dict]:
    return json.loads((paths.recordings_dir() / "manifest.json").read_text())["sessions"]


def _row_texts(panel: RecordingPanel) -> list[tuple[str, ...]]:
    t = panel.table
    return [tuple(t.item(r, c).text() for c in range(t.columnCount())) for r in range(t.rowCount())]


# -- recording -------------------------------------------------------------------------------------------
def test_record_sessions_then_relabel_and_delete(qtbot, window, monkeypatch) -> None:
    panel = window.recording_panel
    labels = load_labels(paths.asset_path("labels.json"))
    assert [panel.label_combo.itemText(i) for i in range(panel.label_combo.count())] == [x["name"] for x in labels]
    assert panel.label_combo.itemData(1, Qt.ItemDataRole.ToolTipRole) == labels[1]["description"]

    takes = [record(qtbot, panel, label, subject) for label, subject in TAKES]

    assert {(r[1], r[2]) for r in _row_texts(panel)} == set(TAKES)
    assert all(r[5] == "complete" and int(r[4]) >= 30 for r in _row_texts(panel))
    saved = {s["id"]: s for s in manifest()}
    assert set(saved) == {t["id"] for t in takes}
    for s in saved.values():
        assert s["status"] == "complete" and s["frames"] >= 30 and (s["width"], s["height"]) == (640, 480)
        assert s["camera"] == "sample.mp4" and s["fps"] == 30.0
        assert (paths.recordings_dir() / s["file"]).stat().st_size > 0

    # bob's attack was a phone screen, not a print: relabel it
    bob_print = takes[3]["id"]
    panel.select_session(bob_print)
    monkeypatch.setattr(session_list, "ask_relabel", lambda parent, labels, label, subject: ("replay-phone", "bob"))
    click(qtbot, panel.relabel_button)
    s = next(s for s in manifest() if s["id"] == bob_print)
    assert (s["label"], s["attack_type"], s["subject"]) == ("replay-phone", "replay-phone", "bob")
    assert ("replay-phone", "bob") in {(r[1], r[2]) for r in _row_texts(panel)}

    # alice's print take was bad: delete it (after confirming)
    alice_print = takes[1]
    panel.select_session(alice_print["id"])
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    click(qtbot, panel.delete_button)
    assert alice_print["id"] not in {s["id"] for s in manifest()}
    assert not (paths.recordings_dir() / alice_print["file"]).exists()
    assert panel.table.rowCount() == 3


def test_relabel_dialog_offers_the_labels_and_the_subject(qtbot, window) -> None:
    offered: dict[str, object] = {}

    def answer() -> None:  # the user picks "mask", types a subject and presses OK
        dialog = QApplication.activeModalWidget()
        try:
            combo = dialog.findChild(QComboBox)
            offered.update(current=combo.currentText(), labels=[combo.itemText(i) for i in range(combo.count())])
            combo.setCurrentText("mask")
            dialog.findChild(QLineEdit).setText("dora")
        finally:
            dialog.accept()  # never leave a modal dialog open

    QTimer.singleShot(0, answer)
    assert session_list.ask_relabel(window, window.recording_panel.labels, "live", "bob") == ("mask", "dora")
    assert offered["current"] == "live" and "mask" in offered["labels"]


def test_recording_stops_when_the_source_changes_and_when_the_window_closes(qtbot, window, sample_video) -> None:
    panel = window.recording_panel
    panel.subject_edit.setText("carol")
    with qtbot.waitSignal(panel.recording_started, timeout=TIMEOUT_MS):
        press_record(qtbot, panel)
    with qtbot.waitSignal(panel.recording_stopped, timeout=TIMEOUT_MS) as stopped:
        window.open_source(str(sample_video))
    assert stopped.args[0]["status"] == "complete" and not panel.is_recording

    with qtbot.waitSignal(panel.recording_started, timeout=TIMEOUT_MS):
        press_record(qtbot, panel)
    window.close()
    assert not panel.is_recording
    assert [s["status"] for s in manifest()] == ["complete", "complete"]


def test_recorder_failures_are_shown_and_the_stream_goes_on(qtbot, window, warnings_shown, monkeypatch) -> None:
    panel = window.recording_panel
    panel.subject_edit.setText("alice")

    def unwritable(*args, **kwargs):
        raise RecorderError("cannot open a video file for writing in /recordings")

    monkeypatch.setattr(recording_panel, "Recorder", unwritable)
    press_record(qtbot, panel)
    qtbot.waitUntil(lambda: bool(warnings_shown), timeout=TIMEOUT_MS)
    assert "Recording could not start" in warnings_shown[0] and "cannot open a video file" in warnings_shown[0]
    assert not panel.is_recording and panel.record_button.text() == "● Record"
    wait_result(qtbot, window)  # still streaming and scoring

    # The disk fills up during a recording: the recorder stops itself, the panel stops it and says so.
    monkeypatch.setattr(recording_panel, "Recorder", Recorder)
    with qtbot.waitSignal(panel.recording_started, timeout=TIMEOUT_MS):
        press_record(qtbot, panel)
    monkeypatch.setattr(recorder_module, "shutil", SimpleNamespace(disk_usage=lambda p: SimpleNamespace(free=0)))
    with qtbot.waitSignal(panel.recording_stopped, timeout=TIMEOUT_MS) as stopped:
        pass
    assert "disk is almost full" in stopped.args[0]["notes"]
    assert "disk is almost full" in warnings_shown[-1] and not panel.is_recording
    wait_result(qtbot, window)


def test_recover_reports_interrupted_sessions_in_the_status_bar(qtbot, window, recordings) -> None:
    store = SessionStore(recordings)
    crashed = {**store.sessions()[0], "id": "crashed", "status": "recording"}
    store.upsert(crashed)
    panel = RecordingPanel(window.controller)
    panel.message.connect(window.status.showMessage)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.recovered, timeout=TIMEOUT_MS) as settled:  # off the GUI thread
        pass
    assert settled.args == [["crashed"]]
    assert "Recovered 1 recording" in window.status.currentMessage()
    assert next(s for s in manifest() if s["id"] == "crashed")["status"] == "complete"
    assert any(r[5] == "complete (recovered)" for r in _row_texts(panel))


# -- training and evaluation -----------------------------------------------------------------------------
def test_train_from_recordings_then_score_with_the_new_model(qtbot, recordings, window) -> None:
    panel = window.training_panel
    assert panel.sources() == [str(paths.recordings_dir())]
    panel.form.init_check.setChecked(False)  # a new model from these settings (fine-tuning: the next test)
    panel.form.name_edit.setText("alice-bob")
    panel.form.epochs_spin.setValue(1)
    panel.form.lbp_check.setChecked(True)  # the optional CNN + LBP texture fusion, end to end
    events: list = []
    panel.event_received.connect(events.append)
    with qtbot.waitSignal(panel.job_finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        click(qtbot, panel.train_button)
        assert not panel.train_button.isEnabled() and panel.cancel_button.isEnabled()
    assert finished.args == ["done"]
    kinds = [e.kind for e in events]
    assert kinds[0] == "cache" and "batch" in kinds and "epoch" in kinds and kinds[-1] == "done"
    assert "dev AUC" in panel.log_view.toPlainText()
    assert panel.status_label.text() == "Done: alice-bob.pt is in the Model menu"
    assert panel.train_button.isEnabled() and not panel.cancel_button.isEnabled()

    installed = paths.user_models_dir() / "alice-bob.pt"
    assert panel.new_model == installed and installed.is_file()
    assert window.model_menu.action_for(installed) is not None  # the Model menu lists it
    run = next((paths.user_data_dir() / "runs").glob("alice-bob-*"))
    config = json.loads((run / "config.json").read_text())
    assert config["input_size"] == 32 and config["install"] and config["dev_fraction"] == 0.25
    assert config["lbp_grid"] == 2
    assert (run / "best.pt").is_file()

    assert not panel.use_button.isHidden()
    with qtbot.waitSignal(window.model_changed, timeout=TIMEOUT_MS):  # loaded off the GUI thread
        click(qtbot, panel.use_button)
    assert window.model.meta.name == "alice-bob" and window.model_menu.action_for(installed).isChecked()
    assert window.model.meta.model_args["lbp_grid"] == 2
    assert wait_result(qtbot, window, lambda r: r.model_name == "alice-bob" and bool(r.faces)).faces


def test_cancel_after_the_first_event_returns_to_idle(qtbot, recordings, window) -> None:
    panel = window.training_panel
    panel.form.epochs_spin.setValue(20)  # far longer than the test: only Cancel can end it
    with qtbot.waitSignal(panel.event_received, timeout=TRAIN_TIMEOUT_MS):
        click(qtbot, panel.train_button)
    with qtbot.waitSignal(panel.job_finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        click(qtbot, panel.cancel_button)
    assert finished.args == ["cancelled"]
    assert not panel.is_busy and panel.train_button.isEnabled() and not panel.cancel_button.isEnabled()
    assert panel.status_label.text().startswith("Cancelled") and panel.use_button.isHidden()
    wait_result(qtbot, window)


def test_closing_the_window_stops_a_run(qtbot, recordings, window) -> None:
    panel = window.training_panel
    with qtbot.waitSignal(panel.event_received, timeout=TRAIN_TIMEOUT_MS):
        click(qtbot, panel.train_button)
    thread = panel._runner.thread
    window.close()
    assert thread.isFinished() and not panel.is_busy


def test_training_without_data_or_with_a_bad_name_says_what_to_do(qtbot, recordings, window,
                                                                  warnings_shown) -> None:
    panel = window.training_panel
    (recordings / "manifest.json").unlink()  # a new user: nothing recorded yet
    click(qtbot, panel.train_button)
    assert len(warnings_shown) == 1 and "No recordings yet" in warnings_shown[0]
    panel.set_sources([str(recordings.parent)])
    panel.form.name_edit.setText("my model/1")
    click(qtbot, panel.train_button)
    assert len(warnings_shown) == 2 and "model name" in warnings_shown[1]
    assert not panel.is_busy and panel.train_button.isEnabled()


def test_training_error_is_shown_and_the_panel_returns_to_idle(qtbot, window, warnings_shown, tmp_path) -> None:
    panel = window.training_panel
    panel.set_sources([str(tmp_path / "does-not-exist")])
    with qtbot.waitSignal(panel.job_finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        click(qtbot, panel.train_button)
    assert finished.args == ["failed"]
    assert "Training failed" in warnings_shown[0] and "does-not-exist" in warnings_shown[0]
    assert panel.train_button.isEnabled()


def test_evaluate_the_active_model_writes_a_report(qtbot, recordings, window, monkeypatch) -> None:
    opened: list = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    panel = window.training_panel
    with qtbot.waitSignal(panel.job_finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        click(qtbot, panel.evaluate_button)
    assert finished.args == ["evaluated"]
    report = panel.report_path
    assert report is not None and report.name == "report.html" and report.is_file()
    assert report.parent.parent == paths.user_data_dir() / "reports"
    assert panel.report_label.toolTip() == str(report) and not panel.open_report_button.isHidden()
    assert str(report) in panel.log_view.toPlainText()
    click(qtbot, panel.open_report_button)
    assert [Path(u.toLocalFile()) for u in opened] == [report]


def test_the_trainer_offers_mobilenet_v2_once_its_imagenet_weights_are_there(qtbot, window, monkeypatch) -> None:
    monkeypatch.setitem(paths.IMAGENET_WEIGHTS, "mobilenet_v2", "test-only.pth")  # not a checkout's weights/
    panel = window.training_panel
    panel.form.init_check.setChecked(False)  # the architecture is a choice for a new model, not a fine-tune
    combo = panel.form.arch_combo
    assert [combo.itemData(i) for i in range(combo.count())] == ["mobilenet_v3_large", "mobilenet_v2"]
    assert panel.build_config().arch == "mobilenet_v3_large" and not panel.build_config().pretrained
    fetched = paths.user_data_dir() / "weights" / "test-only.pth"
    fetched.parent.mkdir(parents=True)
    fetched.write_bytes(b"stand-in")  # what scripts/fetch_imagenet_weights.py puts there
    combo.setCurrentIndex(1)
    cfg = panel.build_config()
    assert (cfg.arch, cfg.pretrained) == ("mobilenet_v2", str(fetched))
    fetched.unlink()
    with pytest.raises(ValueError, match="fetch_imagenet_weights"):
        panel.build_config()


def test_adapt_to_my_camera_records_calibrates_fine_tunes_and_offers_to_switch(qtbot, window) -> None:
    wait_result(qtbot, window)
    window.model_menu.adapt_action.trigger()  # the menu entry opens the guided flow
    menu_dialog = next(w for w in window.findChildren(QDialog) if w.windowTitle() == "Adapt to my camera")
    menu_dialog.close()
    dialog = window.open_adapt_dialog(part_seconds=(0.5, 0.35, 0.35), recipe={**TINY, "epochs": 1, "epoch_size": 16})
    assert not dialog.adapt_button.isEnabled() and not dialog.skip_button.isEnabled()  # live cannot be skipped
    for action in ("record", "skip", "record", "skip"):  # live; no phone; a print; no screen
        step = dialog._step
        click(qtbot, dialog.skip_button if action == "skip" else dialog.record_button)
        qtbot.waitUntil(lambda: dialog._step == step + 1, timeout=TIMEOUT_MS)
    assert [len(dialog.recorded[label]) for label in ("live", "print")] == [3, 3]
    assert len(window.recording_panel.sessions()) == 6  # listed in the Recording panel like any other
    train, held = dialog.samples()
    assert len(train) == 4 and len(held) == 2 and {s.label for s in held} == {"live", "print"}

    assert dialog.adapt_button.isEnabled()
    click(qtbot, dialog.adapt_button)
    assert dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.result is not None and not dialog.is_busy, timeout=TRAIN_TIMEOUT_MS)
    text = dialog.result_label.text()
    assert "the model you had" in text and "calibrated only" in text and "held-out sessions" in text
    assert {"before", "calibrated", "adapted", "sentence"} <= set(dialog.result)
    assert not dialog.use_model_button.isHidden()

    with qtbot.waitSignal(window.model_changed, timeout=TIMEOUT_MS) as changed:
        click(qtbot, dialog.use_model_button)
    assert changed.args[0].path == dialog.result["model_path"]


def test_a_threshold_calibrated_to_a_camera_is_remembered_for_that_camera_only(qtbot, window, sample_video,
                                                                               tmp_path) -> None:
    model = window.model
    window.calibrate_camera(0.123, "EER on your sessions", "2026-12-01")
    assert window.pipeline.threshold == pytest.approx(0.123)
    assert "calibrated to sample.mp4" in window.threshold.spin.toolTip()
    assert window.settings.camera_threshold(model.path, "sample.mp4")["threshold"] == pytest.approx(0.123)
    other = tmp_path / "other.mp4"
    other.write_bytes(sample_video.read_bytes())
    window.open_source(str(other))  # another camera: the model's own threshold
    assert window.pipeline.threshold == pytest.approx(model.meta.threshold)
    window.open_source(str(sample_video))  # back: the calibration for this camera
    assert window.pipeline.threshold == pytest.approx(0.123)
    assert load_checkpoint_threshold(model.path) == pytest.approx(model.meta.threshold)  # the file is untouched


def load_checkpoint_threshold(path: Path) -> float:
    from liveness_app.core.model import load_checkpoint
    return load_checkpoint(path)[1].threshold


def test_training_from_the_panel_fine_tunes_the_active_model_by_default(qtbot, window) -> None:
    panel = window.training_panel
    assert panel.form.init_check.isChecked() and not panel.form.size_combo.isEnabled()
    cfg = panel.build_config()
    assert cfg.init == str(window.model.path) and cfg.freeze_blocks > 0 and cfg.epochs == 3
    panel.form.init_check.setChecked(False)
    assert panel.form.size_combo.isEnabled() and panel.build_config().init == ""
