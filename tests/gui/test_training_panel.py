"""The training panel, offscreen and CI-sized: train a tiny model from the recordings, pick it up in the
Model menu and score with it; cancel a run, close the window during one; say what to do without data;
evaluate and get a report; the architectures offered and fine-tuning by default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")
from gui_helpers import TIMEOUT_MS, TRAIN_TIMEOUT_MS, click, wait_result  # noqa: E402
from PyQt6.QtGui import QDesktopServices  # noqa: E402

from liveness_app import paths  # noqa: E402
from training.config import FINETUNE  # noqa: E402

pytestmark = pytest.mark.gui


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
    shown: list[tuple[str, float, str]] = []  # what the bar and the label said after each event
    bar = panel.progress
    panel.event_received.connect(
        lambda e: shown.append((e.kind, bar.value() / bar.maximum(), panel.status_label.text()))
    )
    with qtbot.waitSignal(panel.job_finished, timeout=TRAIN_TIMEOUT_MS) as finished:
        click(qtbot, panel.train_button)
        assert not panel.train_button.isEnabled() and panel.cancel_button.isEnabled()
    assert finished.args == ["done"]
    kinds = [e.kind for e in events]
    assert kinds[0] == "cache" and "batch" in kinds and "epoch" in kinds and kinds[-1] == "done"
    caching = [(value, text) for kind, value, text in shown if kind == "cache"]  # decoding them too
    assert all(value < 1 and text.startswith(("Caching face crops", "Decoding face crops")) for value, text in caching)
    assert "(stage 1 of 3)" in caching[0][1] and "so far" in caching[0][1]
    assert [value for _, value, _ in shown] == sorted(value for _, value, _ in shown)  # the bar only grows
    assert shown[-1][1] == 1.0
    assert any(text.startswith("Training ") and "steps" in text for kind, _, text in shown if kind == "batch")
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
    with qtbot.waitSignal(window.active_model.model_changed, timeout=TIMEOUT_MS):  # loaded off the GUI thread
        click(qtbot, panel.use_button)
    assert window.active_model.model.meta.name == "alice-bob" and window.model_menu.action_for(installed).isChecked()
    assert window.active_model.model.meta.model_args["lbp_grid"] == 2
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
    thread = panel._runner.job_thread
    window.close()
    assert thread.isFinished() and not panel.is_busy


def test_training_without_data_or_with_a_bad_name_says_what_to_do(qtbot, recordings, window, warnings_shown) -> None:
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


def test_training_from_the_panel_fine_tunes_the_active_model_by_default(qtbot, window) -> None:
    panel = window.training_panel
    assert panel.form.init_check.isChecked() and not panel.form.size_combo.isEnabled()
    cfg = panel.build_config()
    assert cfg.init == str(window.active_model.model.path) and cfg.l2sp > 0  # pulled toward the base
    assert cfg.epochs == FINETUNE["epochs"]  # the short schedule
    panel.form.init_check.setChecked(False)
    assert panel.form.size_combo.isEnabled() and panel.build_config().init == ""
